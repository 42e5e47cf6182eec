// Package rollupcheck compares every rollup's current version with the same
// figures recomputed by GROUP BY over the whole log
// (queries/rollup_check.sql). The projection tests and the chaos run use it
// to prove the rollups exact.
package rollupcheck

import (
	"context"
	"fmt"
	"strings"

	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/sketch"
)

// Tables are the rollups checked, in the order Differences reports them.
var Tables = []string{"event_counts", "user_sketches", "user_counts", "user_stats", "community_stats", "user_traits"}

// Difference is one row found in the rollup but not in the recomputation
// (Side "rollup") or the other way round (Side "log").
type Difference struct {
	Table string
	Side  string
	Row   string
}

func (d Difference) String() string {
	where := "only in the rollup"
	if d.Side == "log" {
		where = "only in the log's recomputation"
	}
	return fmt.Sprintf("%s, %s: %s", d.Table, where, d.Row)
}

// Differences returns every row where a rollup and its recomputation from
// the log differ; none means every rollup is exact.
func Differences(ctx context.Context, dbtx db.DBTX) ([]Difference, error) {
	q := db.New(dbtx)
	var out []Difference
	add := func(table, side string, fields ...any) {
		parts := make([]string, len(fields))
		for i, f := range fields {
			parts[i] = fmt.Sprint(f)
		}
		out = append(out, Difference{Table: table, Side: side, Row: strings.Join(parts, " ")})
	}
	ec, err := q.RollupCheckEventCounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("check event_counts: %w", err)
	}
	for _, r := range ec {
		add("event_counts", r.Side, r.Res, r.Bucket.UTC(), r.CommunityID, r.EventType, r.Events, r.Quarters)
	}
	// Estimates are checked at twice their reported bound (six standard
	// errors), so that a correct sketch never fails the check by chance.
	sk, err := q.RollupCheckUserSketches(ctx, 2*sketch.ErrorBound)
	if err != nil {
		return nil, fmt.Errorf("check user_sketches: %w", err)
	}
	for _, r := range sk {
		side := "rollup"
		if r.StoredUsers < 0 {
			side = "log"
		}
		add("user_sketches", side, r.Res, r.Bucket.UTC(), r.CommunityID, r.EventType,
			"stored", r.StoredUsers, "exact", r.Exact, "log", r.LogUsers)
	}
	uc, err := q.RollupCheckUserCounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("check user_counts: %w", err)
	}
	for _, r := range uc {
		add("user_counts", r.Side, r.Res, r.Bucket.UTC(), r.UserID, r.CommunityID, r.EventType, r.Events, r.Quarters)
	}
	us, err := q.RollupCheckUserStats(ctx)
	if err != nil {
		return nil, fmt.Errorf("check user_stats: %w", err)
	}
	for _, r := range us {
		add("user_stats", r.Side, r.UserID, r.CommunityID, r.FirstSeen.UTC(), r.LastSeen.UTC(), r.Events)
	}
	cs, err := q.RollupCheckCommunityStats(ctx)
	if err != nil {
		return nil, fmt.Errorf("check community_stats: %w", err)
	}
	for _, r := range cs {
		add("community_stats", r.Side, r.CommunityID, r.Name.String, r.NamedAt.Time.UTC(), r.NamedEventID.String, r.FirstSeen.UTC(), r.Events)
	}
	ut, err := q.RollupCheckUserTraits(ctx)
	if err != nil {
		return nil, fmt.Errorf("check user_traits: %w", err)
	}
	for _, r := range ut {
		add("user_traits", r.Side, r.UserID, r.Trait, r.Value, r.SetAt.UTC(), r.EventID)
	}
	return out, nil
}
