package read

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/activity-dev/activity/domain"
	"github.com/activity-dev/activity/internal/problem"
	"github.com/activity-dev/activity/projections"
)

// Limits of the contract.
const (
	defaultDays  = 30  // default range: the last 30 days ending today
	maxDays      = 366 // longest range of any analytics endpoint
	maxHourDays  = 31  // longest range with granularity=hour
	topN         = 10  // length of the top lists
	defaultLimit = 100 // feed page size
	maxLimit     = 500
	dateLayout   = "2006-01-02"
	latticeStep  = 15 * time.Minute // the rollups' bucket width
)

// params collects a request's query parameters and the mistakes found in
// them, so one answer names every mistake at once.
type params struct {
	q    url.Values
	errs []problem.Item
}

func newParams(r *http.Request) *params { return &params{q: r.URL.Query()} }

func (p *params) get(name string) string { return strings.TrimSpace(p.q.Get(name)) }

func (p *params) fail(field, format string, args ...any) {
	p.errs = append(p.errs, problem.Item{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err is nil when every parameter was valid, else a 400 naming each mistake.
func (p *params) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return invalid(p.errs...)
}

// invalid is the 400 for the given mistakes; its detail repeats them so a
// person reading only the detail knows what to change.
func invalid(items ...problem.Item) *problem.Problem {
	msgs := make([]string, len(items))
	for i, it := range items {
		msgs[i] = it.Field + " " + it.Message
	}
	pr := problem.New(http.StatusBadRequest, strings.Join(msgs, "; "))
	pr.Errors = items
	return pr
}

// pathUUID parses the {id} of a path.
func pathUUID(s, what string) (uuid.UUID, error) {
	id, ok := parseUUID(s)
	if !ok {
		return uuid.Nil, invalid(problem.Item{Field: "id", Message: fmt.Sprintf("must be a %s id: a UUID such as 0190b2c4-5d2e-7a1b-8c3d-4e5f60718293, got %q", what, s)})
	}
	return id, nil
}

func parseUUID(s string) (uuid.UUID, bool) {
	c, ok := domain.ParseUUID(s)
	if !ok {
		return uuid.Nil, false
	}
	return uuid.MustParse(c), true
}

// uuidParam parses an optional UUID parameter. The nil UUID names nothing:
// events without a community are stored without one.
func (p *params) uuidParam(name string) (uuid.UUID, bool) {
	s := p.get(name)
	if s == "" {
		return uuid.Nil, false
	}
	id, ok := parseUUID(s)
	switch {
	case !ok:
		p.fail(name, "must be a UUID such as 0190b2c4-5d2e-7a1b-8c3d-4e5f60718293, got %q", s)
		return uuid.Nil, false
	case id == uuid.Nil:
		p.fail(name, "must not be the nil UUID; leave %s out to include every %s", name, strings.TrimSuffix(name, "_id"))
		return uuid.Nil, false
	}
	return id, true
}

// eventType parses the optional event_type filter ("" for every type).
func (p *params) eventType() string {
	s := p.get("event_type")
	if s != "" && !domain.ValidEventType(s) {
		p.fail("event_type", "must be an event type such as user.login (lower-case letters, digits, _ and dots, at most 64 characters), got %q", s)
		return ""
	}
	return s
}

// limit parses the feed's page size.
func (p *params) limit() int {
	s := p.get("limit")
	if s == "" {
		return defaultLimit
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		p.fail("limit", "must be an integer from 1 to %d, got %q", maxLimit, s)
		return defaultLimit
	}
	return n
}

// location parses tz: an IANA zone name, default UTC.
func (p *params) location() (*time.Location, string) {
	s := p.get("tz")
	if s == "" {
		return time.UTC, "UTC"
	}
	loc, err := time.LoadLocation(s)
	if err != nil || s == "Local" {
		p.fail("tz", "must be an IANA time zone name such as UTC, Europe/Berlin or America/New_York, got %q", s)
		return nil, ""
	}
	return loc, s
}

// date parses an optional YYYY-MM-DD parameter as midnight UTC (a calendar
// date, whatever the zone).
func (p *params) date(name string) (time.Time, bool) {
	s := p.get(name)
	if s == "" {
		return time.Time{}, false
	}
	d, err := time.Parse(dateLayout, s)
	if err != nil {
		p.fail(name, "must be a date YYYY-MM-DD such as 2026-11-21, got %q", s)
		return time.Time{}, false
	}
	return d, true
}

// window is a range of whole local days.
type window struct {
	from, to   time.Time // calendar dates, as midnight UTC
	loc        *time.Location
	tz         string
	start, end time.Time   // first instant of from, and of the day after to
	dayStarts  []time.Time // first instant of every day from..to
}

// window parses from, to and tz: the days from..to inclusive in tz, by
// default the defaultDays days ending today in tz. Only from: to is today;
// only to: the defaultDays days ending then. Ranges over maxRange days are
// refused, naming why (granularity=hour allows less).
func (p *params) window(now time.Time, maxRange int, why string) window {
	loc, tz := p.location()
	from, hasFrom := p.date("from")
	to, hasTo := p.date("to")
	if loc == nil || len(p.errs) > 0 {
		return window{}
	}
	if !hasTo {
		to = localDate(now, loc)
	}
	if !hasFrom {
		from = to.AddDate(0, 0, 1-defaultDays)
	}
	if from.After(to) {
		if hasFrom && hasTo {
			p.fail("from", "must not be after to (%s > %s)", from.Format(dateLayout), to.Format(dateLayout))
		} else {
			p.fail("from", "must not be after to, which defaults to today in %s (%s); pass to as well", tz, to.Format(dateLayout))
		}
		return window{}
	}
	days := int(to.Sub(from)/(24*time.Hour)) + 1
	if days > maxRange {
		p.fail("to", "makes a range of %d days (from and to included); a range may span at most %d days%s", days, maxRange, why)
		return window{}
	}
	w := window{from: from, to: to, loc: loc, tz: tz, dayStarts: make([]time.Time, days)}
	for i := range days {
		w.dayStarts[i] = dayStart(from.AddDate(0, 0, i), loc)
	}
	w.start = w.dayStarts[0]
	w.end = dayStart(to.AddDate(0, 0, 1), loc)
	return w
}

// date returns the i-th day of the window (0-based) as YYYY-MM-DD.
func (w window) date(i int) string { return w.from.AddDate(0, 0, i).Format(dateLayout) }

// localDate is the calendar date of t in loc, as midnight UTC.
func localDate(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// dayStart is the first instant whose date in loc is day or later: local
// midnight, or where midnight is skipped (a DST change at 00:00) the
// transition, and where it repeats its first occurrence. A day a zone skips
// entirely starts where the next one does, so it holds nothing.
func dayStart(day time.Time, loc *time.Location) time.Time { return projections.DayStart(day, loc) }

// utcHours is the series bounds of granularity=hour: start, then every UTC
// hour after it before end. The first and last buckets are partial in zones
// whose days do not start on a UTC hour (Asia/Kolkata).
func utcHours(start, end time.Time) []time.Time {
	bounds := []time.Time{start}
	for h := start.Truncate(time.Hour).Add(time.Hour); h.Before(end); h = h.Add(time.Hour) {
		bounds = append(bounds, h)
	}
	return bounds
}
