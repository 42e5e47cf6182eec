package write_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activity-dev/activity/domain"
	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/pgtest"
	"github.com/activity-dev/activity/internal/redistest"
	"github.com/activity-dev/activity/write"
)

// docTime is just after the Segment documentation's example timestamps; the
// handler's clock is set to it so the examples fall in the accepted window.
var docTime = time.Date(2012, 12, 2, 0, 35, 0, 0, time.UTC)

// The Segment HTTP Tracking API documentation's own examples
// (segment.com/docs/connections/sources/catalog/libraries/server/http-api),
// with a messageId added where a test needs one.
const (
	docTrack = `{
  "userId": "019mr8mf4r",
  "event": "Item Purchased",
  "properties": {
    "name": "Leap to Conclusions Mat",
    "revenue": 14.99
  },
  "context": {
    "ip": "24.5.68.47"
  },
  "timestamp": "2012-12-02T00:30:12.984Z",
  "messageId": "022bb90c-bbac-11e4-8dfc-aa07a5b093db"
}`
	docIdentify = `{
  "userId": "019mr8mf4r",
  "traits": {
    "email": "pgibbons@example.com",
    "name": "Peter Gibbons",
    "industry": "Technology"
  },
  "context": {
    "ip": "24.5.68.47"
  },
  "timestamp": "2012-12-02T00:30:08.276Z"
}`
	docBatch = `{
  "batch": [
    {
      "type": "identify",
      "userId": "019mr8mf4r",
      "traits": {
        "email": "jake@yahoo.com",
        "name": "Jake Peterson",
        "age": 26
      },
      "timestamp": "2012-12-02T00:30:12.984Z"
    },
    {
      "type": "track",
      "userId": "019mr8mf4r",
      "event": "Song Played",
      "properties": {
        "name": "Fallin for You",
        "artist": "Dierks Bentley"
      },
      "timestamp": "2012-12-02T00:30:16.984Z"
    },
    {
      "type": "track",
      "userId": "971mj8mk7p",
      "event": "Song Played",
      "properties": {
        "name": "Get Right",
        "artist": "Jennifer Lopez"
      },
      "context": {
        "ip": "2001:db8::7"
      },
      "timestamp": "2012-12-02T00:30:19.984Z"
    }
  ],
  "context": {
    "device": {
      "type": "phone",
      "name": "Apple iPhone 6"
    },
    "ip": "24.5.68.47",
    "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 8_0 like Mac OS X)"
  }
}`
)

// segmentEnv is a Segment handler on a private database and stream, with a
// real writer storing what it queues.
type segmentEnv struct {
	t      *testing.T
	pool   *pgxpool.Pool
	queue  *write.Queue
	srv    *httptest.Server
	ingest string // unscoped ingest key
	read   string
	admin  string
	scoped string // ingest key scoped to scope
	scope  uuid.UUID
}

type segmentEnvOptions struct {
	cfg       write.SegmentConfig
	queue     write.QueueConfig
	noWriter  bool
	realClock bool
}

func newSegmentEnv(t *testing.T, opt segmentEnvOptions) *segmentEnv {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t, rdb)
	qcfg := opt.queue
	qcfg.Stream = prefix + "ingest"
	queue := write.NewQueue(rdb, qcfg)
	keys := auth.NewStore(pool, auth.Config{})
	cfg := opt.cfg
	if !opt.realClock && cfg.Now == nil {
		cfg.Now = func() time.Time { return docTime }
	}
	h, err := write.NewSegmentHandler(cfg, queue, keys, nil, pool, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, method := range []string{http.MethodPost, http.MethodOptions} {
		mux.Handle(method+" /v1/track", h.Track())
		mux.Handle(method+" /v1/identify", h.Identify())
		mux.Handle(method+" /v1/page", h.Page())
		mux.Handle(method+" /v1/screen", h.Screen())
		mux.Handle(method+" /v1/batch", h.Batch())
		mux.Handle(method+" /v1/import", h.Batch())
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	e := &segmentEnv{t: t, pool: pool, queue: queue, srv: srv, scope: uuid.New()}
	for _, k := range []struct {
		dst   *string
		role  auth.Role
		scope []uuid.UUID
	}{{&e.ingest, auth.RoleIngest, nil}, {&e.read, auth.RoleRead, nil}, {&e.admin, auth.RoleAdmin, nil}, {&e.scoped, auth.RoleIngest, []uuid.UUID{e.scope}}} {
		_, secret, err := keys.Create(ctx, string(k.role), k.role, k.scope)
		if err != nil {
			t.Fatal(err)
		}
		*k.dst = secret
	}

	if !opt.noWriter {
		w, err := write.NewWriter(write.WriterConfig{Stream: qcfg.Stream, Group: "writers", Block: 50 * time.Millisecond}, pool, rdb, nil, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = w.Run(wctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return e
}

// post sends body to path with the write key as the Basic-auth username
// (key "" sends no Authorization header).
func (e *segmentEnv) post(path, key, body string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "analytics-go (version: 3.0.0)")
	if key != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(key+":")))
	}
	return e.do(req)
}

func (e *segmentEnv) do(req *http.Request) (int, string) {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// mustSucceed checks a 200 {"success": true}.
func (e *segmentEnv) mustSucceed(status int, body string) {
	e.t.Helper()
	if status != http.StatusOK || strings.TrimSpace(body) != `{"success":true}` {
		e.t.Fatalf("got %d %s, want 200 {\"success\":true}", status, body)
	}
}

// drained waits until the writer has stored and removed every queued entry.
func (e *segmentEnv) drained() {
	e.t.Helper()
	waitFor(e.t, "the writer drains the stream", func() bool {
		n, err := e.queue.Backlog(context.Background())
		return err == nil && n == 0
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		<-tick.C
	}
}

type activityRow struct {
	EventID, EventType, UserID, CommunityID string
	Metadata                                any
	IP, UserAgent                           string
	CreatedAt                               time.Time
}

// activities returns the stored rows, oldest first.
func (e *segmentEnv) activities() []activityRow {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `
		SELECT event_id, event_type, coalesce(user_id::text, ''), coalesce(community_id::text, ''),
		       metadata::text, coalesce(host(ip_address), ''), coalesce(user_agent, ''), created_at
		FROM activities ORDER BY created_at, id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []activityRow
	for rows.Next() {
		var r activityRow
		var meta string
		if err := rows.Scan(&r.EventID, &r.EventType, &r.UserID, &r.CommunityID, &meta, &r.IP, &r.UserAgent, &r.CreatedAt); err != nil {
			e.t.Fatal(err)
		}
		r.Metadata = decodeJSON(e.t, meta)
		r.CreatedAt = r.CreatedAt.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// waitActivities waits until n activities are stored and returns them.
func (e *segmentEnv) waitActivities(n int) []activityRow {
	e.t.Helper()
	var rows []activityRow
	waitFor(e.t, fmt.Sprintf("%d activities are stored", n), func() bool {
		rows = e.activities()
		return len(rows) >= n
	})
	return rows
}

type userRow struct {
	ExternalID, Email *string
}

func (e *segmentEnv) user(id string) userRow {
	e.t.Helper()
	var u userRow
	err := e.pool.QueryRow(context.Background(), `SELECT external_id, email FROM users WHERE id = $1`, id).Scan(&u.ExternalID, &u.Email)
	if err != nil {
		e.t.Fatalf("user %s: %v", id, err)
	}
	return u
}

type failedRow struct {
	Source, Reason, Payload string
	EventID                 *string
}

func (e *segmentEnv) failed() []failedRow {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT source, reason, payload, event_id FROM failed_events ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []failedRow
	for rows.Next() {
		var f failedRow
		if err := rows.Scan(&f.Source, &f.Reason, &f.Payload, &f.EventID); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

func ptr(s string) *string { return &s }

func segmentUser(id string) string { u, _ := domain.SegmentID(id); return u }

func TestSegmentTrack_DocExampleStoredFieldByFieldAndOnce(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{})
	e.mustSucceed(e.post("/v1/track", e.ingest, docTrack))
	rows := e.waitActivities(1)
	want := activityRow{
		EventID:   "022bb90c-bbac-11e4-8dfc-aa07a5b093db",
		EventType: "item_purchased",
		UserID:    segmentUser("019mr8mf4r"),
		Metadata:  decodeJSON(t, `{"name": "Leap to Conclusions Mat", "revenue": 14.99}`),
		IP:        "24.5.68.47",
		UserAgent: "analytics-go (version: 3.0.0)",
		CreatedAt: time.Date(2012, 12, 2, 0, 30, 12, 984000000, time.UTC),
	}
	if !reflect.DeepEqual(rows, []activityRow{want}) {
		t.Fatalf("stored\n%+v\nwant\n%+v", rows, want)
	}
	if u := e.user(want.UserID); !reflect.DeepEqual(u, userRow{ExternalID: ptr("019mr8mf4r")}) {
		t.Errorf("user row: external_id %v email %v", u.ExternalID, u.Email)
	}

	// The same message again (an SDK retry) adds nothing.
	e.mustSucceed(e.post("/v1/track", e.ingest, docTrack))
	e.drained()
	if rows := e.activities(); len(rows) != 1 {
		t.Errorf("after a repeated messageId: %d activities, want 1", len(rows))
	}
}

func TestSegmentIdentify_DocExampleSetsUserRowWithWriteKeyInBody(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{})
	body := strings.Replace(docIdentify, "{", `{"writeKey": "`+e.ingest+`",`, 1)
	e.mustSucceed(e.post("/v1/identify", "", body))
	rows := e.waitActivities(1)
	r := rows[0]
	if _, err := uuid.Parse(r.EventID); err != nil {
		t.Errorf("event_id %q: want a server-assigned UUID (no messageId sent)", r.EventID)
	}
	want := activityRow{
		EventID: r.EventID, EventType: "user.identify", UserID: segmentUser("019mr8mf4r"),
		Metadata: decodeJSON(t, `{"name": "Peter Gibbons", "industry": "Technology"}`),
		IP:       "24.5.68.47", UserAgent: "analytics-go (version: 3.0.0)",
		CreatedAt: time.Date(2012, 12, 2, 0, 30, 8, 276000000, time.UTC),
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("stored\n%+v\nwant\n%+v", r, want)
	}
	u := e.user(want.UserID)
	if !reflect.DeepEqual(u, userRow{ExternalID: ptr("019mr8mf4r"), Email: ptr("pgibbons@example.com")}) {
		t.Errorf("user row: external_id %v email %v", u.ExternalID, u.Email)
	}
	if len(e.failed()) != 0 {
		t.Errorf("dead letters: %+v", e.failed())
	}
}

func TestSegmentBatch_DocExampleMergesBatchContext(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/v1/batch", "/v1/import"} {
		t.Run(strings.TrimPrefix(path, "/v1/"), func(t *testing.T) {
			t.Parallel()
			e := newSegmentEnv(t, segmentEnvOptions{})
			e.mustSucceed(e.post(path, e.ingest, docBatch))
			rows := e.waitActivities(3)
			jake, other := segmentUser("019mr8mf4r"), segmentUser("971mj8mk7p")
			ua := "Mozilla/5.0 (iPhone; CPU iPhone OS 8_0 like Mac OS X)"
			want := []activityRow{
				{EventType: "user.identify", UserID: jake, Metadata: decodeJSON(t, `{"name": "Jake Peterson", "age": 26}`),
					IP: "24.5.68.47", UserAgent: ua, CreatedAt: time.Date(2012, 12, 2, 0, 30, 12, 984000000, time.UTC)},
				{EventType: "song_played", UserID: jake, Metadata: decodeJSON(t, `{"name": "Fallin for You", "artist": "Dierks Bentley"}`),
					IP: "24.5.68.47", UserAgent: ua, CreatedAt: time.Date(2012, 12, 2, 0, 30, 16, 984000000, time.UTC)},
				{EventType: "song_played", UserID: other, Metadata: decodeJSON(t, `{"name": "Get Right", "artist": "Jennifer Lopez"}`),
					IP: "2001:db8::7", UserAgent: ua, CreatedAt: time.Date(2012, 12, 2, 0, 30, 19, 984000000, time.UTC)},
			}
			for i := range rows {
				rows[i].EventID = "" // server-assigned: the examples send no messageId
			}
			if !reflect.DeepEqual(rows, want) {
				t.Fatalf("stored\n%+v\nwant\n%+v", rows, want)
			}
			if u := e.user(jake); !reflect.DeepEqual(u, userRow{ExternalID: ptr("019mr8mf4r"), Email: ptr("jake@yahoo.com")}) {
				t.Errorf("user %s: external_id %v email %v", jake, u.ExternalID, u.Email)
			}
			if u := e.user(other); !reflect.DeepEqual(u, userRow{ExternalID: ptr("971mj8mk7p")}) {
				t.Errorf("user %s: external_id %v email %v", other, u.ExternalID, u.Email)
			}
		})
	}
}

func TestSegmentTrack_CommunityIDMovesToColumn(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{realClock: true})
	cid := uuid.NewString()
	ts := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	body := fmt.Sprintf(`{"batch": [
		{"type": "track", "messageId": "m1", "userId": "%s", "event": "Order Completed", "properties": {"community_id": "%s", "total": 10}, "timestamp": "%s"},
		{"type": "track", "messageId": "m2", "anonymousId": "anon-7", "event": "123 Go", "context": {"groupId": "acme"}, "timestamp": "%s"}
	]}`, strings.ToUpper(cid), cid, ts.Format(time.RFC3339Nano), ts.Add(time.Second).Format(time.RFC3339Nano))
	e.mustSucceed(e.post("/v1/batch", e.ingest, body))
	rows := e.waitActivities(2)
	if r := rows[0]; r.EventID != "m1" || r.EventType != "order_completed" || r.UserID != cid || r.CommunityID != cid ||
		!reflect.DeepEqual(r.Metadata, decodeJSON(t, `{"total": 10}`)) || !r.CreatedAt.Equal(ts) || r.IP != "127.0.0.1" {
		t.Errorf("first row: %+v", r)
	}
	if r := rows[1]; r.EventID != "m2" || r.EventType != "event_123_go" || r.UserID != segmentUser("anon-7") ||
		r.CommunityID != segmentUser("acme") || !reflect.DeepEqual(r.Metadata, map[string]any{}) {
		t.Errorf("second row: %+v", r)
	}
	if u := e.user(cid); u.ExternalID != nil {
		t.Errorf("a UUID userId keeps no external id: %v", *u.ExternalID)
	}
	if u := e.user(segmentUser("anon-7")); u.ExternalID == nil || *u.ExternalID != "anon-7" {
		t.Errorf("anonymousId not kept on the user row: %v", u.ExternalID)
	}
}

func TestSegmentTrack_NonConformingMessageIDMapsToOneEvent(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{})
	odd := "{message id with spaces}"
	body := strings.Replace(docTrack, "022bb90c-bbac-11e4-8dfc-aa07a5b093db", odd, 1)
	e.mustSucceed(e.post("/v1/track", e.ingest, body))
	e.mustSucceed(e.post("/v1/track", e.ingest, body))
	e.drained()
	rows := e.activities()
	if len(rows) != 1 || rows[0].EventID != domain.UUIDv5(domain.SegmentNamespace, odd) {
		t.Fatalf("rows %+v, want one with event_id UUIDv5(messageId)", rows)
	}
}

func TestSegment_AuthenticatesTheWriteKey(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{})
	withBodyKey := func(key string) string {
		return strings.Replace(docTrack, "{", `{"writeKey": "`+key+`",`, 1)
	}
	tests := []struct {
		name   string
		header string // Authorization
		body   string
		want   int
	}{
		{"no key", "", docTrack, 401},
		{"unknown Basic key", "Basic " + base64.StdEncoding.EncodeToString([]byte("nope:")), docTrack, 401},
		{"unknown writeKey", "", withBodyKey("nope"), 401},
		{"read key", "Basic " + base64.StdEncoding.EncodeToString([]byte(e.read+":")), docTrack, 403},
		{"read writeKey", "", withBodyKey(e.read), 403},
		{"ingest Basic key", "Basic " + base64.StdEncoding.EncodeToString([]byte(e.ingest+":")), docTrack, 200},
		{"ingest Basic key without colon", "Basic " + base64.StdEncoding.EncodeToString([]byte(e.ingest)), docTrack, 200},
		{"ingest writeKey", "", withBodyKey(e.ingest), 200},
		{"admin key", "Basic " + base64.StdEncoding.EncodeToString([]byte(e.admin+":")), docTrack, 200},
		{"Bearer ingest key", "Bearer " + e.ingest, docTrack, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/track", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			status, body := e.do(req)
			if status != tt.want {
				t.Fatalf("got %d %s, want %d", status, body, tt.want)
			}
			if status != 200 && !strings.Contains(body, `"status":`) {
				t.Errorf("error is not a problem document: %s", body)
			}
		})
	}
	e.drained()
	if n := len(e.activities()); n != 1 {
		t.Errorf("%d activities, want 1 (one messageId)", n)
	}
	for _, f := range e.failed() {
		if strings.Contains(f.Payload, e.ingest) {
			t.Errorf("a write key reached failed_events: %+v", f)
		}
	}
}

func TestSegment_RefusesBodiesOverTheLimitsOrNotJSON(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{noWriter: true})
	big := func(n int) string { return strings.Repeat("x", n) }
	item := `{"type":"track","userId":"u","event":"x"}`
	many := "[" + strings.Repeat(item+",", 2500) + item + "]"
	tests := []struct {
		name, path, ctype, body string
		want                    int
	}{
		{"track over 32 KiB", "/v1/track", "application/json", `{"userId":"u","event":"x","properties":{"p":"` + big(32768) + `"}}`, 413},
		{"identify over 32 KiB", "/v1/identify", "application/json", `{"userId":"u","traits":{"p":"` + big(32768) + `"}}`, 413},
		{"batch over 500 KB", "/v1/batch", "application/json", `{"batch":[` + strings.Repeat(`{"type":"track","userId":"u","event":"`+big(20000)+`"},`, 25) + item + `]}`, 413},
		{"batch message over 32 KiB", "/v1/batch", "application/json", `{"batch":[` + item + `,{"type":"track","userId":"u","event":"x","properties":{"p":"` + big(32768) + `"}}]}`, 413},
		{"batch of 2501 messages", "/v1/batch", "application/json", `{"batch":` + many + `}`, 400},
		{"not JSON", "/v1/track", "application/json", `{"userId": "u", "event": `, 400},
		{"batch not JSON", "/v1/batch", "application/json", `batch=1`, 400},
		{"invalid UTF-8", "/v1/track", "application/json", "{\"userId\":\"u\xff\",\"event\":\"x\"}", 400},
		{"a form", "/v1/track", "application/x-www-form-urlencoded", item, 415},
		{"text/plain, not JSON", "/v1/track", "text/plain", `userId=u`, 400},
		{"no content type", "/v1/batch", "", `{"batch":[]}`, 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+tt.path, strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			req.SetBasicAuth(e.ingest, "")
			status, body := e.do(req)
			if status != tt.want {
				t.Fatalf("got %d %s, want %d", status, body, tt.want)
			}
		})
	}
	if n, _ := e.queue.Backlog(context.Background()); n != 0 {
		t.Errorf("refused requests queued %d entries", n)
	}
	if f := e.failed(); len(f) != 0 {
		t.Errorf("refused requests recorded dead letters: %+v", f)
	}
}

// TestSegment_AcceptsMessagesUpTo32KiB: "32 KB" as analytics-python and
// analytics-node count it (32,768 bytes), so a message they send is never
// refused with its whole batch.
func TestSegment_AcceptsMessagesUpTo32KiB(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{noWriter: true})
	msg := `{"type":"track","userId":"u","event":"x","properties":{"p":"` + strings.Repeat("x", 32700-60) + `"}}`
	for path, body := range map[string]string{"/v1/track": msg, "/v1/batch": `{"batch":[` + msg + `]}`} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(e.ingest, "")
		if status, out := e.do(req); status != http.StatusOK {
			t.Errorf("%s: a %d-byte message: %d %s, want 200", path, len(msg), status, out)
		}
	}
	if n, _ := e.queue.Backlog(context.Background()); n != 2 {
		t.Errorf("queued %d entries, want 2", n)
	}
}

// TestSegment_BrowserSDKsCanSend: analytics.js posts its JSON as
// text/plain with the write key in the body, from another site's page, and
// RudderStack's JavaScript SDK sends a preflight first; both need the CORS
// headers to read the answer (else they retry).
func TestSegment_BrowserSDKsCanSend(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{})
	const origin = "https://shop.example"

	pre, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/v1/batch", nil)
	pre.Header.Set("Origin", origin)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "authorization,content-type,anonymousid")
	res, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight: %d, want 204 (no key is needed for it)", res.StatusCode)
	}
	for h, want := range map[string]string{
		"Access-Control-Allow-Origin":      origin,
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "POST, OPTIONS",
		"Access-Control-Allow-Headers":     "authorization,content-type,anonymousid",
	} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("preflight %s = %q, want %q", h, got, want)
		}
	}

	body := `{"writeKey":"` + e.ingest + `","type":"track","event":"Page Viewed","anonymousId":"browser-1","messageId":"ajs-1"}`
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/track", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	req.Header.Set("Origin", origin)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	e.mustSucceed(res.StatusCode, string(b))
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, origin)
	}
	if f := e.failed(); len(f) != 0 {
		t.Fatalf("dead letters: %+v", f)
	}
	if rows := e.waitActivities(1); rows[0].EventType != "page_viewed" {
		t.Errorf("stored %+v, want one page_viewed", rows)
	}
}

// TestSegment_PageAndScreenCalls: RudderStack's JavaScript SDK sends page
// (and screen) calls on their own, to /v1/page and /v1/screen; they map as
// inside a batch.
func TestSegment_PageAndScreenCalls(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{})
	for path, body := range map[string]string{
		"/v1/page":   `{"userId":"u1","messageId":"page-1","name":"Home","properties":{"path":"/"}}`,
		"/v1/screen": `{"userId":"u1","messageId":"screen-1","name":"Cart"}`,
	} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(e.ingest, "")
		e.mustSucceed(e.do(req))
	}
	if f := e.failed(); len(f) != 0 {
		t.Fatalf("dead letters: %+v", f)
	}
	got := map[string]any{}
	for _, r := range e.waitActivities(2) {
		got[r.EventType] = r.Metadata
	}
	want := map[string]any{
		"page.viewed":   map[string]any{"name": "Home", "path": "/"},
		"screen.viewed": map[string]any{"name": "Cart"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored %v, want %v", got, want)
	}
}

func TestSegmentBatch_GzipBodyAccepted(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(docBatch))
	_ = zw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/batch", &buf)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.SetBasicAuth(e.ingest, "")
	e.mustSucceed(e.do(req))
	e.waitActivities(3)
}

func TestSegmentBatch_InvalidMessagesGoToFailedEventsAndTheRestIsStored(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{})
	items := []string{
		`{"type":"track","messageId":"ok-1","userId":"u1","event":"Song Played","timestamp":"2012-12-02T00:30:16.984Z"}`,
		`{"type":"track","messageId":"no-event","userId":"u1","timestamp":"2012-12-02T00:30:16.984Z"}`,
		`{"type":"alias","messageId":"alias-1","previousId":"a","userId":"u1"}`,
		`{"type":"track","messageId":"old","userId":"u1","event":"x","timestamp":"2012-10-01T00:00:00Z"}`,
		`{"type":"track","messageId":"bad-ip","userId":"u1","event":"x","context":{"ip":"not-an-ip"}}`,
		`{"type":"identify","messageId":"anon","traits":{"email":"a@example.com"}}`,
		`"just a string"`,
		`{"type":"track","messageId":"ok-2","anonymousId":"a1","event":"Checkout Step 2"}`,
	}
	e.mustSucceed(e.post("/v1/batch", e.ingest, `{"batch":[`+strings.Join(items, ",")+`]}`))
	rows := e.waitActivities(2)
	if len(rows) != 2 || rows[0].EventID != "ok-1" || rows[1].EventID != "ok-2" || rows[1].EventType != "checkout_step_2" {
		t.Fatalf("stored %+v, want ok-1 and ok-2", rows)
	}
	want := []failedRow{
		{Reason: "message 1 of the batch: event is required for a track message", EventID: ptr("no-event")},
		{Reason: `message 2 of the batch: type "alias" is not supported; send track, identify, page or screen`},
		{Reason: "message 3 of the batch: timestamp is older than the accepted window of 30 days", EventID: ptr("old")},
		{Reason: "message 4 of the batch: context.ip must be an IPv4 or IPv6 address (e.g. 203.0.113.7 or 2001:db8::1)", EventID: ptr("bad-ip")},
		{Reason: "message 5 of the batch: userId is required (or anonymousId)", EventID: ptr("anon")},
		{Reason: "message 6 of the batch: the message must be a JSON object"},
	}
	got := e.failed()
	if len(got) != len(want) {
		t.Fatalf("dead letters %+v, want %d", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Source != "segment" || g.Reason != w.Reason || !reflect.DeepEqual(g.EventID, w.EventID) || g.Payload != items[i+1] {
			t.Errorf("dead letter %d:\n got source %q reason %q event_id %v payload %s\nwant reason %q event_id %v payload %s",
				i, g.Source, g.Reason, g.EventID, g.Payload, w.Reason, w.EventID, items[i+1])
		}
	}
}

// TestSegmentTrack_InvalidMessageWithNULInMessageIdIsDeadLetteredWith200:
// the messageId goes to failed_events.event_id, a text column; a NUL in it
// made the insert fail and the request a 503 ("retry later", forever).
func TestSegmentTrack_InvalidMessageWithNULInMessageIdIsDeadLetteredWith200(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{noWriter: true})
	e.mustSucceed(e.post("/v1/track", e.ingest, `{"type":"track","messageId":"m\u0000-1","userId":"u"}`))
	got := e.failed()
	if len(got) != 1 || got[0].EventID == nil || *got[0].EventID != "m-1" {
		t.Fatalf("dead letters %+v, want one with event_id m-1", got)
	}
}

func TestSegmentTrack_InvalidMessageIsDeadLetteredWith200(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{noWriter: true})
	body := `{"writeKey":"` + e.ingest + `","messageId":"m","userId":"u","properties":{"a":1}}`
	e.mustSucceed(e.post("/v1/track", "", body))
	got := e.failed()
	if len(got) != 1 || got[0].Reason != "event is required for a track message" || got[0].Payload != `{"messageId":"m","userId":"u","properties":{"a":1}}` {
		t.Fatalf("dead letters %+v", got)
	}
	if n, _ := e.queue.Backlog(context.Background()); n != 0 {
		t.Errorf("an invalid message was queued")
	}
}

func TestSegmentBatch_NotABatchIsOneDeadLetter(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{noWriter: true})
	e.mustSucceed(e.post("/v1/batch", e.ingest, `{"batch": {"type": "track"}}`))
	got := e.failed()
	if len(got) != 1 || got[0].Reason != `"batch" must be an array of messages` || got[0].Payload != `{"batch": {"type": "track"}}` {
		t.Fatalf("dead letters %+v", got)
	}
}

func TestSegmentBatch_ScopedKeyDeadLettersMessagesOutsideItsCommunities(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{})
	other := uuid.NewString()
	body := fmt.Sprintf(`{"batch":[
		{"type":"track","messageId":"in","userId":"u","event":"x","properties":{"community_id":"%s"},"timestamp":"2012-12-02T00:30:00Z"},
		{"type":"track","messageId":"out","userId":"u","event":"x","context":{"groupId":"%s"},"timestamp":"2012-12-02T00:30:00Z"},
		{"type":"identify","messageId":"none","userId":"u","traits":{},"timestamp":"2012-12-02T00:30:00Z"}
	]}`, e.scope, other)
	e.mustSucceed(e.post("/v1/batch", e.scoped, body))
	rows := e.waitActivities(1)
	if len(rows) != 1 || rows[0].EventID != "in" || rows[0].CommunityID != e.scope.String() {
		t.Fatalf("stored %+v", rows)
	}
	got := e.failed()
	scope := "this key is limited to communities " + e.scope.String()
	if len(got) != 2 || got[0].Reason != "message 1 of the batch: community_id is outside this key's scope: "+scope ||
		got[1].Reason != "message 2 of the batch: community_id is required (properties.community_id or context.groupId): "+scope {
		t.Fatalf("dead letters %+v", got)
	}
}

func TestSegmentBatch_QueueFullIs503AndRecordsNothing(t *testing.T) {
	t.Parallel()
	e := newSegmentEnv(t, segmentEnvOptions{noWriter: true, queue: write.QueueConfig{MaxBacklog: 1}})
	if _, err := e.queue.Append(context.Background(), []domain.Event{{EventID: "filler", EventType: "x"}}); err != nil {
		t.Fatal(err)
	}
	body := `{"batch":[
		{"type":"track","messageId":"ok","userId":"u","event":"x","timestamp":"2012-12-02T00:30:00Z"},
		{"type":"track","messageId":"bad","userId":"u"}
	]}`
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/batch", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(e.ingest, "")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d Retry-After %q, want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if n, _ := e.queue.Backlog(context.Background()); n != 1 {
		t.Errorf("backlog %d, want only the filler entry", n)
	}
	if f := e.failed(); len(f) != 0 {
		t.Errorf("a refused request recorded dead letters: %+v", f)
	}
}
