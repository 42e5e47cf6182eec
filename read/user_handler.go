package read

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"

	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/problem"
)

// GET /api/v1/analytics/user/{id}: one user's all-time figures and their
// activity over a range, over what the key can see. 404 when the key can see
// no activity of the user at all.

type userPageView struct {
	User        userInfoView         `json:"user"`
	From        string               `json:"from"`
	To          string               `json:"to"`
	TZ          string               `json:"tz"`
	Totals      userTotalsView       `json:"totals"`
	Daily       []userDailyView      `json:"daily"`
	EventTypes  []eventTypeView      `json:"event_types"`
	Communities []communityCountView `json:"communities"`
}

type userInfoView struct {
	ID          uuid.UUID `json:"id"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	TotalEvents int64     `json:"total_events"`
}

type userTotalsView struct {
	Events int64 `json:"events"`
}

type userDailyView struct {
	Date   string `json:"date"`
	Events int64  `json:"events"`
}

type communityCountView struct {
	CommunityID uuid.UUID `json:"community_id"`
	Events      int64     `json:"events"`
}

func (a *API) user(r *http.Request, k auth.Key) (any, error) {
	id, err := pathUUID(mux.Vars(r)["id"], "user")
	if err != nil {
		return nil, err
	}
	p := newParams(r)
	w := p.window(a.cfg.Now(), maxDays, "")
	if err := p.err(); err != nil {
		return nil, err
	}
	sc := keyScope(k)
	v := userPageView{
		From: w.from.Format(dateLayout), To: w.to.Format(dateLayout), TZ: w.tz,
		Daily:       make([]userDailyView, len(w.dayStarts)),
		EventTypes:  []eventTypeView{},
		Communities: []communityCountView{},
	}
	for i := range v.Daily {
		v.Daily[i].Date = w.date(i)
	}
	err = a.inTx(r.Context(), func(q readTx) error {
		s, err := q.UserStatsSummary(r.Context(), db.UserStatsSummaryParams{
			UserID: id, AllCommunities: sc.all, Communities: sc.communities,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			msg := fmt.Sprintf("no activity of user %s is recorded", id)
			if k.Scoped() {
				msg = fmt.Sprintf("no activity of user %s is recorded in this key's communities", id)
			}
			return problem.New(http.StatusNotFound, msg)
		}
		if err != nil {
			return err
		}
		v.User = userInfoView{ID: id, FirstSeen: s.FirstSeen.UTC(), LastSeen: s.LastSeen.UTC(), TotalEvents: s.Events}

		c := planSlots(w.dayStarts, w.end).dayColumns()
		days, err := q.UserCountsSlots(r.Context(), db.UserCountsSlotsParams{
			Res: c.res, Buckets: c.buckets, Qlo: c.qlo, Qhi: c.qhi,
			UserID: id, AllCommunities: sc.all, Communities: sc.communities,
		})
		if err != nil {
			return err
		}
		for _, d := range days {
			if i := slotOf(w.dayStarts, d.StartAt); i >= 0 {
				v.Daily[i].Events += d.Events
				v.Totals.Events += d.Events
			}
		}
		c = planSlots([]time.Time{w.start}, w.end).dayColumns()
		types, err := q.UserCountsTypes(r.Context(), db.UserCountsTypesParams{
			Res: c.res, Buckets: c.buckets, Qlo: c.qlo, Qhi: c.qhi,
			UserID: id, AllCommunities: sc.all, Communities: sc.communities,
		})
		if err != nil {
			return err
		}
		for _, t := range types {
			if t.Events > 0 {
				v.EventTypes = append(v.EventTypes, eventTypeView{EventType: t.EventType, Events: t.Events})
			}
		}
		sortEventTypes(v.EventTypes)
		comms, err := q.UserCountsByCommunity(r.Context(), db.UserCountsByCommunityParams{
			Res: c.res, Buckets: c.buckets, Qlo: c.qlo, Qhi: c.qhi,
			UserID: id, AllCommunities: sc.all, Communities: sc.communities,
		})
		if err != nil {
			return err
		}
		for _, c := range comms {
			v.Communities = append(v.Communities, communityCountView{CommunityID: c.CommunityID, Events: c.Events})
		}
		return nil
	})
	return v, err
}
