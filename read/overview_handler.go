package read

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/db"
)

// GET /api/v1/analytics/overview: the platform (or, for a scoped key, its
// communities) over a range of local days.

type overviewView struct {
	From           string          `json:"from"`
	To             string          `json:"to"`
	TZ             string          `json:"tz"`
	Totals         totalsView      `json:"totals"`
	Daily          []dailyView     `json:"daily"`
	EventTypes     []eventTypeView `json:"event_types"`
	TopCommunities []communityView `json:"top_communities"`
}

type totalsView struct {
	Events            int64 `json:"events"`
	ActiveUsers       int64 `json:"active_users"`
	ActiveCommunities int64 `json:"active_communities"`
}

type dailyView struct {
	Date        string `json:"date"`
	Events      int64  `json:"events"`
	ActiveUsers int64  `json:"active_users"`
}

type eventTypeView struct {
	EventType string `json:"event_type"`
	Events    int64  `json:"events"`
}

type communityView struct {
	CommunityID uuid.UUID `json:"community_id"`
	Name        *string   `json:"name"` // null until a community.created names it
	Events      int64     `json:"events"`
}

func (a *API) overview(r *http.Request, k auth.Key) (any, error) {
	p := newParams(r)
	w := p.window(a.cfg.Now(), maxDays, "")
	if err := p.err(); err != nil {
		return nil, err
	}
	var v overviewView
	err := a.inTx(r.Context(), func(q *db.Queries) (err error) {
		v, err = overviewFigures(r.Context(), q, w, keyScope(k))
		return err
	})
	return v, err
}

// overviewFigures computes the overview of the communities in sc over w.
func overviewFigures(ctx context.Context, q *db.Queries, w window, sc scope) (overviewView, error) {
	v := overviewView{
		From: w.from.Format(dateLayout), To: w.to.Format(dateLayout), TZ: w.tz,
		Daily:          make([]dailyView, len(w.dayStarts)),
		EventTypes:     []eventTypeView{},
		TopCommunities: []communityView{},
	}
	for i := range v.Daily {
		v.Daily[i].Date = w.date(i)
	}
	events, err := q.EventCountsSeries(ctx, db.EventCountsSeriesParams{
		Bounds: w.dayStarts, StartAt: w.start, EndAt: w.end,
		AllCommunities: sc.all, Communities: sc.communities,
	})
	if err != nil {
		return v, err
	}
	for _, e := range events {
		if i := int(e.Slot) - 1; i >= 0 && i < len(v.Daily) {
			v.Daily[i].Events = e.Events
			v.Totals.Events += e.Events
		}
	}
	users, err := q.UserBucketsActiveSeries(ctx, db.UserBucketsActiveSeriesParams{
		Bounds: w.dayStarts, StartAt: w.start, EndAt: w.end,
		AllCommunities: sc.all, Communities: sc.communities,
	})
	if err != nil {
		return v, err
	}
	for _, u := range users {
		if i := int(u.Slot) - 1; i >= 0 && i < len(v.Daily) {
			v.Daily[i].ActiveUsers = u.Users
		}
	}
	v.Totals.ActiveUsers, err = q.UserBucketsActive(ctx, db.UserBucketsActiveParams{
		StartAt: w.start, EndAt: w.end, AllCommunities: sc.all, Communities: sc.communities,
	})
	if err != nil {
		return v, err
	}
	types, err := q.EventCountsByType(ctx, db.EventCountsByTypeParams{
		StartAt: w.start, EndAt: w.end, AllCommunities: sc.all, Communities: sc.communities,
	})
	if err != nil {
		return v, err
	}
	for _, t := range types {
		v.EventTypes = append(v.EventTypes, eventTypeView{EventType: t.EventType, Events: t.Events})
	}
	top, err := q.EventCountsTopCommunities(ctx, db.EventCountsTopCommunitiesParams{
		StartAt: w.start, EndAt: w.end, AllCommunities: sc.all, Communities: sc.communities, MaxRows: topN,
	})
	if err != nil {
		return v, err
	}
	for _, c := range top {
		cv := communityView{CommunityID: c.CommunityID, Events: c.Events}
		if c.Name.Valid {
			cv.Name = &c.Name.String
		}
		v.TopCommunities = append(v.TopCommunities, cv)
		v.Totals.ActiveCommunities = c.Communities
	}
	return v, nil
}
