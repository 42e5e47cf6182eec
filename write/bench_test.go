package write

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/activity-dev/activity/internal/partitions"
	"github.com/activity-dev/activity/internal/pgtest"
)

// benchEvents returns n realistic events (the ingest body and the same rows
// for COPY), all occurring now.
func benchEvents(n int, users, communities []string) []map[string]any {
	out := make([]map[string]any, n)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for i := range out {
		out[i] = map[string]any{
			"event_id":     uuid.NewString(),
			"event_type":   []string{"user.login", "member.activated", "github.push", "event.created"}[i%4],
			"user_id":      users[i%len(users)],
			"community_id": communities[i%len(communities)],
			"entity_type":  "repository",
			"entity_id":    fmt.Sprintf("repo-%d", i%97),
			"occurred_at":  now,
			"metadata":     map[string]any{"plan": "pro", "source": "web", "count": i, "tags": []string{"a", "b"}},
		}
	}
	return out
}

func benchIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	return ids
}

// BenchmarkRequestToLog measures events/s from HTTP request to committed
// rows: concurrent clients post batches of the given size, two writers store
// them, and the clock stops when every event is in the log.
//
//	go test ./write -run '^$' -bench 'RequestToLog|CopyBaseline' -benchtime 20000x
func BenchmarkRequestToLog(b *testing.B) {
	for _, size := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("events=%d", size), func(b *testing.B) {
			h := newBenchHarness(b)
			users, communities := benchIDs(1000), benchIDs(50)
			requests := max(b.N/size, 1)
			bodies := make([][]byte, requests)
			for i := range bodies {
				bodies[i], _ = json.Marshal(map[string]any{"events": benchEvents(size, users, communities)})
			}
			total := int64(requests * size)
			h.startWriters(2)
			b.ResetTimer()
			start := time.Now()
			var next atomic.Int64
			var wg sync.WaitGroup
			for c := 0; c < 8; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					client := &http.Client{}
					for {
						i := next.Add(1) - 1
						if i >= int64(len(bodies)) {
							return
						}
						for {
							req, _ := http.NewRequest(http.MethodPost, h.server.URL, bytes.NewReader(bodies[i]))
							req.Header.Set("Content-Type", "application/json")
							req.Header.Set("Authorization", "Bearer "+h.admin)
							res, err := client.Do(req)
							if err != nil {
								b.Error(err)
								return
							}
							res.Body.Close()
							if res.StatusCode == 202 {
								break
							}
							if res.StatusCode != 503 {
								b.Errorf("status %d", res.StatusCode)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			h.waitCount(total)
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkCopyBaseline measures a plain COPY of the same rows into the same
// table: the ceiling the ingest path is compared with.
func BenchmarkCopyBaseline(b *testing.B) {
	h := newBenchHarness(b)
	users, communities := benchIDs(1000), benchIDs(50)
	ctx := context.Background()
	// The same stub rows the writer creates, so the foreign keys hold.
	for _, u := range users {
		h.pool.Exec(ctx, "INSERT INTO users (id) VALUES ($1)", u)
	}
	for _, c := range communities {
		h.pool.Exec(ctx, "INSERT INTO communities (id) VALUES ($1)", c)
	}
	if err := partitions.NewManager(h.pool).Ensure(ctx, time.Now()); err != nil {
		b.Fatal(err)
	}
	events := benchEvents(b.N, users, communities)
	rows := make([][]any, len(events))
	now := time.Now().UTC()
	for i, e := range events {
		md, _ := json.Marshal(e["metadata"])
		rows[i] = []any{e["event_id"], e["event_type"], e["user_id"], e["community_id"], e["entity_type"], e["entity_id"], string(md), "127.0.0.1", "bench", now, now}
	}
	cols := []string{"event_id", "event_type", "user_id", "community_id", "entity_type", "entity_id", "metadata", "ip_address", "user_agent", "created_at", "received_at"}
	b.ResetTimer()
	start := time.Now()
	const chunk = 5000
	for i := 0; i < len(rows); i += chunk {
		_, err := h.pool.CopyFrom(ctx, pgx.Identifier{"activities"}, cols, pgx.CopyFromRows(rows[i:min(i+chunk, len(rows))]))
		if err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(len(rows))/elapsed.Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}

type benchHarness struct {
	*harness
	b testing.TB
}

func newBenchHarness(b *testing.B) *benchHarness {
	b.Helper()
	h := newHarnessTB(b, IngestConfig{RateLimit: -1})
	h.queue.cfg.MaxBacklog = 100000
	return &benchHarness{harness: h, b: b}
}

func (h *benchHarness) startWriters(n int) {
	for i := 0; i < n; i++ {
		h.start(h.writer(WriterConfig{Consumer: fmt.Sprintf("bench-%d", i), Block: 20 * time.Millisecond}))
	}
}

func (h *benchHarness) waitCount(n int64) {
	pgtest.WaitFor(h.b, 10*time.Minute, "every event in the log", func() bool { return h.activityCount() >= n })
}
