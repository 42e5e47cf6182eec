package read

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

func TestActivities_NewestFirstWithEveryFieldAndNulls(t *testing.T) {
	t.Parallel()
	c := uuid.New()
	u := uuid.New()
	f := newFixture(t).seed(
		ev{typ: "user.signup", user: u, at: at(11, 1, 10, 0), meta: `{"plan":"pro","n":[1,2]}`},
		ev{typ: "event.created", community: c, at: at(11, 2, 10, 0), entity: [2]string{"event", "ev-42"}},
	)
	rec := f.get(t, unscoped, "/api/v1/activities")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	v := getJSON[activitiesView](t, f, unscoped, "/api/v1/activities")
	if len(v.Activities) != 2 || v.NextCursor != nil {
		t.Fatalf("got %+v", v)
	}
	a0, a1 := v.Activities[0], v.Activities[1]
	body := rec.Body.String()
	jsonEqual(t, rec.Body.Bytes(), `{"activities":[
		{"id":`+itoa(a0.ID)+`,"event_id":"`+a0.EventID+`","event_type":"event.created","user_id":null,"community_id":"`+c.String()+`",
		 "entity_type":"event","entity_id":"ev-42","metadata":{},"occurred_at":"2026-11-02T10:00:00Z","received_at":"2026-11-02T10:00:01Z"},
		{"id":`+itoa(a1.ID)+`,"event_id":"`+a1.EventID+`","event_type":"user.signup","user_id":"`+u.String()+`","community_id":null,
		 "entity_type":null,"entity_id":null,"metadata":{"plan":"pro","n":[1,2]},"occurred_at":"2026-11-01T10:00:00Z","received_at":"2026-11-01T10:00:01Z"}],
		"next_cursor":null}`)
	if strings.Contains(body, "ip_address") || strings.Contains(body, "user_agent") {
		t.Fatalf("the feed exposes request details: %s", body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestActivities_CursorPagesThroughEveryRowExactlyOnce(t *testing.T) {
	t.Parallel()
	c := ids(2)
	var evs []ev
	// 23 activities, many sharing a time, so pages split ties by id.
	for i := 0; i < 23; i++ {
		evs = append(evs, ev{typ: "user.login", user: uuid.New(), community: c[i%2], at: at(11, 10+i%3, 10, 0)})
	}
	f := newFixture(t)
	f.store(evs[:10]...)
	f.store(evs[10:]...) // ids of the second batch are larger
	f.project()
	all := getJSON[activitiesView](t, f, unscoped, "/api/v1/activities?limit=500").Activities
	if len(all) != 23 {
		t.Fatalf("%d activities, want 23", len(all))
	}
	for i := 1; i < len(all); i++ {
		p, q := all[i-1], all[i]
		if p.OccurredAt.Before(q.OccurredAt) || (p.OccurredAt.Equal(q.OccurredAt) && p.ID < q.ID) {
			t.Fatalf("not newest first at %d: %+v then %+v", i, p, q)
		}
	}
	for _, limit := range []string{"1", "4", "22", "23"} {
		var got []int64
		target := "/api/v1/activities?limit=" + limit
		pages := 0
		for {
			v := getJSON[activitiesView](t, f, unscoped, target)
			pages++
			for _, a := range v.Activities {
				got = append(got, a.ID)
			}
			if v.NextCursor == nil {
				break
			}
			if pages > 30 {
				t.Fatalf("limit %s: paging does not end", limit)
			}
			target = "/api/v1/activities?limit=" + limit + "&cursor=" + url.QueryEscape(*v.NextCursor)
		}
		if len(got) != len(all) {
			t.Fatalf("limit %s: %d rows over %d pages, want %d", limit, len(got), pages, len(all))
		}
		for i := range got {
			if got[i] != all[i].ID {
				t.Fatalf("limit %s: row %d is %d, want %d", limit, i, got[i], all[i].ID)
			}
		}
	}
	// The same filters page the same way, within one community.
	var n int
	target := "/api/v1/activities?limit=5&community_id=" + c[0].String()
	for target != "" {
		v := getJSON[activitiesView](t, f, unscoped, target)
		for _, a := range v.Activities {
			if *a.CommunityID != c[0] {
				t.Fatalf("community filter leaked %+v", a)
			}
			n++
		}
		target = ""
		if v.NextCursor != nil {
			target = "/api/v1/activities?limit=5&community_id=" + c[0].String() + "&cursor=" + *v.NextCursor
		}
	}
	if n != 12 {
		t.Fatalf("%d activities of community 0, want 12", n)
	}
}

func TestActivities_ForgedOrForeignCursorIs400(t *testing.T) {
	t.Parallel()
	c := ids(2)
	var evs []ev
	for i := 0; i < 6; i++ {
		evs = append(evs, ev{typ: "user.login", user: uuid.New(), community: c[i%2], at: at(11, 10, 10, i)})
	}
	f := newFixture(t).seed(evs...)
	v := getJSON[activitiesView](t, f, unscoped, "/api/v1/activities?limit=2")
	cur := *v.NextCursor
	// Any edited byte.
	for i := range cur {
		b := []byte(cur)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		f.wantProblem(t, unscoped, "/api/v1/activities?limit=2&cursor="+string(b), http.StatusBadRequest, "cursor")
	}
	// Other filters, another scope, another secret.
	f.wantProblem(t, unscoped, "/api/v1/activities?limit=2&event_type=user.login&cursor="+cur, http.StatusBadRequest, "cursor")
	f.wantProblem(t, unscoped, "/api/v1/activities?limit=2&community_id="+c[0].String()+"&cursor="+cur, http.StatusBadRequest, "cursor")
	f.wantProblem(t, scopedKey(c...), "/api/v1/activities?limit=2&cursor="+cur, http.StatusBadRequest, "cursor")
	other := newFixture(t)
	other.seed(evs...)
	other.wantProblem(t, unscoped, "/api/v1/activities?limit=2&cursor="+cur, http.StatusBadRequest, "cursor")
	// The page size may change between pages.
	v = getJSON[activitiesView](t, f, unscoped, "/api/v1/activities?limit=10&cursor="+cur)
	if len(v.Activities) != 4 || v.NextCursor != nil {
		t.Fatalf("rest after the cursor: %+v", v)
	}
	// The same key and filters again: a cursor stays valid.
	getJSON[activitiesView](t, f, adminKey, "/api/v1/activities?limit=2&cursor="+cur)
}

func TestActivities_Filters(t *testing.T) {
	t.Parallel()
	c := ids(2)
	u := ids(2)
	f := newFixture(t).seed(
		ev{typ: "user.login", user: u[0], community: c[0], at: at(11, 10, 4, 59)}, // Nov 9 23:59 in New York
		ev{typ: "user.login", user: u[1], community: c[1], at: at(11, 10, 5, 0)},  // Nov 10 00:00 in New York
		ev{typ: "github.push", user: u[0], community: c[1], at: at(11, 11, 12, 0)},
		ev{typ: "webhook.triggered", at: at(11, 12, 12, 0)},
	)
	count := func(query string) int {
		t.Helper()
		return len(getJSON[activitiesView](t, f, unscoped, "/api/v1/activities?"+query).Activities)
	}
	cases := map[string]int{
		"":                                4,
		"user_id=" + u[0].String():        2,
		"user_id=" + upper(u[0].String()): 2,
		"community_id=" + c[1].String():   2,
		"event_type=user.login":           2,
		"event_type=user.login&user_id=" + u[1].String(): 1,
		"from=2026-11-11":                                             2,
		"to=2026-11-10":                                               2,
		"from=2026-11-10&to=2026-11-10":                               2,
		"from=2026-11-10&tz=America/New_York":                         3,
		"to=2026-11-09&tz=America/New_York":                           1,
		"from=2026-11-11T12:00:00Z":                                   2, // times are inclusive
		"to=2026-11-11T12:00:00Z":                                     3,
		"to=2026-11-11T11:59:59.999999Z":                              2,
		"from=2026-11-11T07:00:00-05:00&to=2026-11-11T07:00:00-05:00": 1,
		"from=2026-11-13":                                             0,
	}
	for q, want := range cases {
		if got := count(q); got != want {
			t.Errorf("%q: %d activities, want %d", q, got, want)
		}
	}
}

// TestActivities_PagesAcrossTheReadWindows spreads activities from the
// future to two years back, so that pages are filled from several of
// feedPage's windows, with and without from/to, and checks that every page
// sequence gives exactly the log's rows in feed order.
func TestActivities_PagesAcrossTheReadWindows(t *testing.T) {
	t.Parallel()
	ages := []time.Duration{-3 * time.Minute, time.Hour, 23 * time.Hour, 25 * time.Hour, 6 * 24 * time.Hour,
		8 * 24 * time.Hour, 29 * 24 * time.Hour, 31 * 24 * time.Hour, 200 * 24 * time.Hour, 366 * 24 * time.Hour,
		700 * 24 * time.Hour}
	var evs []ev
	for i, age := range ages {
		for j := range 2 {
			evs = append(evs, ev{typ: "user.login", user: uuid.New(), at: testNow.Add(-age).Add(time.Duration(i*10+j) * time.Second)})
		}
	}
	f := newFixture(t)
	f.store(evs...)
	never := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		filter   string
		from, to time.Time
	}{
		{"", time.Time{}, never},
		{"&from=2026-10-01", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), never},
		{"&to=2026-11-14", time.Time{}, time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)},
		{"&from=2025-01-01&to=2026-11-20T11:00:00Z", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 11, 0, 0, 1000, time.UTC)},
	} {
		filter := c.filter
		rows, err := f.pool.Query(context.Background(), `SELECT id FROM activities
			WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at DESC, id DESC`, c.from, c.to)
		if err != nil {
			t.Fatal(err)
		}
		want, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || len(want) == len(evs) && filter != "" {
			t.Fatalf("%q selects %d of %d rows: not a filter", filter, len(want), len(evs))
		}
		for _, limit := range []string{"1", "3", "7"} {
			var got []int64
			target := "/api/v1/activities?limit=" + limit + filter
			for page := 0; target != ""; page++ {
				if page > 50 {
					t.Fatalf("%s limit %s: paging does not end", filter, limit)
				}
				v := getJSON[activitiesView](t, f, unscoped, target)
				for _, a := range v.Activities {
					got = append(got, a.ID)
				}
				target = ""
				if v.NextCursor != nil {
					target = "/api/v1/activities?limit=" + limit + filter + "&cursor=" + url.QueryEscape(*v.NextCursor)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%q limit %s: pages give %v, want %v", filter, limit, got, want)
			}
		}
	}
	if n := len(getJSON[activitiesView](t, f, unscoped, "/api/v1/activities?limit=500").Activities); n != len(evs) {
		t.Errorf("%d activities in one page, want %d", n, len(evs))
	}
}
