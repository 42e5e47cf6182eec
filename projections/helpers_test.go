package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activity-dev/activity/internal/db"
	"github.com/activity-dev/activity/internal/partitions"
	"github.com/activity-dev/activity/internal/pgtest"
	"github.com/activity-dev/activity/internal/rollupcheck"
	"github.com/activity-dev/activity/projections"
)

// base is the "now" of the generated events; they reach back 9 days.
var base = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// zones the generated events are written in: whole-hour, half-hour and
// quarter-hour offsets.
var zones = []*time.Location{
	time.UTC,
	time.FixedZone("IST", 5*3600+30*60),
	time.FixedZone("NPT", 5*3600+45*60),
	time.FixedZone("NST", -(3*3600 + 30*60)),
	time.FixedZone("PST", -8*3600),
}

type event struct {
	id        string
	typ       string
	user      uuid.UUID // uuid.Nil: none
	community uuid.UUID // uuid.Nil: none
	meta      map[string]any
	at        time.Time
}

// gen makes random events over a small set of users and communities.
type gen struct {
	mu          sync.Mutex
	rng         *rand.Rand
	users       []uuid.UUID
	communities []uuid.UUID
	seen        []event
	n           int
}

func newGen(seed uint64) *gen {
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for range 12 {
		g.users = append(g.users, uuid.New())
	}
	for range 4 {
		g.communities = append(g.communities, uuid.New())
	}
	return g
}

// batch returns n events: new ones, some late (days back), some without
// user or community, and duplicates of earlier ones.
func (g *gen) batch(n int) []event {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []event
	for range n {
		if len(g.seen) > 0 && g.rng.IntN(8) == 0 {
			out = append(out, g.seen[g.rng.IntN(len(g.seen))]) // a redelivery
			continue
		}
		g.n++
		e := event{
			id:  fmt.Sprintf("e%d-%d", g.n, g.rng.IntN(1000)),
			typ: []string{"user.login", "github.push", "community.created", "order_completed", "member.created", "user.identify"}[g.rng.IntN(6)],
			at: base.Add(-time.Duration(g.rng.Int64N(int64(9 * 24 * time.Hour)))).
				Truncate(time.Second).In(zones[g.rng.IntN(len(zones))]),
			meta: map[string]any{},
		}
		if g.rng.IntN(6) != 0 {
			e.user = g.users[g.rng.IntN(len(g.users))]
		}
		if g.rng.IntN(5) != 0 {
			e.community = g.communities[g.rng.IntN(len(g.communities))]
		}
		if e.typ == "community.created" {
			e.meta["name"] = fmt.Sprintf("name-%d", g.rng.IntN(100))
		}
		if e.typ == "user.identify" {
			e.user = g.users[g.rng.IntN(len(g.users))]
			for _, trait := range []string{"plan", "company", "seats"}[:1+g.rng.IntN(3)] {
				e.meta[trait] = g.rng.IntN(4)
			}
		}
		g.seen = append(g.seen, e)
		out = append(out, e)
	}
	return out
}

// newDB returns a pool on a fresh database with partitions for the events.
func newDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.NewPool(t)
	if err := partitions.NewManager(pool).EnsureRange(context.Background(), base.AddDate(0, 0, -10), base.AddDate(0, 0, 1)); err != nil {
		t.Fatalf("partitions: %v", err)
	}
	return pool
}

// insert stores events in one transaction, as the writer does.
func insert(ctx context.Context, dbtx db.DBTX, events []event) error {
	var users, communities []uuid.UUID
	p := db.ActivityInsertBatchParams{}
	for _, e := range events {
		us, cs := "", ""
		if e.user != uuid.Nil {
			us = e.user.String()
			users = append(users, e.user)
		}
		if e.community != uuid.Nil {
			cs = e.community.String()
			communities = append(communities, e.community)
		}
		md, _ := json.Marshal(e.meta)
		p.EventIds = append(p.EventIds, e.id)
		p.EventTypes = append(p.EventTypes, e.typ)
		p.UserIds = append(p.UserIds, us)
		p.CommunityIds = append(p.CommunityIds, cs)
		p.EntityTypes = append(p.EntityTypes, "")
		p.EntityIds = append(p.EntityIds, "")
		p.Metadata = append(p.Metadata, string(md))
		p.IpAddresses = append(p.IpAddresses, "")
		p.UserAgents = append(p.UserAgents, "")
		p.CreatedAts = append(p.CreatedAts, e.at)
		p.ReceivedAts = append(p.ReceivedAts, base)
	}
	slices.SortFunc(users, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(communities, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	users, communities = slices.Compact(users), slices.Compact(communities)
	q := db.New(dbtx)
	if err := q.UserEnsureBatch(ctx, db.UserEnsureBatchParams{Ids: users, ExternalIds: make([]string, len(users))}); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if err := q.CommunityEnsureBatch(ctx, communities); err != nil {
		return fmt.Errorf("communities: %w", err)
	}
	if _, err := q.ActivityInsertBatch(ctx, p); err != nil {
		return fmt.Errorf("activities: %w", err)
	}
	return nil
}

func insertTx(ctx context.Context, pool *pgxpool.Pool, events []event) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	if err := insert(ctx, tx, events); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// rollupQueries select each rollup table's current version, for comparing
// a rebuilt version with the live one.
var rollupQueries = map[string]string{
	"event_counts": `SELECT res, bucket, community_id, event_type, events, quarters FROM event_counts
		 WHERE version = (SELECT current_version FROM projections WHERE name = 'event_counts')`,
	"user_sketches": `SELECT res, bucket, community_id, event_type, users, exact, sketch FROM user_sketches
		 WHERE version = (SELECT current_version FROM projections WHERE name = 'user_sketches')`,
	// A day row's events in any order: its (type, quarter) pairs sorted.
	"user_counts": `SELECT user_id, res::text, bucket, community_id, events, types, type_events,
		        (SELECT array_agg(format('%s@%s', types[x / 96 + 1], x % 96) ORDER BY types[x / 96 + 1], x % 96) FROM unnest(tq) x) AS typed FROM user_counts
		 WHERE version = (SELECT current_version FROM projections WHERE name = 'user_counts')`,
	"user_traits": `SELECT user_id, trait, value, set_at, event_id FROM user_traits
		 WHERE version = (SELECT current_version FROM projections WHERE name = 'user_traits')`,
	"user_stats": `SELECT user_id, community_id, first_seen, last_seen, events FROM user_stats
		 WHERE version = (SELECT current_version FROM projections WHERE name = 'user_stats')`,
	"community_stats": `SELECT community_id, name, named_at, named_event_id, first_seen, events FROM community_stats
		 WHERE version = (SELECT current_version FROM projections WHERE name = 'community_stats')`,
}

// assertRollupsMatchLog fails t unless every rollup table's current
// version holds exactly the rows the log gives (internal/rollupcheck).
func assertRollupsMatchLog(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	var identifies int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM activities WHERE event_type = 'user.identify'`).Scan(&identifies); err != nil {
		t.Fatal(err)
	}
	for table, q := range rollupQueries {
		if table == "user_traits" && identifies == 0 {
			continue // only identifies make traits
		}
		if len(rowsOf(t, pool, q)) == 0 {
			t.Errorf("%s: no rows; the test generated too little", table)
		}
	}
	diffs, err := rollupcheck.Differences(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("rollup differs from the log: %s", d)
	}
}

// rowsOf returns the rows of query as sorted text.
func rowsOf(t *testing.T, pool *pgxpool.Pool, query string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT r::text FROM (`+query+`) r ORDER BY 1`)
	if err != nil {
		t.Fatalf("query %s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("... %d more", len(out)-10))
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (last error: %v)", what, lastErr)
		}
		<-tick.C
	}
}

// caughtUp reports whether every projection is live with nothing behind.
func caughtUp(ctx context.Context, r *projections.Runner) (bool, error) {
	st, err := r.Status(ctx)
	if err != nil {
		return false, err
	}
	for _, s := range st {
		if s.Status != projections.StatusLive || s.RowsBehind != 0 {
			return false, fmt.Errorf("%s: %s, %d behind", s.Name, s.Status, s.RowsBehind)
		}
	}
	return true, nil
}

// catchUp applies everything committed, polling until every projection is
// caught up (another database's transaction can hold the xmin back a moment).
func catchUp(t *testing.T, r *projections.Runner) {
	t.Helper()
	ctx := context.Background()
	waitFor(t, "projections to catch up", 20*time.Second, func() (bool, error) {
		if err := r.CatchUp(ctx); err != nil {
			return false, err
		}
		return caughtUp(ctx, r)
	})
}

func newRunner(t *testing.T, pool *pgxpool.Pool, cfg projections.Config) *projections.Runner {
	t.Helper()
	r, err := projections.NewRunner(pool, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// reportZones are the report time zones the property tests configure: a
// zone with DST and one whose midnight falls inside a UTC hour (+05:45).
var reportZones = []string{"America/New_York", "Asia/Kathmandu"}

// setReportZones makes the current versions of the local-day rollups hold
// zones, before any activity is applied to them.
func setReportZones(t *testing.T, pool *pgxpool.Pool, zones []string) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `UPDATE projection_checkpoints SET time_zones = $1
		WHERE name IN ('event_counts', 'user_sketches')`, zones); err != nil {
		t.Fatal(err)
	}
}
