package write

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/pgtest"
)

func TestIngest_AuthenticationAndRoles(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	_, reader := h.key(auth.RoleRead)
	_, ingest := h.key(auth.RoleIngest)
	revokedKey, revoked := h.key(auth.RoleIngest)
	if err := h.keys.Revoke(context.Background(), revokedKey.ID); err != nil {
		t.Fatal(err)
	}
	ev := loginEvent("auth-1", time.Now())
	for _, c := range []struct {
		name, key string
		want      int
	}{
		{"missing key", "", 401},
		{"unknown key", "act_nope", 401},
		{"revoked key", revoked, 401},
		{"read key", reader, 403},
		{"ingest key", ingest, 202},
		{"admin key", h.admin, 202},
	} {
		r := h.post(c.key, ev)
		if r.status != c.want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, r.status, c.want, r.raw)
		}
		if c.want >= 400 && r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: content type %q", c.name, r.header.Get("Content-Type"))
		}
	}
}

func TestIngest_ContentTypeAndEncodingRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	ev := `{"event_type":"github.push"}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(ev))
	zw.Close()
	cases := []struct {
		name    string
		body    []byte
		headers []string
		want    int
	}{
		{"no content type", []byte(ev), []string{"Content-Type", ""}, 415},
		{"text/plain", []byte(ev), []string{"Content-Type", "text/plain"}, 415},
		{"json with charset", []byte(ev), []string{"Content-Type", "application/json; charset=utf-8"}, 202},
		{"gzip", gz.Bytes(), []string{"Content-Encoding", "gzip"}, 202},
		{"identity", []byte(ev), []string{"Content-Encoding", "identity"}, 202},
		{"brotli", []byte(ev), []string{"Content-Encoding", "br"}, 415},
		{"broken gzip", []byte("not gzip"), []string{"Content-Encoding", "gzip"}, 400},
	}
	for _, c := range cases {
		if r := h.post(h.admin, c.body, c.headers...); r.status != c.want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, r.status, c.want, r.raw)
		}
	}
}

func TestIngest_BodyOverOneMiBIs413(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	big := `{"event_type":"github.push","metadata":{"x":"` + strings.Repeat("a", 1<<20) + `"}}`
	if r := h.post(h.admin, big); r.status != 413 {
		t.Fatalf("plain: %d %s", r.status, r.raw)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(big))
	zw.Close()
	if gz.Len() > 1<<20 {
		t.Fatal("test body should compress below 1 MiB")
	}
	if r := h.post(h.admin, gz.Bytes(), "Content-Encoding", "gzip"); r.status != 413 {
		t.Fatalf("gzip bomb: %d %s", r.status, r.raw)
	}
}

func TestIngest_MalformedBodiesAre400(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	events := make([]string, 1001)
	for i := range events {
		events[i] = `{"event_type":"github.push"}`
	}
	for name, body := range map[string]string{
		"not json":        `{"event_type":`,
		"invalid utf-8":   "{\"event_type\":\"github.push\",\"entity_id\":\"\xff\"}",
		"array":           `[{"event_type":"github.push"}]`,
		"empty batch":     `{"events":[]}`,
		"too many events": `{"events":[` + strings.Join(events, ",") + `]}`,
		"events not list": `{"events":{}}`,
		"trailing data":   `{"event_type":"github.push"} {}`,
	} {
		r := h.post(h.admin, body)
		if r.status != 400 || r.body["detail"] == "" {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
}

func TestIngest_AllEventsInvalidIs400WithPerEventErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	r := h.post(h.admin, `{"events":[{"event_type":"user.login"},{"event_type":"Bad Type"}]}`)
	if r.status != 400 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	errs, _ := r.body["errors"].([]any)
	if len(errs) != 2 {
		t.Fatalf("errors = %s", r.raw)
	}
	first := errs[0].(map[string]any)
	if first["index"] != float64(0) || first["field"] != "user_id" {
		t.Errorf("first error = %v", first)
	}
	if errs[1].(map[string]any)["index"] != float64(1) {
		t.Errorf("second error = %v", errs[1])
	}
	// A single event body: errors carry no index.
	r = h.post(h.admin, `{"event_type":"member.created","userId":"x"}`)
	if r.status != 400 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	for _, e := range r.body["errors"].([]any) {
		if _, ok := e.(map[string]any)["index"]; ok {
			t.Errorf("single-event error has an index: %v", e)
		}
	}
	if !strings.Contains(string(r.raw), `userId`) {
		t.Errorf("unknown field not named: %s", r.raw)
	}
}

func TestIngest_PartialBatchAcceptsTheValidRest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	h.start(h.writer(WriterConfig{}))
	now := time.Now()
	body := fmt.Sprintf(`{"events":[
		{"event_id":"ok-1","event_type":"github.push","occurred_at":%q},
		{"event_id":"bad-future","event_type":"github.push","occurred_at":%q},
		{"event_id":"bad-old","event_type":"github.push","occurred_at":%q},
		{"event_id":"ok-2","event_type":"user.signup","user_id":%q},
		{"event_id":"bad-typo","event_type":"github.push","userId":"x"},
		{"event_id":"ok-1","event_type":"github.push","occurred_at":%q}
	]}`, now.Format(time.RFC3339Nano), now.Add(10*time.Minute).Format(time.RFC3339), now.AddDate(0, 0, -31).Format(time.RFC3339),
		uuid.NewString(), now.Format(time.RFC3339Nano))
	r := h.post(h.admin, body)
	if r.status != 202 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	// A duplicate inside the request is valid: counted, stored once.
	if r.body["accepted"] != float64(3) {
		t.Fatalf("accepted = %v (%s)", r.body["accepted"], r.raw)
	}
	rejected := r.body["rejected"].([]any)
	wantIdx := []float64{1, 2, 4}
	if len(rejected) != len(wantIdx) {
		t.Fatalf("rejected = %s", r.raw)
	}
	for i, rj := range rejected {
		m := rj.(map[string]any)
		if m["index"] != wantIdx[i] || m["event_id"] == "" || len(m["errors"].([]any)) == 0 {
			t.Errorf("rejection %d = %v", i, m)
		}
	}
	h.waitDrained()
	h.waitStored(2)
}

func TestIngest_ScopedKeyAcceptsOnlyItsCommunities(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	mine, other := uuid.New(), uuid.New()
	_, key := h.key(auth.RoleIngest, mine)
	body := fmt.Sprintf(`{"events":[
		{"event_type":"member.created","user_id":%q,"community_id":%q},
		{"event_type":"member.created","user_id":%q,"community_id":%q,"event_id":"sent-1"},
		{"event_type":"github.push"}
	]}`, uuid.NewString(), mine, uuid.NewString(), other)
	r := h.post(key, body)
	if r.status != 202 || r.body["accepted"] != float64(1) {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if !strings.Contains(string(r.raw), mine.String()) || strings.Count(string(r.raw), `"community_id"`) != 2 {
		t.Errorf("rejections should name the scope on community_id: %s", r.raw)
	}
	// A rejection names the event_id the client sent, and none the server
	// would have assigned (that event is not stored).
	rej, _ := r.body["rejected"].([]any)
	if len(rej) != 2 {
		t.Fatalf("rejected %s", r.raw)
	}
	if id := rej[0].(map[string]any)["event_id"]; id != "sent-1" {
		t.Errorf("rejection 0: event_id %v, want the one sent", id)
	}
	if id, ok := rej[1].(map[string]any)["event_id"]; ok {
		t.Errorf("rejection 1: event_id %v for an event sent without one", id)
	}
	// Nothing in scope: 400.
	if r := h.post(key, fmt.Sprintf(`{"event_type":"community.created","community_id":%q}`, other)); r.status != 400 {
		t.Errorf("outside scope only: %d %s", r.status, r.raw)
	}
}

func TestIngest_RateLimitedKeyGets429WithRetryAfter(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{RateLimit: 1, RateBurst: 1})
	ev := `{"event_type":"github.push"}`
	var limited *response
	for i := 0; i < 5 && limited == nil; i++ {
		if r := h.post(h.admin, ev); r.status == 429 {
			limited = &r
		}
	}
	if limited == nil {
		t.Fatal("no 429 after 5 requests at a limit of 1/s")
	}
	if ra := limited.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q", ra)
	}
}

func TestIngest_BacklogOverLimitIs503AndQueuesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	h.queue.cfg.MaxBacklog = 2
	for i := 0; i < 2; i++ {
		if r := h.post(h.admin, `{"event_type":"github.push"}`); r.status != 202 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	}
	r := h.post(h.admin, `{"event_type":"github.push"}`)
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("%d %v %s", r.status, r.header, r.raw)
	}
	if n, _ := h.rdb.XLen(context.Background(), h.stream).Result(); n != 2 {
		t.Fatalf("stream length = %d, want 2", n)
	}
}

func TestIngest_RedisUnreachableIs503(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{RateLimit: -1})
	dead := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", pgtest.FreePort(t)), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { dead.Close() })
	srv := httptest.NewServer(NewIngestHandler(IngestConfig{RateLimit: -1}, NewQueue(dead, QueueConfig{}), h.keys, redis_rate.NewLimiter(dead), nil, nil))
	t.Cleanup(srv.Close)
	h.server = srv
	r := h.post(h.admin, `{"event_type":"github.push"}`)
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if strings.Contains(string(r.raw), "127.0.0.1") {
		t.Errorf("503 leaks the address: %s", r.raw)
	}
}

func TestIngest_DefaultsAndSanitizingReachTheLog(t *testing.T) {
	t.Parallel()
	h := newHarness(t, IngestConfig{})
	h.start(h.writer(WriterConfig{}))
	r := h.post(h.admin, `{"event_id":"defaults-1","event_type":"github.push","metadata":{"password":"hunter2","note":"a\u0000b","nested":[{"X-Api-Key":"k"}]}}`,
		"User-Agent", "test-agent/1.0")
	if r.status != 202 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	h.waitStored(1)
	var ip, ua, md string
	if err := h.pool.QueryRow(context.Background(), "SELECT host(ip_address), user_agent, metadata::text FROM activities WHERE event_id = 'defaults-1'").Scan(&ip, &ua, &md); err != nil {
		t.Fatal(err)
	}
	if ip != "127.0.0.1" || ua != "test-agent/1.0" {
		t.Errorf("ip %q ua %q", ip, ua)
	}
	if strings.Contains(md, "hunter2") || !strings.Contains(md, `"ab"`) || strings.Contains(md, `"k"`) {
		t.Errorf("metadata not sanitized: %s", md)
	}
}

func TestClientIP_TrustsForwardedForOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct{ remote, xff, want string }{
		{"203.0.113.9:1234", "198.51.100.1", "203.0.113.9"},
		{"10.1.2.3:1234", "198.51.100.1", "198.51.100.1"},
		{"10.1.2.3:1234", "198.51.100.1, 10.0.0.7", "198.51.100.1"},
		{"10.1.2.3:1234", "", "10.1.2.3"},
		{"[2001:db8::1]:80", "198.51.100.1", "2001:db8::1"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ClientIP(r, trusted); got != c.want {
			t.Errorf("ClientIP(%s, %q) = %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}
