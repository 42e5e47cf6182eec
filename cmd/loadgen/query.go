package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// QueryReport is the latency of each analytics endpoint and, with
// -database-url, of the naive query over the raw log answering the same
// question.
type QueryReport struct {
	Endpoints []EndpointLatency `json:"endpoints"`
}

// EndpointLatency is one endpoint's figures.
type EndpointLatency struct {
	Name   string       `json:"name"`
	Path   string       `json:"path"`
	Status string       `json:"status"` // "ok" or the first failure
	API    Percentiles  `json:"api"`
	Naive  *Percentiles `json:"naive_log_query,omitempty"`
}

// naiveQueries are what the rollups save: the same figures by GROUP BY over
// activities, for the default window (the last 30 days).
type naiveQuery struct {
	sql  []string
	args []any
}

func runQueries(ctx context.Context, c Config) (*QueryReport, error) {
	client := newClient(2)
	r := &Rollups{base: c.URL, key: c.ReadKey, client: client}
	var pool *pgxpool.Pool
	if c.DatabaseURL != "" {
		p, err := pgxpool.New(ctx, c.DatabaseURL)
		if err != nil {
			return nil, err
		}
		defer p.Close()
		pool = p
	}
	user, community := c.QueryUser, c.QueryCommunity
	today := time.Now().UTC().Truncate(24 * time.Hour)
	from30 := today.AddDate(0, 0, -29)
	from365 := today.AddDate(0, 0, -364)
	to := today.AddDate(0, 0, 1)
	year := url.Values{"from": {from365.Format(time.DateOnly)}, "to": {today.Format(time.DateOnly)}}.Encode()
	newYork := url.Values{"tz": {"America/New_York"}}.Encode()
	newYorkYear := url.Values{"tz": {"America/New_York"}, "from": {from365.Format(time.DateOnly)}, "to": {today.Format(time.DateOnly)}}.Encode()
	eventsByDay := []string{
		`SELECT date_trunc('day', created_at), event_type, count(*), count(DISTINCT user_id) FROM activities WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2 ORDER BY 1, 2`,
	}
	hourQ := url.Values{"granularity": {"hour"}, "from": {today.AddDate(0, 0, -1).Format(time.DateOnly)}, "to": {today.Format(time.DateOnly)}}

	overviewSQL := []string{
		`SELECT count(*), count(DISTINCT user_id), count(DISTINCT community_id) FROM activities WHERE created_at >= $1 AND created_at < $2`,
		`SELECT date_trunc('day', created_at), count(*), count(DISTINCT user_id) FROM activities WHERE created_at >= $1 AND created_at < $2 GROUP BY 1`,
		`SELECT event_type, count(*) FROM activities WHERE created_at >= $1 AND created_at < $2 GROUP BY 1 ORDER BY 2 DESC`,
		`SELECT community_id, count(*) FROM activities WHERE created_at >= $1 AND created_at < $2 AND community_id IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 10`,
	}
	communitySQL := []string{
		`SELECT count(*), count(DISTINCT user_id) FROM activities WHERE community_id = $3 AND created_at >= $1 AND created_at < $2`,
		`SELECT date_trunc('day', created_at), count(*), count(DISTINCT user_id) FROM activities WHERE community_id = $3 AND created_at >= $1 AND created_at < $2 GROUP BY 1`,
		`SELECT event_type, count(*) FROM activities WHERE community_id = $3 AND created_at >= $1 AND created_at < $2 GROUP BY 1 ORDER BY 2 DESC`,
		`SELECT user_id, count(*) FROM activities WHERE community_id = $3 AND created_at >= $1 AND created_at < $2 AND user_id IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 10`,
	}
	userSQL := []string{
		`SELECT min(created_at), max(created_at), count(*) FROM activities WHERE user_id = $3 AND $1::timestamptz IS NOT NULL AND $2::timestamptz IS NOT NULL`,
		`SELECT date_trunc('day', created_at), count(*) FROM activities WHERE user_id = $3 AND created_at >= $1 AND created_at < $2 GROUP BY 1`,
		`SELECT event_type, count(*) FROM activities WHERE user_id = $3 AND created_at >= $1 AND created_at < $2 GROUP BY 1`,
		`SELECT community_id, count(*) FROM activities WHERE user_id = $3 AND created_at >= $1 AND created_at < $2 GROUP BY 1`,
	}
	endpoints := []struct {
		name, path string
		naive      *naiveQuery
	}{
		{"overview (30 days)", "/api/v1/analytics/overview", &naiveQuery{overviewSQL, []any{from30, to}}},
		{"overview (365 days)", "/api/v1/analytics/overview?" + year, &naiveQuery{overviewSQL, []any{from365, to}}},
		{"overview (30 days, America/New_York)", "/api/v1/analytics/overview?" + newYork, nil},
		{"overview (365 days, America/New_York)", "/api/v1/analytics/overview?" + newYorkYear, nil},
		{"events by day (365 days, America/New_York)", "/api/v1/analytics/events?" + newYorkYear, nil},
		{"events by day (30 days)", "/api/v1/analytics/events", &naiveQuery{eventsByDay, []any{from30, to}}},
		{"events by day (365 days)", "/api/v1/analytics/events?" + year, &naiveQuery{eventsByDay, []any{from365, to}}},
		{"events by hour (2 days)", "/api/v1/analytics/events?" + hourQ.Encode(), &naiveQuery{[]string{
			`SELECT date_trunc('hour', created_at), event_type, count(*), count(DISTINCT user_id) FROM activities WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2 ORDER BY 1, 2`,
		}, []any{today.AddDate(0, 0, -1), to}}},
		{"community (30 days)", "/api/v1/analytics/community/" + community, &naiveQuery{communitySQL, []any{from30, to, community}}},
		{"community (365 days)", "/api/v1/analytics/community/" + community + "?" + year, &naiveQuery{communitySQL, []any{from365, to, community}}},
		{"user (30 days)", "/api/v1/analytics/user/" + user, &naiveQuery{userSQL, []any{from30, to, user}}},
		{"user (365 days)", "/api/v1/analytics/user/" + user + "?" + year, &naiveQuery{userSQL, []any{from365, to, user}}},
		{"activities (newest 100)", "/api/v1/activities?limit=100", nil},
	}
	rep := &QueryReport{}
	for _, e := range endpoints {
		el := EndpointLatency{Name: e.name, Path: e.path, Status: "ok"}
		var d []time.Duration
		for i := 0; i < c.Query && ctx.Err() == nil; i++ {
			t0 := time.Now()
			// Timed to the last byte of the body; checking that it is JSON
			// is the client's cost, not the server's, and comes after.
			body, err := r.fetch(ctx, e.path)
			t1 := time.Now()
			if err == nil && !json.Valid(body) {
				err = fmt.Errorf("GET %s: the body is not JSON: %.200s", e.path, body)
			}
			if err != nil {
				el.Status = err.Error()
				break
			}
			d = append(d, t1.Sub(t0))
		}
		el.API = percentiles(d)
		if pool != nil && e.naive != nil {
			var nd []time.Duration
			for i := 0; i < c.NaiveQuery && ctx.Err() == nil; i++ {
				t0 := time.Now()
				if err := runNaive(ctx, pool, e.naive); err != nil {
					return nil, fmt.Errorf("naive %s: %w", e.name, err)
				}
				nd = append(nd, time.Since(t0))
			}
			p := percentiles(nd)
			el.Naive = &p
		}
		rep.Endpoints = append(rep.Endpoints, el)
	}
	return rep, nil
}

func runNaive(ctx context.Context, pool *pgxpool.Pool, q *naiveQuery) error {
	for _, s := range q.sql {
		rows, err := pool.Query(ctx, s, q.args...)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (q *QueryReport) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENDPOINT\tAPI p50\tAPI p99\tNAIVE LOG p50\tNAIVE LOG p99\tSTATUS")
	for _, e := range q.Endpoints {
		n50, n99 := "-", "-"
		if e.Naive != nil {
			n50, n99 = fmtMS(e.Naive.P50), fmtMS(e.Naive.P99)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, fmtMS(e.API.P50), fmtMS(e.API.P99), n50, n99, e.Status)
	}
	_ = tw.Flush()
}
