package read

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/google/uuid"
)

// scopeFixture: mine (in scope), theirs (outside) and events without a
// community. The shared user acts in all three.
func scopeFixture(t *testing.T) (f *fixture, mine, theirs, shared, loner uuid.UUID) {
	c := ids(2)
	mine, theirs = c[0], c[1]
	u := ids(2)
	shared, loner = u[0], u[1]
	f = newFixture(t).seed(
		ev{typ: "community.created", community: mine, at: at(11, 1, 9, 0), meta: `{"name":"Mine"}`},
		ev{typ: "community.created", community: theirs, at: at(11, 1, 9, 0), meta: `{"name":"Theirs"}`},
		ev{typ: "user.login", user: shared, community: mine, at: at(11, 10, 10, 0)},
		ev{typ: "user.login", user: shared, community: theirs, at: at(11, 9, 10, 0)},
		ev{typ: "github.push", user: shared, community: theirs, at: at(11, 11, 10, 0)},
		ev{typ: "user.signup", user: shared, at: at(11, 8, 10, 0)},
		ev{typ: "user.signup", user: loner, at: at(11, 8, 11, 0)},
		ev{typ: "hackathon.created", user: loner, community: theirs, at: at(11, 8, 12, 0)},
	)
	return f, mine, theirs, shared, loner
}

func TestScope_ScopedKeySeesOnlyItsCommunitiesInEveryEndpoint(t *testing.T) {
	t.Parallel()
	f, mine, theirs, shared, loner := scopeFixture(t)
	k := scopedKey(mine)
	const r = "?from=2026-11-01&to=2026-11-21"

	t.Run("overview", func(t *testing.T) {
		v := getJSON[overviewView](t, f, k, "/api/v1/analytics/overview"+r)
		if v.Totals != (totalsView{Events: 2, ActiveUsers: 1, ActiveCommunities: 1}) {
			t.Fatalf("totals %+v", v.Totals)
		}
		wantTypes := []eventTypeView{{"community.created", 1}, {"user.login", 1}}
		if !reflect.DeepEqual(v.EventTypes, wantTypes) {
			t.Fatalf("event_types %+v", v.EventTypes)
		}
		if len(v.TopCommunities) != 1 || v.TopCommunities[0].CommunityID != mine {
			t.Fatalf("top_communities %+v", v.TopCommunities)
		}
		var days int64
		for _, d := range v.Daily {
			days += d.Events
		}
		if days != 2 {
			t.Fatalf("daily sums to %d", days)
		}
		// The unscoped view, for contrast.
		all := getJSON[overviewView](t, f, unscoped, "/api/v1/analytics/overview"+r)
		if all.Totals != (totalsView{Events: 8, ActiveUsers: 2, ActiveCommunities: 2}) || len(all.TopCommunities) != 2 {
			t.Fatalf("unscoped totals %+v top %+v", all.Totals, all.TopCommunities)
		}
	})
	t.Run("community", func(t *testing.T) {
		v := getJSON[communityPageView](t, f, k, "/api/v1/analytics/community/"+mine.String()+r)
		if v.Totals.Events != 2 || len(v.TopUsers) != 1 || v.TopUsers[0].UserID != shared {
			t.Fatalf("page %+v", v)
		}
		f.wantProblem(t, k, "/api/v1/analytics/community/"+theirs.String(), http.StatusForbidden, "")
	})
	t.Run("user", func(t *testing.T) {
		v := getJSON[userPageView](t, f, k, "/api/v1/analytics/user/"+shared.String()+r)
		want := userInfoView{ID: shared, FirstSeen: at(11, 10, 10, 0), LastSeen: at(11, 10, 10, 0), TotalEvents: 1}
		if v.User != want || v.Totals.Events != 1 ||
			!reflect.DeepEqual(v.Communities, []communityCountView{{mine, 1}}) ||
			!reflect.DeepEqual(v.EventTypes, []eventTypeView{{"user.login", 1}}) {
			t.Fatalf("page %+v", v)
		}
		// The loner acted only outside the scope or without a community.
		f.wantProblem(t, k, "/api/v1/analytics/user/"+loner.String(), http.StatusNotFound, "")
		all := getJSON[userPageView](t, f, unscoped, "/api/v1/analytics/user/"+shared.String()+r)
		if all.User.TotalEvents != 4 || !all.User.FirstSeen.Equal(at(11, 8, 10, 0)) || all.Totals.Events != 4 || len(all.Communities) != 2 {
			t.Fatalf("unscoped page %+v", all)
		}
		getJSON[userPageView](t, f, unscoped, "/api/v1/analytics/user/"+loner.String())
	})
	t.Run("events", func(t *testing.T) {
		v := getJSON[eventsView](t, f, k, "/api/v1/analytics/events"+r)
		want := []seriesPointView{{"2026-11-01", "community.created", 1, 0}, {"2026-11-10", "user.login", 1, 1}}
		if !reflect.DeepEqual(v.Series, want) {
			t.Fatalf("series %+v", v.Series)
		}
		v = getJSON[eventsView](t, f, k, "/api/v1/analytics/events?granularity=hour&from=2026-11-08&to=2026-11-08")
		if len(v.Series) != 0 {
			t.Fatalf("hour series %+v", v.Series)
		}
		f.wantProblem(t, k, "/api/v1/analytics/events?community_id="+theirs.String(), http.StatusForbidden, "")
	})
	t.Run("activities", func(t *testing.T) {
		v := getJSON[activitiesView](t, f, k, "/api/v1/activities")
		if len(v.Activities) != 2 {
			t.Fatalf("feed %+v", v)
		}
		for _, a := range v.Activities {
			if a.CommunityID == nil || *a.CommunityID != mine {
				t.Fatalf("feed leaked %+v", a)
			}
		}
		if n := len(getJSON[activitiesView](t, f, k, "/api/v1/activities?user_id="+loner.String()).Activities); n != 0 {
			t.Fatalf("feed leaked %d activities of the loner", n)
		}
		f.wantProblem(t, k, "/api/v1/activities?community_id="+theirs.String(), http.StatusForbidden, "")
		if n := len(getJSON[activitiesView](t, f, k, "/api/v1/activities?community_id="+mine.String()).Activities); n != 2 {
			t.Fatalf("%d activities of mine", n)
		}
		if n := len(getJSON[activitiesView](t, f, unscoped, "/api/v1/activities").Activities); n != 8 {
			t.Fatalf("unscoped feed: %d activities", n)
		}
	})
}

func TestScope_KeyScopedToTheNilUUIDSeesNothing(t *testing.T) {
	t.Parallel()
	f, _, _, shared, _ := scopeFixture(t)
	k := scopedKey(uuid.Nil)
	v := getJSON[overviewView](t, f, k, "/api/v1/analytics/overview")
	if v.Totals != (totalsView{}) {
		t.Fatalf("totals %+v", v.Totals)
	}
	if n := len(getJSON[activitiesView](t, f, k, "/api/v1/activities").Activities); n != 0 {
		t.Fatalf("feed: %d activities", n)
	}
	f.wantProblem(t, k, "/api/v1/analytics/user/"+shared.String(), http.StatusNotFound, "")
}
