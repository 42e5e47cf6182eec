package projections

import (
	"context"

	"github.com/activity-dev/activity/internal/db"
)

// eventCounts counts events per UTC hour (and quarter of it), day and month,
// per community and for the platform, per event type and for every type:
// any range of local days in any IANA zone is a sum of a few hundred rows
// (read/plan.go).
var eventCounts = Projection{
	Name:      "event_counts",
	table:     "event_counts",
	lockKey:   lockBase + 1,
	localDays: true,
	apply: func(ctx context.Context, q *db.Queries, t target, from, to Position) (int64, error) {
		return q.EventCountsApply(ctx, db.EventCountsApplyParams{
			Version: t.version, FromTx: from.Tx, FromID: from.ID, ToTx: to.Tx, ToID: to.ID, FirstAt: t.first, LastAt: t.last, TimeZones: t.zones,
		})
	},
}
