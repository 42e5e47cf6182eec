package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/activity-dev/activity/internal/rollupcheck"
)

// Result is what the run found.
type Result struct {
	Sent            int            `json:"sent"`
	Accepted        int            `json:"accepted"`
	Refused         int            `json:"refused"`
	Unknown         int            `json:"unknown"`
	UnknownStored   int64          `json:"unknown_stored"`
	Stored          int64          `json:"stored"`
	Lost            int64          `json:"lost"`
	Duplicated      int64          `json:"duplicated"`
	RefusedStored   int64          `json:"refused_but_stored"`
	Unexpected      int64          `json:"stored_but_never_sent"`
	DeadLetters     int64          `json:"dead_letters"`
	Mismatches      map[string]int `json:"rollup_mismatches"` // rows of each rollup that differ from the recomputation, both ways
	CaughtUp        bool           `json:"caught_up"`
	CatchUpNote     string         `json:"catch_up_note,omitempty"`
	MismatchSamples []string       `json:"mismatch_samples,omitempty"`
}

// OK reports whether nothing was lost, duplicated, stored against a refusal,
// or wrong in a rollup.
func (r *Result) OK() bool {
	if r.Lost > 0 || r.Duplicated > 0 || r.RefusedStored > 0 || !r.CaughtUp || r.Accepted == 0 {
		return false
	}
	for _, n := range r.Mismatches {
		if n > 0 {
			return false
		}
	}
	return true
}

// waitDrained polls until the ingest stream is empty with nothing pending and
// every projection's current version has applied the whole log.
func waitDrained(ctx context.Context, pgURL, redisURL string, timeout time.Duration, say func(string, ...any)) (bool, string) {
	opts, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	deadline := time.Now().Add(timeout)
	var note string
	lastSay := time.Time{}
	for {
		note = drainState(ctx, pgURL, rdb)
		if note == "" {
			return true, ""
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false, note
		}
		if time.Since(lastSay) > 5*time.Second {
			say("waiting: %s", note)
			lastSay = time.Now()
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// drainState returns "" when drained, else what is still outstanding.
func drainState(ctx context.Context, pgURL string, rdb *redis.Client) string {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := rdb.XLen(cctx, "activity:ingest").Result()
	if err != nil {
		return "redis: " + err.Error()
	}
	if n > 0 {
		return fmt.Sprintf("%d stream entries not yet stored", n)
	}
	conn, err := pgx.Connect(cctx, pgURL)
	if err != nil {
		return "postgresql: " + err.Error()
	}
	defer conn.Close(cctx)
	var behind []string
	rows, err := conn.Query(cctx, `
		SELECT p.name FROM projections p
		JOIN projection_checkpoints c ON c.name = p.name AND c.version = p.current_version
		WHERE EXISTS (SELECT 1 FROM activities a WHERE (a.tx_id, a.id) > (c.tx_id, c.activity_id))
		ORDER BY 1`)
	if err != nil {
		return "postgresql: " + err.Error()
	}
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		behind = append(behind, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "postgresql: " + err.Error()
	}
	if len(behind) > 0 {
		return "projections behind the log: " + strings.Join(behind, ", ")
	}
	return ""
}

// check compares what the client saw with the log and the rollups.
func check(ctx context.Context, pgURL string, events []sentEvent, r *Result) error {
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TEMP TABLE chaos_sent (event_id TEXT, occurred_at TIMESTAMPTZ, state TEXT)`); err != nil {
		return err
	}
	rows := make([][]any, len(events))
	for i, e := range events {
		at, err := time.Parse(tsLayout, e.OccurredAt)
		if err != nil {
			return err
		}
		rows[i] = []any{e.EventID, at, e.State}
		switch e.State {
		case stateAccepted:
			r.Accepted++
		case stateRefused:
			r.Refused++
		default:
			r.Unknown++
		}
	}
	r.Sent = len(events)
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"chaos_sent"}, []string{"event_id", "occurred_at", "state"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	// An event may have been sent in several requests (redeliveries): its
	// state is the best one (accepted > unknown > refused).
	if _, err := conn.Exec(ctx, `
		CREATE TEMP TABLE chaos_events AS
		SELECT event_id, occurred_at,
		       CASE WHEN bool_or(state = 'accepted') THEN 'accepted'
		            WHEN bool_or(state = 'unknown') THEN 'unknown' ELSE 'refused' END AS state
		FROM chaos_sent GROUP BY 1, 2;
		CREATE INDEX ON chaos_events (event_id, occurred_at);
		ANALYZE chaos_events`); err != nil {
		return err
	}
	q := func(sql string, into *int64) error {
		if err := conn.QueryRow(ctx, sql).Scan(into); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
		return nil
	}
	stored := `EXISTS (SELECT 1 FROM activities a WHERE a.event_id = e.event_id AND a.created_at = e.occurred_at)`
	for _, c := range []struct {
		sql  string
		into *int64
	}{
		{`SELECT count(*) FROM activities`, &r.Stored},
		{`SELECT count(*) - count(DISTINCT (event_id, created_at)) FROM activities`, &r.Duplicated},
		{`SELECT count(*) FROM chaos_events e WHERE state = 'accepted' AND NOT ` + stored, &r.Lost},
		{`SELECT count(*) FROM chaos_events e WHERE state = 'refused' AND ` + stored, &r.RefusedStored},
		{`SELECT count(*) FROM chaos_events e WHERE state = 'unknown' AND ` + stored, &r.UnknownStored},
		{`SELECT count(*) FROM activities a WHERE NOT EXISTS (SELECT 1 FROM chaos_events e WHERE a.event_id = e.event_id AND a.created_at = e.occurred_at)`, &r.Unexpected},
		{`SELECT count(*) FROM failed_events`, &r.DeadLetters},
	} {
		if err := q(c.sql, c.into); err != nil {
			return err
		}
	}
	r.Mismatches = map[string]int{}
	for _, table := range rollupcheck.Tables {
		r.Mismatches[table] = 0
	}
	diffs, err := rollupcheck.Differences(ctx, conn)
	if err != nil {
		return err
	}
	for _, d := range diffs {
		r.Mismatches[d.Table]++
		if len(r.MismatchSamples) < 10 {
			r.MismatchSamples = append(r.MismatchSamples, d.String())
		}
	}
	return nil
}
