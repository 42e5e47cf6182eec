package read

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/google/uuid"
)

func eventsFixture(t *testing.T) (*fixture, []uuid.UUID, []uuid.UUID) {
	c := ids(2)
	u := ids(3)
	f := newFixture(t).seed(
		ev{typ: "user.login", user: u[0], community: c[0], at: at(11, 20, 9, 5)},
		ev{typ: "user.login", user: u[0], community: c[1], at: at(11, 20, 9, 50)},
		ev{typ: "user.login", user: u[1], community: c[0], at: at(11, 20, 10, 0)},
		ev{typ: "github.push", user: u[2], community: c[1], at: at(11, 20, 9, 30)},
		ev{typ: "github.push", community: c[1], at: at(11, 20, 9, 31)}, // no user
		ev{typ: "webhook.triggered", at: at(11, 21, 0, 0)},             // no community, no user
		ev{typ: "user.login", user: u[2], at: at(11, 21, 18, 45)},
	)
	return f, c, u
}

func TestEvents_DailySeriesByBucketThenTypeWithExactUniqueUsers(t *testing.T) {
	t.Parallel()
	f, _, _ := eventsFixture(t)
	rec := f.get(t, unscoped, "/api/v1/analytics/events?from=2026-11-19&to=2026-11-21")
	jsonEqual(t, rec.Body.Bytes(), `{"from":"2026-11-19","to":"2026-11-21","tz":"UTC","granularity":"day","series":[
		{"bucket":"2026-11-20","event_type":"github.push","events":2,"unique_users":1},
		{"bucket":"2026-11-20","event_type":"user.login","events":3,"unique_users":2},
		{"bucket":"2026-11-21","event_type":"user.login","events":1,"unique_users":1},
		{"bucket":"2026-11-21","event_type":"webhook.triggered","events":1,"unique_users":0}]}`)
}

func TestEvents_HourlySeriesUsesUTCHoursInRFC3339(t *testing.T) {
	t.Parallel()
	f, _, _ := eventsFixture(t)
	v := getJSON[eventsView](t, f, unscoped, "/api/v1/analytics/events?granularity=hour&from=2026-11-20&to=2026-11-20&event_type=user.login")
	want := []seriesPointView{
		{"2026-11-20T09:00:00Z", "user.login", 2, 1},
		{"2026-11-20T10:00:00Z", "user.login", 1, 1},
	}
	if v.Granularity != "hour" || !reflect.DeepEqual(v.Series, want) {
		t.Fatalf("got %+v, want %+v", v, want)
	}
	// Kolkata's Nov 22 starts at 2026-11-21T18:30Z: its first hour bucket
	// is the UTC hour 18:00, holding 18:30-19:00 only.
	v = getJSON[eventsView](t, f, unscoped, "/api/v1/analytics/events?granularity=hour&from=2026-11-22&to=2026-11-22&tz=Asia/Kolkata")
	want = []seriesPointView{{"2026-11-21T18:00:00Z", "user.login", 1, 1}}
	if !reflect.DeepEqual(v.Series, want) {
		t.Fatalf("Kolkata: got %+v, want %+v", v.Series, want)
	}
	v = getJSON[eventsView](t, f, unscoped, "/api/v1/analytics/events?granularity=hour&from=2026-11-20&to=2026-11-21&tz=Asia/Kolkata")
	want = []seriesPointView{
		{"2026-11-20T09:00:00Z", "github.push", 2, 1},
		{"2026-11-20T09:00:00Z", "user.login", 2, 1},
		{"2026-11-20T10:00:00Z", "user.login", 1, 1},
		{"2026-11-21T00:00:00Z", "webhook.triggered", 1, 0},
	}
	if !reflect.DeepEqual(v.Series, want) {
		t.Fatalf("Kolkata day: got %+v, want %+v", v.Series, want)
	}
}

func TestEvents_FiltersByEventTypeAndCommunity(t *testing.T) {
	t.Parallel()
	f, c, _ := eventsFixture(t)
	v := getJSON[eventsView](t, f, unscoped, "/api/v1/analytics/events?from=2026-11-20&to=2026-11-21&community_id="+c[1].String())
	want := []seriesPointView{{"2026-11-20", "github.push", 2, 1}, {"2026-11-20", "user.login", 1, 1}}
	if !reflect.DeepEqual(v.Series, want) {
		t.Fatalf("community: got %+v, want %+v", v.Series, want)
	}
	v = getJSON[eventsView](t, f, unscoped, "/api/v1/analytics/events?from=2026-11-20&to=2026-11-21&event_type=github.push")
	want = []seriesPointView{{"2026-11-20", "github.push", 2, 1}}
	if !reflect.DeepEqual(v.Series, want) {
		t.Fatalf("event_type: got %+v, want %+v", v.Series, want)
	}
	// An unknown community or event type is an empty series, not an error.
	v = getJSON[eventsView](t, f, unscoped, "/api/v1/analytics/events?event_type=never.sent&community_id="+uuid.NewString())
	if len(v.Series) != 0 || v.Series == nil {
		t.Fatalf("unknown filters: %+v", v)
	}
}

func TestEvents_CommunityOutsideScopeIs403(t *testing.T) {
	t.Parallel()
	f, c, _ := eventsFixture(t)
	k := scopedKey(c[0])
	f.wantProblem(t, k, "/api/v1/analytics/events?community_id="+c[1].String(), http.StatusForbidden, "")
	f.wantProblem(t, k, "/api/v1/analytics/events?community_id="+uuid.NewString(), http.StatusForbidden, "")
	getJSON[eventsView](t, f, k, "/api/v1/analytics/events?community_id="+c[0].String())
}
