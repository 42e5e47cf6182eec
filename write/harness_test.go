package write

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/pgtest"
	"github.com/activity-dev/activity/internal/redistest"
)

// harness is one test's private write side: its own database, stream and
// consumer group, an ingest handler and keys.
type harness struct {
	t      testing.TB
	pool   *pgxpool.Pool
	rdb    *redis.Client
	stream string
	group  string
	queue  *Queue
	keys   *auth.Store
	server *httptest.Server
	ingest *IngestHandler
	admin  string // an admin key
}

func newHarness(t *testing.T, cfg IngestConfig) *harness { return newHarnessTB(t, cfg) }

func newHarnessTB(t testing.TB, cfg IngestConfig) *harness {
	t.Helper()
	pool := pgtest.NewPool(t)
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t, rdb)
	h := &harness{t: t, pool: pool, rdb: rdb, stream: prefix + "ingest", group: "writers"}
	h.queue = NewQueue(rdb, QueueConfig{Stream: h.stream, MaxBacklog: 1000})
	h.keys = auth.NewStore(pool, auth.Config{})
	h.ingest = NewIngestHandler(cfg, h.queue, h.keys, redis_rate.NewLimiter(rdb), nil, nil)
	h.server = httptest.NewServer(h.ingest)
	t.Cleanup(h.server.Close)
	_, h.admin = h.key(auth.RoleAdmin)
	return h
}

// key creates a key with role and scope and returns it with its secret.
func (h *harness) key(role auth.Role, communities ...uuid.UUID) (auth.Key, string) {
	h.t.Helper()
	k, secret, err := h.keys.Create(context.Background(), "test "+string(role), role, communities)
	if err != nil {
		h.t.Fatal(err)
	}
	return k, secret
}

// writer returns a writer on the harness stream.
func (h *harness) writer(cfg WriterConfig) *Writer {
	h.t.Helper()
	cfg.Stream, cfg.Group = h.stream, h.group
	if cfg.Block == 0 {
		cfg.Block = 50 * time.Millisecond
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 200*time.Millisecond
	}
	w, err := NewWriter(cfg, h.pool, h.rdb, nil, nil, nil, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return w
}

// start runs w until the returned stop is called or the test ends.
func (h *harness) start(w *Writer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	stop = func() { cancel(); <-done }
	h.t.Cleanup(stop)
	return stop
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// post sends body to the ingest endpoint with key; headers are name, value
// pairs ("" value: header removed).
func (h *harness) post(key string, body any, headers ...string) response {
	h.t.Helper()
	var b []byte
	switch v := body.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			h.t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, h.server.URL+"/api/v1/events", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: buf.Bytes()}
	_ = json.Unmarshal(buf.Bytes(), &r.body)
	return r
}

func (h *harness) countByEvent(eventID string) int64 {
	h.t.Helper()
	n, err := db.New(h.pool).ActivityCountByEvent(context.Background(), eventID)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) activityCount() int64 {
	h.t.Helper()
	n, err := db.New(h.pool).ActivityCount(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) failedCount() int64 {
	h.t.Helper()
	n, err := db.New(h.pool).FailedEventCount(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// waitStored waits until the log holds n activities, and fails if it holds more.
func (h *harness) waitStored(n int64) {
	h.t.Helper()
	pgtest.WaitFor(h.t, 20*time.Second, "activities to be stored", func() bool { return h.activityCount() >= n })
	if got := h.activityCount(); got != n {
		h.t.Fatalf("activities = %d, want %d", got, n)
	}
}

// waitDrained waits until the stream holds no entry (all written and acknowledged).
func (h *harness) waitDrained() {
	h.t.Helper()
	pgtest.WaitFor(h.t, 20*time.Second, "the stream to drain", func() bool {
		n, err := h.rdb.XLen(context.Background(), h.stream).Result()
		return err == nil && n == 0
	})
}

func loginEvent(eventID string, occurred time.Time) map[string]any {
	return map[string]any{
		"event_id": eventID, "event_type": "user.login", "user_id": uuid.NewString(),
		"occurred_at": occurred.UTC().Format(time.RFC3339Nano),
	}
}
