package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fakeAPI accepts every event at once and answers the rollup reads with
// what it has accepted, remembering when the first event and the first
// marker came.
type fakeAPI struct {
	mu                      sync.Mutex
	events, markers         int64
	firstEvent, firstMarker time.Time
	userMarkers             map[string]bool // community ids of user markers
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/api/v1/events":
		var one map[string]any
		var batch struct {
			Events []map[string]any `json:"events"`
		}
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &batch) != nil || batch.Events == nil {
			if err := json.Unmarshal(body, &one); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			batch.Events = []map[string]any{one}
		}
		now := time.Now()
		for _, e := range batch.Events {
			if f.firstEvent.IsZero() {
				f.firstEvent = now
			}
			if e["event_type"] == UserMarkerType {
				if f.userMarkers == nil {
					f.userMarkers = map[string]bool{}
				}
				f.userMarkers[e["community_id"].(string)] = true
			}
			if e["event_type"] == MarkerType {
				f.markers++
				if f.firstMarker.IsZero() {
					f.firstMarker = now
				}
			}
		}
		f.events += int64(len(batch.Events))
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"accepted": %d}`, len(batch.Events))
	case "/api/v1/analytics/overview":
		fmt.Fprintf(w, `{"totals": {"events": %d}}`, f.events)
	case "/api/v1/analytics/events":
		if c := r.URL.Query().Get("community_id"); c != "" {
			users := 0
			if r.URL.Query().Get("event_type") == UserMarkerType && f.userMarkers[c] {
				users = 1
			}
			fmt.Fprintf(w, `{"series": [{"events": %d, "unique_users": %d}]}`, users, users)
			return
		}
		fmt.Fprintf(w, `{"series": [{"events": %d}]}`, f.markers)
	default:
		http.NotFound(w, r)
	}
}

// TestRun_WarmupSendsFirstAndMeasuresOnlyAfterIt: with -warmup, load goes out
// at the rate for the warm-up before any marker, and the report's markers
// and config are the measured run's.
func TestRun_WarmupSendsFirstAndMeasuresOnlyAfterIt(t *testing.T) {
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	c := Config{
		URL: srv.URL, Key: "k", Rate: 2000, Clients: 2, Batch: 10, Users: 10, Communities: 2,
		Duration: 500 * time.Millisecond, Warmup: 500 * time.Millisecond, MarkerEvery: 50 * time.Millisecond, UserMarkers: true,
		Poll: 10 * time.Millisecond, FreshnessTimeout: 10 * time.Second, JSON: true, Quiet: true,
	}
	var out bytes.Buffer
	if err := run(context.Background(), c, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if d := api.firstMarker.Sub(api.firstEvent); d < 450*time.Millisecond {
		t.Errorf("the first marker came %v after the first event, want the warm-up (500ms) first", d)
	}
	if rep.Config.Warmup != 0.5 || rep.Config.Duration != 0.5 {
		t.Errorf("report config %+v, want warmup_s 0.5 and duration_s 0.5", rep.Config)
	}
	// A marker the end of the run cut off may have reached the API unanswered.
	if n := int64(rep.Markers.N); n == 0 || n > api.markers || n < api.markers-1 {
		t.Errorf("report has %d markers, the API took %d (all sent after the warm-up)", n, api.markers)
	}
	if rep.UserMarkers.N != rep.Markers.N || rep.UserMarkersLost != 0 || len(api.userMarkers) != int(api.markers) {
		t.Errorf("report has %d user markers seen and %d lost, %d markers; the API took %d user markers and %d markers",
			rep.UserMarkers.N, rep.UserMarkersLost, rep.Markers.N, len(api.userMarkers), api.markers)
	}
	if rep.Accepted >= api.events-api.markers {
		t.Errorf("report counts %d events accepted of the %d sent in all: the warm-up's are counted too", rep.Accepted, api.events)
	}
}
