package read

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/google/uuid"
)

func TestUser_AllTimeFiguresAndRangeActivity(t *testing.T) {
	t.Parallel()
	c := ids(2)
	u := ids(2)
	f := newFixture(t).seed(
		ev{typ: "user.signup", user: u[0], at: at(1, 5, 3, 0)},                   // no community, before the range
		ev{typ: "user.login", user: u[0], community: c[0], at: at(11, 1, 10, 0)}, // in range
		ev{typ: "user.login", user: u[0], community: c[1], at: at(11, 1, 11, 0)},
		ev{typ: "github.push", user: u[0], community: c[1], at: at(11, 3, 11, 0)},
		ev{typ: "user.login", user: u[0], at: at(11, 3, 12, 0)},
		ev{typ: "user.login", user: u[0], community: c[0], at: at(11, 21, 23, 59)}, // after the range
		ev{typ: "user.login", user: u[1], community: c[0], at: at(11, 2, 10, 0)},   // someone else
	)
	v := getJSON[userPageView](t, f, unscoped, "/api/v1/analytics/user/"+u[0].String()+"?from=2026-11-01&to=2026-11-03")
	want := userPageView{
		User: userInfoView{ID: u[0], FirstSeen: at(1, 5, 3, 0), LastSeen: at(11, 21, 23, 59), TotalEvents: 6},
		From: "2026-11-01", To: "2026-11-03", TZ: "UTC",
		Totals:      userTotalsView{Events: 4},
		Daily:       []userDailyView{{"2026-11-01", 2}, {"2026-11-02", 0}, {"2026-11-03", 2}},
		EventTypes:  []eventTypeView{{"user.login", 3}, {"github.push", 1}},
		Communities: []communityCountView{{c[1], 2}, {c[0], 1}},
	}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got  %+v\nwant %+v", v, want)
	}
	rec := f.get(t, unscoped, "/api/v1/analytics/user/"+u[0].String()+"?from=2026-11-02&to=2026-11-02")
	jsonEqual(t, rec.Body.Bytes(), `{"user":{"id":"`+u[0].String()+`","first_seen":"2026-01-05T03:00:00Z","last_seen":"2026-11-21T23:59:00Z","total_events":6},
		"from":"2026-11-02","to":"2026-11-02","tz":"UTC","totals":{"events":0},
		"daily":[{"date":"2026-11-02","events":0}],"event_types":[],"communities":[]}`)
}

func TestUser_UnknownUserIs404(t *testing.T) {
	t.Parallel()
	f := newFixture(t).seed(ev{typ: "user.login", user: uuid.New(), at: at(11, 1, 10, 0)})
	f.wantProblem(t, unscoped, "/api/v1/analytics/user/"+uuid.New().String(), http.StatusNotFound, "")
}
