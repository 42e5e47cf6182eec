package rollupcheck_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/activity-dev/activity/internal/partitions"
	"github.com/activity-dev/activity/internal/pgtest"
	"github.com/activity-dev/activity/internal/rollupcheck"
)

func TestDifferences_FindsRowsMissingFromAndExtraInTheRollups(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 20, 9, 7, 0, 0, time.UTC)
	if err := partitions.NewManager(pool).Ensure(ctx, at); err != nil {
		t.Fatal(err)
	}
	const user, community = "0190f7a2-8c3e-7b1a-9f00-3c2d4e5f6a7b", "11111111-1111-4111-8111-111111111111"
	if _, err := pool.Exec(ctx, `INSERT INTO users (id) VALUES ($1)`, user); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO communities (id) VALUES ($1)`, community); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO activities (event_id, event_type, user_id, community_id, metadata, created_at)
		VALUES ('e1', 'community.created', $1, $2, '{"name":"Gophers"}', $3)`, user, community, at); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO activities (event_id, event_type, user_id, metadata, created_at)
		VALUES ('e2', 'user.identify', $1, '{"plan":"pro"}', $2)`, user, at); err != nil {
		t.Fatal(err)
	}
	diffs, err := rollupcheck.Differences(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	missing := map[string]bool{}
	for _, d := range diffs {
		if d.Side != "log" {
			t.Errorf("unexpected %s", d)
		}
		missing[d.Table] = true
	}
	for _, table := range rollupcheck.Tables {
		if !missing[table] {
			t.Errorf("%s: the empty rollup was not reported as missing the log's row", table)
		}
	}

	// A wrong count shows on both sides.
	if _, err := pool.Exec(ctx, `INSERT INTO event_counts (version, res, bucket, community_id, event_type, events, quarters)
		VALUES ((SELECT current_version FROM projections WHERE name = 'event_counts'),
		        'h', '2026-11-20 09:00:00+00', $1, 'community.created', 2, '{2,0,0,0}')`, community); err != nil {
		t.Fatal(err)
	}
	diffs, err = rollupcheck.Differences(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	var wrong, right int
	for _, d := range diffs {
		if d.Table != "event_counts" || !strings.HasPrefix(d.Row, "h 2026-11-20 09:00:00 +0000 UTC "+community+" community.created ") {
			continue
		}
		switch d.Side {
		case "rollup":
			wrong++
		case "log":
			right++
		}
	}
	if wrong != 1 || right != 1 {
		t.Fatalf("a wrong count should differ once each way, got %d in the rollup and %d in the log: %v", wrong, right, diffs)
	}
}
