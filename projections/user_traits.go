package projections

import (
	"context"

	"github.com/activity-dev/activity/internal/db"
)

// userTraits keeps each user's traits from the log: per trait, the value of
// the latest user.identify (by occurred_at, then event_id) that set it.
var userTraits = Projection{
	Name:    "user_traits",
	lockKey: lockBase + 6,
	pace:    smallRollupPace,
	apply: func(ctx context.Context, q *db.Queries, t target, from, to Position) (int64, error) {
		return q.UserTraitsApply(ctx, db.UserTraitsApplyParams{
			Version: t.version, FromTx: from.Tx, FromID: from.ID, ToTx: to.Tx, ToID: to.ID, FirstAt: t.first, LastAt: t.last,
		})
	},
	deleteVersion: func(ctx context.Context, q *db.Queries, version int32) error {
		return q.UserTraitsDeleteVersion(ctx, version)
	},
	deleteOtherVersions: func(ctx context.Context, q *db.Queries, keep int32) error {
		return q.UserTraitsDeleteOtherVersions(ctx, keep)
	},
}
