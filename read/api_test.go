package read

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/activity-dev/activity/internal/auth"
)

func TestAPI_StrongETagAndIfNoneMatchAnswer304(t *testing.T) {
	t.Parallel()
	f, mine, _, shared, _ := scopeFixture(t)
	for _, target := range []string{
		"/api/v1/analytics/overview",
		"/api/v1/analytics/community/" + mine.String(),
		"/api/v1/analytics/user/" + shared.String(),
		"/api/v1/analytics/events",
		"/api/v1/activities",
	} {
		rec := f.get(t, unscoped, target)
		etag := rec.Header().Get("ETag")
		if rec.Code != http.StatusOK || len(etag) < 10 || etag[0] != '"' || rec.Header().Get("Cache-Control") != "private, max-age=5" {
			t.Fatalf("%s: status %d ETag %q Cache-Control %q", target, rec.Code, etag, rec.Header().Get("Cache-Control"))
		}
		if again := f.get(t, unscoped, target); again.Header().Get("ETag") != etag || again.Body.String() != rec.Body.String() {
			t.Fatalf("%s: the same answer has another ETag", target)
		}
		for _, inm := range []string{etag, `"nope", ` + etag, "W/" + etag, "*"} {
			nm := f.get(t, unscoped, target, "If-None-Match", inm)
			if nm.Code != http.StatusNotModified || nm.Body.Len() != 0 || nm.Header().Get("ETag") != etag {
				t.Fatalf("%s If-None-Match %s: status %d body %q", target, inm, nm.Code, nm.Body)
			}
		}
		if nm := f.get(t, unscoped, target, "If-None-Match", `"other"`); nm.Code != http.StatusOK {
			t.Fatalf("%s: stale ETag answered %d", target, nm.Code)
		}
	}
	// Another scope sees other figures, so another ETag.
	a := f.get(t, unscoped, "/api/v1/analytics/overview").Header().Get("ETag")
	b := f.get(t, scopedKey(mine), "/api/v1/analytics/overview").Header().Get("ETag")
	if a == b {
		t.Fatal("scoped and unscoped overviews share an ETag")
	}
}

func TestAPI_KeysThroughTheMiddleware(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := uuid.New()
	f.seed(ev{typ: "event.created", community: c, at: at(11, 20, 10, 0)})
	keys := auth.NewStore(f.pool, auth.Config{})
	create := func(role auth.Role, communities ...uuid.UUID) string {
		_, secret, err := keys.Create(context.Background(), "test", role, communities)
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	r := mux.NewRouter()
	sub := r.NewRoute().Subrouter()
	sub.Use(keys.Require(auth.RoleRead))
	f.api.Register(sub)
	srv := httptest.NewServer(r)
	defer srv.Close()
	do := func(secret, path string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	read, admin, ingest := create(auth.RoleRead), create(auth.RoleAdmin), create(auth.RoleIngest)
	scoped := create(auth.RoleRead, uuid.New())
	for _, path := range []string{"/api/v1/analytics/overview", "/api/v1/analytics/community/" + c.String(), "/api/v1/analytics/events", "/api/v1/activities"} {
		for _, tc := range []struct {
			secret string
			want   int
		}{{"", 401}, {"act_unknown", 401}, {ingest, 403}, {read, 200}, {admin, 200}} {
			if got := do(tc.secret, path); got != tc.want {
				t.Errorf("%s with key %q: %d, want %d", path, tc.secret, got, tc.want)
			}
		}
	}
	if got := do(scoped, "/api/v1/analytics/community/"+c.String()); got != 403 {
		t.Errorf("scoped key on another community: %d, want 403", got)
	}
}

func TestAPI_HeadAnswersHeadersOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req := httptest.NewRequest(http.MethodHead, "/api/v1/analytics/overview", nil)
	req = req.WithContext(auth.WithKey(req.Context(), unscoped))
	rec := httptest.NewRecorder()
	f.router.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("ETag") == "" {
		t.Fatalf("HEAD: %d %q", rec.Code, rec.Body)
	}
}
