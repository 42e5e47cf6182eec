package projections_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/projections"
)

type adminFixture struct {
	srv          *httptest.Server
	admin, reads string
	runner       *projections.Runner
	activities   int64
}

func newAdminFixture(t *testing.T) adminFixture {
	t.Helper()
	pool := newDB(t)
	ctx := context.Background()
	keys := auth.NewStore(pool, auth.Config{})
	_, admin, err := keys.Create(ctx, "admin", auth.RoleAdmin, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, reads, err := keys.Create(ctx, "reader", auth.RoleRead, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, pool, projections.Config{Tick: 5 * time.Millisecond})
	router := mux.NewRouter()
	sub := router.NewRoute().Subrouter()
	sub.Use(keys.Require(auth.RoleAdmin))
	(&projections.AdminHandler{Runner: r}).Register(sub)
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	g := newGen(1)
	if err := insertTx(ctx, pool, g.batch(50)); err != nil {
		t.Fatal(err)
	}
	n, err := db.New(pool).ActivityCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return adminFixture{srv: srv, admin: admin, reads: reads, runner: r, activities: n}
}

func (f adminFixture) do(t *testing.T, method, path, key string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestAdminProjections_StatusListsEveryProjection(t *testing.T) {
	t.Parallel()
	f := newAdminFixture(t)
	resp, body := f.do(t, http.MethodGet, "/api/v1/admin/projections", f.admin)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var got []map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if len(got) != len(projections.All()) {
		t.Fatalf("got %d projections, want %d: %s", len(got), len(projections.All()), body)
	}
	for _, p := range got {
		for _, field := range []string{"name", "version", "status", "checkpoint", "lag_seconds", "rows_behind"} {
			if _, ok := p[field]; !ok {
				t.Errorf("%v lacks %q", p, field)
			}
		}
		if v, _ := p["version"].(float64); p["status"] != "live" || v < 1 || p["checkpoint"] != "0:0" {
			t.Errorf("before any projector ran: %v", p)
		}
		if p["rows_behind"] != float64(f.activities) || p["lag_seconds"].(float64) <= 0 {
			t.Errorf("%d activities are waiting, received long ago: %v", f.activities, p)
		}
	}
}

func TestAdminProjections_NeedsAnAdminKey(t *testing.T) {
	t.Parallel()
	f := newAdminFixture(t)
	for _, c := range []struct {
		method, path, key string
		want              int
	}{
		{http.MethodGet, "/api/v1/admin/projections", "", http.StatusUnauthorized},
		{http.MethodGet, "/api/v1/admin/projections", "act_unknown", http.StatusUnauthorized},
		{http.MethodGet, "/api/v1/admin/projections", f.reads, http.StatusForbidden},
		{http.MethodPost, "/api/v1/admin/projections/event_counts/rebuild", "", http.StatusUnauthorized},
		{http.MethodPost, "/api/v1/admin/projections/event_counts/rebuild", f.reads, http.StatusForbidden},
	} {
		resp, body := f.do(t, c.method, c.path, c.key)
		if resp.StatusCode != c.want || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s with %q: %d %q, want %d problem: %s", c.method, c.path, c.key, resp.StatusCode, resp.Header.Get("Content-Type"), c.want, body)
		}
	}
}

func TestAdminProjections_RebuildUnknownIs404(t *testing.T) {
	t.Parallel()
	f := newAdminFixture(t)
	resp, body := f.do(t, http.MethodPost, "/api/v1/admin/projections/nope/rebuild", f.admin)
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

// TestAdminProjections_RebuildIs202AndTheRunningProjectorFinishesIt: the
// endpoint only starts the rebuild (no background context here), a second
// request joins it, and a running projector fills, catches up and switches.
func TestAdminProjections_RebuildIs202AndTheRunningProjectorFinishesIt(t *testing.T) {
	t.Parallel()
	f := newAdminFixture(t)
	var got []projections.RebuildStart
	for range 2 {
		resp, body := f.do(t, http.MethodPost, "/api/v1/admin/projections/user_stats/rebuild", f.admin)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%d: %s", resp.StatusCode, body)
		}
		var st projections.RebuildStart
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatal(err)
		}
		got = append(got, st)
	}
	want := []projections.RebuildStart{
		{Name: "user_stats", Version: 2, Status: "rebuilding", Started: true},
		{Name: "user_stats", Version: 2, Status: "rebuilding", Started: false},
	}
	if got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	st, err := f.runner.StatusOf(context.Background(), "user_stats")
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "rebuilding" || st.Version != 1 || st.Next == nil || st.Next.Version != 2 {
		t.Fatalf("status during the rebuild: %+v", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.runner.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "user_stats live at version 2", 20*time.Second, func() (bool, error) {
		st, err := f.runner.StatusOf(context.Background(), "user_stats")
		return err == nil && st.Version == 2 && st.Status == "live" && st.RowsBehind == 0, err
	})
}
