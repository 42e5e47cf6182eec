package activity

import (
	"testing"
)

var benchEvent = Event{
	EventType:   "user.login",
	UserID:      "0190f5b8-4a52-7c3e-9b1a-2f0c8d6e4a10",
	CommunityID: "0190f5b8-4a52-7c3e-9b1a-2f0c8d6e4a11",
	Metadata:    map[string]any{"plan": "pro"},
}

// benchTrack measures Track alone, without the sender: whenever the queue
// is full, the timer stops while the benchmark empties it, so every timed
// call enqueues (none takes the cheaper drop path).
func benchTrack(b *testing.B, e Event) {
	c, err := newClient(Config{Endpoint: "http://localhost:8080", APIKey: "k"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(c.queue) == cap(c.queue) {
			b.StopTimer()
			for len(c.queue) > 0 {
				<-c.queue
			}
			b.StartTimer()
		}
		if err := c.Track(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrack: Track stamps the event id (UUIDv7) and time.
func BenchmarkTrack(b *testing.B) { benchTrack(b, benchEvent) }

// BenchmarkTrack_GivenIdentity: the caller supplies EventID and OccurredAt.
func BenchmarkTrack_GivenIdentity(b *testing.B) {
	e := benchEvent
	e.EventID = "given"
	e.OccurredAt = e.OccurredAt.AddDate(2026, 0, 0)
	benchTrack(b, e)
}

// BenchmarkTrack_Parallel calls Track from every P while a goroutine drains
// the queue, as the sender would. Calls that find the queue full take the
// drop path; their share is reported as dropped/op.
func BenchmarkTrack_Parallel(b *testing.B) {
	c, err := newClient(Config{Endpoint: "http://localhost:8080", APIKey: "k"})
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for range c.queue {
		}
	}()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := c.Track(benchEvent); err != nil && err != ErrQueueFull {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(c.dropped.Load())/float64(b.N), "dropped/op")
	c.mu.Lock()
	c.closed = true
	close(c.queue)
	c.mu.Unlock()
}

// BenchmarkUUIDv7 measures event id generation alone.
func BenchmarkUUIDv7(b *testing.B) {
	r := newRandSource()
	b.ReportAllocs()
	for b.Loop() {
		_ = r.uuidV7(benchEvent.OccurredAt)
	}
}
