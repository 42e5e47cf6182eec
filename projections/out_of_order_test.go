package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/activity-dev/activity/projections"
)

// TestRunner_IDsCommittedOutOfOrderAreNotSkipped: transaction A takes the
// lower id but commits after B. A projector that checkpointed "last id seen"
// would pass A's row while A was open and never count it.
func TestRunner_IDsCommittedOutOfOrderAreNotSkipped(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	r := newRunner(t, pool, projections.Config{})
	community, user := uuid.New(), uuid.New()
	ev := func(id string) []event {
		return []event{{id: id, typ: "github.push", user: user, community: community, at: base, meta: map[string]any{}}}
	}
	sum := func() int64 {
		var n int64
		if err := pool.QueryRow(ctx, `SELECT COALESCE(sum(events), 0) FROM event_counts
			WHERE version = (SELECT current_version FROM projections WHERE name = 'event_counts')
			  AND res = 'm' AND community_id = 'ffffffff-ffff-ffff-ffff-ffffffffffff' AND event_type = ''`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// The community row first, so B does not wait for A's stub row.
	if err := insertTx(ctx, pool, []event{{id: "c", typ: "community.created", user: user, community: community, at: base.Add(-time.Hour), meta: map[string]any{"name": "x"}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first event counted", 20*time.Second, func() (bool, error) {
		if err := r.CatchUp(ctx); err != nil {
			return false, err
		}
		return sum() == 1, nil
	})

	txA, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer txA.Rollback(ctx) //nolint:errcheck
	if err := insert(ctx, txA, ev("a")); err != nil {
		t.Fatal(err)
	}
	if err := insertTx(ctx, pool, ev("b")); err != nil { // B: higher id, committed first
		t.Fatal(err)
	}
	var idA, idB int64
	if err := txA.QueryRow(ctx, `SELECT id FROM activities WHERE event_id = 'a'`).Scan(&idA); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT id FROM activities WHERE event_id = 'b'`).Scan(&idB); err != nil {
		t.Fatal(err)
	}
	if idA >= idB {
		t.Fatalf("setup: A's id %d should be below B's %d", idA, idB)
	}

	if err := r.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sum(); got != 1 {
		t.Fatalf("with A open, the projector counted %d events (want the first one only); B's transaction is newer than A's, so it must wait", got)
	}
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A and B counted", 20*time.Second, func() (bool, error) {
		if err := r.CatchUp(ctx); err != nil {
			return false, err
		}
		return sum() == 3, nil
	})
	if err := r.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sum(); got != 3 {
		t.Fatalf("counted %d events, want 3", got)
	}
	assertRollupsMatchLog(t, pool)
}
