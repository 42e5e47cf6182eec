package activity

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 2 ", 2 * time.Second},
		{"-3", 0},
		{"999999999999", 24 * time.Hour},
		{"Sat, 21 Nov 2026 09:30:30 GMT", 30 * time.Second},
		{"Sat, 21 Nov 2026 09:29:00 GMT", 0}, // in the past
		{"soon", 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.header != "" {
			h.Set("Retry-After", tt.header)
		}
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestBackoff_StaysWithinBoundsAndHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	c := &Client{cfg: Config{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	for attempt := range 100 {
		ceiling := min(100*time.Millisecond<<min(attempt, 20), time.Second)
		if got := c.backoff(attempt, 0); got < 0 || got > ceiling {
			t.Errorf("backoff(%d) = %v, want within [0, %v]", attempt, got, ceiling)
		}
		if got := c.backoff(attempt, 5*time.Second); got != 5*time.Second {
			t.Errorf("backoff(%d, Retry-After 5s) = %v, want 5s", attempt, got)
		}
	}
}

func TestFormatTime_TruncatesToMicrosecondsInUTC(t *testing.T) {
	t.Parallel()
	in := time.Date(2026, 11, 21, 10, 30, 0, 123456789, time.FixedZone("CET", 3600))
	if got, want := formatTime(in), "2026-11-21T09:30:00.123456Z"; got != want {
		t.Errorf("formatTime = %q, want %q", got, want)
	}
	if got, want := formatTime(in.Truncate(time.Second)), "2026-11-21T09:30:00Z"; got != want {
		t.Errorf("formatTime = %q, want %q", got, want)
	}
}

// FuzzAnswers feeds arbitrary answers to the 202 and 400 handlers: they
// must not panic and must account for each event exactly once.
func FuzzAnswers(f *testing.F) {
	f.Add([]byte(`{"accepted":1,"rejected":[{"index":1,"event_id":"b","errors":[{"field":"x","message":"y"}]}]}`))
	f.Add([]byte(`{"accepted":0,"rejected":[{"index":7,"event_id":"a"},{"index":-1,"event_id":"zz"}]}`))
	f.Add([]byte(`{"title":"Bad Request","errors":[{"index":0,"field":"user_id","message":"must be a UUID"},{"field":"","message":"all"}]}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"rejected":[{"index":0},{"index":0},{"index":0},{"index":0}]}`))
	f.Fuzz(func(t *testing.T, answer []byte) {
		events := []Event{{EventID: "a"}, {EventID: "b"}, {EventID: "c"}}
		c, err := newClient(Config{Endpoint: "http://localhost", APIKey: "k"})
		if err != nil {
			t.Fatal(err)
		}
		c.accepted(events, answer)
		if s := c.Stats(); s.Sent+s.Rejected != 3 {
			t.Errorf("after 202: %+v", s)
		}
		c2, _ := newClient(Config{Endpoint: "http://localhost", APIKey: "k"})
		c2.badRequest(events, answer)
		if s := c2.Stats(); s.Rejected != 3 || s.Sent != 0 {
			t.Errorf("after 400: %+v", s)
		}
	})
}
