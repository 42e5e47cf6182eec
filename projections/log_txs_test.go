package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/activity-dev/activity/internal/partitions"
	"github.com/activity-dev/activity/projections"
)

// eventsOn returns n user.login events from at on, a second apart, of g's
// users and communities in turn.
func eventsOn(g *gen, prefix string, n int, at time.Time) []event {
	out := make([]event, n)
	for i := range out {
		out[i] = event{id: fmt.Sprintf("%s-%d", prefix, i), typ: "user.login", user: g.users[i%len(g.users)],
			community: g.communities[i%len(g.communities)], meta: map[string]any{}, at: at.Add(time.Duration(i) * time.Second)}
	}
	return out
}

// TestRunner_ABatchReadsOnlyThePartitionsOfItsRows: finding a batch, applying
// it, telling whether more is held back, and the status read activity_txs
// and the partitions the batch's rows are in, never the rest of the log (a
// year of daily partitions, visited at every batch, took 32 s of statement
// time in 30 s at 5,000 events/s on 2 cores). An older day's partition
// locked by another transaction does not hold back a batch of today's rows.
func TestRunner_ABatchReadsOnlyThePartitionsOfItsRows(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	r := newRunner(t, pool, projections.Config{BatchSize: 7})
	g := newGen(21)
	old := base.AddDate(0, 0, -5)
	if err := insertTx(ctx, pool, eventsOn(g, "old", 10, old)); err != nil {
		t.Fatal(err)
	}
	catchUp(t, r)

	// The lock takes an xid (PostgreSQL logs it for standbys): tagged as a
	// projector's, as a rebuild's DDL is, so the write horizon passes it.
	lock := beginWithXid(t, func() (pgx.Tx, error) { return pool.Begin(ctx) }, true)
	defer lock.Rollback(context.Background()) //nolint:errcheck
	if _, err := lock.Exec(ctx, "LOCK TABLE "+pgx.Identifier{partitions.Name(old)}.Sanitize()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := insertTx(ctx, pool, eventsOn(g, fmt.Sprintf("new%d", i), 10, base.Add(-time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	// Bounded: a statement that touched the locked partition would wait
	// for the lock until this runs out.
	bounded, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	waitFor(t, "today's rows applied beside a locked partition", 15*time.Second, func() (bool, error) {
		if err := r.CatchUp(bounded); err != nil {
			return false, err
		}
		return caughtUp(bounded, r)
	})
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	assertRollupsMatchLog(t, pool)
}

// TestRunner_RowsBehindACheckpointInsideATransaction: a batch cut inside a
// transaction leaves the checkpoint there; the status counts the rest of
// that transaction's rows and every later transaction's, exactly, and
// nothing once they are applied.
func TestRunner_RowsBehindACheckpointInsideATransaction(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	r := newRunner(t, pool, projections.Config{Projections: []string{"event_counts"}, BatchSize: 10})
	g := newGen(22)
	if err := insertTx(ctx, pool, eventsOn(g, "a", 25, base.AddDate(0, 0, -2))); err != nil {
		t.Fatal(err)
	}
	if err := insertTx(ctx, pool, eventsOn(g, "b", 5, base.AddDate(0, 0, -1))); err != nil {
		t.Fatal(err)
	}
	st, err := r.StatusOf(ctx, "event_counts")
	if err != nil {
		t.Fatal(err)
	}
	var behind []int64 // after each batch
	waitFor(t, "the batches", 20*time.Second, func() (bool, error) {
		rows, _, err := r.Step(ctx, "event_counts", st.Version)
		if err != nil {
			return false, err
		}
		if rows == 0 {
			return false, nil // the write horizon read low for a moment
		}
		s, err := r.StatusOf(ctx, "event_counts")
		if err != nil {
			return false, err
		}
		behind = append(behind, s.RowsBehind)
		if s.RowsBehind > 0 && s.LagSeconds <= 0 {
			return false, fmt.Errorf("%d rows behind with a lag of %v s", s.RowsBehind, s.LagSeconds)
		}
		return s.RowsBehind == 0, nil
	})
	// 10 of a's 25, 20, then a's last 5 and b's 5: nothing.
	if want := []int64{20, 10, 0}; fmt.Sprint(behind) != fmt.Sprint(want) {
		t.Errorf("rows behind after each batch: %v, want %v", behind, want)
	}
	catchUp(t, newRunner(t, pool, projections.Config{}))
	assertRollupsMatchLog(t, pool)
}

// TestRunner_StepsOverTransactionsWhoseRowsAreGone: a partition dropped by
// hand (retention) takes rows that activity_txs still lists; projectors
// step over them and hold what the log holds.
func TestRunner_StepsOverTransactionsWhoseRowsAreGone(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	r := newRunner(t, pool, projections.Config{BatchSize: 4})
	g := newGen(23)
	gone := base.AddDate(0, 0, -8)
	for i, at := range []time.Time{base.AddDate(0, 0, -3), gone, base.AddDate(0, 0, -2)} {
		if err := insertTx(ctx, pool, eventsOn(g, fmt.Sprint(i), 6, at)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, "DROP TABLE "+pgx.Identifier{partitions.Name(gone)}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	catchUp(t, r)
	assertRollupsMatchLog(t, pool)
}
