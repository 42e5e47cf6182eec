package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/projections"
)

// TestRunner_BatchesWaitForWritersNotForOtherProjectors: a batch takes the
// rows of transactions older than every running one that may still write
// activities. A projector's transaction holding an xid (tagged by
// ProjectorPlanSettings, as every batch and switch is) or a rebuild's
// connection (a bulk fill copying and indexing for tens of seconds) does
// not hold back rows committed after it began, nor does a transaction of
// another database on the server; any other transaction does, since it
// might insert activities below them.
func TestRunner_BatchesWaitForWritersNotForOtherProjectors(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	r := newRunner(t, pool, projections.Config{Projections: []string{"event_counts"}})
	g := newGen(11)

	// withXid runs inside within a transaction begun by begin (tagged as a
	// projector's when tag is set) that holds an xid.
	withXid := func(t *testing.T, begin func() (pgx.Tx, error), tag bool, inside func()) {
		t.Helper()
		tx := beginWithXid(t, begin, tag)
		defer tx.Rollback(context.Background()) //nolint:errcheck
		inside()
	}
	behind := func() int64 {
		st, err := r.StatusOf(ctx, "event_counts")
		if err != nil {
			t.Fatal(err)
		}
		return st.RowsBehind
	}
	// caughtUp polls until event_counts has applied everything: the open
	// transaction of a subtest that may write activities would hold it
	// back for ever.
	caughtUp := func(t *testing.T) {
		t.Helper()
		waitFor(t, "event_counts to catch up", 20*time.Second, func() (bool, error) {
			return r.CatchUp(ctx) == nil && behind() == 0, nil
		})
	}

	// notHeldBackBy commits rows while a transaction begun by begin (tagged
	// as a projector's when tag is set) holds an xid, and waits until they
	// are applied: it times out if that transaction holds the batches back.
	notHeldBackBy := func(t *testing.T, begin func() (pgx.Tx, error), tag bool) {
		t.Helper()
		withXid(t, begin, tag, func() {
			if err := insertTx(ctx, pool, g.batch(40)); err != nil {
				t.Fatal(err)
			}
			caughtUp(t)
		})
	}
	t.Run("a projector's transaction", func(t *testing.T) {
		notHeldBackBy(t, func() (pgx.Tx, error) { return pool.Begin(ctx) }, true)
	})
	t.Run("a rebuild's connection", func(t *testing.T) {
		conn, err := r.HoldConn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background()) //nolint:errcheck
		notHeldBackBy(t, func() (pgx.Tx, error) { return conn.Begin(ctx) }, false)
	})
	t.Run("a transaction of another database", func(t *testing.T) {
		// It cannot write this database's activities.
		conn := otherDatabase(t, pool)
		notHeldBackBy(t, func() (pgx.Tx, error) { return conn.Begin(ctx) }, false)
	})
	t.Run("any other transaction", func(t *testing.T) {
		withXid(t, func() (pgx.Tx, error) { return pool.Begin(ctx) }, false, func() {
			if err := insertTx(ctx, pool, g.batch(30)); err != nil {
				t.Fatal(err)
			}
			want := behind()
			for range 3 {
				if err := r.CatchUp(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if n := behind(); n != want || n == 0 {
				t.Fatalf("event_counts %d rows behind while an older transaction that may write activities runs, want %d", n, want)
			}
		})
		caughtUp(t)
	})
	catchUp(t, newRunner(t, pool, projections.Config{}))
	assertRollupsMatchLog(t, pool)
}

// TestRebuild_BulkFillIsNotHeldBackByOtherDatabases: a rebuild cuts the log
// at the batches' bound, so a transaction of another database on the server,
// older than every row, does not leave the whole log to batch-by-batch
// catch-up (the bulk fill would read nothing below a server-wide xmin).
func TestRebuild_BulkFillIsNotHeldBackByOtherDatabases(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	other := otherDatabase(t, pool)
	tx := beginWithXid(t, func() (pgx.Tx, error) { return other.Begin(ctx) }, false)
	defer tx.Rollback(context.Background()) //nolint:errcheck
	g := newGen(41)
	for range 5 {
		if err := insertTx(ctx, pool, g.batch(30)); err != nil {
			t.Fatal(err)
		}
	}
	var logged float64
	if err := pool.QueryRow(ctx, "SELECT count(*)::float8 FROM activities").Scan(&logged); err != nil {
		t.Fatal(err)
	}
	metrics := projections.NewMetrics(prometheus.NewRegistry())
	catchUp(t, newRunner(t, pool, projections.Config{}))
	rb, err := projections.NewRunner(pool, projections.Config{Projections: []string{"event_counts"}}, nil, metrics)
	if err != nil {
		t.Fatal(err)
	}
	if err := rb.Rebuild(ctx, "event_counts"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(metrics.BulkRows.WithLabelValues("event_counts")); n != logged {
		t.Errorf("the bulk fill read %v activities, want all %v", n, logged)
	}
	assertRollupsMatchLog(t, pool)
}

// beginWithXid begins a transaction with begin (tagged as a projector's when
// tag is set) and gives it an xid, as a writer's transaction has.
func beginWithXid(t *testing.T, begin func() (pgx.Tx, error), tag bool) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := begin()
	if err != nil {
		t.Fatal(err)
	}
	if tag {
		if err := db.New(tx).ProjectorPlanSettings(ctx, projections.ApplicationName); err != nil {
			tx.Rollback(ctx) //nolint:errcheck
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(ctx, "SELECT pg_current_xact_id()"); err != nil {
		tx.Rollback(ctx) //nolint:errcheck
		t.Fatal(err)
	}
	return tx
}

// otherDatabase connects to the server's postgres database, not pool's.
func otherDatabase(t *testing.T, pool *pgxpool.Pool) *pgx.Conn {
	t.Helper()
	cfg := pool.Config().ConnConfig.Copy()
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) }) //nolint:errcheck
	return conn
}

// TestRebuild_FillBelowAWatermarkAppliesEveryRowBelowIt: a rebuild's fill
// applies every row below its watermark even when the write horizon reads
// lower at the time of a batch (a transaction that ends between the
// snapshot and the read of pg_stat_activity counts as running; CI saw a
// rebuild under parallel tests skip rows so). Here a transaction that never
// writes activities holds the horizon below the watermark.
func TestRebuild_FillBelowAWatermarkAppliesEveryRowBelowIt(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	r := newRunner(t, pool, projections.Config{RebuildBatch: 7})
	g := newGen(59)
	if err := insertTx(ctx, pool, g.batch(20)); err != nil {
		t.Fatal(err)
	}
	idle := beginWithXid(t, func() (pgx.Tx, error) { return pool.Begin(ctx) }, false)
	defer idle.Rollback(context.Background()) //nolint:errcheck
	for range 4 {
		if err := insertTx(ctx, pool, g.batch(20)); err != nil {
			t.Fatal(err)
		}
	}
	var below int64
	if err := pool.QueryRow(ctx, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint").Scan(&below); err != nil {
		t.Fatal(err)
	}
	for _, name := range projections.Names() {
		st, err := r.StatusOf(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.FillBelow(ctx, name, st.Version, below); err != nil {
			t.Fatal(err)
		}
		if st, err = r.StatusOf(ctx, name); err != nil {
			t.Fatal(err)
		} else if st.RowsBehind != 0 {
			t.Errorf("%s: %d rows behind after the fill, want 0", name, st.RowsBehind)
		}
	}
	if err := idle.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	assertRollupsMatchLog(t, pool)
}
