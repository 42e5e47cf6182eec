package read

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParams_InvalidInputIs400ProblemNamingTheParameter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const (
		ov  = "/api/v1/analytics/overview"
		evs = "/api/v1/analytics/events"
		act = "/api/v1/activities"
		com = "/api/v1/analytics/community/"
		usr = "/api/v1/analytics/user/"
	)
	const someID = "0190b2c4-5d2e-7a1b-8c3d-4e5f60718293"
	cases := []struct {
		name, target, field string
	}{
		{"unknown zone", ov + "?tz=Mars/Olympus", "tz"},
		{"lower-case utc", ov + "?tz=utc", "tz"},
		{"Local is not a zone", ov + "?tz=Local", "tz"},
		{"from not a date", ov + "?from=21-11-2026", "from"},
		{"from not a day", ov + "?from=2026-02-30", "from"},
		{"to with a time", ov + "?to=2026-11-21T00:00:00Z", "to"},
		{"from after to", ov + "?from=2026-11-02&to=2026-11-01", "from"},
		{"from after default to", ov + "?from=2026-11-22", "from"},
		{"367 days", ov + "?from=2025-01-01&to=2026-01-02", "to"},
		{"367 days in a leap year", ov + "?from=2028-01-01&to=2029-01-01", "to"},
		{"community range", com + someID + "?from=2025-01-01&to=2026-12-31", "to"},
		{"user range", usr + someID + "?from=x", "from"},
		{"events bad granularity", evs + "?granularity=week", "granularity"},
		{"events hour over 31 days", evs + "?granularity=hour&from=2026-01-01&to=2026-02-01", "to"},
		{"events day over 366 days", evs + "?from=2025-01-01&to=2026-01-02", "to"},
		{"events bad community", evs + "?community_id=abc", "community_id"},
		{"events nil community", evs + "?community_id=00000000-0000-0000-0000-000000000000", "community_id"},
		{"events bad event type", evs + "?event_type=User%20Login", "event_type"},
		{"community id not a UUID", com + "not-a-uuid", "id"},
		{"community id without dashes", com + "0190b2c45d2e7a1b8c3d4e5f60718293", "id"},
		{"user id not a UUID", usr + "42", "id"},
		{"feed limit 0", act + "?limit=0", "limit"},
		{"feed limit 501", act + "?limit=501", "limit"},
		{"feed limit not a number", act + "?limit=ten", "limit"},
		{"feed bad user", act + "?user_id=bob", "user_id"},
		{"feed bad community", act + "?community_id=x", "community_id"},
		{"feed bad event type", act + "?event_type=.login", "event_type"},
		{"feed bad from", act + "?from=yesterday", "from"},
		{"feed time without offset", act + "?to=2026-11-21T10:00:00", "to"},
		{"feed from after to", act + "?from=2026-11-21&to=2026-11-20", "from"},
		{"feed from time after to time", act + "?from=2026-11-21T10:00:00Z&to=2026-11-21T09:59:59Z", "from"},
		{"feed bad zone", act + "?tz=Nowhere", "tz"},
		{"feed garbage cursor", act + "?cursor=!!!", "cursor"},
		{"feed made-up cursor", act + "?cursor=AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "cursor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.wantProblem(t, unscoped, c.target, http.StatusBadRequest, c.field)
		})
	}
}

func TestParams_RangeLimitsAreInclusive(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v := getJSON[overviewView](t, f, unscoped, "/api/v1/analytics/overview?from=2025-01-01&to=2026-01-01")
	if len(v.Daily) != 366 {
		t.Fatalf("%d days, want 366", len(v.Daily))
	}
	e := getJSON[eventsView](t, f, unscoped, "/api/v1/analytics/events?granularity=hour&from=2026-01-01&to=2026-01-31")
	if e.Granularity != "hour" || e.From != "2026-01-01" || e.To != "2026-01-31" {
		t.Fatalf("got %+v", e)
	}
	one := getJSON[overviewView](t, f, unscoped, "/api/v1/analytics/overview?from=2026-11-21&to=2026-11-21")
	if len(one.Daily) != 1 {
		t.Fatalf("%d days, want 1", len(one.Daily))
	}
	// One day too many: the message counts the days as the limit does.
	p := f.wantProblem(t, unscoped, "/api/v1/analytics/overview?from=2025-01-01&to=2026-01-02", http.StatusBadRequest, "to")
	if msg := p.Errors[0].Message; !strings.Contains(msg, "range of 367 days") || !strings.Contains(msg, "at most 366 days") {
		t.Errorf("message %q: want the range's 367 days and the limit of 366", msg)
	}
}

// TestDayStart_MatchesTheQuarterHourLattice checks dayStart against the
// definition: the first quarter hour whose local date is the day (or later).
func TestDayStart_MatchesTheQuarterHourLattice(t *testing.T) {
	t.Parallel()
	zones := []string{
		"UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham",
		"Australia/Lord_Howe", "America/Sao_Paulo", "America/Havana", "Asia/Beirut",
		"America/Santiago", "Asia/Tehran", "Africa/Cairo", "Pacific/Apia", "Europe/London",
		"America/St_Johns", "Pacific/Kiritimati", "America/Scoresbysund", "Asia/Gaza",
	}
	for _, name := range zones {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		// Walk the lattice from 2010 to 2027, noting where each local date
		// first appears.
		first := map[time.Time]time.Time{}
		start := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
		end := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		prev := localDate(start, loc)
		for q := start; q.Before(end); q = q.Add(latticeStep) {
			d := localDate(q, loc)
			if d.After(prev) {
				// Days a zone skips start where the next one does.
				for s := prev.AddDate(0, 0, 1); !s.After(d); s = s.AddDate(0, 0, 1) {
					first[s] = q
				}
				prev = d
			}
		}
		for d, want := range first {
			if got := dayStart(d, loc); !got.Equal(want) {
				t.Errorf("%s: dayStart(%s) = %s, want %s", name, d.Format(dateLayout), got, want)
			}
		}
	}
}
