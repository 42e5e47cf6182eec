package projections

import (
	"context"

	"github.com/activity-dev/activity/internal/db"
)

// userBuckets records which users were active per quarter hour, community
// and event type, so distinct users over any range and zone are exact.
var userBuckets = Projection{
	Name:    "user_buckets",
	lockKey: lockBase + 2,
	apply: func(ctx context.Context, q *db.Queries, version int32, from, to Position) (int64, error) {
		return q.UserBucketsApply(ctx, db.UserBucketsApplyParams{
			Version: version, FromTx: from.Tx, FromID: from.ID, ToTx: to.Tx, ToID: to.ID,
		})
	},
	deleteVersion: func(ctx context.Context, q *db.Queries, version int32) error {
		return q.UserBucketsDeleteVersion(ctx, version)
	},
	deleteOtherVersions: func(ctx context.Context, q *db.Queries, keep int32) error {
		return q.UserBucketsDeleteOtherVersions(ctx, keep)
	},
}
