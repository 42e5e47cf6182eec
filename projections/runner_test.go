package projections_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/redistest"
	"github.com/activity-dev/activity/projections"
)

// TestRunner_FailingProjectionIsReportedAndDoesNotBlockTheOthers: user_stats
// cannot be written (a CHECK constraint rejects every row); it turns failing
// with its error, counts failures, and the other projections keep up. Once
// the cause is gone it recovers by itself.
func TestRunner_FailingProjectionIsReportedAndDoesNotBlockTheOthers(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `ALTER TABLE user_stats ADD CONSTRAINT test_reject CHECK (events < 0) NOT VALID`); err != nil {
		t.Fatal(err)
	}
	metrics := projections.NewMetrics(prometheus.NewRegistry())
	r, err := projections.NewRunner(pool, projections.Config{
		Tick: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, FailingAfter: 2,
	}, nil, metrics)
	if err != nil {
		t.Fatal(err)
	}
	if err := insertTx(ctx, pool, newGen(2).batch(40)); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = r.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "user_stats failing while the others catch up", 20*time.Second, func() (bool, error) {
		st, err := r.Status(ctx)
		if err != nil {
			return false, err
		}
		for _, s := range st {
			switch {
			case s.Name == "user_stats" && (s.Status != projections.StatusFailing || !strings.Contains(s.LastError, "test_reject")):
				return false, nil
			case s.Name != "user_stats" && (s.Status != projections.StatusLive || s.RowsBehind != 0):
				return false, nil
			}
		}
		return true, nil
	})
	if n := testutil.ToFloat64(metrics.Failures.WithLabelValues("user_stats")); n < 2 {
		t.Errorf("failures metric %v, want at least 2", n)
	}
	if n := testutil.ToFloat64(metrics.Batches.WithLabelValues("event_counts")); n < 1 {
		t.Errorf("event_counts batches %v, want at least 1", n)
	}

	if _, err := pool.Exec(ctx, `ALTER TABLE user_stats DROP CONSTRAINT test_reject`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "user_stats live again", 20*time.Second, func() (bool, error) {
		st, err := r.StatusOf(ctx, "user_stats")
		return err == nil && st.Status == projections.StatusLive && st.RowsBehind == 0 && st.LastError == "", err
	})
	cancel()
	<-done
	assertRollupsMatchLog(t, pool)
}

// TestRunner_WakesOnTheWritersNotification: with a tick of an hour, only a
// notification on the topic makes the projector apply new activities.
func TestRunner_WakesOnTheWritersNotification(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	rdb := redistest.Client(t)
	topic := redistest.Prefix(t, rdb) + "activity.recorded"
	ctx := context.Background()
	wlog := watermill.NopLogger{}
	pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{Client: rdb}, wlog)
	if err != nil {
		t.Fatal(err)
	}
	r, err := projections.NewRunner(pool, projections.Config{
		Tick:  time.Hour,
		Topic: topic,
		NewSubscriber: func(group string) (message.Subscriber, error) {
			return redisstream.NewSubscriber(redisstream.SubscriberConfig{
				Client: rdb, ConsumerGroup: group, OldestId: "$",
				BlockTime: 50 * time.Millisecond, DisableIndefiniteInitialBlock: true,
			}, wlog)
		},
		PoisonPublisher: pub,
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := newGen(3)
	if err := insertTx(ctx, pool, g.batch(10)); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = r.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	// The first round at start applies what is there.
	waitFor(t, "the first activities applied", 20*time.Second, func() (bool, error) { return caughtUp(ctx, r) })

	if err := insertTx(ctx, pool, g.batch(10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new activities applied after a notification", 20*time.Second, func() (bool, error) {
		// Published until seen: the consumer groups start at the newest entry.
		if err := pub.Publish(topic, message.NewMessage(watermill.NewUUID(), []byte(`{"events":10}`))); err != nil {
			return false, err
		}
		return caughtUp(ctx, r)
	})
	n, err := db.New(pool).ActivityCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var applied int64
	if err := pool.QueryRow(ctx, `SELECT sum(events) FROM event_counts
		WHERE version = (SELECT current_version FROM projections WHERE name = 'event_counts')
		  AND res = 'd' AND community_id = 'ffffffff-ffff-ffff-ffff-ffffffffffff' AND event_type = ''`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != n {
		t.Fatalf("applied %d of %d activities", applied, n)
	}
}

// TestRunner_PacedProjectionsApplyFewerLargerBatches: transactions commit
// every 10 ms for 1.5 s while the projectors look every 5 ms. event_counts
// (not paced) applies a batch for nearly every one of them; a paced
// projection starts a live batch at most once per pace, whatever it is
// woken by, and still applies every activity.
func TestRunner_PacedProjectionsApplyFewerLargerBatches(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	metrics := projections.NewMetrics(prometheus.NewRegistry())
	r, err := projections.NewRunner(pool, projections.Config{Tick: 5 * time.Millisecond}, nil, metrics)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	start := time.Now()
	go func() { _ = r.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()

	g := newGen(11)
	every := time.NewTicker(10 * time.Millisecond)
	defer every.Stop()
	for time.Since(start) < 1500*time.Millisecond {
		if err := insertTx(ctx, pool, g.batch(5)); err != nil {
			t.Fatal(err)
		}
		<-every.C
	}
	waitFor(t, "every projection caught up", 20*time.Second, func() (bool, error) { return caughtUp(ctx, r) })
	cancel()
	<-done
	elapsed := time.Since(start) // the runner's whole life: no batch after it

	batches := func(name string) float64 { return testutil.ToFloat64(metrics.Batches.WithLabelValues(name)) }
	for _, name := range []string{"community_stats", "user_stats", "user_traits", "user_counts", "user_sketches"} {
		pace := projections.Pace(name)
		if pace < 100*time.Millisecond {
			t.Errorf("%s is paced to %v, want a batch at most every 100 ms or more", name, pace)
			continue
		}
		// One batch per pace while the runner ran, and one at its start.
		if n, most := batches(name), float64(elapsed/pace)+1; n > most {
			t.Errorf("%s applied %v batches in %v, want at most %v (one per %v)", name, n, elapsed.Round(time.Millisecond), most, pace)
		}
	}
	if n := batches("event_counts"); n < 30 {
		t.Errorf("event_counts applied %v batches, want at least 30: the projectors were not woken often enough to test pacing", n)
	}
	assertRollupsMatchLog(t, pool)
}
