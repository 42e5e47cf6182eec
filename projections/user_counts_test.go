package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/activity-dev/activity/projections"
)

// TestUserCounts_LaterBatchesFoldIntoStoredRows: a user's day and month rows
// take later batches of the same event types (type_events added, quarters
// appended), of one type into a row of one, and of other types (merged),
// and always hold what the log says.
func TestUserCounts_LaterBatchesFoldIntoStoredRows(t *testing.T) {
	t.Parallel()
	pool := newDB(t)
	ctx := context.Background()
	r := newRunner(t, pool, projections.Config{})
	u, v, c := uuid.New(), uuid.New(), uuid.New()
	day := base.Add(-30 * time.Hour).Truncate(24 * time.Hour)
	n := 0
	ev := func(user uuid.UUID, typ string, quarter int) event {
		n++
		return event{id: fmt.Sprintf("fold-%d", n), typ: typ, user: user, community: c, meta: map[string]any{},
			at: day.Add(time.Duration(quarter)*15*time.Minute + time.Duration(n)*time.Second)}
	}
	batches := [][]event{
		{ev(u, "user.login", 3), ev(u, "user.login", 40), ev(u, "github.push", 7), ev(v, "user.login", 1)},
		// The same types as stored: u's {github.push, user.login}, v's {user.login}.
		{ev(u, "github.push", 90), ev(u, "github.push", 3), ev(u, "user.login", 12), ev(u, "github.push", 50), ev(v, "user.login", 95)},
		// Other types: one of u's two; a second one for v.
		{ev(u, "user.login", 60), ev(v, "member.created", 2)},
		// And the same again, now that v's rows hold two.
		{ev(v, "member.created", 20), ev(v, "user.login", 21)},
	}
	for _, b := range batches {
		if err := insertTx(ctx, pool, b); err != nil {
			t.Fatal(err)
		}
		catchUp(t, r) // polls: a transaction ending elsewhere can hold a batch back a moment
	}
	assertRollupsMatchLog(t, pool)

	// The folded rows themselves, beside the check's per-type view.
	for _, want := range []struct {
		user             uuid.UUID
		res              string
		events           int64
		types, typeEvent string
		quarters         int
	}{
		{u, "d", 8, "{github.push,user.login}", "{4,4}", 8},
		{u, "m", 8, "{github.push,user.login}", "{4,4}", 0},
		{v, "d", 5, "{member.created,user.login}", "{2,3}", 5},
		{v, "m", 5, "{member.created,user.login}", "{2,3}", 0},
	} {
		var events int64
		var types, typeEvents string
		var quarters int
		if err := pool.QueryRow(ctx, `SELECT events, types::text, COALESCE(type_events::text, ''), COALESCE(cardinality(tq), 0)
			FROM user_counts WHERE user_id = $1 AND res = $2::"char" AND community_id = $3`, want.user, want.res, c).
			Scan(&events, &types, &typeEvents, &quarters); err != nil {
			t.Fatalf("%s %s: %v", want.user, want.res, err)
		}
		if events != want.events || types != want.types || typeEvents != want.typeEvent || quarters != want.quarters {
			t.Errorf("%s row of a user: events %d, types %s, type_events %s, %d quarters; want %d, %s, %s, %d",
				want.res, events, types, typeEvents, quarters, want.events, want.types, want.typeEvent, want.quarters)
		}
	}
}
