package projections_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/projections"
)

// TestRunner_ConcurrentWritersAndKilledRunnersApplyEveryActivityOnce is the
// exactly-once property: random activities (duplicates, late events, several
// communities and zones, some without user or community) from concurrent
// writers, while two runner "processes" apply them and are killed at random
// moments and restarted; at the end every rollup equals the log's GROUP BY.
func TestRunner_ConcurrentWritersAndKilledRunnersApplyEveryActivityOnce(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	start := time.Now()
	g := newGen(seed)
	cfg := projections.Config{BatchSize: 7, Tick: 10 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		TimeZones: reportZones}
	setReportZones(t, pool, reportZones)

	writersDone := make(chan struct{})
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for range 25 {
				events := g.batch(1 + rng.IntN(15))
				var err error
				for attempt := 0; attempt < 5; attempt++ { // concurrent duplicates may deadlock; the writer retries
					if err = insertTx(ctx, pool, events); err == nil {
						break
					}
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	go func() { writers.Wait(); close(writersDone) }()

	// Two runner processes, each killed after a random while and restarted.
	var processes sync.WaitGroup
	restarts := 0
	var mu sync.Mutex
	for p := range 2 {
		processes.Go(func() {
			rng := rand.New(rand.NewPCG(seed, 100+uint64(p)))
			for {
				rctx, kill := context.WithCancel(ctx)
				r := newRunner(t, pool, cfg)
				done := make(chan struct{})
				go func() { _ = r.Run(rctx); close(done) }()
				timer := time.NewTimer(time.Duration(2+rng.IntN(40)) * time.Millisecond)
				stop := false
				select {
				case <-timer.C:
				case <-writersDone:
					stop = true
				}
				kill()
				<-done
				mu.Lock()
				restarts++
				mu.Unlock()
				if stop {
					return
				}
			}
		})
	}
	processes.Wait()
	t.Logf("writers done after %s", time.Since(start))
	if t.Failed() {
		return
	}
	catchUp(t, newRunner(t, pool, projections.Config{BatchSize: 100}))
	t.Logf("caught up after %s", time.Since(start))
	assertRollupsMatchLog(t, pool)

	n, err := db.New(pool).ActivityCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d activities, %d runner kills", n, restarts)
}
