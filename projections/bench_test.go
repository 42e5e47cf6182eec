package projections

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activity-dev/activity/internal/partitions"
	"github.com/activity-dev/activity/internal/pgtest"
)

// benchRows is the size of the log the projection benchmarks build:
// ACTIVITY_BENCH_ROWS, default 1,000,000.
func benchRows(b *testing.B) int {
	if n, err := strconv.Atoi(os.Getenv("ACTIVITY_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// fillLog appends n synthetic activities over 30 days (power-law users and
// communities, 10 event types) with set-based SQL, in chunks of 500,000 rows
// (one transaction each, as concurrent writers would). They are in the
// order they happened, up to ten minutes of jitter, as a backlog that
// built up while the projectors were down would be; with
// ACTIVITY_BENCH_ORDER=random each lands anywhere in the 30 days (every
// batch then touches most days of every busy user: the worst case).
func fillLog(b *testing.B, pool *pgxpool.Pool, n int) {
	b.Helper()
	ctx := context.Background()
	end := time.Now().UTC().Truncate(24 * time.Hour)
	if err := partitions.NewManager(pool).EnsureRange(ctx, end.AddDate(0, 0, -31), end.AddDate(0, 0, 1)); err != nil {
		b.Fatal(err)
	}
	setup := `
	INSERT INTO users (id) SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid FROM generate_series(1, 100000) g ON CONFLICT DO NOTHING;
	INSERT INTO communities (id) SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(g), 12, '0'))::uuid FROM generate_series(1, 200) g ON CONFLICT DO NOTHING;`
	if _, err := pool.Exec(ctx, setup); err != nil {
		b.Fatal(err)
	}
	const chunk = 500_000
	at := fmt.Sprintf(`$1::timestamptz - interval '30 days' + (g::float8 / %d) * interval '30 days' - random() * interval '10 minutes'`, n)
	if os.Getenv("ACTIVITY_BENCH_ORDER") == "random" {
		at = `$1::timestamptz - random() * interval '30 days'`
	}
	for from := 0; from < n; from += chunk {
		to := min(from+chunk, n)
		sql := fmt.Sprintf(`
		INSERT INTO activities (event_id, event_type, user_id, community_id, metadata, created_at, received_at)
		SELECT 'bench-' || g,
		       (ARRAY['user.login','user.signup','member.created','member.activated','github.push',
		              'github.pr.opened','event.created','webhook.triggered','community.created','hackathon.created'])[1 + (g %% 10)],
		       ('00000000-0000-4000-8000-' || lpad(to_hex(1 + floor(100000 * power(random(), 3))::int), 12, '0'))::uuid,
		       CASE WHEN g %% 20 = 0 THEN NULL
		            ELSE ('00000000-0000-4000-9000-' || lpad(to_hex(1 + floor(200 * power(random(), 2))::int), 12, '0'))::uuid END,
		       jsonb_build_object('name', 'c' || (g %% 200)),
		       %s, now()
		FROM generate_series(%d, %d) g`, at, from+1, to)
		if _, err := pool.Exec(ctx, sql, end); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, "ANALYZE activities"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCatchUp measures how fast the projectors apply a backlog: the
// log is filled first, then a runner starts (every projection's loop, as in
// serve) and the clock stops when every projection has nothing behind.
//
//	ACTIVITY_BENCH_ROWS=1000000 go test ./projections -run '^$' -bench 'CatchUp|Rebuild' -benchtime 1x
//
// "fixed" keeps every batch at BatchSize (as before batches grew), "growing"
// is the default: batches double while they come back full.
func BenchmarkCatchUp(b *testing.B) {
	b.Run("fixed", func(b *testing.B) { benchCatchUp(b, Config{RebuildBatch: defaultBatchSize}) })
	b.Run("growing", func(b *testing.B) { benchCatchUp(b, Config{}) })
}

func benchCatchUp(b *testing.B, cfg Config) {
	cfg.Tick = 50 * time.Millisecond
	for range b.N {
		pool := pgtest.NewPool(b)
		n := benchRows(b)
		fillLog(b, pool, n)
		r, err := NewRunner(pool, cfg, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		start := time.Now()
		go func() { _ = r.Run(ctx); close(done) }()
		poll := time.NewTicker(100 * time.Millisecond)
		for behind := true; behind; {
			<-poll.C
			st, err := r.Status(ctx)
			if err != nil {
				b.Fatal(err)
			}
			behind = false
			for _, s := range st {
				behind = behind || s.RowsBehind > 0
			}
		}
		elapsed := time.Since(start)
		poll.Stop()
		cancel()
		<-done
		b.ReportMetric(float64(n)/elapsed.Seconds(), "activities/s")
		b.ReportMetric(elapsed.Seconds(), "s")
	}
}

// BenchmarkRebuild measures `projections rebuild --all` over a log of
// ACTIVITY_BENCH_ROWS activities: activities/s is the log's size over the
// time until every projection is live on its new version.
func BenchmarkRebuild(b *testing.B) {
	for range b.N {
		pool := pgtest.NewPool(b)
		n := benchRows(b)
		fillLog(b, pool, n)
		r, err := NewRunner(pool, Config{}, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if err := r.CatchUp(ctx); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := r.RebuildAll(ctx); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.ReportMetric(float64(n)/elapsed.Seconds(), "activities/s")
		b.ReportMetric(elapsed.Seconds(), "s")
	}
}
