package projections_test

import (
	"context"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activity-dev/activity/projections"
)

func seed(t *testing.T, g *gen, batches, size int, insertFn func([]event) error) {
	t.Helper()
	for range batches {
		if err := insertFn(g.batch(size)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRebuild_GivesTablesIdenticalToTheLiveOnes: a rebuild from the log, in
// several transactions, yields exactly the rows the live projectors built,
// switches reads to the next version and drops the old one.
func TestRebuild_GivesTablesIdenticalToTheLiveOnes(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	g := newGen(uint64(time.Now().UnixNano()))
	seed(t, g, 30, 20, func(e []event) error { return insertTx(ctx, pool, e) })
	setReportZones(t, pool, reportZones)
	metrics := projections.NewMetrics(nil)
	// The bulk fill reads the log in batches of 13 rows: hundreds of them,
	// each handed back by the last builder to read it and refilled.
	r, err := projections.NewRunner(pool, projections.Config{BatchSize: 37, RebuildBatch: 50, BulkBatch: 13, TimeZones: reportZones}, nil, metrics)
	if err != nil {
		t.Fatal(err)
	}
	catchUp(t, r)
	var zoneRows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM event_counts WHERE res = 'z:Asia/Kathmandu'`).Scan(&zoneRows); err != nil || zoneRows == 0 {
		t.Fatalf("no local-day rows of a report zone (%d, %v)", zoneRows, err)
	}
	live := map[string][]string{}
	for table, q := range rollupQueries {
		live[table] = rowsOf(t, pool, q)
	}
	before := versions(t, r)

	if err := r.RebuildAll(ctx); err != nil {
		t.Fatal(err)
	}
	// Every rollup was filled in one pass over the log; it must give the
	// live rows (which batches applied).
	for _, name := range projections.Names() {
		if n := testutil.ToFloat64(metrics.BulkFills.WithLabelValues(name)); n != 1 {
			t.Errorf("%s: %v bulk fills, want 1", name, n)
		}
	}
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if want := before[s.Name] + 1; s.Version != want || s.Status != projections.StatusLive || s.Next != nil || s.RowsBehind != 0 {
			t.Errorf("after rebuild: %+v, want version %d, live, caught up", s, want)
		}
	}
	for table, q := range rollupQueries {
		if got := rowsOf(t, pool, q); !slices.Equal(got, live[table]) {
			t.Errorf("%s: rebuilt rows differ from the live ones\n only rebuilt: %v\n only live: %v",
				table, minus(got, live[table]), minus(live[table], got))
		}
		var old int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+table+`
			WHERE version <> (SELECT current_version FROM projections WHERE name = $1)`, table).Scan(&old); err != nil {
			t.Fatal(err)
		}
		if old != 0 {
			t.Errorf("%s: %d rows of the old version remain", table, old)
		}
		// A partitioned rollup's version is a table of its own.
		var vacuumed bool
		if err := pool.QueryRow(ctx, `SELECT COALESCE(bool_or(last_vacuum IS NOT NULL), false) FROM pg_stat_user_tables
			WHERE relname IN ($1::text, $1::text || '_v' || (SELECT current_version FROM projections WHERE name = $1::text))`, table).Scan(&vacuumed); err != nil {
			t.Fatal(err)
		}
		if !vacuumed {
			t.Errorf("%s was not vacuumed after the switch", table)
		}
	}
	var cps int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM projection_checkpoints c
		WHERE c.version <> (SELECT p.current_version FROM projections p WHERE p.name = c.name)`).Scan(&cps); err != nil {
		t.Fatal(err)
	}
	if cps != 0 {
		t.Errorf("%d checkpoints of the old version remain", cps)
	}
	assertRollupsMatchLog(t, pool)
}

// TestRebuild_ReadsAnswerThroughoutWhileWritesGoOn: while every projection
// is rebuilt, writers keep appending and a live runner keeps applying; a
// reader resolving projections.current_version in its query always gets at
// least the figures from before the rebuild, and at the end the rebuilt
// rollups equal the log.
func TestRebuild_ReadsAnswerThroughoutWhileWritesGoOn(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	g := newGen(uint64(time.Now().UnixNano()))
	seed(t, g, 40, 25, func(e []event) error { return insertTx(ctx, pool, e) })
	catchUp(t, newRunner(t, pool, projections.Config{}))

	const read = `SELECT
		(SELECT COALESCE(sum(events), 0) FROM event_counts WHERE version = (SELECT current_version FROM projections WHERE name = 'event_counts') AND res = 'm' AND community_id = 'ffffffff-ffff-ffff-ffff-ffffffffffff' AND event_type = ''),
		(SELECT COALESCE(sum(events), 0) FROM user_counts WHERE version = (SELECT current_version FROM projections WHERE name = 'user_counts') AND res = 'm'),
		(SELECT COALESCE(sum(events), 0) FROM user_stats WHERE version = (SELECT current_version FROM projections WHERE name = 'user_stats')),
		(SELECT COALESCE(sum(events), 0) FROM community_stats WHERE version = (SELECT current_version FROM projections WHERE name = 'community_stats')),
		(SELECT count(*) FROM projections WHERE next_version IS NOT NULL)`
	var before [4]int64
	var rebuilding int64
	if err := pool.QueryRow(ctx, read).Scan(&before[0], &before[1], &before[2], &before[3], &rebuilding); err != nil {
		t.Fatal(err)
	}
	for i, n := range before {
		if n == 0 {
			t.Fatalf("setup: figure %d is zero", i)
		}
	}

	bg, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	live := newRunner(t, pool, projections.Config{BatchSize: 50, Tick: 5 * time.Millisecond})
	wg.Go(func() { _ = live.Run(bg) })
	wg.Go(func() { // writer
		for bg.Err() == nil {
			if err := insertTx(bg, pool, g.batch(10)); err != nil && bg.Err() == nil {
				t.Errorf("writer: %v", err)
				return
			}
		}
	})
	var reads, readsDuringRebuild atomic.Int64
	wg.Go(func() { // reader
		for bg.Err() == nil {
			var got [4]int64
			var rebuilding int64
			err := pool.QueryRow(bg, read).Scan(&got[0], &got[1], &got[2], &got[3], &rebuilding)
			if bg.Err() != nil {
				return
			}
			if err != nil {
				t.Errorf("reader: %v", err)
				return
			}
			reads.Add(1)
			if rebuilding > 0 {
				readsDuringRebuild.Add(1)
			}
			for i := range got {
				if got[i] < before[i] {
					t.Errorf("reader: figure %d is %d during the rebuild, below %d before it", i, got[i], before[i])
					return
				}
			}
		}
	})

	metrics := projections.NewMetrics(nil)
	rb, err := projections.NewRunner(pool, projections.Config{RebuildBatch: 40, BatchSize: 60}, nil, metrics)
	if err != nil {
		t.Fatal(err)
	}
	was := versions(t, rb)
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = rb.RebuildAll(rctx)
	cancel()
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if readsDuringRebuild.Load() == 0 {
		t.Errorf("no read happened during the rebuild (%d reads in all)", reads.Load())
	}
	t.Logf("%d reads, %d during the rebuild", reads.Load(), readsDuringRebuild.Load())
	// The live runner never got to the versions being filled in bulk (it
	// would have moved their checkpoints, and the fill would have given way
	// to batches).
	for _, name := range projections.Names() {
		if n := testutil.ToFloat64(metrics.BulkFills.WithLabelValues(name)); n != 1 {
			t.Errorf("%s: %v bulk fills, want 1", name, n)
		}
	}
	catchUp(t, newRunner(t, pool, projections.Config{}))
	st, err := rb.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if want := was[s.Name] + 1; s.Version != want {
			t.Errorf("%s: version %d after the rebuild, want %d", s.Name, s.Version, want)
		}
	}
	assertRollupsMatchLog(t, pool)
}

// versions maps every projection to the version reads use.
func versions(t *testing.T, r *projections.Runner) map[string]int32 {
	t.Helper()
	st, err := r.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]int32{}
	for _, s := range st {
		v[s.Name] = s.Version
	}
	return v
}

// TestRebuild_TakesTheConfiguredReportTimeZones: the versions the
// migrations create hold no local days; a rebuild by a runner configured
// with report time zones holds theirs, exactly, and says so in its
// checkpoint.
func TestRebuild_TakesTheConfiguredReportTimeZones(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	g := newGen(uint64(time.Now().UnixNano()))
	seed(t, g, 20, 20, func(e []event) error { return insertTx(ctx, pool, e) })
	catchUp(t, newRunner(t, pool, projections.Config{}))
	zoneRows := func() (n int) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM event_counts WHERE res = 'z:Asia/Kolkata')
			+ (SELECT count(*) FROM user_sketches WHERE res = 'z:Asia/Kolkata')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := zoneRows(); n != 0 {
		t.Fatalf("%d local-day rows before the rebuild", n)
	}
	r := newRunner(t, pool, projections.Config{TimeZones: []string{"Asia/Kolkata", "Asia/Kolkata"}})
	for _, name := range []string{"event_counts", "user_sketches"} {
		if err := r.Rebuild(ctx, name); err != nil {
			t.Fatal(err)
		}
		var zones []string
		if err := pool.QueryRow(ctx, `SELECT c.time_zones FROM projection_checkpoints c JOIN projections p
			ON p.name = c.name AND p.current_version = c.version WHERE c.name = $1`, name).Scan(&zones); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(zones, []string{"Asia/Kolkata"}) {
			t.Errorf("%s: the rebuilt version holds %v", name, zones)
		}
	}
	if zoneRows() == 0 {
		t.Error("no local-day rows after the rebuild")
	}
	assertRollupsMatchLog(t, pool)
	if _, err := projections.NewRunner(pool, projections.Config{TimeZones: []string{"Mars/Olympus"}}, nil, nil); err == nil {
		t.Error("an unknown zone was accepted")
	}
}

// TestRunner_ANewInstallationTakesTheConfiguredReportTimeZones: a version
// that has applied nothing takes the configured zones when a runner starts,
// so a new installation needs no rebuild for them.
func TestRunner_ANewInstallationTakesTheConfiguredReportTimeZones(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := newRunner(t, pool, projections.Config{Tick: 10 * time.Millisecond, TimeZones: []string{"Asia/Kolkata"}})
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	g := newGen(uint64(time.Now().UnixNano()))
	seed(t, g, 10, 20, func(e []event) error { return insertTx(context.Background(), pool, e) })
	waitFor(t, "local-day rows of Asia/Kolkata", 20*time.Second, func() (bool, error) {
		var n int
		err := pool.QueryRow(context.Background(), `SELECT count(*) FROM user_sketches WHERE res = 'z:Asia/Kolkata'`).Scan(&n)
		if err != nil || n == 0 {
			return false, err
		}
		return caughtUp(context.Background(), r)
	})
	assertRollupsMatchLog(t, pool)
}

// TestRebuild_WhenTheBulkFillFailsBatchesFillTheVersion: a bulk fill that
// cannot write its tables (here a view in the way of one) leaves nothing
// behind, and the rebuild goes on batch by batch to the same rows.
func TestRebuild_WhenTheBulkFillFailsBatchesFillTheVersion(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	g := newGen(uint64(time.Now().UnixNano()))
	seed(t, g, 20, 20, func(e []event) error { return insertTx(ctx, pool, e) })
	r := newRunner(t, pool, projections.Config{BatchSize: 41})
	catchUp(t, r)
	live := map[string][]string{}
	for table, q := range rollupQueries {
		live[table] = rowsOf(t, pool, q)
	}
	next := versions(t, r)["user_counts"] + 1
	blocker := fmt.Sprintf("user_counts_fill_v%d", next)
	if _, err := pool.Exec(ctx, `CREATE VIEW `+blocker+` AS SELECT 1 AS x`); err != nil {
		t.Fatal(err)
	}
	metrics := projections.NewMetrics(nil)
	rb, err := projections.NewRunner(pool, projections.Config{BatchSize: 41, RebuildBatch: 97}, nil, metrics)
	if err != nil {
		t.Fatal(err)
	}
	if err := rb.RebuildAll(ctx); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(metrics.BulkFills.WithLabelValues("user_counts")); n != 0 {
		t.Errorf("user_counts: %v bulk fills, want 0", n)
	}
	if n := testutil.ToFloat64(metrics.Batches.WithLabelValues("user_counts")); n == 0 {
		t.Error("user_counts: no batch applied")
	}
	for table, q := range rollupQueries {
		if got := rowsOf(t, pool, q); !slices.Equal(got, live[table]) {
			t.Errorf("%s: rebuilt rows differ from the live ones\n only rebuilt: %v\n only live: %v",
				table, minus(got, live[table]), minus(live[table], got))
		}
	}
	var fills []string
	rows, err := pool.Query(ctx, `SELECT relname FROM pg_class WHERE relname ~ '_fill_v[0-9]+$' AND relkind = 'r'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		fills = append(fills, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(fills) > 0 {
		t.Errorf("fill tables left behind: %v", fills)
	}
	assertRollupsMatchLog(t, pool)
}

// TestRebuild_NoBulkFillFillsBatchByBatch: with NoBulkFill, or a bulk fill
// that would take more memory than BulkMemory, a rebuild fills every version
// batch by batch, to the same rows.
func TestRebuild_NoBulkFillFillsBatchByBatch(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]projections.Config{
		"no bulk fill":    {NoBulkFill: true, RebuildBatch: 61},
		"over its memory": {BulkMemory: 4096, RebuildBatch: 61},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rebuildBatchByBatch(t, cfg)
		})
	}
}

func rebuildBatchByBatch(t *testing.T, cfg projections.Config) {
	pool := newDB(t)
	ctx := context.Background()
	g := newGen(uint64(time.Now().UnixNano()))
	seed(t, g, 15, 20, func(e []event) error { return insertTx(ctx, pool, e) })
	catchUp(t, newRunner(t, pool, projections.Config{}))
	live := map[string][]string{}
	for table, q := range rollupQueries {
		live[table] = rowsOf(t, pool, q)
	}
	metrics := projections.NewMetrics(nil)
	rb, err := projections.NewRunner(pool, cfg, nil, metrics)
	if err != nil {
		t.Fatal(err)
	}
	if err := rb.RebuildAll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range projections.Names() {
		if n := testutil.ToFloat64(metrics.BulkFills.WithLabelValues(name)); n != 0 {
			t.Errorf("%s: %v bulk fills, want 0", name, n)
		}
	}
	for table, q := range rollupQueries {
		if got := rowsOf(t, pool, q); !slices.Equal(got, live[table]) {
			t.Errorf("%s: rebuilt rows differ from the live ones\n only rebuilt: %v\n only live: %v",
				table, minus(got, live[table]), minus(live[table], got))
		}
	}
}

// TestRebuild_TheSwitchWaitsForABatchOfTheNextVersion: the switch applies
// the rest of the log to the next version; a batch of that version running
// in another process at the same time would write the same rows and then
// wait for the checkpoint the switch holds — a deadlock, which failed
// `activity projections rebuild` now and then under live projectors. The
// switch takes the version's applier lock first, so it waits for the batch.
func TestRebuild_TheSwitchWaitsForABatchOfTheNextVersion(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	r := newRunner(t, pool, projections.Config{Projections: []string{"event_counts"}})
	st := rebuildBehindTheCurrentVersion(t, pool, r, newGen(23))
	if err := r.ApplyVersion(ctx, "event_counts", st.Version-1); err != nil { // for the switch to apply
		t.Fatal(err)
	}

	// A batch of the next version, as another process's, holds its lock.
	batch, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Rollback(context.Background()) //nolint:errcheck
	if _, err := batch.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", projections.LockKey("event_counts"), st.Version); err != nil {
		t.Fatal(err)
	}
	type result struct {
		switched bool
		err      error
	}
	done := make(chan result, 1)
	go func() {
		switched, err := r.TrySwitch(ctx, "event_counts")
		done <- result{switched, err}
	}()
	select {
	case res := <-done:
		t.Fatalf("the switch went ahead (switched %v, err %v) while a batch of the version held its lock", res.switched, res.err)
	case <-time.After(500 * time.Millisecond):
	}
	if err := batch.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if !res.switched || res.err != nil {
			t.Fatalf("after the batch: switched %v, err %v", res.switched, res.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the switch did not finish after the batch ended")
	}
	catchUp(t, newRunner(t, pool, projections.Config{}))
	assertRollupsMatchLog(t, pool)
}

// TestRebuild_DroppingAnOldVersionWaitsForItsLastBatch: after a switch, a
// batch of the old version that began before it may still be inserting rows
// (it will fail its compare-and-set); deleting the old version's rows at the
// same time deadlocked now and then. The delete takes the old version's
// applier lock first, so it waits for that batch.
func TestRebuild_DroppingAnOldVersionWaitsForItsLastBatch(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	if err := insertTx(ctx, pool, newGen(29).batch(60)); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, pool, projections.Config{Projections: []string{"community_stats"}})
	waitFor(t, "community_stats to catch up", 20*time.Second, func() (bool, error) {
		if err := r.CatchUp(ctx); err != nil {
			return false, err
		}
		st, err := r.StatusOf(ctx, "community_stats")
		return st.RowsBehind == 0, err
	})
	rows := func() int {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM community_stats WHERE version = 1").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if rows() == 0 {
		t.Fatal("version 1 holds no rows to drop")
	}
	batch, err := pool.Begin(ctx) // a batch of version 1, as another process's
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Rollback(context.Background()) //nolint:errcheck
	if _, err := batch.Exec(ctx, "SELECT pg_advisory_xact_lock($1, 1)", projections.LockKey("community_stats")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { r.DropVersion(ctx, "community_stats", 1, 2); close(done) }()
	select {
	case <-done:
		t.Fatal("the old version's rows were deleted while a batch of it held its lock")
	case <-time.After(500 * time.Millisecond):
	}
	if n := rows(); n == 0 {
		t.Fatal("the old version's rows went while a batch of it held its lock")
	}
	if err := batch.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("dropping the old version did not finish after the batch ended")
	}
	if n := rows(); n != 0 {
		t.Fatalf("%d rows of the old version left", n)
	}
}

// TestRunner_ABatchASwitchOutranIsNotAFailure: a batch of the old version
// that was running when the switch happened fails its compare-and-set and
// rolls back. That is the design, not a failing projector: no failure is
// counted (dashboards alert on them) and no error reaches the loop.
func TestRunner_ABatchASwitchOutranIsNotAFailure(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	metrics := projections.NewMetrics(prometheus.NewRegistry())
	r, err := projections.NewRunner(pool, projections.Config{Projections: []string{"event_counts"}}, nil, metrics)
	if err != nil {
		t.Fatal(err)
	}
	st := rebuildBehindTheCurrentVersion(t, pool, r, newGen(31))
	// Hold the old version's platform-wide month rows, which its next batch
	// updates, so that batch waits in the middle.
	hold, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback(context.Background()) //nolint:errcheck
	if _, err := hold.Exec(ctx, `SELECT 1 FROM event_counts WHERE version = $1 AND res = 'm'
		AND community_id = 'ffffffff-ffff-ffff-ffff-ffffffffffff' AND event_type = '' FOR UPDATE`, st.Version-1); err != nil {
		t.Fatal(err)
	}
	caught := make(chan error, 1)
	goCatchUp := func() { go func() { caught <- r.CatchUp(ctx) }() }
	goCatchUp()
	waitFor(t, "the old version's batch to wait for the held rows", 10*time.Second, func() (bool, error) {
		select {
		case err := <-caught:
			// Back before its batch reached the held rows: the write
			// horizon read low for a moment (see catchUp) and the batch
			// found nothing. Again.
			if err != nil {
				return false, err
			}
			goCatchUp()
			return false, nil
		default:
		}
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%EventCountsApply%'`).Scan(&n)
		return n > 0, err
	})
	if switched, err := r.TrySwitch(ctx, "event_counts"); !switched || err != nil {
		t.Fatalf("switch: %v %v", switched, err)
	}
	if err := hold.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-caught; err != nil {
		t.Errorf("CatchUp: %v, want no error for a batch the switch outran", err)
	}
	if n := testutil.ToFloat64(metrics.Failures.WithLabelValues("event_counts")); n != 0 {
		t.Errorf("%v failures counted, want 0", n)
	}
	catchUp(t, newRunner(t, pool, projections.Config{}))
	assertRollupsMatchLog(t, pool)
}

// rebuildBehindTheCurrentVersion applies a history to event_counts with r,
// starts its rebuild and fills the new version, then commits more
// activities that neither version has applied yet.
func rebuildBehindTheCurrentVersion(t *testing.T, pool *pgxpool.Pool, r *projections.Runner, g *gen) projections.RebuildStart {
	t.Helper()
	ctx := context.Background()
	if err := insertTx(ctx, pool, g.batch(100)); err != nil {
		t.Fatal(err)
	}
	// Apply until nothing committed is left (a batch stops below any
	// running transaction of this database).
	waitFor(t, "event_counts to catch up", 20*time.Second, func() (bool, error) {
		if err := r.CatchUp(ctx); err != nil {
			return false, err
		}
		st, err := r.StatusOf(ctx, "event_counts")
		return st.RowsBehind == 0, err
	})
	st, err := r.StartRebuild(ctx, "event_counts")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rebuilt version to catch up", 20*time.Second, func() (bool, error) {
		if err := r.ApplyVersion(ctx, "event_counts", st.Version); err != nil {
			return false, err
		}
		st, err := r.StatusOf(ctx, "event_counts")
		return st.Next != nil && st.Next.RowsBehind == 0, err
	})
	if err := insertTx(ctx, pool, g.batch(50)); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestRebuild_TiedNamesAndTraitsAsLive: of two community.created (two
// user.identify) at the same instant, the one whose event id is greater as
// bytes names the community (sets the trait), whether batches applied them,
// one batch each in either order, or a rebuild's bulk fill read them.
func TestRebuild_TiedNamesAndTraitsAsLive(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	r := newRunner(t, pool, projections.Config{})
	at := base.Add(-time.Hour)
	user, community := uuid.New(), uuid.New()
	// "a…" > "B…" as bytes (not in case-insensitive collations).
	for _, e := range []event{
		{id: "a-named", typ: "community.created", user: user, community: community, at: at, meta: map[string]any{"name": "bytes"}},
		{id: "B-named", typ: "community.created", user: user, community: community, at: at, meta: map[string]any{"name": "letters"}},
		{id: "B-traits", typ: "user.identify", user: user, at: at, meta: map[string]any{"plan": "letters"}},
		{id: "a-traits", typ: "user.identify", user: user, at: at, meta: map[string]any{"plan": map[string]any{"tier": "bytes", "seats": 3}}},
	} {
		if err := insertTx(ctx, pool, []event{e}); err != nil {
			t.Fatal(err)
		}
		catchUp(t, r)
	}
	const named = `SELECT concat_ws(' ', name, named_event_id) FROM community_stats
		WHERE version = (SELECT current_version FROM projections WHERE name = 'community_stats')`
	const traits = `SELECT concat_ws(' ', trait, value, event_id) FROM user_traits
		WHERE version = (SELECT current_version FROM projections WHERE name = 'user_traits')`
	want := map[string][]string{
		named:  {`("bytes a-named")`},
		traits: {`("plan {""tier"": ""bytes"", ""seats"": 3} a-traits")`},
	}
	for q, w := range want {
		if got := rowsOf(t, pool, q); !slices.Equal(got, w) {
			t.Errorf("live: %v, want %v", got, w)
		}
	}
	if err := r.RebuildAll(ctx); err != nil {
		t.Fatal(err)
	}
	for q, w := range want {
		if got := rowsOf(t, pool, q); !slices.Equal(got, w) {
			t.Errorf("rebuilt: %v, want %v", got, w)
		}
	}
}

// TestDropVersion_DetachWaitsOutAReadOfTheTable: the old version's
// partition is detached with a plain DETACH (not CONCURRENTLY; see
// dropPartition), whose lock a read of the table holds up. It tries again
// until the read ends, instead of failing or queueing reads behind it.
func TestDropVersion_DetachWaitsOutAReadOfTheTable(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	r := newRunner(t, pool, projections.Config{})
	if _, err := pool.Exec(ctx, "CREATE TABLE event_counts_v99 PARTITION OF event_counts FOR VALUES IN (99)"); err != nil {
		t.Fatal(err)
	}
	read, err := pool.Begin(ctx) // a long read of the table
	if err != nil {
		t.Fatal(err)
	}
	defer read.Rollback(context.Background()) //nolint:errcheck
	if _, err := read.Exec(ctx, "SELECT count(*) FROM event_counts"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { r.DropVersion(ctx, "event_counts", 99, 1); close(done) }()
	// Wait for the detach to have tried (its session's last statement).
	waitFor(t, "the detach's first try", 5*time.Second, func() (bool, error) {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'ALTER TABLE "event_counts" DETACH PARTITION%'`).Scan(&n)
		return n > 0, err
	})
	// Meanwhile other reads are not stuck behind the detach's lock.
	readCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := pool.Exec(readCtx, "SELECT count(*) FROM event_counts WHERE version = 1"); err != nil {
		t.Fatalf("a read while the detach waits: %v", err)
	}
	select {
	case <-done:
		t.Fatal("the partition was dropped while a read of the table was running")
	default:
	}
	if err := read.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("dropping the old version did not finish after the read ended")
	}
	var left bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('event_counts_v99') IS NOT NULL").Scan(&left); err != nil || left {
		t.Fatalf("event_counts_v99 still there (%v, %v)", left, err)
	}
}
