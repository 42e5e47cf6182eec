package projections

import (
	"context"

	"github.com/activity-dev/activity/internal/db"
)

// userStats keeps each user's first and last activity and event count, per
// community.
var userStats = Projection{
	Name:    "user_stats",
	table:   "user_stats",
	lockKey: lockBase + 3,
	pace:    smallRollupPace,
	apply: func(ctx context.Context, q *db.Queries, t target, from, to Position) (int64, error) {
		return q.UserStatsApply(ctx, db.UserStatsApplyParams{
			Version: t.version, FromTx: from.Tx, FromID: from.ID, ToTx: to.Tx, ToID: to.ID, FirstAt: t.first, LastAt: t.last,
		})
	},
}
