package read

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/problem"
)

// GET /api/v1/activities: the raw log, newest first by (occurred_at, id).
// Filters user_id, community_id (403 outside the key's scope), event_type,
// from and to (dates in tz, inclusive, or RFC 3339 times, inclusive; no
// default: all time). limit 1-500 (default 100); cursor continues a page.

type activitiesView struct {
	Activities []activityView `json:"activities"`
	NextCursor *string        `json:"next_cursor"`
}

type activityView struct {
	ID          int64           `json:"id"`
	EventID     string          `json:"event_id"`
	EventType   string          `json:"event_type"`
	UserID      *uuid.UUID      `json:"user_id"`
	CommunityID *uuid.UUID      `json:"community_id"`
	EntityType  *string         `json:"entity_type"`
	EntityID    *string         `json:"entity_id"`
	Metadata    json.RawMessage `json:"metadata"`
	OccurredAt  time.Time       `json:"occurred_at"`
	ReceivedAt  time.Time       `json:"received_at"`
}

func (a *API) activities(r *http.Request, k auth.Key) (any, error) {
	p := newParams(r)
	fq := feedQuery{keyScope: keyScope(k)}
	fq.scope = fq.keyScope
	if u, ok := p.uuidParam("user_id"); ok {
		fq.user = uuid.NullUUID{UUID: u, Valid: true}
	}
	community, hasCommunity := p.uuidParam("community_id")
	fq.eventType = p.eventType()
	limit := p.limit()
	loc, _ := p.location()
	if loc != nil {
		fq.from = p.instant("from", loc, false)
		fq.to = p.instant("to", loc, true)
		if fq.from != nil && fq.to != nil && !fq.from.Before(*fq.to) {
			p.fail("from", "must not be after to")
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	if hasCommunity {
		if !k.Allows(community) {
			return nil, forbidden(k, community)
		}
		fq.scope = only(community)
	}
	query := fq.canonical()
	arg := db.ActivityFeedParams{
		AllCommunities: fq.scope.all, Communities: fq.scope.communities,
		UserID: fq.user, EventType: fq.eventType,
		FromAt: timestamptz(fq.from), ToAt: timestamptz(fq.to),
		MaxRows: int32(limit + 1),
	}
	var secret []byte
	if c := p.get("cursor"); c != "" {
		var err error
		if secret, err = a.cursorSecret(r.Context()); err != nil {
			return nil, err
		}
		pos, err := decodeCursor(secret, query, c)
		if err != nil {
			return nil, invalid(problem.Item{Field: "cursor", Message: "is not a next_cursor this endpoint returned for these filters and this key; " +
				"pass the next_cursor of the previous page unchanged, with the same filters, or leave cursor out to start at the newest activity"})
		}
		arg.BeforeAt = pgtype.Timestamptz{Time: pos.at, Valid: true}
		arg.BeforeID = pos.id
	}
	var rows []db.ActivityFeedRow
	err := a.inTx(r.Context(), func(q readTx) (err error) {
		rows, err = feedPage(r.Context(), q.Queries, arg, a.cfg.Now())
		return err
	})
	if err != nil {
		return nil, err
	}
	v := activitiesView{Activities: make([]activityView, 0, min(len(rows), limit))}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		if secret == nil {
			if secret, err = a.cursorSecret(r.Context()); err != nil {
				return nil, err
			}
		}
		next := encodeCursor(secret, query, position{at: last.CreatedAt, id: last.ID})
		v.NextCursor = &next
	}
	for _, row := range rows {
		av := activityView{
			ID: row.ID, EventID: row.EventID, EventType: row.EventType,
			Metadata:   json.RawMessage(row.Metadata),
			OccurredAt: row.CreatedAt.UTC(), ReceivedAt: row.ReceivedAt.UTC(),
		}
		if len(av.Metadata) == 0 {
			av.Metadata = json.RawMessage("{}")
		}
		if row.UserID.Valid {
			av.UserID = &row.UserID.UUID
		}
		if row.CommunityID.Valid {
			av.CommunityID = &row.CommunityID.UUID
		}
		if row.EntityType.Valid {
			av.EntityType = &row.EntityType.String
		}
		if row.EntityID.Valid {
			av.EntityID = &row.EntityID.String
		}
		v.Activities = append(v.Activities, av)
	}
	return v, nil
}

// feedWindows are the spans, newest first, that feedPage reads one after
// another before reading the rest of the log at once.
var feedWindows = []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 365 * 24 * time.Hour}

// feedPage reads arg.MaxRows rows of the feed, newest first. The log is
// partitioned by day, and a query over every partition spends longer
// planning than reading 100 rows: so the page is read in growing windows
// back from its newest possible row (the cursor, to, or now), each bounded
// in created_at so that only its partitions are planned, until the page is
// full or the log (or from) is exhausted. The windows are disjoint and
// descending, so the rows come out in feed order.
func feedPage(ctx context.Context, q *db.Queries, arg db.ActivityFeedParams, now time.Time) ([]db.ActivityFeedRow, error) {
	upper := arg.ToAt // exclusive; invalid for none
	if arg.BeforeAt.Valid {
		// (created_at, id) < (before_at, before_id) allows created_at = before_at.
		if b := arg.BeforeAt.Time.Add(time.Microsecond); !upper.Valid || b.Before(upper.Time) {
			upper = pgtype.Timestamptz{Time: b, Valid: true}
		}
	}
	anchor := now
	if upper.Valid {
		anchor = upper.Time
	}
	var rows []db.ActivityFeedRow
	want := arg.MaxRows
	for i := 0; ; i++ {
		w := arg
		w.ToAt = upper
		w.MaxRows = want - int32(len(rows))
		last := i >= len(feedWindows)
		if !last {
			lower := anchor.Add(-feedWindows[i])
			if arg.FromAt.Valid && !lower.After(arg.FromAt.Time) {
				last = true // from is inside this window
			} else {
				w.FromAt = pgtype.Timestamptz{Time: lower, Valid: true}
			}
		}
		got, err := q.ActivityFeed(ctx, w)
		if err != nil {
			return nil, err
		}
		rows = append(rows, got...)
		if last || int32(len(rows)) >= want {
			return rows, nil
		}
		upper = w.FromAt
	}
}

// instant parses the feed's from or to: a date YYYY-MM-DD in loc (the whole
// day) or an RFC 3339 time; both ends are inclusive. It returns the bound as
// created_at >= from, or created_at < to (the instant after the last one
// included: the next day's start, or the time plus one microsecond, the
// log's precision). Times finer than a microsecond round inward.
func (p *params) instant(name string, loc *time.Location, end bool) *time.Time {
	s := p.get(name)
	if s == "" {
		return nil
	}
	if d, err := time.Parse(dateLayout, s); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		t := dayStart(d, loc)
		return &t
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		p.fail(name, "must be a date YYYY-MM-DD (a whole day in tz) or an RFC 3339 time such as 2026-11-21T09:30:00Z, got %q", s)
		return nil
	}
	t = t.UTC()
	if end || !t.Truncate(time.Microsecond).Equal(t) {
		t = t.Truncate(time.Microsecond).Add(time.Microsecond)
	}
	return &t
}

func timestamptz(t *time.Time) pgtype.Timestamptz {
	if t == nil {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: *t, Valid: true}
}
