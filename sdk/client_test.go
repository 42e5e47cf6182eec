package activity_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/activity-dev/activity/sdk"
)

// newClient starts a client against srv with fast flushing and retries;
// edit adjusts the config. The client is closed when the test ends.
func newClient(t *testing.T, srv *ingestServer, edit func(*activity.Config)) *activity.Client {
	t.Helper()
	cfg := activity.Config{
		Endpoint:      srv.URL,
		APIKey:        testKey,
		FlushInterval: 10 * time.Millisecond,
		MinBackoff:    time.Millisecond,
		MaxBackoff:    5 * time.Millisecond,
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := activity.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func closeClient(t *testing.T, c *activity.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// rejections collects what OnRejected receives.
type rejections struct {
	mu  sync.Mutex
	got map[string][]activity.FieldError // by EntityID
}

func (r *rejections) record(e activity.Event, errs []activity.FieldError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got == nil {
		r.got = map[string][]activity.FieldError{}
	}
	r.got[e.EntityID] = errs
}

func TestClient_AcceptedBatchReportsRejectedEvents(t *testing.T) {
	t.Parallel()
	srv := newIngestServer(t, func(_ int, evs []sentEvent) reply {
		type rejected struct {
			Index   int                   `json:"index"`
			EventID string                `json:"event_id"`
			Errors  []activity.FieldError `json:"errors"`
		}
		rej := []rejected{}
		for i, e := range evs {
			if e.EventType == "bad" {
				rej = append(rej, rejected{i, e.EventID, []activity.FieldError{{Field: "event_type", Message: "unknown"}}})
			}
		}
		return reply{status: http.StatusAccepted, body: jsonString(map[string]any{"accepted": len(evs) - len(rej), "rejected": rej})}
	})
	var rej rejections
	c := newClient(t, srv, func(cfg *activity.Config) { cfg.OnRejected = rej.record })

	good := trackN(t, c, 8)
	for _, id := range []string{"bad-1", "bad-2"} {
		if err := c.Track(activity.Event{EventType: "bad", EntityID: id}); err != nil {
			t.Fatal(err)
		}
	}
	closeClient(t, c)

	srv.assertDelivered(t, good)
	want := []activity.FieldError{{Field: "event_type", Message: "unknown"}}
	for _, id := range []string{"bad-1", "bad-2"} {
		if got := rej.got[id]; !slices.Equal(got, want) {
			t.Errorf("rejection of %s = %v, want %v", id, got, want)
		}
	}
	if got := c.Stats(); got.Sent != 8 || got.Rejected != 2 || got.Failed != 0 {
		t.Errorf("Stats() = %+v, want Sent 8, Rejected 2", got)
	}
}

func TestClient_BadRequestRejectsEveryEventWithoutRetry(t *testing.T) {
	t.Parallel()
	srv := newIngestServer(t, func(_ int, evs []sentEvent) reply {
		errs := []map[string]any{}
		for i := range evs {
			errs = append(errs, map[string]any{"index": i, "field": "user_id", "message": "must be a UUID"})
		}
		return reply{status: http.StatusBadRequest, body: jsonString(map[string]any{
			"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "no valid event", "errors": errs,
		})}
	})
	var rej rejections
	c := newClient(t, srv, func(cfg *activity.Config) { cfg.OnRejected = rej.record; cfg.FlushInterval = time.Hour })

	ids := trackN(t, c, 5)
	closeClient(t, c)

	if n := len(srv.snapshot()); n != 1 {
		t.Errorf("server got %d requests, want 1 (no retry of a 400)", n)
	}
	want := []activity.FieldError{{Field: "user_id", Message: "must be a UUID"}}
	for _, id := range ids {
		if got := rej.got[id]; !slices.Equal(got, want) {
			t.Errorf("rejection of %s = %v, want %v", id, got, want)
		}
	}
	if got := c.Stats(); got.Sent != 0 || got.Rejected != 5 || got.Retried != 0 || got.Failed != 0 {
		t.Errorf("Stats() = %+v, want Rejected 5 only", got)
	}
}

func TestClient_RateLimitedBatchIsRetriedAfterRetryAfter(t *testing.T) {
	t.Parallel()
	srv := newIngestServer(t, func(n int, evs []sentEvent) reply {
		if n == 0 {
			return reply{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "1"},
				body: `{"title":"Too Many Requests","status":429}`}
		}
		return accept(evs)
	})
	c := newClient(t, srv, func(cfg *activity.Config) { cfg.FlushInterval = time.Hour })

	ids := trackN(t, c, 3)
	closeClient(t, c)

	reqs := srv.snapshot()
	if len(reqs) != 2 {
		t.Fatalf("server got %d requests, want 2", len(reqs))
	}
	// Backoff alone is at most 5ms here; only Retry-After explains a second.
	if gap := reqs[1].at.Sub(reqs[0].at); gap < time.Second {
		t.Errorf("retry came %v after the 429, want at least Retry-After's 1s", gap)
	}
	srv.assertDelivered(t, ids)
	if got := c.Stats(); got.Sent != 3 || got.Retried != 1 {
		t.Errorf("Stats() = %+v, want Sent 3, Retried 1", got)
	}
}

func TestClient_UnavailableServerIsRetriedUntilItRecovers(t *testing.T) {
	t.Parallel()
	srv := newIngestServer(t, func(n int, evs []sentEvent) reply {
		switch n {
		case 0, 1:
			return reply{status: http.StatusServiceUnavailable, header: map[string]string{"Retry-After": "0"},
				body: `{"title":"Service Unavailable","status":503,"detail":"queue backlog over the limit"}`}
		case 2:
			return reply{status: http.StatusBadGateway}
		}
		return accept(evs)
	})
	c := newClient(t, srv, func(cfg *activity.Config) { cfg.BatchSize = 10 })

	ids := trackN(t, c, 25)
	closeClient(t, c)

	srv.assertDelivered(t, ids)
	if got := c.Stats(); got.Sent != 25 || got.Retried != 3 || got.Failed != 0 {
		t.Errorf("Stats() = %+v, want Sent 25, Retried 3", got)
	}
}

func TestClient_DroppedConnectionIsRetriedWithSameIdentity(t *testing.T) {
	t.Parallel()
	srv := newIngestServer(t, func(n int, evs []sentEvent) reply {
		if n < 2 {
			return reply{hijack: true}
		}
		return accept(evs)
	})
	c := newClient(t, srv, nil)

	ids := trackN(t, c, 20)
	closeClient(t, c)

	srv.assertDelivered(t, ids)
	if got := c.Stats(); got.Sent != 20 || got.Retried < 2 {
		t.Errorf("Stats() = %+v, want Sent 20, Retried ≥ 2", got)
	}
}

func TestClient_TimedOutRequestIsRetried(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := newIngestServer(t, func(n int, evs []sentEvent) reply {
		if n == 0 {
			<-release // outlives the client's timeout
		}
		return accept(evs)
	})
	t.Cleanup(func() { close(release) })
	c := newClient(t, srv, func(cfg *activity.Config) {
		cfg.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond}
	})

	ids := trackN(t, c, 4)
	closeClient(t, c)

	srv.assertDelivered(t, ids)
	if got := c.Stats(); got.Sent != 4 || got.Retried != 1 {
		t.Errorf("Stats() = %+v, want Sent 4, Retried 1", got)
	}
}

func TestClient_RefusedBatchIsNotRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnsupportedMediaType} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			srv := newIngestServer(t, func(int, []sentEvent) reply {
				return reply{status: status, body: `{"title":"Refused","status":` + fmt.Sprint(status) + `,"detail":"key revoked"}`}
			})
			errs := make(chan error, 10)
			c := newClient(t, srv, func(cfg *activity.Config) {
				cfg.FlushInterval = time.Hour
				cfg.OnError = func(err error) { errs <- err }
			})

			ids := trackN(t, c, 3)
			closeClient(t, c)

			if n := len(srv.snapshot()); n != 1 {
				t.Errorf("server got %d requests, want 1", n)
			}
			var derr *activity.DeliveryError
			select {
			case err := <-errs:
				if !errors.As(err, &derr) || derr.StatusCode != status || len(derr.Events) != len(ids) || derr.Detail != "Refused: key revoked" {
					t.Errorf("OnError got %v (%+v)", err, derr)
				}
			default:
				t.Error("OnError was not called")
			}
			if got := c.Stats(); got.Failed != 3 || got.Sent != 0 || got.Retried != 0 {
				t.Errorf("Stats() = %+v, want Failed 3", got)
			}
		})
	}
}

func TestClient_TooLargeBatchIsSplit(t *testing.T) {
	t.Parallel()
	srv := newIngestServer(t, func(_ int, evs []sentEvent) reply {
		if len(evs) > 3 {
			return reply{status: http.StatusRequestEntityTooLarge, body: `{"title":"Content Too Large","status":413}`}
		}
		return accept(evs)
	})
	c := newClient(t, srv, func(cfg *activity.Config) { cfg.FlushInterval = time.Hour; cfg.BatchSize = 13 })

	ids := trackN(t, c, 13)
	closeClient(t, c)

	srv.assertDelivered(t, ids)
	if got := c.Stats(); got.Sent != 13 || got.Failed != 0 {
		t.Errorf("Stats() = %+v, want Sent 13", got)
	}
}

func TestClient_BatchOverBodyLimitIsSplitBeforeSending(t *testing.T) {
	t.Parallel()
	srv := newIngestServer(t, nil)
	c := newClient(t, srv, func(cfg *activity.Config) { cfg.FlushInterval = time.Hour; cfg.BatchSize = 100 })

	blob := string(make([]byte, 15<<10)) // NULs: 6 bytes each in JSON, ~90 KiB per event
	var ids []string
	for i := range 100 {
		ids = append(ids, fmt.Sprint(i))
		if err := c.Track(activity.Event{EventType: "x.y", EntityID: ids[i], Metadata: map[string]any{"blob": blob}}); err != nil {
			t.Fatal(err)
		}
	}
	closeClient(t, c)

	srv.assertDelivered(t, ids)
	for _, r := range srv.snapshot() {
		if r.status != http.StatusAccepted {
			t.Errorf("a request got %d", r.status)
		}
	}
}

func TestClient_UnencodableEventIsRejectedAndTheRestSent(t *testing.T) {
	t.Parallel()
	srv := newIngestServer(t, nil)
	var rej rejections
	c := newClient(t, srv, func(cfg *activity.Config) { cfg.OnRejected = rej.record; cfg.FlushInterval = time.Hour })

	ids := trackN(t, c, 2)
	if err := c.Track(activity.Event{EventType: "x.y", EntityID: "chan", Metadata: map[string]any{"c": make(chan int)}}); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, trackN(t, c, 2)...)
	closeClient(t, c)

	srv.assertDelivered(t, ids)
	if got := rej.got["chan"]; len(got) != 1 || got[0].Field != "metadata" {
		t.Errorf("rejection of the unencodable event = %v", got)
	}
	if got := c.Stats(); got.Sent != 4 || got.Rejected != 1 {
		t.Errorf("Stats() = %+v, want Sent 4, Rejected 1", got)
	}
}

// stalledServer answers its first request only once released, so the
// client's sender is stuck and the queue fills.
func stalledServer(t *testing.T) (srv *ingestServer, started <-chan struct{}, release func()) {
	startedc, releasec := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv = newIngestServer(t, func(n int, evs []sentEvent) reply {
		if n == 0 {
			close(startedc)
			<-releasec
		}
		return accept(evs)
	})
	release = func() { once.Do(func() { close(releasec) }) }
	t.Cleanup(release)
	return srv, startedc, release
}

func TestClient_FullQueueDropsEvents(t *testing.T) {
	t.Parallel()
	srv, started, release := stalledServer(t)
	c := newClient(t, srv, func(cfg *activity.Config) { cfg.QueueSize = 2; cfg.BatchSize = 1 })

	ids := trackN(t, c, 1)
	<-started // the sender holds event 0; the queue is empty
	ids = append(ids, trackN(t, c, 2)...)
	if err := c.Track(activity.Event{EventType: "x.y", EntityID: "dropped"}); !errors.Is(err, activity.ErrQueueFull) {
		t.Fatalf("Track on a full queue = %v, want ErrQueueFull", err)
	}
	release()
	closeClient(t, c)

	srv.assertDelivered(t, ids)
	if got := c.Stats(); got.Dropped != 1 || got.Sent != 3 {
		t.Errorf("Stats() = %+v, want Dropped 1, Sent 3", got)
	}
}

func TestClient_BlockPolicyWaitsForRoom(t *testing.T) {
	t.Parallel()
	srv, started, release := stalledServer(t)
	c := newClient(t, srv, func(cfg *activity.Config) {
		cfg.QueueSize, cfg.BatchSize = 1, 1
		cfg.OnFull, cfg.BlockTimeout = activity.Block, time.Minute
	})

	ids := trackN(t, c, 1)
	<-started
	ids = append(ids, trackN(t, c, 1)...) // fills the queue
	result := make(chan error)
	go func() { result <- c.Track(activity.Event{EventType: "x.y", EntityID: "blocked"}) }()
	select {
	case err := <-result:
		t.Fatalf("Track returned %v while the queue was full", err)
	default:
	}
	release()
	if err := <-result; err != nil {
		t.Fatalf("blocked Track = %v, want nil once there is room", err)
	}
	closeClient(t, c)

	srv.assertDelivered(t, append(ids, "blocked"))
	if got := c.Stats(); got.Dropped != 0 || got.Sent != 3 {
		t.Errorf("Stats() = %+v, want Sent 3, Dropped 0", got)
	}
}

func TestClient_BlockPolicyDropsAfterTimeout(t *testing.T) {
	t.Parallel()
	srv, started, release := stalledServer(t)
	c := newClient(t, srv, func(cfg *activity.Config) {
		cfg.QueueSize, cfg.BatchSize = 1, 1
		cfg.OnFull, cfg.BlockTimeout = activity.Block, 20*time.Millisecond
	})

	trackN(t, c, 2)
	<-started
	begin := time.Now()
	err := c.Track(activity.Event{EventType: "x.y", EntityID: "dropped"})
	if !errors.Is(err, activity.ErrQueueFull) {
		t.Fatalf("Track = %v, want ErrQueueFull after BlockTimeout", err)
	}
	if waited := time.Since(begin); waited < 20*time.Millisecond {
		t.Errorf("Track gave up after %v, before BlockTimeout", waited)
	}
	release()
	closeClient(t, c)
	if got := c.Stats(); got.Dropped != 1 {
		t.Errorf("Stats() = %+v, want Dropped 1", got)
	}
}

func TestClient_CloseWakesBlockedTrack(t *testing.T) {
	t.Parallel()
	srv, started, release := stalledServer(t)
	c := newClient(t, srv, func(cfg *activity.Config) {
		cfg.QueueSize, cfg.BatchSize = 1, 1
		cfg.OnFull, cfg.BlockTimeout = activity.Block, time.Hour
	})
	trackN(t, c, 2)
	<-started
	result := make(chan error)
	go func() { result <- c.Track(activity.Event{EventType: "x.y"}) }()
	closed := make(chan error)
	go func() { closed <- c.Close(context.Background()) }()
	if err := <-result; !errors.Is(err, activity.ErrClosed) {
		t.Errorf("blocked Track during Close = %v, want ErrClosed", err)
	}
	release()
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestClient_CloseFlushesQueuedEvents(t *testing.T) {
	t.Parallel()
	srv := newIngestServer(t, nil)
	c := newClient(t, srv, func(cfg *activity.Config) { cfg.FlushInterval = time.Hour; cfg.BatchSize = 1000 })

	ids := trackN(t, c, 2500)
	closeClient(t, c)

	srv.assertDelivered(t, ids)
	for _, r := range srv.snapshot() {
		if len(r.events) > 1000 {
			t.Errorf("a batch held %d events", len(r.events))
		}
	}
	if got := c.Stats(); got.Sent != 2500 {
		t.Errorf("Stats() = %+v, want Sent 2500", got)
	}
}

func TestClient_FlushesPartialBatchOnInterval(t *testing.T) {
	t.Parallel()
	srv := newIngestServer(t, nil)
	c := newClient(t, srv, func(cfg *activity.Config) { cfg.BatchSize = 1000 })

	ids := trackN(t, c, 3)
	eventually(t, "the interval flush", func() bool { return c.Stats().Sent == 3 })
	srv.assertDelivered(t, ids)
}

func TestClient_CloseGivesUpWhenContextEnds(t *testing.T) {
	t.Parallel()
	srv := newIngestServer(t, func(int, []sentEvent) reply {
		return reply{status: http.StatusServiceUnavailable, header: map[string]string{"Retry-After": "3600"}}
	})
	errs := make(chan error, 10)
	c := newClient(t, srv, func(cfg *activity.Config) { cfg.OnError = func(err error) { errs <- err } })

	trackN(t, c, 5)
	eventually(t, "a first attempt", func() bool { return len(srv.snapshot()) > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if err2 := c.Close(context.Background()); err2 != err {
		t.Errorf("second Close = %v, want the first's %v", err2, err)
	}
	var derr *activity.DeliveryError
	if !errors.As(<-errs, &derr) || len(derr.Events) == 0 {
		t.Errorf("OnError got %v", derr)
	}
	if got := c.Stats(); got.Failed != 5 || got.Sent != 0 {
		t.Errorf("Stats() = %+v, want Failed 5", got)
	}
}

func TestClient_RetriesExhaustedGivesUp(t *testing.T) {
	t.Parallel()
	srv := newIngestServer(t, func(int, []sentEvent) reply { return reply{status: http.StatusInternalServerError} })
	errs := make(chan error, 10)
	c := newClient(t, srv, func(cfg *activity.Config) {
		cfg.MaxRetries = 2
		cfg.FlushInterval = time.Hour
		cfg.OnError = func(err error) { errs <- err }
	})
	trackN(t, c, 2)
	closeClient(t, c) // giving up during normal work is not Close's failure

	if n := len(srv.snapshot()); n != 3 {
		t.Errorf("server got %d requests, want 3 (1 + MaxRetries)", n)
	}
	var derr *activity.DeliveryError
	if !errors.As(<-errs, &derr) || derr.StatusCode != 500 {
		t.Errorf("OnError got %v", derr)
	}
	if got := c.Stats(); got.Failed != 2 || got.Retried != 2 {
		t.Errorf("Stats() = %+v, want Failed 2, Retried 2", got)
	}
}

func TestClient_TrackAfterCloseReturnsErrClosed(t *testing.T) {
	t.Parallel()
	c := newClient(t, newIngestServer(t, nil), nil)
	closeClient(t, c)
	closeClient(t, c) // idempotent
	if err := c.Track(activity.Event{EventType: "x.y"}); !errors.Is(err, activity.ErrClosed) {
		t.Errorf("Track after Close = %v, want ErrClosed", err)
	}
}

func TestClient_ConcurrentTrackDeliversEverything(t *testing.T) {
	t.Parallel()
	srv := newIngestServer(t, nil)
	c := newClient(t, srv, func(cfg *activity.Config) { cfg.BatchSize = 100 })

	const workers, each = 8, 250
	var wg sync.WaitGroup
	var ids []string
	for w := range workers {
		for i := range each {
			ids = append(ids, fmt.Sprintf("%d-%d", w, i))
		}
		wg.Go(func() {
			for i := range each {
				if err := c.Track(activity.Event{EventType: "x.y", EntityID: fmt.Sprintf("%d-%d", w, i)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	go c.Stats() // read concurrently too
	wg.Wait()
	closeClient(t, c)

	srv.assertDelivered(t, ids)
	if got := c.Stats(); got.Sent != workers*each {
		t.Errorf("Stats() = %+v, want Sent %d", got, workers*each)
	}
}

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestTrack_StampsEventIDAndOccurredAt(t *testing.T) {
	t.Parallel()
	srv := newIngestServer(t, nil)
	c := newClient(t, srv, func(cfg *activity.Config) { cfg.FlushInterval = time.Hour })

	before := time.Now().Add(-time.Millisecond)
	trackN(t, c, 50)
	given := time.Date(2026, 11, 21, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))
	c.Track(activity.Event{EventType: "x.y", EntityID: "given", EventID: "my-id", OccurredAt: given})
	closeClient(t, c)

	seen := map[string]bool{}
	for _, r := range srv.snapshot() {
		for _, e := range r.events {
			if e.EntityID == "given" {
				if e.EventID != "my-id" || e.OccurredAt != "2026-11-21T08:30:00.123456Z" {
					t.Errorf("given identity sent as %q %q", e.EventID, e.OccurredAt)
				}
				continue
			}
			if !uuidV7.MatchString(e.EventID) {
				t.Errorf("event_id %q is not a UUIDv7", e.EventID)
			}
			if seen[e.EventID] {
				t.Errorf("event_id %q repeated", e.EventID)
			}
			seen[e.EventID] = true
			at, err := time.Parse(time.RFC3339Nano, e.OccurredAt)
			if err != nil || at.Before(before) || at.After(time.Now()) || at.Nanosecond()%1000 != 0 || at.Location() != time.UTC {
				t.Errorf("occurred_at %q (%v): want now, UTC, whole microseconds", e.OccurredAt, err)
			}
			var ms int64
			fmt.Sscanf(e.EventID[:8]+e.EventID[9:13], "%x", &ms)
			if d := at.UnixMilli() - ms; d < -1 || d > 1 {
				t.Errorf("event_id %s time %d differs from occurred_at %v", e.EventID, ms, at)
			}
		}
	}
	if len(seen) != 50 {
		t.Errorf("got %d stamped events, want 50", len(seen))
	}
}

func TestNew_RejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	valid := activity.Config{Endpoint: "http://localhost:8080", APIKey: "k"}
	tests := map[string]func(*activity.Config){
		"no endpoint":           func(c *activity.Config) { c.Endpoint = "" },
		"endpoint not http":     func(c *activity.Config) { c.Endpoint = "localhost:8080" },
		"no key":                func(c *activity.Config) { c.APIKey = "" },
		"batch over 1000":       func(c *activity.Config) { c.BatchSize = 1001 },
		"negative queue":        func(c *activity.Config) { c.QueueSize = -1 },
		"negative interval":     func(c *activity.Config) { c.FlushInterval = -time.Second },
		"unknown policy":        func(c *activity.Config) { c.OnFull = 7 },
		"max backoff below min": func(c *activity.Config) { c.MinBackoff, c.MaxBackoff = time.Second, time.Millisecond },
	}
	for name, edit := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := valid
			edit(&cfg)
			if c, err := activity.New(cfg); err == nil {
				c.Close(context.Background())
				t.Errorf("New accepted %+v", cfg)
			}
		})
	}
	c, err := activity.New(valid)
	if err != nil {
		t.Fatalf("New(valid) = %v", err)
	}
	closeClient(t, c)
}
