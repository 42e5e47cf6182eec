package write

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	activity "github.com/activity-dev/activity/sdk"
)

// flakyProxy forwards TCP connections to target, and cuts the connection in
// the middle of every fourth request, as a dropped connection would.
func flakyProxy(t *testing.T, target string) (addr string, cut *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	cut = new(atomic.Int64)
	var requests atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(c, up)
				buf := make([]byte, 64<<10)
				for {
					k, err := c.Read(buf)
					if k > 0 {
						chunk := buf[:k]
						if bytes.HasPrefix(chunk, []byte("POST ")) && requests.Add(1)%4 == 0 {
							up.Write(chunk[:k/2])
							cut.Add(1)
							return
						}
						if _, err := up.Write(chunk); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String(), cut
}

func TestSDK_EveryTrackedEventStoredOnceThrough503s429sAndDroppedConnections(t *testing.T) {
	t.Parallel()
	// A low rate limit gives 429s; a stream filled past the backlog limit
	// before the writer starts gives 503s until the writer drains it.
	h := newHarness(t, IngestConfig{RateLimit: 20, RateBurst: 5})
	h.queue.cfg.MaxBacklog = 50
	ctx := context.Background()
	for i := 0; i < 60; i++ {
		h.rdb.XAdd(ctx, &redis.XAddArgs{Stream: h.stream, Values: map[string]any{"junk": i}})
	}
	_, key := h.key("ingest")
	srv := httptest.NewServer(h.ingest)
	t.Cleanup(srv.Close)
	proxy, cut := flakyProxy(t, srv.Listener.Addr().String())

	var rejected atomic.Int64
	client, err := activity.New(activity.Config{
		Endpoint: "http://" + proxy, APIKey: key,
		BatchSize: 40, FlushInterval: 20 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, MaxRetries: 1000,
		OnRejected: func(activity.Event, []activity.FieldError) { rejected.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1200
	var mu sync.Mutex
	ids := make(map[string]bool, n)
	for i := 0; i < n; i++ {
		e := activity.Event{EventID: fmt.Sprintf("sdk-%d", i), EventType: "user.login", UserID: uuid.NewString(),
			Metadata: map[string]any{"i": i}}
		if err := client.Track(e); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		ids[e.EventID] = true
		mu.Unlock()
	}
	// The writer starts once the full stream has turned a request away: a
	// writer started earlier can drain it before the SDK's first flush.
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(30 * time.Second); testutil.ToFloat64(h.ingest.metrics.Requests.WithLabelValues("events", "503")) == 0; <-poll.C {
		if time.Now().After(deadline) {
			t.Fatal("no request was turned away with 503 while the stream was past its backlog limit")
		}
	}
	h.start(h.writer(WriterConfig{}))
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := client.Close(cctx); err != nil {
		t.Fatalf("close: %v (stats %+v)", err, client.Stats())
	}
	st := client.Stats()
	if st.Sent != n || st.Dropped != 0 || st.Failed != 0 || rejected.Load() != 0 {
		t.Fatalf("stats %+v, rejected %d", st, rejected.Load())
	}
	h.waitDrained()
	h.waitStored(n)
	var distinct int64
	if err := h.pool.QueryRow(ctx, "SELECT count(DISTINCT event_id) FROM activities WHERE event_id LIKE 'sdk-%'").Scan(&distinct); err != nil || distinct != n {
		t.Fatalf("distinct stored = %d, %v", distinct, err)
	}
	got503 := testutil.ToFloat64(h.ingest.metrics.Requests.WithLabelValues("events", "503"))
	got429 := testutil.ToFloat64(h.ingest.metrics.Requests.WithLabelValues("events", "429"))
	if got503 == 0 || got429 == 0 || cut.Load() == 0 {
		t.Fatalf("the server answered 503 %v times and 429 %v times, and %d connections were cut: the test proves nothing unless all happen", got503, got429, cut.Load())
	}
	t.Logf("stats %+v; 503s %v, 429s %v, connections cut %d", st, got503, got429, cut.Load())
}
