package projections

import (
	"context"

	"github.com/activity-dev/activity/internal/db"
)

// communityStats keeps each community's name (from its latest
// community.created), first activity and event count.
var communityStats = Projection{
	Name:    "community_stats",
	lockKey: lockBase + 4,
	pace:    smallRollupPace,
	apply: func(ctx context.Context, q *db.Queries, t target, from, to Position) (int64, error) {
		return q.CommunityStatsApply(ctx, db.CommunityStatsApplyParams{
			Version: t.version, FromTx: from.Tx, FromID: from.ID, ToTx: to.Tx, ToID: to.ID, FirstAt: t.first, LastAt: t.last,
		})
	},
	deleteVersion: func(ctx context.Context, q *db.Queries, version int32) error {
		return q.CommunityStatsDeleteVersion(ctx, version)
	},
	deleteOtherVersions: func(ctx context.Context, q *db.Queries, keep int32) error {
		return q.CommunityStatsDeleteOtherVersions(ctx, keep)
	},
}
