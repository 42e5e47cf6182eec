package projections

import (
	"context"
	"time"

	"github.com/activity-dev/activity/internal/db"
)

// userCounts counts each user's events per UTC hour (and quarter of it), day
// and month, per community and event type, and for every type: a user's page
// and a community's top users read a few hundred rows whatever the range.
var userCounts = Projection{
	Name:    "user_counts",
	table:   "user_counts",
	lockKey: lockBase + 2,
	// A batch rewrites each user's day row (and its list of quarters) it
	// touches: fewer, larger batches rewrite each row fewer times.
	pace: 250 * time.Millisecond,
	apply: func(ctx context.Context, q *db.Queries, t target, from, to Position) (int64, error) {
		return q.UserCountsApply(ctx, db.UserCountsApplyParams{
			Version: t.version, FromTx: from.Tx, FromID: from.ID, ToTx: to.Tx, ToID: to.ID, FirstAt: t.first, LastAt: t.last,
		})
	},
}
