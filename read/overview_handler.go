package read

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

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
	// Approximate names the figures that are estimates (distinct users
	// from sketches), ErrorBound their relative error bound; both are left
	// out when every figure is exact.
	Approximate []string `json:"approximate,omitempty"`
	ErrorBound  *float64 `json:"error_bound,omitempty"`
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
	err := a.inTx(r.Context(), func(q readTx) (err error) {
		v, err = overviewFigures(r.Context(), q, w, keyScope(k))
		return err
	})
	return v, err
}

// overviewFigures computes the overview of the communities in sc over w.
func overviewFigures(ctx context.Context, q readTx, w window, sc scope) (overviewView, error) {
	v := overviewView{
		From: w.from.Format(dateLayout), To: w.to.Format(dateLayout), TZ: w.tz,
		Daily:          make([]dailyView, len(w.dayStarts)),
		EventTypes:     []eventTypeView{},
		TopCommunities: []communityView{},
	}
	for i := range v.Daily {
		v.Daily[i].Date = w.date(i)
	}
	whole := planSlots([]time.Time{w.start}, w.end)
	var approx approximations

	daily := dailyPlan(w, q.zones)
	events, err := countEvents(ctx, q.Queries, daily, sc, everyType)
	if err != nil {
		return v, err
	}
	for k, n := range events {
		v.Daily[k.slot].Events = n
		v.Totals.Events += n
	}
	users, err := countUsers(ctx, q.Queries, daily, sc, everyType)
	if err != nil {
		return v, err
	}
	for k, u := range users {
		v.Daily[k.slot].ActiveUsers = u.users
		approx.note("daily.active_users", u.exact)
	}
	total, err := countUsers(ctx, q.Queries, whole, sc, everyType)
	if err != nil {
		return v, err
	}
	if u, ok := total[slotType{0, everyType}]; ok {
		v.Totals.ActiveUsers = u.users
		approx.note("totals.active_users", u.exact)
	}

	types, err := countEvents(ctx, q.Queries, whole, sc, eachType)
	if err != nil {
		return v, err
	}
	for k, n := range types {
		v.EventTypes = append(v.EventTypes, eventTypeView{EventType: k.eventType, Events: n})
	}
	sortEventTypes(v.EventTypes)

	c := whole.columns()
	top, err := q.EventCountsTopCommunities(ctx, db.EventCountsTopCommunitiesParams{
		Res: c.res, Lo: c.lo, Hi: c.hi, Qlo: c.qlo, Qhi: c.qhi,
		AllCommunities: sc.all, Communities: sc.communities, MaxRows: topN,
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
	v.Approximate, v.ErrorBound = approx.names, approx.bound()
	return v, nil
}

// sortEventTypes orders event types most events first, then by name.
func sortEventTypes(types []eventTypeView) {
	slices.SortFunc(types, func(a, b eventTypeView) int {
		if c := cmp.Compare(b.Events, a.Events); c != 0 {
			return c
		}
		return strings.Compare(a.EventType, b.EventType)
	})
}
