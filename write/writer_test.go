package write

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/activity-dev/activity/domain"
	"github.com/activity-dev/activity/internal/pgtest"
)

func TestIngest_SameRequestThreeTimesStoresOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	h.start(h.writer(WriterConfig{}))
	at := time.Now().Add(-time.Hour)
	body := map[string]any{"events": []any{loginEvent("retry-1", at), loginEvent("retry-2", at)}}
	for i := 0; i < 3; i++ {
		if r := h.post(h.admin, body); r.status != 202 || r.body["accepted"] != float64(2) {
			t.Fatalf("attempt %d: %d %s", i, r.status, r.raw)
		}
	}
	h.waitDrained()
	h.waitStored(2)
	for _, id := range []string{"retry-1", "retry-2"} {
		if n := h.countByEvent(id); n != 1 {
			t.Fatalf("%s stored %d times", id, n)
		}
	}
}

func TestWriter_DiesBeforeAckAndAnotherClaimsStoresOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	at := time.Now().Add(-time.Minute)
	for i := 0; i < 5; i++ {
		if r := h.post(h.admin, loginEvent(fmt.Sprintf("crash-%d", i), at)); r.status != 202 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	}
	// The first writer commits, then "dies" before acknowledging.
	dying := h.writer(WriterConfig{Consumer: "dying"})
	var crashed atomic.Bool
	dying.beforeAck = func() error { crashed.Store(true); return errors.New("killed before XACK") }
	stopDying := h.start(dying)
	pgtest.WaitFor(t, 10*time.Second, "the first writer to commit", crashed.Load)
	stopDying()
	if n := h.activityCount(); n != 5 {
		t.Fatalf("after the crash the log holds %d activities, want the 5 committed", n)
	}
	pending, err := h.rdb.XPending(context.Background(), h.stream, h.group).Result()
	if err != nil || pending.Count != 5 {
		t.Fatalf("pending = %+v, %v; want the 5 unacknowledged entries", pending, err)
	}
	// A live writer claims the idle entries, inserts them again (a no-op) and acknowledges.
	h.start(h.writer(WriterConfig{Consumer: "survivor", ClaimIdle: 50 * time.Millisecond, ClaimEvery: 20 * time.Millisecond}))
	h.waitDrained()
	h.waitStored(5)
	for i := 0; i < 5; i++ {
		if n := h.countByEvent(fmt.Sprintf("crash-%d", i)); n != 1 {
			t.Fatalf("crash-%d stored %d times", i, n)
		}
	}
}

func TestWriter_TwoWritersAtOnceStoreEachEventOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	h.start(h.writer(WriterConfig{Consumer: "a", ReadEntries: 3}))
	h.start(h.writer(WriterConfig{Consumer: "b", ReadEntries: 3}))
	at := time.Now().Add(-time.Hour)
	var wg sync.WaitGroup
	const clients, requests = 4, 25
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < requests; r++ {
				// Every request is sent twice, so both writers see duplicates.
				body := map[string]any{"events": []any{
					loginEvent(fmt.Sprintf("c%d-r%d-a", c, r), at),
					loginEvent(fmt.Sprintf("c%d-r%d-b", c, r), at),
				}}
				for range 2 {
					if res := h.post(h.admin, body); res.status != 202 {
						t.Errorf("%d %s", res.status, res.raw)
					}
				}
			}
		}()
	}
	wg.Wait()
	h.waitDrained()
	h.waitStored(clients * requests * 2)
}

func TestWriter_BadRowIsIsolatedAndTheRestStored(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	now := time.Now().UTC().Truncate(time.Microsecond)
	good := func(id string) domain.Event {
		return domain.Event{EventID: id, EventType: "github.push", Metadata: json.RawMessage(`{}`), OccurredAt: now, ReceivedAt: now}
	}
	// Valid for the decoder, refused by PostgreSQL: jsonb cannot hold \u0000.
	bad := good("bad-1")
	bad.Metadata = json.RawMessage(`{"x":"\u0000"}`)
	events := []domain.Event{good("good-1"), good("good-2"), bad, good("good-3"), good("good-4")}
	if _, err := h.queue.Append(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	h.start(h.writer(WriterConfig{}))
	h.waitDrained()
	h.waitStored(4)
	if h.countByEvent("bad-1") != 0 {
		t.Fatal("the bad event was stored")
	}
	var reason, eventID string
	if err := h.pool.QueryRow(context.Background(), "SELECT reason, event_id FROM failed_events").Scan(&reason, &eventID); err != nil {
		t.Fatal(err)
	}
	if eventID != "bad-1" || reason == "" {
		t.Fatalf("failed event = %q %q", eventID, reason)
	}
}

func TestWriter_UndecodableEntryGoesToFailedEventsAndConsumingGoesOn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	ctx := context.Background()
	if err := h.rdb.XAdd(ctx, &redis.XAddArgs{Stream: h.stream, Values: map[string]any{"garbage": "yes"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := h.rdb.XAdd(ctx, &redis.XAddArgs{Stream: h.stream, Values: map[string]any{"_watermill_message_uuid": "x", "payload": "not json"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if r := h.post(h.admin, loginEvent("after-garbage", time.Now())); r.status != 202 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	h.start(h.writer(WriterConfig{}))
	h.waitDrained()
	h.waitStored(1)
	if n := h.failedCount(); n != 2 {
		t.Fatalf("failed_events = %d, want 2", n)
	}
}

func TestWriter_PostgresDownThenUpStoresEverythingOnceAndAcksNothingEarly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	pg := pgtest.StartPrivate(t)
	pool, err := pgxpool.New(context.Background(), pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	w, err := NewWriter(WriterConfig{Stream: h.stream, Group: h.group, Block: 50 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}, pool, h.rdb, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.start(w)
	now := time.Now().UTC().Truncate(time.Microsecond)
	appendEvents := func(prefix string, n int) {
		for i := 0; i < n; i++ {
			ev := domain.Event{EventID: fmt.Sprintf("%s-%d", prefix, i), EventType: "user.login", UserID: uuid.NewString(),
				Metadata: json.RawMessage(`{}`), OccurredAt: now, ReceivedAt: now}
			if _, err := h.queue.Append(context.Background(), []domain.Event{ev}); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func() int64 {
		var n int64
		if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM activities").Scan(&n); err != nil {
			return -1
		}
		return n
	}
	appendEvents("before", 10)
	pgtest.WaitFor(t, 20*time.Second, "the first events", func() bool { return count() == 10 })

	pg.Stop()
	appendEvents("during", 20)
	// While PostgreSQL is down the writer reads and retries but acknowledges nothing.
	pgtest.WaitFor(t, 10*time.Second, "the writer to take the entries", func() bool {
		p, err := h.rdb.XPending(context.Background(), h.stream, h.group).Result()
		return err == nil && p.Count > 0
	})
	if n, _ := h.rdb.XLen(context.Background(), h.stream).Result(); n != 20 {
		t.Fatalf("stream length during the outage = %d, want 20 (nothing acknowledged)", n)
	}
	pg.Start()
	appendEvents("after", 10)
	h.waitDrained()
	pgtest.WaitFor(t, 30*time.Second, "every event", func() bool { return count() == 40 })
	var distinct int64
	if err := pool.QueryRow(context.Background(), "SELECT count(DISTINCT event_id) FROM activities").Scan(&distinct); err != nil || distinct != 40 {
		t.Fatalf("distinct = %d, %v", distinct, err)
	}
}

func TestActivities_AreAppendOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	h.start(h.writer(WriterConfig{}))
	h.post(h.admin, loginEvent("immutable", time.Now()))
	h.waitStored(1)
	ctx := context.Background()
	for _, sql := range []string{"UPDATE activities SET event_type = 'x'", "DELETE FROM activities", "TRUNCATE activities"} {
		if _, err := h.pool.Exec(ctx, sql); err == nil {
			t.Errorf("%s succeeded on the append-only log", sql)
		}
	}
}
