package read

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestCommunity_OverviewOfOneCommunityWithNameAndTopUsers(t *testing.T) {
	t.Parallel()
	c := ids(2)
	u := ids(12)
	evs := []ev{
		// Renamed: the latest community.created wins, and dates the community.
		{typ: "community.created", community: c[0], at: at(11, 2, 8, 0), meta: `{"name":"Old"}`},
		{typ: "community.created", community: c[0], at: at(11, 3, 8, 0), meta: `{"name":"Gophers"}`},
		{typ: "user.login", community: c[1], user: u[0], at: at(11, 3, 9, 0)},
		{typ: "webhook.triggered", community: c[0], at: at(11, 4, 9, 0)},
		{typ: "user.signup", user: u[11], at: at(11, 4, 9, 0)},
	}
	// u[i] has i+1 logins in c[0] on Nov 5.
	for i, id := range u {
		for n := 0; n <= i; n++ {
			evs = append(evs, ev{typ: "user.login", user: id, community: c[0], at: at(11, 5, 10, n)})
		}
	}
	f := newFixture(t).seed(evs...)
	v := getJSON[communityPageView](t, f, unscoped, "/api/v1/analytics/community/"+c[0].String()+"?from=2026-11-01&to=2026-11-05")
	if v.Community.ID != c[0] || v.Community.Name == nil || *v.Community.Name != "Gophers" ||
		!v.Community.CreatedAt.Equal(at(11, 3, 8, 0)) {
		t.Fatalf("community %+v", v.Community)
	}
	logins := int64(12 * 13 / 2)
	if v.Totals != (totalsView{Events: 2 + 1 + logins, ActiveUsers: 12, ActiveCommunities: 1}) {
		t.Fatalf("totals %+v", v.Totals)
	}
	wantDaily := []dailyView{{"2026-11-01", 0, 0}, {"2026-11-02", 1, 0}, {"2026-11-03", 1, 0}, {"2026-11-04", 1, 0}, {"2026-11-05", logins, 12}}
	for i, d := range wantDaily {
		if v.Daily[i] != d {
			t.Fatalf("daily[%d] = %+v, want %+v", i, v.Daily[i], d)
		}
	}
	if len(v.EventTypes) != 3 || v.EventTypes[0] != (eventTypeView{"user.login", logins}) ||
		v.EventTypes[1] != (eventTypeView{"community.created", 2}) || v.EventTypes[2] != (eventTypeView{"webhook.triggered", 1}) {
		t.Fatalf("event_types %+v", v.EventTypes)
	}
	if len(v.TopCommunities) != 1 || v.TopCommunities[0].CommunityID != c[0] || *v.TopCommunities[0].Name != "Gophers" {
		t.Fatalf("top_communities %+v", v.TopCommunities)
	}
	if len(v.TopUsers) != 10 {
		t.Fatalf("%d top users, want 10", len(v.TopUsers))
	}
	for i, tu := range v.TopUsers {
		want := 11 - i
		events := int64(want + 1)
		if tu.UserID != u[want] || tu.Events != events {
			t.Fatalf("top_users[%d] = %+v, want %s with %d", i, tu, u[want], events)
		}
	}
}

func TestCommunity_NameIsNullAndCreatedAtIsFirstActivityUntilCreated(t *testing.T) {
	t.Parallel()
	c := uuid.New()
	f := newFixture(t).seed(
		ev{typ: "event.created", community: c, at: at(11, 10, 7, 30)},
		ev{typ: "event.created", community: c, at: at(11, 12, 7, 30)},
	)
	rec := f.get(t, unscoped, "/api/v1/analytics/community/"+c.String())
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	v := getJSON[communityPageView](t, f, unscoped, "/api/v1/analytics/community/"+c.String())
	if v.Community.Name != nil || !v.Community.CreatedAt.Equal(at(11, 10, 7, 30)) || v.Community.CreatedAt.Location() != time.UTC {
		t.Fatalf("community %+v", v.Community)
	}
	if v.From != "2026-10-23" || v.To != "2026-11-21" || v.Totals.Events != 2 || len(v.TopUsers) != 0 || v.TopUsers == nil {
		t.Fatalf("page %+v", v)
	}
}

func TestCommunity_UnknownIs404AndOutsideScopeIs403BeforeExistence(t *testing.T) {
	t.Parallel()
	c := ids(3)
	f := newFixture(t).seed(ev{typ: "event.created", community: c[0], at: at(11, 10, 7, 30)},
		ev{typ: "event.created", community: c[1], at: at(11, 10, 7, 30)})
	unknown := uuid.New()
	f.wantProblem(t, unscoped, "/api/v1/analytics/community/"+unknown.String(), http.StatusNotFound, "")
	f.wantProblem(t, unscoped, "/api/v1/analytics/community/"+uuid.Nil.String(), http.StatusNotFound, "")
	k := scopedKey(c[0], unknown)
	getJSON[communityPageView](t, f, k, "/api/v1/analytics/community/"+c[0].String())
	// In scope but never named by an event: 404.
	f.wantProblem(t, k, "/api/v1/analytics/community/"+unknown.String(), http.StatusNotFound, "")
	// Outside the scope: 403 whether it exists or not.
	f.wantProblem(t, k, "/api/v1/analytics/community/"+c[1].String(), http.StatusForbidden, "")
	f.wantProblem(t, k, "/api/v1/analytics/community/"+uuid.New().String(), http.StatusForbidden, "")
	f.wantProblem(t, k, "/api/v1/analytics/community/"+uuid.Nil.String(), http.StatusForbidden, "")
	// Upper-case ids name the same community.
	getJSON[communityPageView](t, f, k, "/api/v1/analytics/community/"+upper(c[0].String()))
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
