package read

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activity-dev/activity/internal/auth"
)

// BenchmarkSeeded times each read endpoint, in process, on a database
// seeded by `activity dev seed` (ACTIVITY_BENCH_DATABASE_URL; skipped
// without it), so a CPU profile shows where an answer's time goes:
//
//	ACTIVITY_BENCH_DATABASE_URL=postgres://…/seed go test ./read -run '^$' \
//	  -bench Seeded -cpuprofile /tmp/read.prof
//
// ACTIVITY_BENCH_COMMUNITY names the community of the community page.
func BenchmarkSeeded(b *testing.B) {
	url := os.Getenv("ACTIVITY_BENCH_DATABASE_URL")
	if url == "" {
		b.Skip("ACTIVITY_BENCH_DATABASE_URL is not set")
	}
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	api, err := New(Config{}, pool, nil)
	if err != nil {
		b.Fatal(err)
	}
	r := mux.NewRouter()
	api.Register(r)
	community := os.Getenv("ACTIVITY_BENCH_COMMUNITY")
	today := time.Now().UTC()
	year := "from=" + today.AddDate(0, 0, -364).Format(time.DateOnly) + "&to=" + today.Format(time.DateOnly)
	for _, c := range []struct{ name, target string }{
		{"overview30", "/api/v1/analytics/overview"},
		{"overview365", "/api/v1/analytics/overview?" + year},
		{"overviewNY30", "/api/v1/analytics/overview?tz=America/New_York"},
		{"eventsDay365", "/api/v1/analytics/events?" + year},
		{"eventsDayNY365", "/api/v1/analytics/events?tz=America/New_York&" + year},
		{"overviewNY365", "/api/v1/analytics/overview?tz=America/New_York&" + year},
		// A zone that is (usually) not a report time zone: composed from hours.
		{"eventsDayChicago365", "/api/v1/analytics/events?tz=America/Chicago&" + year},
		{"community30", "/api/v1/analytics/community/" + community},
		{"community365", "/api/v1/analytics/community/" + community + "?" + year},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequestWithContext(auth.WithKey(context.Background(), unscoped), http.MethodGet, c.target, nil)
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", c.target, rec.Code, rec.Body)
				}
			}
		})
	}
}
