package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/activity-dev/activity/domain"
	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/pgtest"
	"github.com/activity-dev/activity/internal/redistest"
)

// What a hostile request may be answered with, besides one exact status.
const (
	any4xx   = -1 // any 4xx, as a problem
	under500 = -2 // any status below 500; a 4xx is a problem
	byHTTP   = -3 // net/http refuses the request before the app sees it: any 4xx, in its own format
)

// hostile is one request of the bad-input corpus.
type hostile struct {
	name    string
	method  string
	path    string // the request-URI as sent, query included: escape it yourself
	body    []byte
	ctype   string // Content-Type; "" is application/json when there is a body, "-" none
	enc     string // Content-Encoding
	headers map[string]string
	as      string // "ingest", "read", "admin": that key as Bearer; "segment": the ingest key as Basic-auth user; "": none
	want    int    // a status, or any4xx, under500, byHTTP

	// eventID names the one event of the body: when the request is answered
	// 2xx it must be stored exactly once (and pass stored, when set), when
	// 4xx never.
	eventID string
	stored  func(a feedActivity) string // "" when a stored event is right
}

// feedActivity is an activity of GET /api/v1/activities.
type feedActivity struct {
	EventID     string          `json:"event_id"`
	EventType   string          `json:"event_type"`
	UserID      *string         `json:"user_id"`
	CommunityID *string         `json:"community_id"`
	EntityType  *string         `json:"entity_type"`
	EntityID    *string         `json:"entity_id"`
	Metadata    json.RawMessage `json:"metadata"`
}

// corpusRun sends the corpus to a live app.
type corpusRun struct {
	base   string
	client *http.Client // follows no redirect: a 301 is an answer
	keys   map[string]string
}

func newCorpusRun(a testApp, adminKey string) *corpusRun {
	client := *a.client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &corpusRun{base: a.url, client: &client, keys: map[string]string{"admin": adminKey}}
}

func (c *corpusRun) send(h hostile) (int, http.Header, []byte, error) {
	var rd io.Reader
	if h.body != nil {
		rd = bytes.NewReader(h.body)
	}
	req, err := http.NewRequest(h.method, c.base, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	// The request-URI goes out exactly as written, bad escapes included.
	req.URL.Opaque, req.URL.RawQuery, _ = strings.Cut(h.path, "?")
	switch {
	case h.ctype == "-":
	case h.ctype != "":
		req.Header.Set("Content-Type", h.ctype)
	case h.body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	if h.enc != "" {
		req.Header.Set("Content-Encoding", h.enc)
	}
	switch h.as {
	case "":
	case "segment":
		req.SetBasicAuth(c.keys["ingest"], "")
	default:
		req.Header.Set("Authorization", "Bearer "+c.keys[h.as])
	}
	for k, v := range h.headers {
		req.Header[k] = []string{v}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body, err
}

// check sends h and reports an answer h does not allow. It returns the status.
func (c *corpusRun) check(t testing.TB, h hostile) int {
	t.Helper()
	status, header, body, err := c.send(h)
	if err != nil {
		t.Errorf("%s %s: %v", h.method, shortPath(h.path), err)
		return 0
	}
	if status >= 500 {
		t.Errorf("%s %s = %d, a server error for bad input: %s", h.method, shortPath(h.path), status, truncate(body))
		return status
	}
	switch h.want {
	case any4xx, byHTTP:
		if status < 400 {
			t.Errorf("%s %s = %d, want a 4xx: %s", h.method, shortPath(h.path), status, truncate(body))
		}
	case under500:
	default:
		if status != h.want {
			t.Errorf("%s %s = %d, want %d: %s", h.method, shortPath(h.path), status, h.want, truncate(body))
		}
	}
	if status >= 400 && h.want != byHTTP {
		if msg := problemMistake(status, header, body); msg != "" {
			t.Errorf("%s %s = %d: %s: %s", h.method, shortPath(h.path), status, msg, truncate(body))
		}
	}
	return status
}

// problemMistake says how an error answer is not a problem a person can act
// on ("" when it is one).
func problemMistake(status int, header http.Header, body []byte) string {
	mt, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil || mt != "application/problem+json" {
		return fmt.Sprintf("Content-Type %q, want application/problem+json", header.Get("Content-Type"))
	}
	var p struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return "the problem is not JSON: " + err.Error()
	}
	switch {
	case p.Status != status:
		return fmt.Sprintf("the problem's status is %d", p.Status)
	case strings.TrimSpace(p.Detail) == "":
		return "the problem has no detail"
	case strings.Contains(strings.ToLower(p.Detail), "sqlstate"), strings.Contains(p.Detail, "goroutine "):
		return "the problem leaks internals"
	}
	return ""
}

func shortPath(path string) string {
	if len(path) > 160 {
		return fmt.Sprintf("%s... (%d bytes)", path[:160], len(path))
	}
	return path
}

// feed returns every activity the admin key sees with the given filters.
func (c *corpusRun) feed(query string) ([]feedActivity, error) {
	var all []feedActivity
	cursor := ""
	for range 100 {
		path := "/api/v1/activities?limit=500&" + query
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		status, _, body, err := c.send(hostile{method: http.MethodGet, path: path, as: "admin"})
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("GET %s = %d: %s", path, status, truncate(body))
		}
		var page struct {
			Activities []feedActivity `json:"activities"`
			NextCursor *string        `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Activities...)
		if page.NextCursor == nil {
			return all, nil
		}
		cursor = *page.NextCursor
	}
	return nil, errors.New("the feed did not end within 100 pages")
}

func (c *corpusRun) createKey(t *testing.T, role string) string {
	t.Helper()
	status, _, body, err := c.send(hostile{method: http.MethodPost, path: "/api/v1/admin/keys", as: "admin",
		body: []byte(`{"name":"corpus ` + role + `","role":"` + role + `"}`)})
	var k struct{ Key string }
	if err != nil || status != http.StatusCreated || json.Unmarshal(body, &k) != nil {
		t.Fatalf("create a %s key: %d %v %s", role, status, err, truncate(body))
	}
	return k.Key
}

// TestCorpus_HostileInputsGet4xxProblemsNever5xx sends the bad-input corpus
// to the real app (API, writer, projectors, scheduler): every request gets a
// 4xx problem with a detail, or the 2xx its input deserves (SQL text in
// metadata is data), never a 5xx; what was accepted is stored exactly once,
// sanitized, what was refused never; a mixed batch keeps every valid event;
// and the server still answers afterwards.
func TestCorpus_HostileInputsGet4xxProblemsNever5xx(t *testing.T) {
	t.Parallel()
	dbURL, redisURL := pgtest.NewURL(t), privateRedisDB(t, redistest.URL(t))
	adminKey := auth.NewSecret()
	app := startApp(t, config{DatabaseURL: dbURL, RedisURL: redisURL, AdminKey: adminKey, RateLimit: -1}, true)
	c := newCorpusRun(app, adminKey)
	c.keys["ingest"] = c.createKey(t, "ingest")
	c.keys["read"] = c.createKey(t, "read")
	ids := newCorpusIDs()

	// The mixed batch goes first, so the writer works while the corpus runs.
	mixed, valid := mixedBatch(ids)
	status, _, body, err := c.send(hostile{method: http.MethodPost, path: "/api/v1/events", as: "ingest", body: mixed})
	var answer struct {
		Accepted int `json:"accepted"`
		Rejected []struct {
			Index int `json:"index"`
		} `json:"rejected"`
	}
	if err != nil || status != http.StatusAccepted || json.Unmarshal(body, &answer) != nil {
		t.Fatalf("mixed batch: %d %v %s", status, err, truncate(body))
	}
	wantRejected := 0
	for i, v := range valid {
		if !v {
			wantRejected++
			if !slices.ContainsFunc(answer.Rejected, func(r struct {
				Index int `json:"index"`
			}) bool {
				return r.Index == i
			}) {
				t.Errorf("mixed batch: invalid event %d is not among the rejected", i)
			}
		}
	}
	if answer.Accepted != len(valid)-wantRejected || len(answer.Rejected) != wantRejected {
		t.Errorf("mixed batch: accepted %d, rejected %d; want %d and %d: %s", answer.Accepted, len(answer.Rejected), len(valid)-wantRejected, wantRejected, truncate(body))
	}

	corpus := slices.Concat(ingestCorpus(ids), segmentCorpus(ids), adminCorpus(), transportCorpus(ids))
	statuses := make([]int, len(corpus))
	for i, h := range corpus {
		t.Run(h.name, func(t *testing.T) { statuses[i] = c.check(t, h) })
	}

	// Every accepted event is stored once and as sanitized; no refused one is.
	mustStore := map[string]hostile{}
	mustNot := map[string]string{}
	for i, h := range corpus {
		switch {
		case h.eventID == "":
		case statuses[i] >= 200 && statuses[i] < 300:
			mustStore[h.eventID] = h
		case statuses[i] >= 400:
			mustNot[h.eventID] = h.name
		}
	}
	var got []feedActivity
	stored := func() bool {
		if got, err = c.feed(""); err != nil {
			return false
		}
		have := map[string]bool{}
		for _, a := range got {
			have[a.EventID] = true
		}
		for id := range mustStore {
			if !have[id] {
				return false
			}
		}
		n := 0
		for _, a := range got {
			if a.CommunityID != nil && *a.CommunityID == ids.mixed {
				n++
			}
		}
		return n >= answer.Accepted
	}
	if !eventually(15*time.Second, stored) {
		t.Errorf("not every accepted event was stored within 15s (last error: %v)", err)
	}
	byID := map[string][]feedActivity{}
	var mixedStored []feedActivity
	for _, a := range got {
		byID[a.EventID] = append(byID[a.EventID], a)
		if a.CommunityID != nil && *a.CommunityID == ids.mixed {
			mixedStored = append(mixedStored, a)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(mustStore)) {
		h := mustStore[id]
		switch as := byID[id]; {
		case len(as) == 0:
			t.Errorf("%s: event %s was accepted but is not in the log", h.name, id)
		case len(as) > 1:
			t.Errorf("%s: event %s is in the log %d times", h.name, id, len(as))
		case h.stored != nil:
			if msg := h.stored(as[0]); msg != "" {
				t.Errorf("%s: event %s is stored wrong: %s", h.name, id, msg)
			}
		}
	}
	for id, name := range mustNot {
		if len(byID[id]) > 0 {
			t.Errorf("%s: refused, yet event %s is in the log", name, id)
		}
	}
	// The mixed batch: its valid events once each, none of its invalid ones.
	if len(mixedStored) != answer.Accepted {
		t.Errorf("mixed batch: %d activities stored, want the %d accepted", len(mixedStored), answer.Accepted)
	}
	for _, a := range mixedStored {
		if strings.HasPrefix(a.EventID, "mix-bad-") {
			t.Errorf("mixed batch: invalid event %s is in the log", a.EventID)
		}
		if strings.HasPrefix(a.EventID, "mix-ok-") && len(byID[a.EventID]) != 1 {
			t.Errorf("mixed batch: event %s is in the log %d times", a.EventID, len(byID[a.EventID]))
		}
	}
	for i := range valid {
		if id := fmt.Sprintf("mix-ok-%d", i); valid[i] && len(byID[id]) != 1 {
			t.Errorf("mixed batch: valid event %s is in the log %d times, want once", id, len(byID[id]))
		}
	}

	// The read side, with cursors the feed really returned.
	readCases := readCorpus(ids, c.cursors(t))
	for _, h := range readCases {
		t.Run(h.name, func(t *testing.T) { c.check(t, h) })
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		if status, _, body, err := c.send(hostile{method: http.MethodGet, path: path}); err != nil || status != http.StatusOK {
			t.Errorf("after the corpus, GET %s = %d %v %s", path, status, err, truncate(body))
		}
	}
	byStatus := map[int]int{}
	for _, s := range statuses {
		byStatus[s]++
	}
	t.Logf("%d hostile requests (%d after the feed's cursors; answers before them by status: %v), %d events checked in the log",
		len(corpus)+len(readCases)+1, len(readCases), byStatus, len(mustStore)+len(mustNot)+len(valid))
}

// cursors returns a real next_cursor of the unfiltered feed.
func (c *corpusRun) cursors(t *testing.T) string {
	t.Helper()
	status, _, body, err := c.send(hostile{method: http.MethodGet, path: "/api/v1/activities?limit=1", as: "read"})
	var page struct {
		NextCursor *string `json:"next_cursor"`
	}
	if err != nil || status != http.StatusOK || json.Unmarshal(body, &page) != nil || page.NextCursor == nil {
		t.Fatalf("GET /api/v1/activities?limit=1 gave no next_cursor: %d %v %s", status, err, truncate(body))
	}
	return *page.NextCursor
}

// corpusIDs are the ids the corpus's valid parts use.
type corpusIDs struct {
	user, community, mixed string
	next                   int
}

func newCorpusIDs() *corpusIDs {
	return &corpusIDs{user: uuid.NewString(), community: uuid.NewString(), mixed: uuid.NewString()}
}

// eventID returns a fresh event id for a corpus event.
func (ids *corpusIDs) eventID() string {
	ids.next++
	return fmt.Sprintf("corpus-%d", ids.next)
}

// The strings a careless query builder would run as SQL (or a shell, or a
// template): each is data here.
var injections = []string{
	"'; DROP TABLE activities; --",
	"1 OR 1=1",
	"' OR '1'='1",
	"1; SELECT pg_sleep(10)",
	"$$",
	"$tag$ select 1 $tag$",
	`\`,
	`\\'`,
	"%",
	"%s%n%x",
	"_",
	`"`,
	"`id`",
	"); DELETE FROM api_keys; --",
	"../../etc/passwd",
	"{{7*7}}",
	"<script>alert(1)</script>",
}

func jstr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// object renders members (name → raw JSON) as a JSON object in name order;
// a member whose value is "" is left out.
func jsonObject(members map[string]string) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, k := range slices.Sorted(maps.Keys(members)) {
		if members[k] == "" {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(jstr(k))
		b.WriteByte(':')
		b.WriteString(members[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// event is a valid github.push event with id, changed by members (raw JSON;
// "" removes one).
func (ids *corpusIDs) event(id string, members map[string]string) []byte {
	m := map[string]string{
		"event_id": jstr(id), "event_type": `"github.push"`,
		"user_id": jstr(ids.user), "community_id": jstr(ids.community),
	}
	maps.Copy(m, members)
	return jsonObject(m)
}

func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// gzipBomb is a small gzip body that decodes to an event of n bytes.
func gzipBomb(n int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = io.WriteString(zw, `{"event_type":"webhook.triggered","metadata":{"pad":"`)
	chunk := bytes.Repeat([]byte{'0'}, 64<<10)
	for written := 0; written < n; written += len(chunk) {
		_, _ = zw.Write(chunk)
	}
	_, _ = io.WriteString(zw, `"}}`)
	_ = zw.Close()
	return buf.Bytes()
}

// malformedBody is a body that is not a usable JSON document.
type malformedBody struct {
	name string
	body string
	// syntax: not UTF-8 JSON at all, so every JSON endpoint refuses it.
	syntax bool
}

var malformedBodies = []malformedBody{
	{"truncated", `{"event_type":"user.login","user_id":"`, true},
	{"truncated after a colon", `{"event_type":`, true},
	{"truncated batch", `{"events":[{"event_type":"webhook.triggered"},`, true},
	{"trailing comma in an object", `{"event_type":"webhook.triggered",}`, true},
	{"trailing comma in an array", `{"events":[{"event_type":"webhook.triggered"},]}`, true},
	{"single quotes", `{'event_type':'webhook.triggered'}`, true},
	{"unquoted key", `{event_type:"webhook.triggered"}`, true},
	{"line comment", "{\"event_type\":\"webhook.triggered\" // a comment\n}", true},
	{"block comment", `{/* a comment */"event_type":"webhook.triggered"}`, true},
	{"NaN", `{"event_type":"webhook.triggered","metadata":{"n":NaN}}`, true},
	{"Infinity", `{"event_type":"webhook.triggered","metadata":{"n":Infinity}}`, true},
	{"-Infinity", `{"event_type":"webhook.triggered","metadata":{"n":-Infinity}}`, true},
	{"hex number", `{"event_type":"webhook.triggered","metadata":{"n":0x10}}`, true},
	{"leading zero", `{"event_type":"webhook.triggered","metadata":{"n":01}}`, true},
	{"plus sign", `{"event_type":"webhook.triggered","metadata":{"n":+1}}`, true},
	{"bad escape", `{"event_type":"webhook.triggered","metadata":{"q":"\x"}}`, true},
	{"short unicode escape", `{"event_type":"webhook.triggered","metadata":{"q":"\u12"}}`, true},
	{"BOM prefix", "\xEF\xBB\xBF{\"event_type\":\"webhook.triggered\"}", true},
	{"raw NUL after the object", "{\"event_type\":\"webhook.triggered\"}\x00", true},
	{"raw NUL inside a string", "{\"event_type\":\"webhook.triggered\",\"entity_id\":\"a\x00b\"}", true},
	{"raw NUL in a metadata key", "{\"event_type\":\"webhook.triggered\",\"metadata\":{\"a\x00b\":1}}", true},
	{"raw control character in a string", "{\"event_type\":\"webhook.triggered\",\"entity_id\":\"a\x07b\"}", true},
	{"raw newline in a string", "{\"event_type\":\"webhook.triggered\",\"entity_id\":\"a\nb\"}", true},
	{"invalid UTF-8 in a string", "{\"event_type\":\"webhook.triggered\",\"metadata\":{\"q\":\"\xff\xfe\"}}", true},
	{"invalid UTF-8 in a key", "{\"event_type\":\"webhook.triggered\",\"metadata\":{\"\xff\":1}}", true},
	{"invalid UTF-8 outside strings", "\xff{\"event_type\":\"webhook.triggered\"}", true},
	{"overlong UTF-8", "{\"event_type\":\"webhook.triggered\",\"metadata\":{\"q\":\"\xc0\xaf\"}}", true},
	{"UTF-8 encoded surrogate", "{\"event_type\":\"webhook.triggered\",\"metadata\":{\"q\":\"\xed\xa0\x80\"}}", true},
	{"truncated UTF-8", "{\"event_type\":\"webhook.triggered\",\"metadata\":{\"q\":\"\xe2\x82\"}}", true},
	{"two objects", `{"event_type":"webhook.triggered"} {"event_type":"webhook.triggered"}`, true},
	{"empty", ``, true},
	{"whitespace", " \n\t ", true},
	{"10,000 [", strings.Repeat("[", 10000), true},
	{"10,000 {", strings.Repeat(`{"a":`, 10000), true},
	{"10,000 [ balanced", strings.Repeat("[", 10000) + strings.Repeat("]", 10000), false},
	{"10,000 { balanced", nested(10000), false},
	{"100,000 [ balanced", strings.Repeat("[", 100000) + strings.Repeat("]", 100000), false},
	{"null", `null`, false},
	{"an array", `[{"event_type":"webhook.triggered"}]`, false},
	{"a string", `"webhook.triggered"`, false},
	{"a number", `1e999`, false},
	{"true", `true`, false},
	{"empty object", `{}`, false},
	{"duplicate key", `{"event_type":"webhook.triggered","event_type":"user.signup"}`, false},
	{"events not an array", `{"events":{"event_type":"webhook.triggered"}}`, false},
	{"events null", `{"events":null}`, false},
	{"events empty", `{"events":[]}`, false},
	{"events and event fields", `{"events":[{"event_type":"webhook.triggered"}],"event_type":"webhook.triggered"}`, false},
	{"events of non-objects only", `{"events":[1,"x",null,[],true]}`, false},
	{"1001 events", `{"events":[` + strings.Repeat(`{"event_type":"webhook.triggered"},`, 1000) + `{"event_type":"webhook.triggered"}]}`, false},
	{"metadata 10,000 levels", `{"event_type":"webhook.triggered","metadata":` + nested(10000) + `}`, false},
	{"metadata 10,000 [", `{"event_type":"webhook.triggered","metadata":{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}}`, false},
}

// fieldValue is a hostile value for an event field.
type fieldValue struct {
	name string
	raw  string // raw JSON
	// free: an acceptable value of a free-text field (entity_type,
	// entity_id, user_agent), stored as is.
	free bool
	want int // for the other fields; 0: any4xx
}

func fieldValues() []fieldValue {
	var vs []fieldValue
	for _, s := range injections {
		vs = append(vs, fieldValue{name: s, raw: jstr(s), free: true})
	}
	return append(vs,
		fieldValue{name: `\u0000`, raw: `"a\u0000b"`},
		fieldValue{name: "only \\u0000", raw: `"\u0000"`},
		fieldValue{name: `\u0007`, raw: `"a\u0007b"`},
		fieldValue{name: `\u001b escape sequence`, raw: `"\u001b[31mred"`},
		fieldValue{name: "lone high surrogate", raw: `"a\ud800b"`, want: under500},
		fieldValue{name: "lone low surrogate", raw: `"\udfff"`, want: under500},
		fieldValue{name: "reversed surrogates", raw: `"\udc00\ud800"`, want: under500},
		fieldValue{name: "raw invalid UTF-8", raw: "\"a\xff\xfeb\""},
		fieldValue{name: "raw NUL", raw: "\"a\x00b\""},
		fieldValue{name: "10,000 characters", raw: jstr(strings.Repeat("x", 10000))},
		fieldValue{name: "100,000 characters", raw: jstr(strings.Repeat("é", 100000))},
		fieldValue{name: "empty string", raw: `""`, want: under500},
		fieldValue{name: "number", raw: `123`},
		fieldValue{name: "1e999", raw: `1e999`},
		fieldValue{name: "100-digit integer", raw: strings.Repeat("9", 100)},
		fieldValue{name: "-0", raw: `-0`},
		fieldValue{name: "true", raw: `true`},
		fieldValue{name: "array", raw: `["x"]`},
		fieldValue{name: "object", raw: `{"x":1}`},
		fieldValue{name: "null", raw: `null`, want: under500},
	)
}

// eventFields are the event's fields; free ones take any short text.
var eventFields = []struct {
	name string
	free bool
}{
	{"event_id", false}, {"event_type", false}, {"user_id", false}, {"community_id", false},
	{"entity_type", true}, {"entity_id", true}, {"occurred_at", false}, {"ip_address", false}, {"user_agent", true},
}

// metadataValue is a hostile metadata value (or key) and what is stored.
type metadataValue struct {
	name string
	raw  string // raw JSON
	want int    // default 202
	// stored is the value as stored (decoded); nil: whatever it is.
	stored any
}

func metadataValues() []metadataValue {
	var vs []metadataValue
	for _, s := range injections {
		vs = append(vs, metadataValue{name: s, raw: jstr(s), stored: s})
	}
	return append(vs,
		metadataValue{name: `\u0000`, raw: `"a\u0000b"`, stored: "ab"},
		metadataValue{name: "only \\u0000", raw: `"\u0000\u0000"`, stored: ""},
		metadataValue{name: "control characters", raw: `"a\u0001\u0007\u001b\u007fb\tc\nd"`, stored: "ab\tc\nd"},
		metadataValue{name: "lone high surrogate", raw: `"a\ud800b"`, want: under500},
		metadataValue{name: "lone low surrogate", raw: `"\udfff"`, want: under500},
		metadataValue{name: "raw invalid UTF-8", raw: "\"a\xff\xfeb\"", want: any4xx},
		metadataValue{name: "raw NUL", raw: "\"a\x00b\"", want: any4xx},
		metadataValue{name: "10,000 characters", raw: jstr(strings.Repeat("x", 10000)), stored: strings.Repeat("x", 2048)},
		metadataValue{name: "100,000 characters", raw: jstr(strings.Repeat("x", 100000)), want: under500},
		metadataValue{name: "1e999", raw: `1e999`, want: under500},
		metadataValue{name: "-1e999", raw: `-1e999`, want: under500},
		metadataValue{name: "1e-999", raw: `1e-999`, want: under500},
		metadataValue{name: "1e999999", raw: `1e999999`, want: under500},
		metadataValue{name: "1e-999999", raw: `1e-999999`, want: under500},
		metadataValue{name: "1E+131072", raw: `1E+131072`, want: under500},
		metadataValue{name: "100-digit integer", raw: strings.Repeat("9", 100), want: under500},
		metadataValue{name: "-0", raw: `-0`, want: under500},
		metadataValue{name: "true", raw: `true`, stored: true},
		metadataValue{name: "null", raw: `null`, stored: nil},
		metadataValue{name: "array of injections", raw: `["'; DROP TABLE activities; --","a\u0000b"]`, stored: []any{"'; DROP TABLE activities; --", "ab"}},
	)
}

// metadataIs checks the stored metadata against want.
func metadataIs(want map[string]any) func(feedActivity) string {
	return func(a feedActivity) string {
		var got map[string]any
		if err := json.Unmarshal(a.Metadata, &got); err != nil {
			return "metadata is not an object: " + err.Error()
		}
		if !reflect.DeepEqual(got, want) {
			return fmt.Sprintf("metadata = %s, want %v", truncate(a.Metadata), want)
		}
		return ""
	}
}

func ingestCase(name string, body []byte) hostile {
	return hostile{name: "events/" + name, method: http.MethodPost, path: "/api/v1/events", as: "ingest", body: body, want: any4xx}
}

// ingestCorpus is the corpus of POST /api/v1/events.
func ingestCorpus(ids *corpusIDs) []hostile {
	var cs []hostile
	for _, m := range malformedBodies {
		cs = append(cs, ingestCase("malformed/"+m.name, []byte(m.body)))
	}

	// A hostile value in every field.
	for _, f := range eventFields {
		for _, v := range fieldValues() {
			id := ids.eventID()
			h := ingestCase(f.name+"/"+v.name, ids.event(id, map[string]string{f.name: v.raw}))
			if f.name != "event_id" {
				h.eventID = id
			}
			switch {
			case f.name == "event_id" && v.name == "_":
				h.want = http.StatusAccepted // a valid event id
			case f.free && v.free:
				h.want = http.StatusAccepted
				var want string
				_ = json.Unmarshal([]byte(v.raw), &want)
				field := f.name
				h.stored = func(a feedActivity) string {
					got := map[string]*string{"entity_type": a.EntityType, "entity_id": a.EntityID}[field]
					if field != "user_agent" && (got == nil || *got != want) {
						return fmt.Sprintf("%s = %v, want %q", field, deref(got), want)
					}
					return ""
				}
			case v.want != 0:
				h.want = v.want
			}
			cs = append(cs, h)
		}
	}

	// A hostile value in metadata, as a value and as a key.
	for _, v := range metadataValues() {
		id := ids.eventID()
		h := ingestCase("metadata value/"+v.name, ids.event(id, map[string]string{"metadata": `{"q":` + v.raw + `}`}))
		h.eventID, h.want = id, orStatus(v.want, http.StatusAccepted)
		if v.stored != nil || v.name == "null" {
			h.stored = metadataIs(map[string]any{"q": v.stored})
		}
		cs = append(cs, h)
		if !strings.HasPrefix(v.raw, `"`) {
			continue
		}
		id = ids.eventID()
		h = ingestCase("metadata key/"+v.name, ids.event(id, map[string]string{"metadata": `{` + v.raw + `:"v"}`}))
		h.eventID, h.want = id, orStatus(v.want, http.StatusAccepted)
		if key, ok := v.stored.(string); ok && len(key) < 2048 {
			val := "v"
			if domain.IsSecretKey(key) {
				val = "[REDACTED]"
			}
			h.stored = metadataIs(map[string]any{key: val})
		}
		if v.name == "10,000 characters" {
			h.want, h.stored = under500, nil
		}
		cs = append(cs, h)
	}

	// Nesting, size and shape of metadata.
	for _, m := range []struct {
		name, raw string
		want      int
	}{
		{"8 levels", nested(8), http.StatusAccepted},
		{"9 levels", nested(9), any4xx},
		{"9 levels of arrays", `{"a":` + strings.Repeat("[", 8) + strings.Repeat("]", 8) + `}`, any4xx},
		{"over 16 KiB", `{"a":` + jstr(strings.Repeat("x", 2000)) + manyKeys(2000) + `}`, any4xx},
		{"a string", `"x"`, any4xx},
		{"an array", `[1]`, any4xx},
		{"a number", `1`, any4xx},
		{"empty", `{}`, http.StatusAccepted},
		{"secret keys", `{"password":"hunter2","X-Api-Key":"k","access_token":"t","card":"4242 4242 4242 4242","mail":"a@example.com"}`, http.StatusAccepted},
		{"duplicate keys", `{"a":1,"a":"'; DROP TABLE activities; --"}`, under500},
	} {
		id := ids.eventID()
		h := ingestCase("metadata/"+m.name, ids.event(id, map[string]string{"metadata": m.raw}))
		h.eventID, h.want = id, m.want
		if m.name == "secret keys" {
			h.stored = metadataIs(map[string]any{"password": "[REDACTED]", "X-Api-Key": "[REDACTED]", "access_token": "[REDACTED]", "card": "[REDACTED]", "mail": "[REDACTED]"})
		}
		cs = append(cs, h)
	}

	// Times, addresses and ids that parse badly.
	for _, v := range []string{"2026-02-30T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-1-1T00:00:00Z",
		"yesterday", "now", "2026-11-21", "2026-11-21T09:30:00", "2026-11-21T25:00:00Z", "2026-11-21T09:30:00+25:00",
		"2026-11-21 09:30:00Z", "1e999", "-1", "9999999999999999999"} {
		cs = append(cs, ingestCase("occurred_at/"+v, ids.event(ids.eventID(), map[string]string{"occurred_at": jstr(v)})))
	}
	// Go's RFC 3339 parser takes offsets up to 24:00, and a UUID in upper
	// case is a UUID: accepted, stored canonical.
	id := ids.eventID()
	cs = append(cs, ingestCase("occurred_at/offset +24:00", ids.event(id, map[string]string{"occurred_at": jstr(time.Now().UTC().Format("2006-01-02T15:04:05") + "+24:00")})))
	cs[len(cs)-1].want, cs[len(cs)-1].eventID = under500, id
	id = ids.eventID()
	cs = append(cs, ingestCase("user_id/upper case", ids.event(id, map[string]string{"user_id": jstr(strings.ToUpper(ids.user))})))
	cs[len(cs)-1].want, cs[len(cs)-1].eventID = http.StatusAccepted, id
	cs[len(cs)-1].stored = func(a feedActivity) string {
		if a.UserID == nil || *a.UserID != ids.user {
			return fmt.Sprintf("user_id = %v, want %s", deref(a.UserID), ids.user)
		}
		return ""
	}
	for _, v := range []string{"999.1.1.1", "fe80::1%eth0", "::ffff:1.2.3.4.5", "1.2.3", "localhost", "0x7f000001", "1.2.3.4/24"} {
		cs = append(cs, ingestCase("ip_address/"+v, ids.event(ids.eventID(), map[string]string{"ip_address": jstr(v)})))
	}
	for _, v := range []string{"{" + uuid.NewString() + "}", "urn:uuid:" + uuid.NewString(),
		strings.ReplaceAll(uuid.NewString(), "-", ""), "00000000-0000-0000-0000-00000000000g"} {
		for _, f := range []string{"user_id", "community_id"} {
			cs = append(cs, ingestCase(f+"/"+v, ids.event(ids.eventID(), map[string]string{f: jstr(v)})))
		}
	}
	cs = append(cs, ingestCase("unknown field/userId", ids.event(ids.eventID(), map[string]string{"userId": jstr(ids.user)})),
		ingestCase("unknown field/injection as a name", ids.event(ids.eventID(), map[string]string{"'; DROP TABLE activities; --": `1`})),
		ingestCase("unknown field/NUL name", ids.event(ids.eventID(), map[string]string{"event_type\x00": `"x"`})))

	// Sizes and encodings of the body.
	big := []byte(`{"event_type":"webhook.triggered","metadata":{"pad":"` + strings.Repeat("x", 3<<19) + `"}}`)
	cs = append(cs, ingestCase("size/1.5 MiB", big), ingestCase("size/gzip bomb of 64 MiB", gzipBomb(64<<20)))
	cs[len(cs)-2].want, cs[len(cs)-1].want = http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge
	cs[len(cs)-1].enc = "gzip"

	valid := func(name, ctype, enc string, body func([]byte) []byte, want int) hostile {
		id := ids.eventID()
		b := ids.event(id, nil)
		if body != nil {
			b = body(b)
		}
		h := ingestCase(name, b)
		h.ctype, h.enc, h.want, h.eventID = ctype, enc, want, id
		return h
	}
	same := func(b []byte) []byte { return b }
	garbage := func([]byte) []byte { return []byte("\x1f\x8b\x08\x00garbage garbage garbage") }
	cs = append(cs,
		valid("content type/none", "-", "", nil, http.StatusUnsupportedMediaType),
		valid("content type/empty", " ", "", nil, http.StatusUnsupportedMediaType),
		valid("content type/text/plain", "text/plain", "", nil, http.StatusUnsupportedMediaType),
		valid("content type/form", "application/x-www-form-urlencoded", "", nil, http.StatusUnsupportedMediaType),
		valid("content type/multipart", "multipart/form-data; boundary=x", "", nil, http.StatusUnsupportedMediaType),
		valid("content type/jsonx", "application/jsonx", "", nil, http.StatusUnsupportedMediaType),
		valid("content type/unparsable", "application/json;;;=", "", nil, http.StatusUnsupportedMediaType),
		valid("content type/two", "application/json, text/plain", "", nil, under500),
		valid("content type/injection", "application/json; charset='; DROP TABLE activities; --", "", nil, under500),
		valid("content type/invalid UTF-8", "application/json; charset=\xff\xfe", "", nil, under500),
		valid("content type/long", "application/json; x="+strings.Repeat("a", 10000), "", nil, under500),
		valid("content type/charset", "application/json; charset=utf-8", "", nil, http.StatusAccepted),
		valid("content type/charset latin1", "application/json; charset=iso-8859-1", "", nil, under500),
		valid("content type/upper case", "APPLICATION/JSON", "", nil, under500),
		valid("content type/+json", "application/vnd.api+json", "", nil, under500),
		valid("content encoding/gzip garbage", "", "gzip", garbage, http.StatusBadRequest),
		valid("content encoding/gzip of plain JSON", "", "gzip", same, http.StatusBadRequest),
		valid("content encoding/gzip truncated", "", "gzip", func(b []byte) []byte { z := gzipped(b); return z[:len(z)/2] }, http.StatusBadRequest),
		valid("content encoding/gzip twice", "", "gzip", func(b []byte) []byte { return gzipped(gzipped(b)) }, any4xx),
		valid("content encoding/gzip, gzip", "", "gzip, gzip", func(b []byte) []byte { return gzipped(gzipped(b)) }, http.StatusUnsupportedMediaType),
		valid("content encoding/deflate", "", "deflate", same, http.StatusUnsupportedMediaType),
		valid("content encoding/br", "", "br", same, http.StatusUnsupportedMediaType),
		valid("content encoding/x-gzip", "", "x-gzip", gzipped, under500),
		valid("content encoding/compress", "", "compress", same, http.StatusUnsupportedMediaType),
		valid("content encoding/injection", "", "'; DROP TABLE activities; --", same, http.StatusUnsupportedMediaType),
		valid("content encoding/invalid UTF-8", "", "\xff\xfe", same, http.StatusUnsupportedMediaType),
		valid("content encoding/identity", "", "identity", same, http.StatusAccepted),
		valid("content encoding/GZIP", "", "GZIP", gzipped, under500),
		valid("content encoding/gzip", "", "gzip", gzipped, http.StatusAccepted),
	)
	return cs
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `,"k%d":%d`, i, i)
	}
	return b.String()
}

func orStatus(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// mixedBatch is a batch of valid events interleaved with every kind of
// invalid one; valid[i] says whether event i is valid. Valid events have ids
// mix-ok-N, invalid ones (when their id is valid) mix-bad-N, and all that can
// name the mixed community.
func mixedBatch(ids *corpusIDs) ([]byte, []bool) {
	c := jstr(ids.mixed)
	u := jstr(ids.user)
	invalid := []string{
		`{"event_type":"Bad Type","community_id":` + c + `}`,
		`7`, `"an event"`, `null`, `[]`, `true`, `{}`,
		`{"event_type":"user.login","community_id":` + c + `}`,
		`{"event_type":"user.login","user_id":"'; DROP TABLE activities; --","community_id":` + c + `}`,
		`{"event_type":"user.login","userId":` + u + `,"community_id":` + c + `}`,
		`{"event_type":"github.push","community_id":` + c + `,"metadata":` + nested(9) + `}`,
		`{"event_type":"github.push","community_id":` + c + `,"metadata":"not an object"}`,
		`{"event_type":"github.push","community_id":` + c + `,"metadata":{"pad":` + jstr(strings.Repeat("x", 1000)) + manyKeys(2000) + `}}`,
		`{"event_type":"github.push","community_id":` + c + `,"occurred_at":"2026-02-30T00:00:00Z"}`,
		`{"event_type":"github.push","community_id":` + c + `,"occurred_at":` + jstr(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)) + `}`,
		`{"event_type":"github.push","community_id":` + c + `,"occurred_at":"2000-01-01T00:00:00Z"}`,
		`{"event_type":"github.push","community_id":` + c + `,"occurred_at":"yesterday"}`,
		`{"event_type":"github.push","community_id":` + c + `,"ip_address":"999.1.1.1"}`,
		`{"event_type":"github.push","community_id":` + c + `,"ip_address":"fe80::1%eth0"}`,
		`{"event_type":"github.push","community_id":` + c + `,"entity_id":` + jstr(strings.Repeat("x", 300)) + `}`,
		`{"event_type":"github.push","community_id":` + c + `,"entity_type":"a\u0000b"}`,
		`{"event_type":"github.push","community_id":` + c + `,"user_agent":` + jstr(strings.Repeat("x", 600)) + `}`,
		`{"event_type":123,"community_id":` + c + `}`,
		`{"event_type":1e999,"community_id":` + c + `}`,
		`{"event_type":"github.push","community_id":` + c + `,"event_type":"github.push"}`,
		`{"event_type":"github.push","community_id":[` + c + `]}`,
		`{"event_id":"a\u0000b","event_type":"github.push","community_id":` + c + `}`,
		`{"event_id":"'; DROP TABLE activities; --","event_type":"github.push","community_id":` + c + `}`,
	}
	validEvents := []string{
		`{"event_type":"user.login","user_id":` + u + `,"community_id":` + c + `}`,
		`{"event_type":"github.push","user_id":` + u + `,"community_id":` + c + `,"entity_type":"repo","entity_id":"'; DROP TABLE activities; --","metadata":{"q":"1 OR 1=1","nul":"a\u0000b","$$":"\\"}}`,
		`{"event_type":"order.completed","community_id":` + c + `,"metadata":{"n":1e300,"big":` + strings.Repeat("9", 100) + `,"deep":` + nested(7) + `}}`,
		`{"event_type":"webhook.triggered","community_id":` + c + `,"occurred_at":` + jstr(time.Now().Add(-time.Minute).In(time.FixedZone("", 19800)).Format(time.RFC3339)) + `}`,
		`{"event_type":"github.pr.opened","community_id":` + c + `,"ip_address":"2001:db8::1","user_agent":"curl/8 '; --","metadata":{"password":"hunter2"}}`,
		`{"event_type":"member.created","user_id":` + u + `,"community_id":` + c + `,"metadata":{"k\u0000ey":"%"}}`,
		`{"event_type":"custom_thing.happened","community_id":` + c + `,"entity_id":"\u00e9\u4e2d\ud83d\ude00"}`,
	}
	var items []string
	var valid []bool
	vi := 0
	for i, bad := range invalid {
		if i%4 == 0 && vi < len(validEvents) {
			ev := validEvents[vi]
			items = append(items, `{"event_id":"mix-ok-`+strconv.Itoa(len(items))+`",`+ev[1:])
			valid = append(valid, true)
			vi++
		}
		switch {
		case bad == "{}":
			bad = `{"event_id":"mix-bad-` + strconv.Itoa(len(items)) + `"}`
		case strings.HasPrefix(bad, "{") && !strings.Contains(bad, `"event_id"`):
			bad = `{"event_id":"mix-bad-` + strconv.Itoa(len(items)) + `",` + bad[1:]
		}
		items = append(items, bad)
		valid = append(valid, false)
	}
	for ; vi < len(validEvents); vi++ {
		items = append(items, `{"event_id":"mix-ok-`+strconv.Itoa(len(items))+`",`+validEvents[vi][1:])
		valid = append(valid, true)
	}
	return []byte(`{"events":[` + strings.Join(items, ",") + `]}`), valid
}

// segmentCorpus is the corpus of the Segment routes.
func segmentCorpus(ids *corpusIDs) []hostile {
	var cs []hostile
	routes := []string{"/v1/track", "/v1/identify", "/v1/batch"}
	seg := func(name, route string, body []byte, want int) hostile {
		return hostile{name: "segment" + route + "/" + name, method: http.MethodPost, path: route, as: "segment", body: body, want: want}
	}
	for _, route := range routes {
		for _, m := range malformedBodies {
			want := under500
			switch {
			case route != "/v1/batch" && len(m.body) > 32<<10:
				want = http.StatusRequestEntityTooLarge
			case m.syntax:
				want = http.StatusBadRequest
			}
			cs = append(cs, seg("malformed/"+m.name, route, []byte(m.body), want))
		}
	}
	n := 0
	track := func(members map[string]string) []byte {
		n++
		m := map[string]string{"type": `"track"`, "event": `"Corpus Event"`, "userId": `"corpus-user"`,
			"messageId": jstr(fmt.Sprintf("seg-corpus-%d", n))}
		maps.Copy(m, members)
		return jsonObject(m)
	}
	// A hostile value in every field of a message: a 200 (invalid messages
	// go to the dead letters), never more.
	for _, f := range []string{"type", "event", "userId", "anonymousId", "messageId", "timestamp", "originalTimestamp", "properties", "traits", "context", "writeKey"} {
		for _, v := range fieldValues() {
			want := http.StatusOK
			if strings.Contains(v.raw, "\xff") || strings.Contains(v.raw, "\x00") {
				want = http.StatusBadRequest
			}
			if len(v.raw) > 32<<10 {
				want = http.StatusRequestEntityTooLarge
			}
			body := track(map[string]string{f: v.raw})
			stored := segStored
			if f == "messageId" { // both copies would have it: two events, by (event_id, occurred_at)
				stored = func(h hostile, _ []byte, _ string) hostile { return h }
			}
			cs = append(cs, stored(seg("track "+f+"/"+v.name, "/v1/track", body, want), body, domain.SegmentTrack))
			body = track(map[string]string{f: v.raw})
			cs = append(cs, stored(seg("batch "+f+"/"+v.name, "/v1/batch", []byte(`{"batch":[`+string(body)+`]}`), want), body, ""))
		}
	}
	for _, v := range metadataValues() {
		want := orStatus(v.want, http.StatusOK)
		if want == http.StatusAccepted {
			want = http.StatusOK
		}
		if len(v.raw) > 32<<10 {
			want = under500
		}
		cs = append(cs,
			seg("properties value/"+v.name, "/v1/track", track(map[string]string{"properties": `{"q":` + v.raw + `}`}), want),
			seg("traits value/"+v.name, "/v1/identify", []byte(`{"type":"identify","userId":"corpus-user","traits":{"q":`+v.raw+`,"email":`+v.raw+`}}`), want),
			seg("context value/"+v.name, "/v1/track", track(map[string]string{"context": `{"ip":` + v.raw + `,"userAgent":` + v.raw + `,"groupId":` + v.raw + `}`}), want))
	}
	// The dead letter of an invalid message keeps its messageId: one that
	// PostgreSQL cannot store as text is still bad input, not an outage.
	for _, id := range []string{`"a\u0000b"`, `"\u0000"`, `"a\ud800b"`, jstr(strings.Repeat("'; --", 1000))} {
		cs = append(cs,
			seg("invalid message with messageId "+id[:min(len(id), 12)], "/v1/track", []byte(`{"type":"track","event":"","userId":"u","messageId":`+id+`}`), http.StatusOK),
			seg("invalid batch message with messageId "+id[:min(len(id), 12)], "/v1/batch", []byte(`{"batch":[{"type":"track","userId":"u","messageId":`+id+`,"timestamp":"yesterday"}]}`), http.StatusOK))
	}
	// Ids and traits that the user row keeps as text.
	for i, v := range []string{`"a\u0000b"`, `"\u0000"`, `"a\ud800b"`, `"x\u0007y"`, jstr(strings.Repeat("é", 5000))} {
		identify := []byte(`{"type":"identify","userId":` + v + `,"messageId":"seg-identify-` + strconv.Itoa(i) + `","traits":{"email":` + v + `,"name":` + v + `}}`)
		anonymous := []byte(`{"type":"track","event":"Odd Anonymous","anonymousId":` + v + `,"messageId":"seg-anonymous-` + strconv.Itoa(i) + `","context":{"groupId":` + v + `}}`)
		cs = append(cs,
			segStored(seg("identify odd userId "+v[:min(len(v), 12)], "/v1/identify", identify, http.StatusOK), identify, domain.SegmentIdentify),
			segStored(seg("track odd anonymousId "+v[:min(len(v), 12)], "/v1/track", anonymous, http.StatusOK), anonymous, domain.SegmentTrack))
	}
	// Valid messages full of SQL text are stored as data.
	for i, s := range injections {
		id := fmt.Sprintf("seg-sql-%d", i)
		h := seg("stored/"+s, "/v1/track", []byte(jsonObject(map[string]string{"type": `"track"`, "event": `"Corpus SQL"`, "userId": jstr(s),
			"messageId": jstr(id), "properties": `{"q":` + jstr(s) + `,"community_id":` + jstr(ids.community) + `}`, "context": `{"userAgent":` + jstr(s) + `}`})), http.StatusOK)
		h.eventID = id
		want := s
		h.stored = func(a feedActivity) string {
			var m map[string]any
			_ = json.Unmarshal(a.Metadata, &m)
			if m["q"] != want {
				return fmt.Sprintf("properties.q = %v, want %q", m["q"], want)
			}
			return ""
		}
		cs = append(cs, h)
	}
	// Batch shapes, sizes and limits.
	message := `{"type":"track","event":"x","userId":"u"}`
	for _, b := range []struct {
		name, body string
		want       int
	}{
		{"batch a string", `{"batch":"x"}`, http.StatusOK},
		{"batch null", `{"batch":null}`, http.StatusOK},
		{"batch of non-objects", `{"batch":[1,"x",null,[],true,{}]}`, http.StatusOK},
		{"context a number", `{"batch":[` + message + `],"context":5}`, http.StatusOK},
		{"context with NUL keys", `{"batch":[` + message + `],"context":{"a\u0000b":"\u0000","ip":"'; --"}}`, http.StatusOK},
		{"2501 messages", `{"batch":[` + strings.Repeat(message+",", 2500) + message + `]}`, any4xx},
		{"over 500 KB", `{"batch":[` + strings.Repeat(message+",", 12500) + message + `]}`, http.StatusRequestEntityTooLarge},
		{"a message over 32 KB", `{"batch":[{"type":"track","event":"x","userId":"u","properties":{"pad":"` + strings.Repeat("x", 33000) + `"}}]}`, http.StatusRequestEntityTooLarge},
		{"type unknown", `{"batch":[{"type":"'; DROP TABLE activities; --","userId":"u"}]}`, http.StatusOK},
		{"writeKey hostile", `{"writeKey":"'; DROP TABLE activities; --","batch":[` + message + `]}`, http.StatusOK},
	} {
		cs = append(cs, seg(b.name, "/v1/batch", []byte(b.body), b.want))
	}
	bomb := seg("gzip bomb", "/v1/batch", gzipBomb(64<<20), http.StatusRequestEntityTooLarge)
	bomb.enc = "gzip"
	trackBomb := seg("gzip bomb", "/v1/track", gzipBomb(1<<20), http.StatusRequestEntityTooLarge)
	trackBomb.enc = "gzip"
	cs = append(cs, bomb, trackBomb,
		seg("over 32 KB", "/v1/track", track(map[string]string{"properties": `{"pad":` + jstr(strings.Repeat("x", 40000)) + `}`}), http.StatusRequestEntityTooLarge),
		seg("over 32 KB", "/v1/identify", []byte(`{"type":"identify","userId":"u","traits":{"pad":`+jstr(strings.Repeat("x", 40000))+`}}`), http.StatusRequestEntityTooLarge))
	for _, route := range routes {
		body := []byte(message)
		if route == "/v1/batch" {
			body = []byte(`{"batch":[` + message + `]}`)
		}
		for _, ct := range []struct {
			ctype, enc string
			want       int
		}{
			{"-", "", http.StatusUnsupportedMediaType},
			{"application/x-www-form-urlencoded", "", http.StatusUnsupportedMediaType},
			{"", "deflate", http.StatusUnsupportedMediaType},
			{"", "br", http.StatusUnsupportedMediaType},
			{"", "gzip, gzip", http.StatusUnsupportedMediaType},
			{"", "gzip", http.StatusBadRequest},
		} {
			h := seg(fmt.Sprintf("content %q %q", ct.ctype, ct.enc), route, body, ct.want)
			h.ctype, h.enc = ct.ctype, ct.enc
			cs = append(cs, h)
		}
		// Write keys that are no keys.
		for _, auth := range []string{"Basic !!!", "Basic " + base64.StdEncoding.EncodeToString([]byte("'; DROP TABLE api_keys; --:")),
			"Basic " + base64.StdEncoding.EncodeToString([]byte("\x00\xff:")), "Bearer $$", "Digest x", "Basic", "Basic " + strings.Repeat("A", 20000)} {
			h := seg("authorization "+auth[:min(len(auth), 40)], route, body, http.StatusUnauthorized)
			h.as, h.headers = "", map[string]string{"Authorization": auth}
			cs = append(cs, h)
		}
		h := seg("writeKey in the body/injection", route, []byte(`{"writeKey":"1 OR 1=1","type":"track","event":"x","userId":"u","batch":[]}`), http.StatusUnauthorized)
		h.as = ""
		cs = append(cs, h)
		h = seg("writeKey in the body/wrong type", route, []byte(`{"writeKey":["x"],"type":"track","event":"x","userId":"u","batch":[]}`), http.StatusUnauthorized)
		h.as = ""
		cs = append(cs, h)
	}
	return cs
}

// segStored makes h check that its one message, when the Segment mapping
// finds it valid, is stored once: a 200 must not lose it downstream.
func segStored(h hostile, message []byte, typ string) hostile {
	if h.want != http.StatusOK {
		return h
	}
	ev, messageID, errs := domain.MapSegmentMessage(message, typ, nil, domain.DefaultLimits(), domain.Defaults{Now: time.Now(), IPAddress: "127.0.0.1"})
	if len(errs) == 0 && messageID != "" {
		h.eventID = ev.EventID
	}
	return h
}

// readCorpus is the corpus of the read endpoints; cursor is a real
// next_cursor of the unfiltered feed.
func readCorpus(ids *corpusIDs, cursor string) []hostile {
	var cs []hostile
	get := func(name, path string, want int) hostile {
		return hostile{name: "read" + name, method: http.MethodGet, path: path, as: "read", want: want}
	}
	endpoints := []struct {
		path   string
		params []string
	}{
		{"/api/v1/analytics/overview", []string{"from", "to", "tz"}},
		{"/api/v1/analytics/community/" + ids.community, []string{"from", "to", "tz"}},
		{"/api/v1/analytics/user/" + ids.user, []string{"from", "to", "tz"}},
		{"/api/v1/analytics/events", []string{"from", "to", "tz", "event_type", "community_id", "granularity"}},
		{"/api/v1/activities", []string{"from", "to", "tz", "event_type", "community_id", "user_id", "limit", "cursor"}},
	}
	bad := slices.Clone(injections)
	bad = append(bad, "\x00", "UTC\x00", "a\xff\xfe", "\xed\xa0\x80", "\u202e", strings.Repeat("x", 10000), " ", "null", "[]", "{}", "1e999", strings.Repeat("9", 100))
	for _, e := range endpoints {
		name := strings.TrimPrefix(strings.TrimPrefix(e.path, "/api/v1"), "/analytics")
		name = strings.ReplaceAll(strings.ReplaceAll(name, ids.community, "{id}"), ids.user, "{id}")
		for _, p := range e.params {
			for _, v := range bad {
				want := any4xx
				if strings.TrimSpace(v) == "" || p == "event_type" && domain.ValidEventType(v) {
					want = under500
				}
				cs = append(cs, get(name+"/"+p+"="+v[:min(len(v), 40)], e.path+"?"+p+"="+url.QueryEscape(v), want))
			}
			// Unescaped, as a careless client sends them.
			for _, raw := range []string{"%", "%zz", "%ff%fe", "%00", "%%00", "'", "a;b", "a&&b"} {
				cs = append(cs, get(name+"/"+p+" raw "+raw, e.path+"?"+p+"="+raw, under500))
			}
			cs = append(cs, get(name+"/"+p+" twice", e.path+"?"+p+"="+url.QueryEscape("'; --")+"&"+p+"=x", any4xx))
		}
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, "OPTIONS", "TRACE", "PROPFIND"} {
			h := get(name+"/method "+m, e.path, http.StatusMethodNotAllowed)
			h.method = m
			cs = append(cs, h)
		}
		cs = append(cs, get(name+"/unknown parameter", e.path+"?"+url.QueryEscape("'; DROP TABLE activities; --")+"=1", under500))
	}
	// Path ids.
	for _, kind := range []string{"community", "user"} {
		base := "/api/v1/analytics/" + kind + "/"
		for _, v := range append(slices.Clone(injections), "\x00", "a\xff", strings.Repeat("f", 10000), strings.ToUpper(uuid.NewString()),
			"00000000-0000-0000-0000-000000000000", "{"+uuid.NewString()+"}", "a/b", "..") {
			want := any4xx
			if v == "" || v == ".." || v == "../../etc/passwd" {
				want = under500 // path cleaning may redirect
			}
			cs = append(cs, get("/"+kind+"/id "+v[:min(len(v), 40)], base+url.PathEscape(v), want))
		}
		cs = append(cs,
			get("/"+kind+"/encoded slash", base+"a%2Fb", any4xx),
			get("/"+kind+"/encoded traversal", base+"..%2F..%2Fadmin%2Fkeys", under500),
			get("/"+kind+"/raw percent", base+"%", byHTTP),
			get("/"+kind+"/raw bad escape", base+"%zz", byHTTP),
			get("/"+kind+"/trailing slash", base+ids.user+"/", any4xx),
			get("/"+kind+"/empty id", base, any4xx))
	}
	// Limits, zones, dates and granularities.
	for _, v := range []string{"0", "-1", "501", "1e10", "abc", "1.5", "0x10", "99999999999999999999", "5 OR 1=1"} {
		cs = append(cs, get("/activities/limit "+v, "/api/v1/activities?limit="+url.QueryEscape(v), any4xx))
	}
	cs = append(cs, get("/activities/limit 500", "/api/v1/activities?limit=500", http.StatusOK),
		get("/activities/limit 1", "/api/v1/activities?limit=1", http.StatusOK))
	for _, tz := range []string{"../../etc/passwd", "/etc/passwd", "UTC\x00", "Mars/Olympus", "Local", "utc", "Europe/../UTC",
		"Europe/Berlin\x00.txt", strings.Repeat("A", 10<<10), strings.Repeat("Europe/", 1000) + "Berlin", "+05:00", "GMT+5", "\xff"} {
		for _, e := range endpoints {
			want := any4xx
			if tz == "utc" || tz == "GMT+5" {
				want = under500 // a zone on some hosts
			}
			cs = append(cs, get(e.path[len("/api/v1"):]+"/tz "+tz[:min(len(tz), 40)], e.path+"?tz="+url.QueryEscape(tz), want))
		}
	}
	for _, d := range []string{"2026-02-30", "2026-1-1", "yesterday", "2026-13-01", "2026-00-10", "26-11-21", "2026/11/21", "20261121", "-2026-01-01", "+10000-01-01"} {
		for _, e := range endpoints {
			cs = append(cs,
				get(e.path[len("/api/v1"):]+"/from "+d, e.path+"?from="+url.QueryEscape(d), any4xx),
				get(e.path[len("/api/v1"):]+"/to "+d, e.path+"?to="+url.QueryEscape(d), any4xx))
		}
	}
	for _, e := range endpoints {
		// The ends of the calendar: no answer, or an empty one; never a 500.
		for _, q := range []string{
			"from=0000-01-01", "to=0000-01-01", "from=9999-12-31", "to=9999-12-31",
			"from=0000-01-01&to=0000-01-01", "from=9999-12-31&to=9999-12-31",
			"from=0000-01-01&to=0000-01-01&tz=Pacific/Kiritimati", "from=0000-01-01&to=0000-01-01&tz=Etc/GMT%2B12",
			"from=9999-12-31&to=9999-12-31&tz=Pacific/Kiritimati", "from=9999-12-31&to=9999-12-31&tz=Etc/GMT%2B12",
			"from=9999-12-01&to=9999-12-31&granularity=hour&tz=Etc/GMT%2B12",
			"from=0001-01-01&to=0001-01-02&granularity=hour&tz=Pacific/Kiritimati",
			"from=2026-11-21&to=2026-01-01", "from=1970-01-01&to=2026-11-21",
		} {
			cs = append(cs, get(e.path[len("/api/v1"):]+"/"+q, e.path+"?"+q, under500))
		}
	}
	for _, q := range []string{
		"from=0000-01-01T00:00:00Z", "to=9999-12-31T23:59:59.999999999Z", "from=9999-12-31T23:59:59.999999999-23:59",
		"to=0000-01-01T00:00:00%2B23:59", "from=2026-11-21T09:30:00Z&to=2026-11-21T09:30:00Z", "from=2026-11-21T09:30:00",
		"from=2026-11-21T25:00:00Z", "to=1e999",
	} {
		cs = append(cs, get("/activities/"+q, "/api/v1/activities?"+q, under500))
	}
	for _, g := range []string{"week", "HOUR", "Day", "minute", "hour\x00", "day;", ""} {
		want := any4xx
		if g == "" {
			want = under500
		}
		cs = append(cs, get("/events/granularity "+g, "/api/v1/analytics/events?granularity="+url.QueryEscape(g), want))
	}
	cs = append(cs, get("/events/hour over 31 days", "/api/v1/analytics/events?granularity=hour&from=2026-01-01&to=2026-03-01", any4xx),
		get("/overview/over 366 days", "/api/v1/analytics/overview?from=2024-01-01&to=2025-12-31", any4xx))

	// Forged cursors.
	raw, _ := base64.RawURLEncoding.DecodeString(cursor)
	forged := map[string]string{
		"random base64":         base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef0")),
		"random std base64":     base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef0")),
		"not base64":            "!!!***",
		"empty after trim":      "   ",
		"truncated":             cursor[:len(cursor)-1],
		"one character more":    cursor + "A",
		"padded":                cursor + "==",
		"100 KB":                strings.Repeat(cursor, 100<<10/len(cursor)),
		"injection":             "'; DROP TABLE activities; --",
		"NUL":                   "\x00",
		"invalid UTF-8":         "\xff\xfe",
		"zero bytes":            base64.RawURLEncoding.EncodeToString(make([]byte, len(raw))),
		"another version":       base64.RawURLEncoding.EncodeToString(append([]byte{2}, raw[1:]...)),
		"the same, upper case":  strings.ToUpper(cursor),
		"JSON":                  base64.RawURLEncoding.EncodeToString([]byte(`{"at":"2026-01-01T00:00:00Z","id":1}`)),
		"max position, no MAC":  base64.RawURLEncoding.EncodeToString(append([]byte{1}, bytes.Repeat([]byte{0xff}, len(raw)-1)...)),
		"min position, old MAC": base64.RawURLEncoding.EncodeToString(append(append([]byte{1}, make([]byte, 16)...), raw[17:]...)),
	}
	for bit := 0; bit < len(raw)*8; bit += 7 {
		b := slices.Clone(raw)
		b[bit/8] ^= 1 << (bit % 8)
		forged[fmt.Sprintf("bit %d flipped", bit)] = base64.RawURLEncoding.EncodeToString(b)
	}
	for name, f := range forged {
		want := any4xx
		if strings.TrimSpace(f) == "" {
			want = under500
		}
		cs = append(cs, get("/activities/cursor "+name, "/api/v1/activities?limit=1&cursor="+url.QueryEscape(f), want))
	}
	for _, q := range []string{"event_type=user.login", "user_id=" + ids.user, "community_id=" + ids.community, "from=2026-01-01", "to=2099-01-01", "tz=Europe/Berlin&from=2026-01-01"} {
		cs = append(cs, get("/activities/cursor of another filter set "+q, "/api/v1/activities?limit=1&cursor="+url.QueryEscape(cursor)+"&"+q, any4xx))
	}
	cs = append(cs, get("/activities/the cursor itself", "/api/v1/activities?limit=1&cursor="+url.QueryEscape(cursor), http.StatusOK))
	return cs
}

// adminCorpus is the corpus of the admin endpoints.
func adminCorpus() []hostile {
	var cs []hostile
	admin := func(name, method, path string, body []byte, want int) hostile {
		return hostile{name: "admin/" + name, method: method, path: path, as: "admin", body: body, want: want}
	}
	for _, m := range malformedBodies {
		if m.syntax {
			cs = append(cs, admin("keys malformed/"+m.name, http.MethodPost, "/api/v1/admin/keys", []byte(m.body), http.StatusBadRequest))
		}
	}
	for _, b := range []string{`null`, `[]`, `"x"`, `1`, `{}`, `{"name":"x","role":"read"} {"name":"y"}`, `{"name":"x","role":"read"} garbage`,
		`{"name":"x","role":"read","communities":null,"extra":1}`, `{"name":"x","role":"read","name":"y","role":"boss"}`} {
		cs = append(cs, admin("keys body "+b, http.MethodPost, "/api/v1/admin/keys", []byte(b), any4xx))
	}
	key := func(members map[string]string) []byte {
		m := map[string]string{"name": `"corpus"`, "role": `"read"`}
		maps.Copy(m, members)
		return jsonObject(m)
	}
	for _, v := range fieldValues() {
		for _, f := range []string{"name", "role", "communities"} {
			want := any4xx
			if f == "name" && v.free {
				want = http.StatusCreated // a name is any text
			}
			if v.want == under500 || v.name == "null" {
				want = under500 // null is absent
			}
			cs = append(cs, admin("keys "+f+"/"+v.name, http.MethodPost, "/api/v1/admin/keys", key(map[string]string{f: v.raw}), want))
		}
		cs = append(cs, admin("keys communities item/"+v.name, http.MethodPost, "/api/v1/admin/keys", key(map[string]string{"communities": "[" + v.raw + "]"}), any4xx))
	}
	cs = append(cs, admin("keys 1 MiB", http.MethodPost, "/api/v1/admin/keys", key(map[string]string{"name": jstr(strings.Repeat("x", 1<<20))}), any4xx),
		admin("keys 100,000 communities", http.MethodPost, "/api/v1/admin/keys", key(map[string]string{"communities": "[" + strings.Repeat(`"`+uuid.NewString()+`",`, 100000) + `"x"]`}), any4xx))

	idValues := append(slices.Clone(injections), "\x00", "a\xff", strings.Repeat("f", 10000), "00000000-0000-0000-0000-000000000000",
		strings.ToUpper(uuid.NewString()), "{"+uuid.NewString()+"}", "urn:uuid:"+uuid.NewString(), "a/b")
	for _, v := range idValues {
		want := any4xx
		if v == "../../etc/passwd" {
			want = under500 // path cleaning redirects
		}
		cs = append(cs, admin("revoke key "+v[:min(len(v), 40)], http.MethodDelete, "/api/v1/admin/keys/"+url.PathEscape(v), nil, want))
	}
	names := append(slices.Clone(idValues), "EVENT_COUNTS", " event_counts", "event_counts ", "event_counts\x00", "event_counts%00", "event_counts;", "event_counts'--")
	for _, v := range names {
		want := any4xx
		if v == "../../etc/passwd" {
			want = under500
		}
		cs = append(cs, admin("rebuild "+v[:min(len(v), 40)], http.MethodPost, "/api/v1/admin/projections/"+url.PathEscape(v)+"/rebuild", nil, want))
	}
	cs = append(cs,
		admin("rebuild encoded slash", http.MethodPost, "/api/v1/admin/projections/event_counts%2Frebuild%2F/rebuild", nil, under500), // cleaned: a redirect
		admin("rebuild dot segments", http.MethodPost, "/api/v1/admin/projections/%2E%2E/rebuild", nil, under500),
		admin("rebuild raw percent", http.MethodPost, "/api/v1/admin/projections/%/rebuild", nil, byHTTP),
		admin("rebuild with a body", http.MethodPost, "/api/v1/admin/projections/nope/rebuild", []byte(`{"'; --":1}`), any4xx))
	for _, p := range []string{"limit", "before"} {
		vals := append(slices.Clone(injections), "0", "-1", "501", "1e10", "abc", "1.5", "9223372036854775808", "99999999999999999999", "\x00", "\xff", strings.Repeat("9", 10000))
		for _, v := range vals {
			if p == "limit" && v == "_" {
				continue
			}
			want := any4xx
			if p == "before" && v == "501" {
				want = http.StatusOK
			}
			cs = append(cs, admin("failed-events "+p+"="+v[:min(len(v), 40)], http.MethodGet, "/api/v1/admin/failed-events?"+p+"="+url.QueryEscape(v), nil, want))
		}
	}
	cs = append(cs, admin("failed-events before max", http.MethodGet, "/api/v1/admin/failed-events?before=9223372036854775807&limit=500", nil, http.StatusOK))
	for _, m := range []struct{ method, path string }{
		{http.MethodPut, "/api/v1/admin/keys"}, {http.MethodDelete, "/api/v1/admin/keys"}, {http.MethodPatch, "/api/v1/admin/keys/" + uuid.NewString()},
		{http.MethodGet, "/api/v1/admin/keys/" + uuid.NewString()}, {http.MethodGet, "/api/v1/admin/projections/event_counts/rebuild"},
		{http.MethodDelete, "/api/v1/admin/projections"}, {http.MethodPost, "/api/v1/admin/failed-events"}, {"OPTIONS", "/api/v1/admin/failed-events"},
	} {
		cs = append(cs, admin("method "+m.method+" "+m.path, m.method, m.path, nil, http.StatusMethodNotAllowed))
	}
	return cs
}

// transportCorpus is hostile headers, methods and paths.
func transportCorpus(ids *corpusIDs) []hostile {
	var cs []hostile
	for _, auth := range []string{"Bearer '; DROP TABLE api_keys; --", "Bearer 1 OR 1=1", "Bearer \xff\xfe", "Bearer " + strings.Repeat("a", 64<<10),
		"Bearer", "Bearer ", "Basic !!!", "bearer", "Token x", "\xff"} {
		for _, path := range []string{"/api/v1/events", "/api/v1/activities", "/api/v1/admin/keys"} {
			method := http.MethodGet
			if path == "/api/v1/events" {
				method = http.MethodPost
			}
			cs = append(cs, hostile{name: "auth " + auth[:min(len(auth), 40)] + " " + path, method: method, path: path, body: []byte(`{"event_type":"webhook.triggered"}`),
				headers: map[string]string{"Authorization": auth}, want: http.StatusUnauthorized})
		}
	}
	// Headers the ingest takes defaults from: stored cleaned, or refused.
	for _, ua := range []string{"\xff\xfe", "a\xc0\xafb", "'; DROP TABLE activities; --", strings.Repeat("é", 1000), "\xed\xa0\x80"} {
		id := ids.eventID()
		cs = append(cs, hostile{name: "events/User-Agent " + ua[:min(len(ua), 30)], method: http.MethodPost, path: "/api/v1/events", as: "ingest",
			body: ids.event(id, nil), headers: map[string]string{"User-Agent": ua}, want: http.StatusAccepted, eventID: id})
	}
	for _, xff := range []string{"'; DROP TABLE activities; --", "\xff", "1.2.3.4, 999.9.9.9", strings.Repeat("1.2.3.4,", 5000)} {
		id := ids.eventID()
		cs = append(cs, hostile{name: "events/X-Forwarded-For " + xff[:min(len(xff), 30)], method: http.MethodPost, path: "/api/v1/events", as: "ingest",
			body: ids.event(id, nil), headers: map[string]string{"X-Forwarded-For": xff}, want: http.StatusAccepted, eventID: id})
	}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch, "OPTIONS", "TRACE", "CONNECTX", "'OR'"} {
		cs = append(cs, hostile{name: "events/method " + m, method: m, path: "/api/v1/events", as: "ingest", want: http.StatusMethodNotAllowed})
		want := http.StatusMethodNotAllowed
		if m == "OPTIONS" {
			want = http.StatusNoContent // a CORS preflight, for the browser SDKs
		}
		cs = append(cs, hostile{name: "segment/method " + m, method: m, path: "/v1/track", as: "segment", want: want})
	}
	for _, p := range []struct {
		path string
		want int
	}{
		{"/api/v1/events/", any4xx},
		{"/api/v1/events%2F", any4xx},
		{"/api/v1/events%00", any4xx},
		{"/api/v1/events;drop", any4xx},
		{"/api/v1/EVENTS", any4xx},
		{"/api%2Fv1%2Fevents", under500},
		{"//api/v1/events", under500},
		{"/api/v1/./events", under500},
		{"/api/v1/x/../events", under500},
		{"/api/v1/%2E%2E/v1/events", under500},
		{"/v1/track%2F..%2F..%2Fapi%2Fv1%2Fadmin%2Fkeys", under500},
		{"/" + strings.Repeat("a/", 20000), any4xx},
		{"/api/v1/events?" + strings.Repeat("a=1&", 10000), under500},
		{"/%", byHTTP},
		{"/api/v1/events%zz", byHTTP},
	} {
		cs = append(cs, hostile{name: "path " + p.path[:min(len(p.path), 60)], method: http.MethodPost, path: p.path, as: "ingest",
			body: []byte(`{"event_type":"webhook.triggered"}`), want: p.want})
	}
	return cs
}

// FuzzIngest_NeverServerError posts fuzzed bodies, seeded from the corpus,
// to the ingest endpoint of a live app: whatever the body, the answer is
// below 500, and an error is a problem.
func FuzzIngest_NeverServerError(f *testing.F) {
	ids := newCorpusIDs()
	for _, h := range ingestCorpus(ids) {
		if len(h.body) <= 64<<10 && (h.enc == "" || h.enc == "gzip") {
			f.Add(h.body, h.enc == "gzip")
		}
	}
	mixed, _ := mixedBatch(ids)
	f.Add(mixed, false)
	dbURL, redisURL := pgtest.NewURL(f), privateRedisDB(f, redistest.URL(f))
	adminKey := auth.NewSecret()
	app := startApp(f, config{DatabaseURL: dbURL, RedisURL: redisURL, AdminKey: adminKey, RateLimit: -1, MaxBacklog: 1 << 40}, true)
	c := newCorpusRun(app, adminKey)
	f.Fuzz(func(t *testing.T, body []byte, gz bool) {
		h := hostile{name: "fuzz", method: http.MethodPost, path: "/api/v1/events", as: "admin", body: body, want: under500}
		if gz {
			h.enc = "gzip"
		}
		status, header, resp, err := c.send(h)
		if err != nil {
			t.Fatalf("POST /api/v1/events: %v", err)
		}
		if status >= 500 {
			t.Fatalf("POST /api/v1/events = %d for body %q: %s", status, truncate(body), truncate(resp))
		}
		if status >= 400 {
			if msg := problemMistake(status, header, resp); msg != "" {
				t.Fatalf("POST /api/v1/events = %d: %s: %s", status, msg, truncate(resp))
			}
		}
	})
}
