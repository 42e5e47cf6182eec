package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Rollups reads how many events the rollups hold for today (UTC, with a day
// of margin either side): in total, and of the marker type. It asks the read
// API when it answers, else PostgreSQL.
type Rollups struct {
	base   string
	key    string
	client *http.Client
	pool   *pgxpool.Pool // nil: API only
	viaAPI bool
}

// errNoRollups means neither the read API nor PostgreSQL can be asked.
var errNoRollups = errors.New("neither the read API answers nor -database-url is set")

// NewRollups picks the source: the read API when the overview answers 200
// with key, else SQL over the rollup tables when databaseURL is set.
func NewRollups(ctx context.Context, base, key, databaseURL string, client *http.Client) (*Rollups, error) {
	r := &Rollups{base: base, key: key, client: client}
	if _, err := r.apiTotal(ctx); err == nil {
		r.viaAPI = true
		return r, nil
	} else if databaseURL == "" {
		return nil, fmt.Errorf("%w (read API: %v)", errNoRollups, err)
	}
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	r.pool = pool
	if _, err := r.sqlCount(ctx, ""); err != nil {
		pool.Close()
		return nil, fmt.Errorf("rollups over SQL: %w", err)
	}
	return r, nil
}

// Source names where the figures come from.
func (r *Rollups) Source() string {
	if r.viaAPI {
		return "GET /api/v1/analytics/overview and /events"
	}
	return "SQL over event_counts (current version)"
}

// Close releases the database pool, if any.
func (r *Rollups) Close() {
	if r.pool != nil {
		r.pool.Close()
	}
}

// Total is the number of events the rollups hold for today ±1 day.
func (r *Rollups) Total(ctx context.Context) (int64, error) {
	if r.viaAPI {
		return r.apiTotal(ctx)
	}
	return r.sqlCount(ctx, "")
}

// Markers is the number of marker events the rollups hold for today ±1 day.
func (r *Rollups) Markers(ctx context.Context) (int64, error) {
	if r.viaAPI {
		return r.apiMarkers(ctx)
	}
	return r.sqlCount(ctx, MarkerType)
}

func window() url.Values {
	today := time.Now().UTC()
	return url.Values{
		"from": {today.AddDate(0, 0, -1).Format(time.DateOnly)},
		"to":   {today.AddDate(0, 0, 1).Format(time.DateOnly)},
		"tz":   {"UTC"},
	}
}

func (r *Rollups) apiTotal(ctx context.Context) (int64, error) {
	var v struct {
		Totals struct {
			Events *int64 `json:"events"`
		} `json:"totals"`
	}
	if err := r.get(ctx, "/api/v1/analytics/overview?"+window().Encode(), &v); err != nil {
		return 0, err
	}
	if v.Totals.Events == nil {
		return 0, errors.New("overview has no totals.events")
	}
	return *v.Totals.Events, nil
}

func (r *Rollups) apiMarkers(ctx context.Context) (int64, error) {
	q := window()
	q.Set("event_type", MarkerType)
	var v struct {
		Series []struct {
			Events int64 `json:"events"`
		} `json:"series"`
	}
	if err := r.get(ctx, "/api/v1/analytics/events?"+q.Encode(), &v); err != nil {
		return 0, err
	}
	var n int64
	for _, s := range v.Series {
		n += s.Events
	}
	return n, nil
}

// UserMarkerSeen reports whether the rollups count the distinct user of the
// user marker sent in community (read API only: the distinct-user figures
// are sketches, merged by the read side).
func (r *Rollups) UserMarkerSeen(ctx context.Context, community string) (bool, error) {
	q := window()
	q.Set("event_type", UserMarkerType)
	q.Set("community_id", community)
	var v struct {
		Series []struct {
			UniqueUsers int64 `json:"unique_users"`
		} `json:"series"`
	}
	if err := r.get(ctx, "/api/v1/analytics/events?"+q.Encode(), &v); err != nil {
		return false, err
	}
	for _, s := range v.Series {
		if s.UniqueUsers > 0 {
			return true, nil
		}
	}
	return false, nil
}

func (r *Rollups) get(ctx context.Context, path string, into any) error {
	body, err := r.fetch(ctx, path)
	if err != nil {
		return err
	}
	return json.Unmarshal(body, into)
}

// fetch GETs path and returns the body of a 200 answer.
func (r *Rollups) fetch(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.key)
	res, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", path, res.Status, body)
	}
	return body, nil
}

// sqlCount sums event_counts of the current version over today ±1 day (UTC),
// of one event type when typ is not empty.
func (r *Rollups) sqlCount(ctx context.Context, typ string) (int64, error) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	var n int64
	err := r.pool.QueryRow(ctx, `
		SELECT COALESCE(sum(events), 0)::bigint FROM event_counts
		WHERE version = (SELECT current_version FROM projections WHERE name = 'event_counts')
		  AND res = 'h' AND community_id = 'ffffffff-ffff-ffff-ffff-ffffffffffff'
		  AND bucket >= $1 AND bucket < $2 AND event_type = $3`,
		today.AddDate(0, 0, -1), today.AddDate(0, 0, 2), typ).Scan(&n)
	return n, err
}
