package activity_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/activity-dev/activity/sdk"
)

// sentEvent is an event as the server decodes it; unknown fields fail the
// decoding, as they do on the real server.
type sentEvent struct {
	EventID     string         `json:"event_id"`
	EventType   string         `json:"event_type"`
	UserID      string         `json:"user_id"`
	CommunityID string         `json:"community_id"`
	EntityType  string         `json:"entity_type"`
	EntityID    string         `json:"entity_id"`
	Metadata    map[string]any `json:"metadata"`
	OccurredAt  string         `json:"occurred_at"`
	IPAddress   string         `json:"ip_address"`
	UserAgent   string         `json:"user_agent"`
}

// reply is what the fake server answers to one request.
type reply struct {
	status int
	header map[string]string
	body   string
	hijack bool // close the connection without answering
}

// accept answers 202 with every event accepted.
func accept(evs []sentEvent) reply {
	return reply{status: http.StatusAccepted, body: fmt.Sprintf(`{"accepted":%d,"rejected":[]}`, len(evs))}
}

type request struct {
	at     time.Time
	events []sentEvent
	status int
}

// ingestServer models POST /api/v1/events: it checks the request the way
// the server does, records it, and answers what respond says for the n-th
// request (0-based).
type ingestServer struct {
	*httptest.Server
	t       *testing.T
	respond func(n int, evs []sentEvent) reply

	mu       sync.Mutex
	requests []request
}

const testKey = "ingest-key"

func newIngestServer(t *testing.T, respond func(n int, evs []sentEvent) reply) *ingestServer {
	t.Helper()
	s := &ingestServer{t: t, respond: respond}
	if s.respond == nil {
		s.respond = func(_ int, evs []sentEvent) reply { return accept(evs) }
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.Close)
	return s
}

func (s *ingestServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	problem := func(status int, detail string) {
		s.t.Errorf("fake server: %s", detail)
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"title": http.StatusText(status), "status": status, "detail": detail})
	}
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/api/v1/events":
		problem(http.StatusNotFound, r.Method+" "+r.URL.Path)
		return
	case r.Header.Get("Authorization") != "Bearer "+testKey:
		problem(http.StatusUnauthorized, "Authorization is "+r.Header.Get("Authorization"))
		return
	case r.Header.Get("Content-Type") != "application/json":
		problem(http.StatusUnsupportedMediaType, "Content-Type is "+r.Header.Get("Content-Type"))
		return
	case r.Header.Get("Content-Encoding") != "gzip":
		problem(http.StatusUnsupportedMediaType, "Content-Encoding is "+r.Header.Get("Content-Encoding"))
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		problem(http.StatusBadRequest, "body is not gzip: "+err.Error())
		return
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		problem(http.StatusBadRequest, "body is not gzip: "+err.Error())
		return
	}
	var body struct {
		Events []sentEvent `json:"events"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		problem(http.StatusBadRequest, "body: "+err.Error())
		return
	}
	if n := len(body.Events); n < 1 || n > 1000 {
		problem(http.StatusBadRequest, fmt.Sprintf("%d events in a batch", n))
		return
	}

	s.mu.Lock()
	n := len(s.requests)
	s.requests = append(s.requests, request{at: time.Now(), events: body.Events})
	s.mu.Unlock()

	rep := s.respond(n, body.Events)

	s.mu.Lock()
	s.requests[n].status = rep.status
	s.mu.Unlock()

	if rep.hijack {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			s.t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if rep.status >= 400 {
		w.Header().Set("Content-Type", "application/problem+json")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func (s *ingestServer) snapshot() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.requests...)
}

// assertDelivered checks that every event tracked with an EntityID in want
// reached the server in a request answered 2xx, and that every request
// carrying it sent the same event_id and occurred_at.
func (s *ingestServer) assertDelivered(t *testing.T, want []string) {
	t.Helper()
	type identity struct{ id, at string }
	seen := map[string]identity{}
	delivered := map[string]bool{}
	for _, req := range s.snapshot() {
		for _, e := range req.events {
			got := identity{e.EventID, e.OccurredAt}
			if first, ok := seen[e.EntityID]; ok && first != got {
				t.Errorf("event %s was resent as %+v, first sent as %+v", e.EntityID, got, first)
			}
			seen[e.EntityID] = got
			if req.status >= 200 && req.status < 300 {
				delivered[e.EntityID] = true
			}
		}
	}
	for _, w := range want {
		if !delivered[w] {
			t.Errorf("event %s was never delivered (sent: %v)", w, seen[w].id != "")
		}
	}
}

var entitySeq atomic.Int64

// trackN tracks n user.login events, each with a unique EntityID, and
// returns those ids.
func trackN(t *testing.T, c *activity.Client, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprint("e", entitySeq.Add(1))
		if err := c.Track(activity.Event{EventType: "user.login", UserID: testUser, EntityType: "test", EntityID: ids[i]}); err != nil {
			t.Fatalf("Track(%d): %v", i, err)
		}
	}
	return ids
}

const testUser = "0190f5b8-4a52-7c3e-9b1a-2f0c8d6e4a10"

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
