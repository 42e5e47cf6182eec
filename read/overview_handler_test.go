package read

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

// jsonEqual requires got (a body) to be the same JSON value as want.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		gi, _ := json.MarshalIndent(g, "", "  ")
		wi, _ := json.MarshalIndent(w, "", "  ")
		t.Fatalf("body differs\n got: %s\nwant: %s", gi, wi)
	}
}

// zeroDays renders the daily entries of the dates from..to (inclusive)
// that are not in set, in order, as JSON objects.
func dailyJSON(from, to string, set map[string]string, zero string) string {
	f, _ := time.Parse(dateLayout, from)
	l, _ := time.Parse(dateLayout, to)
	out := ""
	for d := f; !d.After(l); d = d.AddDate(0, 0, 1) {
		if out != "" {
			out += ","
		}
		ds := d.Format(dateLayout)
		if v, ok := set[ds]; ok {
			out += fmt.Sprintf(`{"date":%q,%s}`, ds, v)
		} else {
			out += fmt.Sprintf(`{"date":%q,%s}`, ds, zero)
		}
	}
	return "[" + out + "]"
}

func TestOverview_DefaultRangeIsLast30DaysWithEveryDayAndExactFigures(t *testing.T) {
	t.Parallel()
	c := ids(2)
	cA, cB := c[0], c[1]
	u := ids(3)
	f := newFixture(t).seed(
		ev{typ: "community.created", user: u[0], community: cA, at: at(11, 10, 10, 0), meta: `{"name":"Gophers"}`},
		ev{typ: "user.login", user: u[0], community: cA, at: at(11, 20, 9, 0)},
		ev{typ: "user.login", user: u[1], community: cA, at: at(11, 20, 9, 10)},
		ev{typ: "user.login", user: u[0], community: cB, at: at(11, 21, 8, 0)},
		ev{typ: "user.signup", user: u[2], at: at(11, 21, 7, 0)},
		ev{typ: "webhook.triggered", community: cB, at: at(11, 21, 6, 0)},
		// Outside the default range 2026-10-23..2026-11-21.
		ev{typ: "user.login", user: u[0], community: cA, at: at(10, 22, 23, 59)},
		ev{typ: "user.login", user: u[1], community: cA, at: at(11, 22, 0, 0)},
	)
	rec := f.get(t, unscoped, "/api/v1/analytics/overview")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	daily := dailyJSON("2026-10-23", "2026-11-21", map[string]string{
		"2026-11-10": `"events":1,"active_users":1`,
		"2026-11-20": `"events":2,"active_users":2`,
		"2026-11-21": `"events":3,"active_users":2`,
	}, `"events":0,"active_users":0`)
	jsonEqual(t, rec.Body.Bytes(), `{
		"from": "2026-10-23", "to": "2026-11-21", "tz": "UTC",
		"totals": {"events": 6, "active_users": 3, "active_communities": 2},
		"daily": `+daily+`,
		"event_types": [
			{"event_type": "user.login", "events": 3},
			{"event_type": "community.created", "events": 1},
			{"event_type": "user.signup", "events": 1},
			{"event_type": "webhook.triggered", "events": 1}],
		"top_communities": [
			{"community_id": "`+cA.String()+`", "name": "Gophers", "events": 3},
			{"community_id": "`+cB.String()+`", "name": null, "events": 2}]
	}`)
}

func TestOverview_EmptyRangeHasZeroDaysAndEmptyLists(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v := getJSON[overviewView](t, f, unscoped, "/api/v1/analytics/overview?from=2026-02-27&to=2026-03-01")
	want := overviewView{
		From: "2026-02-27", To: "2026-03-01", TZ: "UTC",
		Daily:      []dailyView{{Date: "2026-02-27"}, {Date: "2026-02-28"}, {Date: "2026-03-01"}},
		EventTypes: []eventTypeView{}, TopCommunities: []communityView{},
	}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %+v\nwant %+v", v, want)
	}
	rec := f.get(t, unscoped, "/api/v1/analytics/overview?from=2026-02-27&to=2026-03-01")
	jsonEqual(t, rec.Body.Bytes(), `{"from":"2026-02-27","to":"2026-03-01","tz":"UTC",
		"totals":{"events":0,"active_users":0,"active_communities":0},
		"daily":[{"date":"2026-02-27","events":0,"active_users":0},{"date":"2026-02-28","events":0,"active_users":0},{"date":"2026-03-01","events":0,"active_users":0}],
		"event_types":[],"top_communities":[]}`)
}

func TestOverview_ActiveUsersAreDistinctOverTheRangeAndPerDay(t *testing.T) {
	t.Parallel()
	c := ids(3)
	u := ids(2)
	var evs []ev
	// u0 is active on three days in three communities with two event types;
	// u1 once. Distinct users: 2 over the range, never more than 2 a day.
	for d := 1; d <= 3; d++ {
		for _, typ := range []string{"user.login", "github.push"} {
			evs = append(evs, ev{typ: typ, user: u[0], community: c[d-1], at: at(5, d, 10, 0)})
			evs = append(evs, ev{typ: typ, user: u[0], community: c[d%3], at: at(5, d, 23, 59)})
		}
	}
	evs = append(evs, ev{typ: "user.login", user: u[1], community: c[0], at: at(5, 2, 0, 0)})
	f := newFixture(t).seed(evs...)
	v := getJSON[overviewView](t, f, unscoped, "/api/v1/analytics/overview?from=2026-05-01&to=2026-05-03")
	if v.Totals != (totalsView{Events: 13, ActiveUsers: 2, ActiveCommunities: 3}) {
		t.Fatalf("totals %+v", v.Totals)
	}
	want := []dailyView{{"2026-05-01", 4, 1}, {"2026-05-02", 5, 2}, {"2026-05-03", 4, 1}}
	if !reflect.DeepEqual(v.Daily, want) {
		t.Fatalf("daily %+v, want %+v", v.Daily, want)
	}
}

func TestOverview_TopCommunitiesHoldsTenByEventsThenID(t *testing.T) {
	t.Parallel()
	c := ids(12)
	var evs []ev
	// c[i] has 1+i/2 events: ties in pairs, broken by id.
	for i, id := range c {
		for n := 0; n < 1+i/2; n++ {
			evs = append(evs, ev{typ: "event.created", community: id, at: at(6, 1, 10, n)})
		}
	}
	f := newFixture(t).seed(evs...)
	v := getJSON[overviewView](t, f, unscoped, "/api/v1/analytics/overview?from=2026-06-01&to=2026-06-01")
	if len(v.TopCommunities) != 10 {
		t.Fatalf("%d top communities, want 10", len(v.TopCommunities))
	}
	if v.Totals.ActiveCommunities != 12 {
		t.Fatalf("active_communities %d, want 12", v.Totals.ActiveCommunities)
	}
	order := []int{10, 11, 8, 9, 6, 7, 4, 5, 2, 3}
	for i, ci := range order {
		got := v.TopCommunities[i]
		if got.CommunityID != c[ci] || got.Events != int64(1+ci/2) {
			t.Fatalf("top_communities[%d] = %+v, want %s with %d events", i, got, c[ci], 1+ci/2)
		}
	}
}

func TestOverview_LocalDaysInNewYorkFollowDST(t *testing.T) {
	t.Parallel()
	u := uuid.New()
	c := uuid.New()
	// 2026-03-08 is the 23-hour day of New York: it starts at 05:00Z (EST)
	// and ends at 2026-03-09T04:00Z (EDT).
	f := newFixture(t).seed(
		ev{typ: "user.login", user: u, community: c, at: at(3, 8, 4, 59)},  // Mar 7 23:59 EST
		ev{typ: "user.login", user: u, community: c, at: at(3, 8, 5, 0)},   // Mar 8 00:00 EST
		ev{typ: "user.login", user: u, community: c, at: at(3, 9, 3, 59)},  // Mar 8 23:59 EDT
		ev{typ: "user.login", user: u, community: c, at: at(3, 9, 4, 0)},   // Mar 9 00:00 EDT
		ev{typ: "user.login", user: u, community: c, at: at(3, 10, 3, 59)}, // Mar 9 23:59 EDT
		ev{typ: "user.login", user: u, community: c, at: at(3, 10, 4, 0)},  // Mar 10: outside
		ev{typ: "user.login", user: u, community: c, at: at(3, 7, 4, 59)},  // Mar 6: outside
	)
	v := getJSON[overviewView](t, f, unscoped, "/api/v1/analytics/overview?from=2026-03-07&to=2026-03-09&tz=America/New_York")
	want := []dailyView{{"2026-03-07", 1, 1}, {"2026-03-08", 2, 1}, {"2026-03-09", 2, 1}}
	if v.TZ != "America/New_York" || !reflect.DeepEqual(v.Daily, want) || v.Totals.Events != 5 {
		t.Fatalf("got tz %q daily %+v totals %+v, want daily %+v", v.TZ, v.Daily, v.Totals, want)
	}
	// The same data in UTC days.
	v = getJSON[overviewView](t, f, unscoped, "/api/v1/analytics/overview?from=2026-03-07&to=2026-03-09")
	want = []dailyView{{"2026-03-07", 1, 1}, {"2026-03-08", 2, 1}, {"2026-03-09", 2, 1}}
	if !reflect.DeepEqual(v.Daily, want) {
		t.Fatalf("UTC daily %+v, want %+v", v.Daily, want)
	}
}

func TestOverview_LocalDaysInKolkataStartAt1830UTC(t *testing.T) {
	t.Parallel()
	u := ids(2)
	f := newFixture(t).seed(
		ev{typ: "user.login", user: u[0], at: at(11, 19, 18, 29)}, // Nov 19 23:59 IST
		ev{typ: "user.login", user: u[0], at: at(11, 19, 18, 30)}, // Nov 20 00:00 IST
		ev{typ: "user.login", user: u[1], at: at(11, 20, 18, 29)}, // Nov 20 23:59 IST
		ev{typ: "user.login", user: u[1], at: at(11, 20, 18, 30)}, // Nov 21 00:00 IST
		ev{typ: "user.login", user: u[1], at: at(11, 21, 18, 29)}, // Nov 21 23:59 IST
		ev{typ: "user.login", user: u[1], at: at(11, 21, 18, 30)}, // Nov 22 IST: outside
	)
	v := getJSON[overviewView](t, f, unscoped, "/api/v1/analytics/overview?from=2026-11-20&to=2026-11-21&tz=Asia/Kolkata")
	want := []dailyView{{"2026-11-20", 2, 2}, {"2026-11-21", 2, 1}}
	if !reflect.DeepEqual(v.Daily, want) || v.Totals.Events != 4 || v.Totals.ActiveUsers != 2 {
		t.Fatalf("daily %+v totals %+v, want %+v", v.Daily, v.Totals, want)
	}
}

func TestOverview_DefaultRangeEndsTodayInTheZone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// testNow is 2026-11-21T12:00Z: already Nov 22 in Pacific/Kiritimati (+14).
	v := getJSON[overviewView](t, f, unscoped, "/api/v1/analytics/overview?tz=Pacific/Kiritimati")
	if v.From != "2026-10-24" || v.To != "2026-11-22" || len(v.Daily) != 30 {
		t.Fatalf("from %s to %s with %d days", v.From, v.To, len(v.Daily))
	}
	v = getJSON[overviewView](t, f, unscoped, "/api/v1/analytics/overview?from=2026-11-01")
	if v.From != "2026-11-01" || v.To != "2026-11-21" || len(v.Daily) != 21 {
		t.Fatalf("only from: from %s to %s with %d days", v.From, v.To, len(v.Daily))
	}
	v = getJSON[overviewView](t, f, unscoped, "/api/v1/analytics/overview?to=2026-01-30")
	if v.From != "2026-01-01" || v.To != "2026-01-30" || len(v.Daily) != 30 {
		t.Fatalf("only to: from %s to %s with %d days", v.From, v.To, len(v.Daily))
	}
}
