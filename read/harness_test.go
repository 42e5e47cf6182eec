package read

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/partitions"
	"github.com/activity-dev/activity/internal/pgtest"
	"github.com/activity-dev/activity/projections"
)

// testNow is "now" for every test: today is 2026-11-21 in UTC.
var testNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

var (
	unscoped = auth.Key{ID: uuid.New(), Name: "unscoped", Role: auth.RoleRead}
	adminKey = auth.Key{ID: uuid.New(), Name: "admin", Role: auth.RoleAdmin}
)

func scopedKey(communities ...uuid.UUID) auth.Key {
	return auth.Key{ID: uuid.New(), Name: "scoped", Role: auth.RoleRead, Communities: communities}
}

// ev is an activity to store: zero UUIDs stand for "none".
type ev struct {
	typ       string
	user      uuid.UUID
	community uuid.UUID
	at        time.Time
	meta      string // JSON object; default {}
	entity    [2]string
}

// fixture is one test's database, filled with activities and their
// rollups, and a router serving the read API over it.
type fixture struct {
	t      *testing.T
	pool   *pgxpool.Pool
	api    *API
	router *mux.Router
	seq    int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := pgtest.NewPool(t)
	api, err := New(Config{Now: func() time.Time { return testNow }}, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := api.LoadSecret(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	api.Register(r)
	return &fixture{t: t, pool: pool, api: api, router: r}
}

// store appends activities to the log.
func (f *fixture) store(evs ...ev) {
	f.t.Helper()
	ctx := context.Background()
	q := db.New(f.pool)
	var users, communities []uuid.UUID
	var arg db.ActivityInsertBatchParams
	for _, e := range evs {
		f.seq++
		if e.user != uuid.Nil && !slices.Contains(users, e.user) {
			users = append(users, e.user)
		}
		if e.community != uuid.Nil && !slices.Contains(communities, e.community) {
			communities = append(communities, e.community)
		}
		meta := e.meta
		if meta == "" {
			meta = "{}"
		}
		arg.EventIds = append(arg.EventIds, fmt.Sprintf("ev-%d", f.seq))
		arg.EventTypes = append(arg.EventTypes, e.typ)
		arg.UserIds = append(arg.UserIds, idString(e.user))
		arg.CommunityIds = append(arg.CommunityIds, idString(e.community))
		arg.EntityTypes = append(arg.EntityTypes, e.entity[0])
		arg.EntityIds = append(arg.EntityIds, e.entity[1])
		arg.Metadata = append(arg.Metadata, meta)
		arg.IpAddresses = append(arg.IpAddresses, "")
		arg.UserAgents = append(arg.UserAgents, "")
		arg.CreatedAts = append(arg.CreatedAts, e.at)
		arg.ReceivedAts = append(arg.ReceivedAts, e.at.Add(time.Second))
	}
	slices.SortFunc(users, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(communities, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	if err := q.UserEnsureBatch(ctx, db.UserEnsureBatchParams{Ids: users, ExternalIds: make([]string, len(users))}); err != nil {
		f.t.Fatal(err)
	}
	if err := q.CommunityEnsureBatch(ctx, communities); err != nil {
		f.t.Fatal(err)
	}
	if err := partitions.NewManager(f.pool).Ensure(ctx, arg.CreatedAts...); err != nil {
		f.t.Fatal(err)
	}
	n, err := q.ActivityInsertBatch(ctx, arg)
	if err != nil {
		f.t.Fatal(err)
	}
	if int(n) != len(evs) {
		f.t.Fatalf("stored %d of %d activities", n, len(evs))
	}
}

// project brings every rollup up to date with the whole log. Call it after
// the last store.
func (f *fixture) project() {
	f.t.Helper()
	if err := projections.ApplyWholeLog(context.Background(), f.pool); err != nil {
		f.t.Fatal(err)
	}
}

// reportZones makes the rollups (before any activity is applied) hold the
// local days of zones, as a rebuild with ACTIVITY_REPORT_TIME_ZONES does.
func (f *fixture) reportZones(zones ...string) *fixture {
	f.t.Helper()
	if _, err := f.pool.Exec(context.Background(), `UPDATE projection_checkpoints SET time_zones = $1
		WHERE name IN ('event_counts', 'user_sketches')`, zones); err != nil {
		f.t.Fatal(err)
	}
	return f
}

// seed stores evs and builds the rollups.
func (f *fixture) seed(evs ...ev) *fixture {
	f.t.Helper()
	f.store(evs...)
	f.project()
	return f
}

func idString(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}

// get serves GET target to k, with extra request headers (name, value...).
func (f *fixture) get(t testing.TB, k auth.Key, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	req = req.WithContext(auth.WithKey(req.Context(), k))
	rec := httptest.NewRecorder()
	f.router.ServeHTTP(rec, req)
	return rec
}

// getJSON serves target to k, requires 200 and decodes the body into v.
func getJSON[T any](t testing.TB, f *fixture, k auth.Key, target string) T {
	t.Helper()
	rec := f.get(t, k, target)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200: %s", target, rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q", target, ct)
	}
	var v T
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("GET %s: decode: %v", target, err)
	}
	return v
}

// problemBody is an RFC 9457 answer.
type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// wantProblem requires a problem+json answer with status, naming field (when
// not empty) among its errors, and returns it.
func (f *fixture) wantProblem(t testing.TB, k auth.Key, target string, status int, field string) problemBody {
	t.Helper()
	rec := f.get(t, k, target)
	if rec.Code != status {
		t.Fatalf("GET %s: status %d, want %d: %s", target, rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("GET %s: Content-Type %q, want application/problem+json", target, ct)
	}
	var p problemBody
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("GET %s: decode problem: %v", target, err)
	}
	if p.Status != status || p.Detail == "" || p.Type == "" || p.Title == "" {
		t.Fatalf("GET %s: incomplete problem %+v", target, p)
	}
	if field != "" && !slices.ContainsFunc(p.Errors, func(e struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	}) bool {
		return e.Field == field
	}) {
		t.Fatalf("GET %s: problem does not name field %q: %+v", target, field, p)
	}
	return p
}

// at is a UTC time on 2026-mm-dd.
func at(month time.Month, day, hour, minute int) time.Time {
	return time.Date(2026, month, day, hour, minute, 0, 0, time.UTC)
}

// ids returns n fresh UUIDs in ascending order.
func ids(n int) []uuid.UUID {
	out := make([]uuid.UUID, n)
	for i := range out {
		out[i] = uuid.New()
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	return out
}
