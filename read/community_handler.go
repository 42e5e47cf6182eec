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
	"github.com/activity-dev/activity/internal/problem"
)

// GET /api/v1/analytics/community/{id}: the overview of one community, with
// its name and its most active users. 403 outside the key's scope (checked
// before existence), 404 when no event ever named the community.

type communityPageView struct {
	Community communityInfoView `json:"community"`
	overviewView
	TopUsers []userCountView `json:"top_users"`
}

type communityInfoView struct {
	ID        uuid.UUID `json:"id"`
	Name      *string   `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

type userCountView struct {
	UserID uuid.UUID `json:"user_id"`
	Events int64     `json:"events"`
}

func (a *API) community(r *http.Request, k auth.Key) (any, error) {
	id, err := pathUUID(mux.Vars(r)["id"], "community")
	if err != nil {
		return nil, err
	}
	if !k.Allows(id) || (k.Scoped() && id == uuid.Nil) {
		return nil, forbidden(k, id)
	}
	p := newParams(r)
	w := p.window(a.cfg.Now(), maxDays, "")
	if err := p.err(); err != nil {
		return nil, err
	}
	var v communityPageView
	err = a.inTx(r.Context(), func(q readTx) error {
		c, err := q.CommunityStatsGet(r.Context(), id)
		if errors.Is(err, pgx.ErrNoRows) {
			return problem.New(http.StatusNotFound, fmt.Sprintf("community %s is unknown: no event has named it", id))
		}
		if err != nil {
			return err
		}
		v.Community = communityInfoView{ID: c.CommunityID, CreatedAt: c.CreatedAt.UTC()}
		if c.Name.Valid {
			v.Community.Name = &c.Name.String
		}
		sc := only(id)
		if v.overviewView, err = overviewFigures(r.Context(), q, w, sc); err != nil {
			return err
		}
		v.TopUsers, err = topUsers(r.Context(), q.Queries, planSlots([]time.Time{w.start}, w.end), id, topN)
		if err != nil {
			return err
		}
		return nil
	})
	return v, err
}
