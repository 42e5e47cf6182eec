package read

import (
	"fmt"
	"net/http"
	"time"

	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/db"
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
	bounds, label := w.dayStarts, func(i int) string { return w.date(i) }
	if granularity == "hour" {
		bounds = utcHours(w.start, w.end)
		label = func(i int) string { return bounds[i].Truncate(time.Hour).UTC().Format(time.RFC3339) }
	}
	v := eventsView{
		From: w.from.Format(dateLayout), To: w.to.Format(dateLayout), TZ: w.tz,
		Granularity: granularity, Series: []seriesPointView{},
	}
	err := a.inTx(r.Context(), func(q *db.Queries) error {
		rows, err := q.EventSeries(r.Context(), db.EventSeriesParams{
			Bounds: bounds, StartAt: w.start, EndAt: w.end,
			AllCommunities: sc.all, Communities: sc.communities, EventType: eventType,
		})
		if err != nil {
			return err
		}
		for _, row := range rows {
			i := int(row.Slot) - 1
			if i < 0 || i >= len(bounds) {
				return fmt.Errorf("event series: bucket %d outside the %d bounds", row.Slot, len(bounds))
			}
			v.Series = append(v.Series, seriesPointView{
				Bucket: label(i), EventType: row.EventType, Events: row.Events, UniqueUsers: row.UniqueUsers,
			})
		}
		return nil
	})
	return v, err
}
