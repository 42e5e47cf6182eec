package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/activity-dev/activity/internal/auth"
	"github.com/activity-dev/activity/internal/pgtest"
	"github.com/activity-dev/activity/internal/redistest"
)

// TestSegment_AnalyticsJSPathsAreServed: analytics.js, given this service as
// its apiHost (host/v1), posts each call to /v1/t, /v1/i, /v1/p or /v1/s, or
// batches to /v1/b, as text/plain with the write key in the body. Each is
// the full route's handler: the five messages are stored as the five
// activities they map to.
func TestSegment_AnalyticsJSPathsAreServed(t *testing.T) {
	t.Parallel()
	adminKey := auth.NewSecret()
	app := startApp(t, config{DatabaseURL: pgtest.NewURL(t), RedisURL: privateRedisDB(t, redistest.URL(t)), AdminKey: adminKey}, true)
	message := func(typ, extra string) string {
		return `{"writeKey":"` + adminKey + `","type":"` + typ + `","anonymousId":"ajs-visitor","messageId":"ajs-` + typ + `"` + extra + `}`
	}
	for path, body := range map[string]string{
		"/v1/t": message("track", `,"event":"Order Completed"`),
		"/v1/i": message("identify", `,"traits":{"plan":"pro"}`),
		"/v1/p": message("page", `,"name":"Home"`),
		"/v1/s": message("screen", `,"name":"Cart"`),
		"/v1/b": `{"writeKey":"` + adminKey + `","batch":[` + message("track", `,"event":"Batched","messageId":"ajs-batched"`) + `]}`,
	} {
		req, _ := http.NewRequest(http.MethodPost, app.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		req.Header.Set("Origin", "https://shop.example")
		res, err := app.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
			t.Errorf("POST %s: %d, Access-Control-Allow-Origin %q; want 200 for the origin", path, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	want := map[string]bool{"order_completed": true, "user.identify": true, "page.viewed": true, "screen.viewed": true, "batched": true}
	var got []string
	if !eventually(30*time.Second, func() bool {
		rows, err := app.pool.Query(context.Background(), `SELECT event_type FROM activities ORDER BY event_type`)
		if err != nil {
			return false
		}
		defer rows.Close()
		got = got[:0]
		for rows.Next() {
			var s string
			if rows.Scan(&s) == nil {
				got = append(got, s)
			}
		}
		return len(got) >= len(want)
	}) {
		t.Fatalf("stored %v within 30 s, want %d activities", got, len(want))
	}
	for _, typ := range got {
		if !want[typ] {
			t.Errorf("stored %q; want only %v", typ, want)
		}
		delete(want, typ)
	}
	if len(want) != 0 {
		t.Errorf("not stored: %v (got %v)", want, got)
	}
}
