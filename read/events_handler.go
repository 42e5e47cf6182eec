package read

import (
	"cmp"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/activity-dev/activity/internal/auth"
)

// GET /api/v1/analytics/events: events and exact unique users per (bucket,
// event type), by local day or by UTC hour. Filters: event_type,
// community_id (403 outside the key's scope).

type eventsView struct {
	From        string            `json:"from"`
	To          string            `json:"to"`
	TZ          string            `json:"tz"`
	Granularity string            `json:"granularity"`
	Series      []seriesPointView `json:"series"`
	Approximate []string          `json:"approximate,omitempty"` // as in overviewView
	ErrorBound  *float64          `json:"error_bound,omitempty"`
}

type seriesPointView struct {
	Bucket      string `json:"bucket"` // YYYY-MM-DD for day, RFC 3339 UTC for hour
	EventType   string `json:"event_type"`
	Events      int64  `json:"events"`
	UniqueUsers int64  `json:"unique_users"`
}

func (a *API) events(r *http.Request, k auth.Key) (any, error) {
	p := newParams(r)
	granularity := p.get("granularity")
	maxRange, why := maxDays, ""
	switch granularity {
	case "", "day":
		granularity = "day"
	case "hour":
		maxRange, why = maxHourDays, " with granularity=hour (use granularity=day for longer ranges)"
	default:
		p.fail("granularity", `must be "day" or "hour", got %q`, granularity)
	}
	eventType := p.eventType()
	community, hasCommunity := p.uuidParam("community_id")
	w := p.window(a.cfg.Now(), maxRange, why)
	if err := p.err(); err != nil {
		return nil, err
	}
	sc := keyScope(k)
	if hasCommunity {
		if !k.Allows(community) {
			return nil, forbidden(k, community)
		}
		sc = only(community)
	}
	bounds, label := w.dayStarts, w.date
	if granularity == "hour" {
		bounds = utcHours(w.start, w.end)
		label = func(i int) string { return bounds[i].Truncate(time.Hour).UTC().Format(time.RFC3339) }
	}
	labels := make([]string, len(bounds)) // each slot's label, made once
	labelOf := func(i int) string {
		if labels[i] == "" {
			labels[i] = label(i)
		}
		return labels[i]
	}
	v := eventsView{
		From: w.from.Format(dateLayout), To: w.to.Format(dateLayout), TZ: w.tz,
		Granularity: granularity, Series: []seriesPointView{},
	}
	selector := eachType
	if eventType != "" {
		selector = eventType
	}
	err := a.inTx(r.Context(), func(q readTx) error {
		var pl plan
		if granularity == "hour" {
			pl = planSlots(bounds, w.end)
		} else {
			pl = dailyPlan(w, q.zones)
		}
		events, err := countEvents(r.Context(), q.Queries, pl, sc, selector)
		if err != nil {
			return err
		}
		users, err := countUsers(r.Context(), q.Queries, pl, sc, selector)
		if err != nil {
			return err
		}
		keys := slices.Collect(maps.Keys(events))
		slices.SortFunc(keys, func(a, b slotType) int {
			if c := cmp.Compare(a.slot, b.slot); c != 0 {
				return c
			}
			return strings.Compare(a.eventType, b.eventType)
		})
		var approx approximations
		v.Series = make([]seriesPointView, 0, len(keys))
		for _, k := range keys {
			u, ok := users[k]
			if !ok {
				u = estimate{0, true} // no event of this bucket and type named a user
			}
			approx.note("series.unique_users", u.exact)
			v.Series = append(v.Series, seriesPointView{
				Bucket: labelOf(k.slot), EventType: k.eventType, Events: events[k], UniqueUsers: u.users,
			})
		}
		v.Approximate, v.ErrorBound = approx.names, approx.bound()
		return nil
	})
	return v, err
}
