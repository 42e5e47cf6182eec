package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/openapi"
	"github.com/activity-dev/activity/internal/pgtest"
	"github.com/activity-dev/activity/internal/redistest"
)

// contractOperations is every operation of the HTTP contract (api.md).
var contractOperations = []string{
	"POST /api/v1/events",
	"POST /v1/track",
	"POST /v1/identify",
	"POST /v1/batch",
	"POST /v1/import",
	"GET /api/v1/analytics/overview",
	"GET /api/v1/analytics/community/{id}",
	"GET /api/v1/analytics/user/{id}",
	"GET /api/v1/analytics/events",
	"GET /api/v1/activities",
	"GET /healthz",
	"GET /readyz",
	"GET /openapi.yaml",
	"GET /api/v1/admin/projections",
	"POST /api/v1/admin/projections/{name}/rebuild",
	"GET /api/v1/admin/failed-events",
	"POST /api/v1/admin/keys",
	"GET /api/v1/admin/keys",
	"DELETE /api/v1/admin/keys/{id}",
}

// beyondContract are the documented operations api.md does not name, for
// "existing Segment and RudderStack SDKs work unchanged", the browser ones
// included: the Segment page and screen calls (RudderStack's JavaScript SDK
// sends them on their own), and the CORS preflights browsers send.
var beyondContract = []string{
	"POST /v1/page", "POST /v1/screen",
	"OPTIONS /v1/track", "OPTIONS /v1/identify", "OPTIONS /v1/page", "OPTIONS /v1/screen", "OPTIONS /v1/batch", "OPTIONS /v1/import",
}

// strictRequestSchemas are the request schemas that reject unknown
// properties. Every other schema describes a response that may gain
// properties, so none of it may set additionalProperties: false.
var strictRequestSchemas = []string{"Event", "EventBatch", "KeyCreateRequest"}

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapi.Spec)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

func TestOpenAPI_DocumentIsValidAndCoversTheContract(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if !strings.Contains(doc.Info.Description, "/metrics") {
		t.Errorf("info.description does not say where the metrics are")
	}

	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for _, op := range contractOperations {
		if !documented[op] {
			t.Errorf("%s is in the contract but not in the document", op)
		}
		delete(documented, op)
	}
	for _, op := range beyondContract {
		if !documented[op] {
			t.Errorf("%s is served but not in the document", op)
		}
		delete(documented, op)
	}
	for op := range documented {
		t.Errorf("%s is in the document but not in the contract", op)
	}

	for _, name := range []string{"bearer", "segmentBasic"} {
		if doc.Components.SecuritySchemes[name] == nil {
			t.Errorf("security scheme %s is missing", name)
		}
	}

	// Every 429 and 503 tells the client when to retry.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
				r := op.Responses.Status(status)
				if r == nil {
					continue
				}
				if h := r.Value.Headers["Retry-After"]; h == nil || !h.Value.Required {
					t.Errorf("%s %s: %d has no required Retry-After header", method, path, status)
				}
				if r.Value.Content.Get("application/problem+json") == nil {
					t.Errorf("%s %s: %d is not application/problem+json", method, path, status)
				}
			}
		}
	}

	for name, ref := range doc.Components.Schemas {
		if slices.Contains(strictRequestSchemas, name) {
			if ap := ref.Value.AdditionalProperties.Has; ap == nil || *ap {
				t.Errorf("request schema %s must set additionalProperties: false", name)
			}
			continue
		}
		_ = ref.WalkSubtree(func(at string, s *openapi3.SchemaRef) error {
			if s.Ref == "" && s.Value != nil && s.Value.AdditionalProperties.Has != nil && !*s.Value.AdditionalProperties.Has {
				t.Errorf("schema %s%s sets additionalProperties: false; responses must stay extensible", name, at)
			}
			return nil
		})
	}
}

// TestOpenAPI_EventSchemaRejectsUnknownFields checks the request schema of
// an event the way a client generator would read it.
func TestOpenAPI_EventSchemaRejectsUnknownFields(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	event := doc.Components.Schemas["Event"].Value
	opts := []openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020(), openapi3.VisitAsRequest()}
	valid := map[string]any{
		"event_id": "evt-1", "event_type": "user.login", "user_id": uuid.NewString(),
		"occurred_at": "2026-11-21T09:30:00Z", "metadata": map[string]any{"plan": "pro"},
		"ip_address": "2001:db8::1",
	}
	if err := event.VisitJSON(valid, opts...); err != nil {
		t.Errorf("a valid event does not match the Event schema: %v", err)
	}
	for name, bad := range map[string]map[string]any{
		"unknown field":      {"event_type": "user.login", "userId": uuid.NewString()},
		"no event_type":      {"user_id": uuid.NewString()},
		"bad event_type":     {"event_type": "User Login"},
		"bad event_id":       {"event_type": "user.login", "event_id": "has space"},
		"long entity_type":   {"event_type": "user.login", "entity_type": strings.Repeat("x", 65)},
		"metadata not a map": {"event_type": "user.login", "metadata": "x"},
	} {
		if err := event.VisitJSON(bad, opts...); err == nil {
			t.Errorf("%s: the Event schema accepts %v", name, bad)
		}
	}
}

// TestOpenAPI_LiveResponsesMatchDocument runs the real app (API, writer,
// projectors, scheduler) on a private database, sends requests to every
// endpoint (valid ones and errors) and validates every answer against the
// document. An endpoint that answers "no such endpoint" is reported as not
// implemented.
func TestOpenAPI_LiveResponsesMatchDocument(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("route the document: %v", err)
	}
	dbURL, redisURL := pgtest.NewURL(t), privateRedisDB(t, redistest.URL(t))

	adminKey := auth.NewSecret()
	primary := startApp(t, config{DatabaseURL: dbURL, RedisURL: redisURL, AdminKey: adminKey}, true)
	api := &liveAPI{t: t, base: primary.url, doc: doc, router: router, client: primary.client, seen: map[string]bool{}, missing: map[string]bool{}}

	communityA, communityB, user := uuid.New(), uuid.New(), uuid.New()
	occurred := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	at := func(d time.Duration) string { return occurred.Add(d).Format(time.RFC3339) }

	// Keys.
	newKey := func(name, role string, communities ...string) (id, secret string) {
		body := map[string]any{"name": name, "role": role}
		if communities != nil {
			body["communities"] = communities
		}
		_, _, b := api.do(call{name: "create " + name + " key", method: "POST", path: "/api/v1/admin/keys", bearer: adminKey, body: body, want: 201})
		var k struct{ ID, Key string }
		_ = json.Unmarshal(b, &k)
		return k.ID, k.Key
	}
	_, ingestKey := newKey("ingest", "ingest")
	_, readKey := newKey("read", "read")
	_, scopedReadKey := newKey("scoped read", "read", communityA.String())
	revokeID, _ := newKey("to revoke", "ingest")
	api.do(call{name: "create key: invalid body", method: "POST", path: "/api/v1/admin/keys", bearer: adminKey,
		body: map[string]any{"name": "", "role": "boss", "communities": []string{"nope"}}, want: 400, docRejects: true})
	api.do(call{name: "create key: unknown field", method: "POST", path: "/api/v1/admin/keys", bearer: adminKey,
		body: map[string]any{"name": "x", "role": "read", "scope": "all"}, want: 400, docRejects: true})
	api.do(call{name: "create key: no key", method: "POST", path: "/api/v1/admin/keys", body: map[string]any{"name": "x", "role": "read"}, want: 401})
	api.do(call{name: "create key: read key", method: "POST", path: "/api/v1/admin/keys", bearer: readKey, body: map[string]any{"name": "x", "role": "read"}, want: 403})

	// Ingest.
	ingested := 0
	post := func(name string, body any, partial bool, accepted int) {
		api.do(call{name: name, method: "POST", path: "/api/v1/events", bearer: ingestKey, body: body, want: 202, partial: partial})
		ingested += accepted
	}
	post("ingest: one event", map[string]any{
		"event_id": "evt-community", "event_type": "community.created", "community_id": communityA.String(),
		"user_id": user.String(), "occurred_at": at(0), "metadata": map[string]any{"name": "Gophers"},
	}, false, 1)
	post("ingest: batch with a rejection", map[string]any{"events": []any{
		map[string]any{"event_id": "evt-login", "event_type": "user.login", "user_id": user.String(), "community_id": communityA.String(), "occurred_at": at(time.Minute)},
		map[string]any{"event_type": "github.push", "user_id": user.String(), "community_id": communityA.String(), "entity_type": "repo", "entity_id": "activity"},
		map[string]any{"event_type": "Bad Type", "user_id": user.String()},
		map[string]any{"event_type": "order_completed", "user_id": user.String(), "community_id": communityB.String(), "metadata": map[string]any{"password": "x"}},
		map[string]any{"event_type": "webhook.triggered"},
	}}, true, 4)
	api.do(call{name: "ingest: gzip", method: "POST", path: "/api/v1/events", bearer: ingestKey, gzip: true,
		body: map[string]any{"event_type": "user.login", "user_id": user.String(), "community_id": communityA.String()}, want: 202})
	ingested++
	api.do(call{name: "ingest: unknown field", method: "POST", path: "/api/v1/events", bearer: ingestKey,
		body: map[string]any{"event_type": "user.login", "userId": user.String()}, want: 400, docRejects: true})
	api.do(call{name: "ingest: no valid event in a batch", method: "POST", path: "/api/v1/events", bearer: ingestKey,
		body: map[string]any{"events": []any{map[string]any{"event_type": "user.login"}, 7}}, want: 400})
	api.do(call{name: "ingest: malformed JSON", method: "POST", path: "/api/v1/events", bearer: ingestKey, body: []byte(`{"event_type":`), want: 400})
	api.do(call{name: "ingest: no key", method: "POST", path: "/api/v1/events", body: map[string]any{"event_type": "user.login"}, want: 401})
	api.do(call{name: "ingest: read key", method: "POST", path: "/api/v1/events", bearer: readKey, body: map[string]any{"event_type": "user.login"}, want: 403})
	api.do(call{name: "ingest: text/plain", method: "POST", path: "/api/v1/events", bearer: ingestKey, body: []byte(`{}`), contentType: "text/plain", want: 415})
	api.do(call{name: "ingest: brotli", method: "POST", path: "/api/v1/events", bearer: ingestKey, body: []byte(`{}`), headers: map[string]string{"Content-Encoding": "br"}, want: 415})
	api.do(call{name: "ingest: over 1 MiB", method: "POST", path: "/api/v1/events", bearer: ingestKey,
		body: []byte(`{"event_type":"user.login","metadata":{"pad":"` + strings.Repeat("x", 1<<20) + `"}}`), want: 413})

	// Segment.
	segTrack := map[string]any{
		"type": "track", "event": "Order Completed", "userId": "customer-42", "messageId": "seg-1",
		"timestamp": at(2 * time.Minute), "properties": map[string]any{"community_id": communityA.String(), "total": 12.5},
		"context": map[string]any{"ip": "203.0.113.9", "userAgent": "analytics-node"},
	}
	segIdentify := map[string]any{"type": "identify", "userId": user.String(), "messageId": "seg-2", "traits": map[string]any{"email": "a@example.com", "plan": "pro"}}
	segBatch := map[string]any{"batch": []any{
		map[string]any{"type": "track", "event": "Signed Up", "anonymousId": "anon-1", "messageId": "seg-3"},
		map[string]any{"type": "track", "userId": "no-event-name", "messageId": "seg-4"},
	}, "context": map[string]any{"library": map[string]any{"name": "analytics-go"}}}
	api.do(call{name: "segment: track", method: "POST", path: "/v1/track", basic: ingestKey, body: segTrack, want: 200})
	api.do(call{name: "segment: identify", method: "POST", path: "/v1/identify", basic: ingestKey, body: segIdentify, want: 200})
	api.do(call{name: "segment: batch with an invalid message", method: "POST", path: "/v1/batch", basic: ingestKey, body: segBatch, want: 200})
	segImport := map[string]any{"writeKey": ingestKey, "batch": []any{map[string]any{"type": "track", "event": "Imported", "userId": "old-user", "messageId": "seg-5", "timestamp": at(3 * time.Minute)}}}
	api.do(call{name: "segment: import with writeKey in the body", method: "POST", path: "/v1/import", body: segImport, want: 200})
	api.do(call{name: "segment: no key", method: "POST", path: "/v1/track", body: map[string]any{"type": "track", "event": "x", "userId": "u"}, want: 401})
	api.do(call{name: "segment: read key", method: "POST", path: "/v1/track", basic: readKey, body: segTrack, want: 403})
	api.do(call{name: "segment: not JSON", method: "POST", path: "/v1/batch", basic: ingestKey, body: []byte(`batch=1`), want: 400})
	api.do(call{name: "segment: form body", method: "POST", path: "/v1/identify", basic: ingestKey, body: []byte(`a=1`), contentType: "application/x-www-form-urlencoded", want: 415})
	api.do(call{name: "segment: text/plain, as analytics.js sends", method: "POST", path: "/v1/track", body: map[string]any{
		"writeKey": ingestKey, "type": "track", "event": "Page Viewed", "anonymousId": "browser-1", "messageId": "seg-browser-1",
	}, contentType: "text/plain;charset=UTF-8", want: 200})
	api.do(call{name: "segment: page", method: "POST", path: "/v1/page", basic: ingestKey,
		body: map[string]any{"userId": "web-user-1", "name": "Home", "properties": map[string]any{"path": "/"}}, want: 200})
	api.do(call{name: "segment: CORS preflight", method: "OPTIONS", path: "/v1/batch",
		headers: map[string]string{"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}, want: 204})
	api.do(call{name: "segment: message over 32 KB", method: "POST", path: "/v1/track", basic: ingestKey,
		body: map[string]any{"type": "track", "event": "Big", "userId": "u", "properties": map[string]any{"pad": strings.Repeat("x", 33000)}}, want: 413})

	// Wait for the writer to store the events and the projectors to apply
	// them, so the read endpoints answer with data.
	q := db.New(primary.pool)
	if !eventually(30*time.Second, func() bool {
		n, err := q.ActivityCount(context.Background())
		return err == nil && n >= int64(ingested)
	}) {
		n, _ := q.ActivityCount(context.Background())
		t.Errorf("the writer stored %d activities within 30s, want at least %d; read answers will be empty", n, ingested)
	}
	// Each projector applies them on its own: the user's figures can be
	// there before the community's.
	userPath := "/api/v1/analytics/user/" + user.String()
	for _, path := range []string{userPath, "/api/v1/analytics/community/" + communityA.String()} {
		if !eventually(30*time.Second, func() bool { return api.status(http.MethodGet, path, adminKey) == http.StatusOK }) {
			t.Errorf("GET %s did not answer 200 within 30s: are the projectors running?", path)
		}
	}

	// Read.
	today := time.Now().UTC().Format(time.DateOnly)
	api.do(call{name: "overview", method: "GET", path: "/api/v1/analytics/overview", bearer: readKey, want: 200})
	_, h, _ := api.do(call{name: "overview in a zone", method: "GET", path: "/api/v1/analytics/overview?tz=Europe/Berlin&from=2026-01-01&to=2026-01-31", bearer: adminKey, want: 200})
	if etag := h.Get("ETag"); etag != "" {
		api.do(call{name: "overview not modified", method: "GET", path: "/api/v1/analytics/overview?tz=Europe/Berlin&from=2026-01-01&to=2026-01-31",
			bearer: adminKey, headers: map[string]string{"If-None-Match": etag}, want: 304})
	}
	api.do(call{name: "overview scoped", method: "GET", path: "/api/v1/analytics/overview", bearer: scopedReadKey, want: 200})
	api.do(call{name: "overview: unknown zone", method: "GET", path: "/api/v1/analytics/overview?tz=Mars/Olympus", bearer: readKey, want: 400})
	api.do(call{name: "overview: over 366 days", method: "GET", path: "/api/v1/analytics/overview?from=2024-01-01&to=2025-12-31", bearer: readKey, want: 400})
	api.do(call{name: "overview: no key", method: "GET", path: "/api/v1/analytics/overview", want: 401})
	api.do(call{name: "overview: ingest key", method: "GET", path: "/api/v1/analytics/overview", bearer: ingestKey, want: 403})

	api.do(call{name: "community", method: "GET", path: "/api/v1/analytics/community/" + communityA.String(), bearer: readKey, want: 200})
	api.do(call{name: "community scoped", method: "GET", path: "/api/v1/analytics/community/" + communityA.String(), bearer: scopedReadKey, want: 200})
	api.do(call{name: "community: outside the scope", method: "GET", path: "/api/v1/analytics/community/" + communityB.String(), bearer: scopedReadKey, want: 403})
	api.do(call{name: "community: unknown", method: "GET", path: "/api/v1/analytics/community/" + uuid.NewString(), bearer: readKey, want: 404})
	api.do(call{name: "community: not a UUID", method: "GET", path: "/api/v1/analytics/community/gophers", bearer: readKey, want: 400})

	api.do(call{name: "user", method: "GET", path: userPath, bearer: readKey, want: 200})
	api.do(call{name: "user scoped", method: "GET", path: userPath + "?tz=America/New_York", bearer: scopedReadKey, want: 200})
	api.do(call{name: "user: unknown", method: "GET", path: "/api/v1/analytics/user/" + uuid.NewString(), bearer: readKey, want: 404})
	api.do(call{name: "user: no key", method: "GET", path: userPath, want: 401})

	api.do(call{name: "events by day", method: "GET", path: "/api/v1/analytics/events", bearer: readKey, want: 200})
	api.do(call{name: "events by hour", method: "GET", path: "/api/v1/analytics/events?granularity=hour&event_type=user.login&community_id=" + communityA.String() + "&from=" + today + "&to=" + today, bearer: readKey, want: 200})
	api.do(call{name: "events: hour over 31 days", method: "GET", path: "/api/v1/analytics/events?granularity=hour&from=2026-01-01&to=2026-03-01", bearer: readKey, want: 400})
	api.do(call{name: "events: bad granularity", method: "GET", path: "/api/v1/analytics/events?granularity=week", bearer: readKey, want: 400})

	_, _, page := api.do(call{name: "activities", method: "GET", path: "/api/v1/activities?limit=2", bearer: readKey, want: 200})
	var first struct {
		NextCursor *string `json:"next_cursor"`
	}
	_ = json.Unmarshal(page, &first)
	if first.NextCursor == nil {
		t.Errorf("GET /api/v1/activities?limit=2 has no next_cursor although %d activities were sent", ingested)
	} else {
		api.do(call{name: "activities: next page", method: "GET", path: "/api/v1/activities?limit=2&cursor=" + url.QueryEscape(*first.NextCursor), bearer: readKey, want: 200})
	}
	api.do(call{name: "activities: filters and times", method: "GET", path: "/api/v1/activities?user_id=" + user.String() + "&event_type=user.login&from=" +
		url.QueryEscape(occurred.Add(-time.Hour).Format(time.RFC3339)) + "&to=" + today + "&tz=UTC", bearer: scopedReadKey, want: 200})
	api.do(call{name: "activities: outside the scope", method: "GET", path: "/api/v1/activities?community_id=" + communityB.String(), bearer: scopedReadKey, want: 403})
	api.do(call{name: "activities: limit 0", method: "GET", path: "/api/v1/activities?limit=0", bearer: readKey, want: 400})
	api.do(call{name: "activities: forged cursor", method: "GET", path: "/api/v1/activities?cursor=forged", bearer: readKey, want: 400})

	// Operate.
	api.do(call{name: "healthz", method: "GET", path: "/healthz", want: 200})
	api.do(call{name: "readyz", method: "GET", path: "/readyz", want: 200})
	api.do(call{name: "openapi.yaml", method: "GET", path: "/openapi.yaml", want: 200})

	// Admin.
	api.do(call{name: "projections", method: "GET", path: "/api/v1/admin/projections", bearer: adminKey, want: 200})
	api.do(call{name: "projections: read key", method: "GET", path: "/api/v1/admin/projections", bearer: readKey, want: 403})
	api.do(call{name: "failed events", method: "GET", path: "/api/v1/admin/failed-events", bearer: adminKey, want: 200})
	api.do(call{name: "failed events: page", method: "GET", path: "/api/v1/admin/failed-events?limit=1&before=1000", bearer: adminKey, want: 200})
	api.do(call{name: "failed events: limit 501", method: "GET", path: "/api/v1/admin/failed-events?limit=501", bearer: adminKey, want: 400})
	api.do(call{name: "failed events: no key", method: "GET", path: "/api/v1/admin/failed-events", want: 401})
	api.do(call{name: "keys", method: "GET", path: "/api/v1/admin/keys", bearer: adminKey, want: 200})
	api.do(call{name: "keys: ingest key", method: "GET", path: "/api/v1/admin/keys", bearer: ingestKey, want: 403})
	api.do(call{name: "revoke key", method: "DELETE", path: "/api/v1/admin/keys/" + revokeID, bearer: adminKey, want: 204})
	api.do(call{name: "revoke key again", method: "DELETE", path: "/api/v1/admin/keys/" + revokeID, bearer: adminKey, want: 204})
	api.do(call{name: "keys with a revoked one", method: "GET", path: "/api/v1/admin/keys", bearer: adminKey, want: 200})
	api.do(call{name: "revoke key: unknown", method: "DELETE", path: "/api/v1/admin/keys/" + uuid.NewString(), bearer: adminKey, want: 404})
	api.do(call{name: "revoke key: not an id", method: "DELETE", path: "/api/v1/admin/keys/nope", bearer: adminKey, want: 404})
	api.do(call{name: "rebuild", method: "POST", path: "/api/v1/admin/projections/event_counts/rebuild", bearer: adminKey, want: 202})
	api.do(call{name: "rebuild again", method: "POST", path: "/api/v1/admin/projections/event_counts/rebuild", bearer: adminKey, want: 202})
	api.do(call{name: "rebuild: unknown projection", method: "POST", path: "/api/v1/admin/projections/nope/rebuild", bearer: adminKey, want: 404})
	api.do(call{name: "rebuild: read key", method: "POST", path: "/api/v1/admin/projections/event_counts/rebuild", bearer: readKey, want: 403})
	api.do(call{name: "projections while rebuilding", method: "GET", path: "/api/v1/admin/projections", bearer: adminKey, want: 200})

	// 429: an API instance that allows one request per second per key.
	limited := startApp(t, config{DatabaseURL: dbURL, RedisURL: redisURL, RateLimit: 1}, false)
	_, limitedKey := newKey("rate limited", "ingest")
	lapi := api.on(limited)
	got429 := false
	for i := 0; i < 10 && !got429; i++ {
		status, _, _ := lapi.do(call{name: "ingest: rate limited", method: "POST", path: "/api/v1/events", bearer: limitedKey,
			body: map[string]any{"event_type": "webhook.triggered"}})
		got429 = status == http.StatusTooManyRequests
	}
	if !got429 {
		t.Errorf("ten requests on an instance allowing 1/s never answered 429")
	}
	got429 = false
	for i := 0; i < 10 && !got429; i++ {
		status, _, _ := lapi.do(call{name: "segment: rate limited", method: "POST", path: "/v1/track", basic: limitedKey, body: segTrack})
		got429 = status == http.StatusTooManyRequests
	}
	if !got429 {
		t.Errorf("ten Segment requests on an instance allowing 1/s never answered 429")
	}

	// 503: an API instance whose Redis does not answer.
	broken := startApp(t, config{DatabaseURL: dbURL, RedisURL: "redis://127.0.0.1:1/0"}, false)
	bapi := api.on(broken)
	bapi.do(call{name: "readyz: Redis down", method: "GET", path: "/readyz", want: 503})
	bapi.do(call{name: "ingest: Redis down", method: "POST", path: "/api/v1/events", bearer: ingestKey, body: map[string]any{"event_type": "webhook.triggered"}, want: 503})
	bapi.do(call{name: "segment: Redis down", method: "POST", path: "/v1/track", basic: ingestKey, body: segTrack, want: 503})

	for _, op := range contractOperations {
		if !api.seen[op] {
			t.Errorf("%s: no request of this test reached it", op)
		}
	}
	if len(api.missing) > 0 {
		var ops []string
		for op := range api.missing {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		t.Errorf("not implemented (404 \"no such endpoint\"): %s", strings.Join(ops, "; "))
	}
}

// privateRedisDB returns base with a database of its own: the app's stream
// and group names are fixed ("activity:ingest", "writers"), so the writers
// of other test processes on the shared database would take this test's
// entries. It claims an empty database from 1 to 15 with a lock key, kept
// while t runs, and empties it when t ends. A database whose lock expired
// and that holds only the app's keys is the leftover of a test process that
// was killed (the coordinator of go test -fuzz kills its workers): it is
// emptied and claimed.
func privateRedisDB(t testing.TB, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse Redis URL: %v", err)
	}
	const lock = "activity:test:claimed"
	token := uuid.NewString()
	for n := 1; n <= 15; n++ {
		u.Path = fmt.Sprintf("/%d", n)
		opts, err := redis.ParseURL(u.String())
		if err != nil {
			t.Fatalf("parse Redis URL: %v", err)
		}
		c := redis.NewClient(opts)
		ctx := context.Background()
		claimed, err := c.SetNX(ctx, lock, token, 10*time.Minute).Result()
		if err != nil {
			c.Close()
			pgtest.Unavailable(t, fmt.Sprintf("Redis does not answer: %v", err))
		}
		if !claimed {
			c.Close()
			continue
		}
		if !emptyOfLeftovers(ctx, c, lock) {
			c.Del(ctx, lock)
			c.Close()
			continue
		}
		stop, stopped := make(chan struct{}), make(chan struct{})
		go func() { // keep the claim while t runs, however long
			defer close(stopped)
			tick := time.NewTicker(time.Minute)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					c.Expire(ctx, lock, 10*time.Minute)
				}
			}
		}()
		t.Cleanup(func() {
			defer c.Close()
			close(stop)
			<-stopped
			if v, err := c.Get(ctx, lock).Result(); err == nil && v == token {
				c.FlushDB(ctx)
			}
		})
		return u.String()
	}
	t.Fatalf("no Redis database from 1 to 15 is free for this test")
	return ""
}

// emptyOfLeftovers empties the database of c, just claimed with lock, when it
// holds nothing but the app's keys (activity:*, activity.*), and reports
// whether it is empty but for the lock.
func emptyOfLeftovers(ctx context.Context, c *redis.Client, lock string) bool {
	size, err := c.DBSize(ctx).Result()
	if err != nil || size > 100 {
		return false
	}
	if size == 1 {
		return true
	}
	var stale []string
	iter := c.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		switch k := iter.Val(); {
		case k == lock:
		case strings.HasPrefix(k, "activity:"), strings.HasPrefix(k, "activity."):
			stale = append(stale, k)
		default:
			return false // not ours
		}
	}
	return iter.Err() == nil && (len(stale) == 0 || c.Unlink(ctx, stale...).Err() == nil)
}

// testApp is the app of serve running in-process behind an httptest server.
type testApp struct {
	url    string
	client *http.Client
	pool   *pgxpool.Pool
}

// startApp wires an app like serve does. With background, its writer,
// projectors and scheduler run too; otherwise it only answers the API.
func startApp(t testing.TB, cfg config, background bool) testApp {
	t.Helper()
	cfg.MetricsAddr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.DiscardHandler)
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("newApp: %v", err)
	}
	a.wireAPI()
	wireReadAPI(a)
	wireProjectionsAPI(a)
	wireSegmentAPI(a)
	done := make(chan error, 1)
	if background {
		if err := a.wireWriter(); err != nil {
			t.Fatalf("wire writer: %v", err)
		}
		if err := wireProjectors(a); err != nil {
			t.Fatalf("wire projectors: %v", err)
		}
		if err := a.wireScheduler(ctx); err != nil {
			t.Fatalf("wire scheduler: %v", err)
		}
		go func() { done <- a.run(ctx, false) }()
	} else {
		close(done)
	}
	srv := httptest.NewServer(a.router)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		if err, ok := <-done; ok && err != nil {
			t.Errorf("app stopped with an error: %v", err)
		}
		a.close()
	})
	return testApp{url: srv.URL, client: srv.Client(), pool: a.pool}
}

// call is one request of the live test.
type call struct {
	name        string
	method      string
	path        string // with the query
	bearer      string
	basic       string // the Basic-auth user (a Segment write key)
	body        any    // []byte as is, anything else as JSON
	contentType string // default application/json when there is a body
	gzip        bool
	headers     map[string]string
	want        int  // the status expected; 0: any the document lists
	docRejects  bool // the document must reject this request
	partial     bool // some events of the request are invalid: the document may reject it
}

// liveAPI sends calls to a running app and validates them against the
// document.
type liveAPI struct {
	t      *testing.T
	base   string
	doc    *openapi3.T
	router routers.Router
	client *http.Client

	mu      sync.Mutex
	seen    map[string]bool // operations reached, "METHOD /template"
	missing map[string]bool // operations that answered "no such endpoint"
}

// on returns a liveAPI on another app that reports into the same sets.
func (l *liveAPI) on(a testApp) *liveAPI {
	return &liveAPI{t: l.t, base: a.url, doc: l.doc, router: l.router, client: a.client, seen: l.seen, missing: l.missing}
}

// status sends an authenticated request and returns its status only.
func (l *liveAPI) status(method, path, bearer string) int {
	req, err := http.NewRequest(method, l.base+path, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := l.client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (l *liveAPI) do(c call) (int, http.Header, []byte) {
	t := l.t
	t.Helper()
	var body []byte
	switch b := c.body.(type) {
	case nil:
	case []byte:
		body = b
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			t.Fatalf("%s: encode body: %v", c.name, err)
		}
	}
	sent := body
	if c.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		sent = buf.Bytes()
	}
	newRequest := func(b []byte) *http.Request {
		var rd io.Reader
		if b != nil {
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequest(c.method, l.base+c.path, rd)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if body != nil {
			ct := c.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
		}
		if c.gzip {
			req.Header.Set("Content-Encoding", "gzip")
		}
		if c.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+c.bearer)
		}
		if c.basic != "" {
			req.SetBasicAuth(c.basic, "")
		}
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		return req
	}

	resp, err := l.client.Do(newRequest(sent))
	if err != nil {
		t.Errorf("%s: %s %s: %v", c.name, c.method, c.path, err)
		return 0, nil, nil
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Errorf("%s: read the answer: %v", c.name, err)
		return 0, nil, nil
	}

	// The request as the document sees it: the body before any gzip.
	vreq := newRequest(body)
	if c.gzip {
		vreq.Header.Del("Content-Encoding")
	}
	route, params, err := l.router.FindRoute(vreq)
	if err != nil {
		t.Errorf("%s: %s %s is not in the document: %v", c.name, c.method, c.path, err)
		return resp.StatusCode, resp.Header, respBody
	}
	op := c.method + " " + route.Path
	l.mu.Lock()
	l.seen[op] = true
	l.mu.Unlock()
	if resp.StatusCode == http.StatusNotFound && bytes.Contains(respBody, []byte("no such endpoint")) {
		l.mu.Lock()
		l.missing[op] = true
		l.mu.Unlock()
		return resp.StatusCode, resp.Header, respBody
	}
	if c.want != 0 && resp.StatusCode != c.want {
		t.Errorf("%s: %s %s = %d, want %d: %s", c.name, c.method, c.path, resp.StatusCode, c.want, truncate(respBody))
	}

	reqInput := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	switch reqErr := openapi3filter.ValidateRequest(context.Background(), reqInput); {
	case c.docRejects && reqErr == nil:
		t.Errorf("%s: the document accepts the request %s %s %s, which the server refuses", c.name, c.method, c.path, truncate(body))
	case !c.docRejects && !c.partial && resp.StatusCode < 300 && reqErr != nil:
		t.Errorf("%s: the document rejects the request %s %s, which the server accepts: %v", c.name, c.method, c.path, reqErr)
	}

	respInput := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	respInput.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(context.Background(), respInput); err != nil {
		t.Errorf("%s: %s %s answered %d, which does not match the document: %v\nbody: %s", c.name, c.method, c.path, resp.StatusCode, err, truncate(respBody))
	}
	return resp.StatusCode, resp.Header, respBody
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return fmt.Sprintf("%s... (%d bytes)", b[:600], len(b))
	}
	return string(b)
}

// eventually polls cond until it holds or timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
	return true
}
