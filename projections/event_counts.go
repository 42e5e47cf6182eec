package projections

import (
	"context"

	"github.com/activity-dev/activity/internal/db"
)

// eventCounts counts events per quarter hour (UTC), community and event
// type: days and hours in every IANA zone are sums of whole buckets.
var eventCounts = Projection{
	Name:    "event_counts",
	lockKey: lockBase + 1,
	apply: func(ctx context.Context, q *db.Queries, version int32, from, to Position) (int64, error) {
		return q.EventCountsApply(ctx, db.EventCountsApplyParams{
			Version: version, FromTx: from.Tx, FromID: from.ID, ToTx: to.Tx, ToID: to.ID,
		})
	},
	deleteVersion: func(ctx context.Context, q *db.Queries, version int32) error {
		return q.EventCountsDeleteVersion(ctx, version)
	},
	deleteOtherVersions: func(ctx context.Context, q *db.Queries, keep int32) error {
		return q.EventCountsDeleteOtherVersions(ctx, keep)
	},
}
