package migrations_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/activity-dev/activity/internal/pgtest"
	"github.com/activity-dev/activity/migrations"
)

// The user_counts rows of the shape before migration 00010: a row per event
// type and one for every type (the empty event type), per user, tier, bucket and
// community.
const splitRows = `INSERT INTO user_counts (version, user_id, res, bucket, community_id, event_type, events, qs) VALUES
 (1, '00000000-0000-0000-0000-00000000000a', 'd', '2026-03-01', '00000000-0000-0000-0000-0000000000c1', '', 3, '{5,3,7}'),
 (1, '00000000-0000-0000-0000-00000000000a', 'd', '2026-03-01', '00000000-0000-0000-0000-0000000000c1', 'user.login', 2, '{5,3}'),
 (1, '00000000-0000-0000-0000-00000000000a', 'd', '2026-03-01', '00000000-0000-0000-0000-0000000000c1', 'github.push', 1, '{7}'),
 (1, '00000000-0000-0000-0000-00000000000a', 'd', '2026-03-02', '00000000-0000-0000-0000-000000000000', '', 1, '{95}'),
 (1, '00000000-0000-0000-0000-00000000000a', 'd', '2026-03-02', '00000000-0000-0000-0000-000000000000', 'user.login', 1, '{95}'),
 (1, '00000000-0000-0000-0000-00000000000a', 'm', '2026-03-01', '00000000-0000-0000-0000-0000000000c1', '', 3, NULL),
 (1, '00000000-0000-0000-0000-00000000000a', 'm', '2026-03-01', '00000000-0000-0000-0000-0000000000c1', 'user.login', 2, NULL),
 (1, '00000000-0000-0000-0000-00000000000a', 'm', '2026-03-01', '00000000-0000-0000-0000-0000000000c1', 'github.push', 1, NULL),
 (1, '00000000-0000-0000-0000-00000000000a', 'm', '2026-03-01', '00000000-0000-0000-0000-000000000000', '', 1, NULL),
 (1, '00000000-0000-0000-0000-00000000000a', 'm', '2026-03-01', '00000000-0000-0000-0000-000000000000', 'user.login', 1, NULL)`

const splitQuery = `SELECT concat_ws(' ', res, bucket::date, community_id, event_type, events,
	(SELECT array_agg(x ORDER BY x) FROM unnest(qs) x)) FROM user_counts ORDER BY 1`

const foldedQuery = `SELECT concat_ws(' ', res, bucket::date, community_id, events, types, type_events,
	(SELECT array_agg(x ORDER BY x) FROM unnest(tq) x)) FROM user_counts ORDER BY 1`

// TestMigration00010_FoldsUserCountsInPlace: the rows of every event type
// become the types inside the row of every type, with their events, and a
// day row's events each as its type's index and quarter; the Down migration
// gives back the rows it started from.
func TestMigration00010_FoldsUserCountsInPlace(t *testing.T) {
	ctx := context.Background()
	db, p := newProvider(t)
	if _, err := p.DownTo(ctx, 9); err != nil {
		t.Fatalf("down to 00009: %v", err)
	}
	if _, err := db.ExecContext(ctx, splitRows); err != nil {
		t.Fatal(err)
	}
	before := rows(t, db, splitQuery)

	if _, err := p.UpTo(ctx, 10); err != nil {
		t.Fatalf("up to 00010: %v", err)
	}
	// tq: type index * 96 + quarter (github.push is 0, user.login 1).
	want := []string{
		"d 2026-03-01 00000000-0000-0000-0000-0000000000c1 3 {github.push,user.login} {1,2} {7,99,101}",
		"d 2026-03-02 00000000-0000-0000-0000-000000000000 1 {user.login} {1} {95}",
		"m 2026-03-01 00000000-0000-0000-0000-000000000000 1 {user.login} {1}",
		"m 2026-03-01 00000000-0000-0000-0000-0000000000c1 3 {github.push,user.login} {1,2}",
	}
	if got := rows(t, db, foldedQuery); !slices.Equal(got, want) {
		t.Errorf("folded rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var partitions int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'user_counts'::regclass
		AND inhrelid = 'user_counts_v1'::regclass`).Scan(&partitions); err != nil || partitions != 1 {
		t.Errorf("user_counts_v1 is not the partition of version 1 (%d, %v)", partitions, err)
	}

	if _, err := p.DownTo(ctx, 9); err != nil {
		t.Fatalf("down to 00009 again: %v", err)
	}
	if got := rows(t, db, splitQuery); !slices.Equal(got, before) {
		t.Errorf("rows after the Down migration:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(before, "\n"))
	}
}

// newProvider opens a fresh database with every migration applied, and a
// goose provider to move it up and down with.
func newProvider(t *testing.T) (*sql.DB, *goose.Provider) {
	t.Helper()
	return newProviderAt(t, pgtest.NewURL(t))
}

// newProviderAt is newProvider on the database at url.
func newProviderAt(t *testing.T, url string) (*sql.DB, *goose.Provider) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sub, err := fs.Sub(migrations.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	return db, p
}

func rows(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rs, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMigration00011_LeanUserCountsRows: res becomes a "char", and a row of
// one event type loses its type_events (they are the row's events); the
// Down migration gives back the rows it started from.
func TestMigration00011_LeanUserCountsRows(t *testing.T) {
	ctx := context.Background()
	db, p := newProvider(t)
	if _, err := p.DownTo(ctx, 10); err != nil {
		t.Fatalf("down to 00010: %v", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO user_counts (version, user_id, res, bucket, community_id, events, types, type_events, tq) VALUES
	 (1, '00000000-0000-0000-0000-00000000000a', 'd', '2026-03-01', '00000000-0000-0000-0000-0000000000c1', 3, '{github.push,user.login}', '{1,2}', '{7,99,101}'),
	 (1, '00000000-0000-0000-0000-00000000000a', 'd', '2026-03-02', '00000000-0000-0000-0000-000000000000', 2, '{user.login}', '{2}', '{95,95}'),
	 (1, '00000000-0000-0000-0000-00000000000a', 'm', '2026-03-01', '00000000-0000-0000-0000-0000000000c1', 3, '{github.push,user.login}', '{1,2}', NULL),
	 (1, '00000000-0000-0000-0000-00000000000a', 'm', '2026-03-01', '00000000-0000-0000-0000-000000000000', 2, '{user.login}', '{2}', NULL)`); err != nil {
		t.Fatal(err)
	}
	const query = `SELECT concat_ws(' ', pg_typeof(res), res, bucket::date, community_id, events, types,
		COALESCE(type_events::text, 'none'), tq) FROM user_counts ORDER BY 1`
	before := rows(t, db, query)

	if _, err := p.UpTo(ctx, 11); err != nil {
		t.Fatalf("up to 00011: %v", err)
	}
	want := []string{
		`"char" d 2026-03-01 00000000-0000-0000-0000-0000000000c1 3 {github.push,user.login} {1,2} {7,99,101}`,
		`"char" d 2026-03-02 00000000-0000-0000-0000-000000000000 2 {user.login} none {95,95}`,
		`"char" m 2026-03-01 00000000-0000-0000-0000-000000000000 2 {user.login} none`,
		`"char" m 2026-03-01 00000000-0000-0000-0000-0000000000c1 3 {github.push,user.login} {1,2}`,
	}
	if got := rows(t, db, query); !slices.Equal(got, want) {
		t.Errorf("rows after 00011:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A row of one type with type_events, or of two without, is refused.
	for _, bad := range []string{
		`INSERT INTO user_counts VALUES (1, '00000000-0000-0000-0000-00000000000b', 'm', '2026-03-01', '00000000-0000-0000-0000-000000000000', 2, '{user.login}', '{2}', NULL)`,
		`INSERT INTO user_counts VALUES (1, '00000000-0000-0000-0000-00000000000b', 'm', '2026-03-01', '00000000-0000-0000-0000-000000000000', 2, '{a,b}', NULL, NULL)`,
	} {
		if _, err := db.ExecContext(ctx, bad); err == nil || !strings.Contains(err.Error(), "user_counts_type_events_check") {
			t.Errorf("%s: got %v, want a violation of user_counts_type_events_check", bad, err)
		}
	}

	if _, err := p.DownTo(ctx, 10); err != nil {
		t.Fatalf("down to 00010 again: %v", err)
	}
	if got := rows(t, db, query); !slices.Equal(got, before) {
		t.Errorf("rows after the Down migration:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(before, "\n"))
	}
}

// TestMigration00012_UserCountsFold: user_counts_fold folds a row into
// another as stored (a day row or a month row, of the same event types or of
// others, of one type or several), and PostgreSQL inlines it into the
// calling statement (no function call per row); the Down migration brings
// back user_counts_merge.
func TestMigration00012_UserCountsFold(t *testing.T) {
	ctx := context.Background()
	db, p := newProvider(t)
	const fold = `SELECT concat_ws(' ', f.types, COALESCE(f.type_events::text, 'none'), COALESCE(f.tq::text, 'none'))
		FROM (VALUES %s) AS r(at, ae, an, aq, bt, be, bn, bq),
		LATERAL user_counts_fold(r.at::text[], r.ae::bigint[], r.an::bigint, r.aq::int[], r.bt::text[], r.be::bigint[], r.bn::bigint, r.bq::int[]) f`
	for _, c := range []struct{ rows, want string }{
		// One type, the same: the quarters appended.
		{`('{user.login}', NULL, 2, '{3,95}', '{user.login}', NULL, 1, '{4}')`, `{user.login} none {3,95,4}`},
		// Two types, the same: their events added.
		{`('{a,b}', '{1,2}', 3, '{1,97,98}', '{a,b}', '{4,5}', 9, '{5,100}')`, `{a,b} {5,7} {1,97,98,5,100}`},
		// Other types: folded in byte order, the quarters re-indexed.
		{`('{b}', NULL, 2, '{1,7}', '{a}', NULL, 1, '{5}')`, `{a,b} {1,2} {97,103,5}`},
		{`('{a,b}', '{1,2}', 3, '{1,97,98}', '{c}', NULL, 1, '{5}')`, `{a,b,c} {1,2,1} {1,97,98,197}`},
		// Month rows (no quarters).
		{`('{a}', NULL, 2, NULL, '{a}', NULL, 3, NULL)`, `{a} none none`},
		{`('{a,c}', '{1,1}', 2, NULL, '{B,a}', '{2,5}', 7, NULL)`, `{B,a,c} {2,6,1} none`},
	} {
		if got := rows(t, db, strings.Replace(fold, "%s", c.rows, 1)); !slices.Equal(got, []string{c.want}) {
			t.Errorf("fold %s: got %q, want %q", c.rows, got, c.want)
		}
	}
	plan := strings.Join(rows(t, db, "EXPLAIN (VERBOSE) "+strings.Replace(fold, "%s", `('{a}', NULL, 1, '{1}', '{b}', NULL, 1, '{2}')`, 1)), "\n")
	if strings.Contains(plan, "user_counts_fold") {
		t.Errorf("user_counts_fold is called, not inlined:\n%s", plan)
	}

	if _, err := p.DownTo(ctx, 11); err != nil {
		t.Fatalf("down to 00011: %v", err)
	}
	if got := rows(t, db, `SELECT concat_ws(' ', types, type_events, tq) FROM user_counts_merge('{b}', '{2}', '{1,7}', '{a}', '{1}', '{5}')`); !slices.Equal(got, []string{`{a,b} {1,2} {97,103,5}`}) {
		t.Errorf("user_counts_merge after the Down migration: %q", got)
	}
	if got := rows(t, db, `SELECT count(*)::text FROM pg_proc WHERE proname = 'user_counts_fold'`); !slices.Equal(got, []string{"0"}) {
		t.Errorf("user_counts_fold after the Down migration: %v functions", got)
	}
}

// TestMigration00013_ActivityTxs: activity_txs starts with every
// transaction already in the log, and the trigger then adds every
// transaction that appends to it, through INSERT or COPY, one row each
// however many statements it runs; a statement that stores nothing (every
// event already stored) and a transaction rolled back add none. The Down
// migration removes the table, the trigger and its function.
func TestMigration00013_ActivityTxs(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewURL(t)
	sqlDB, p := newProviderAt(t, url)
	if _, err := p.DownTo(ctx, 12); err != nil {
		t.Fatalf("down to 00012: %v", err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`CREATE TABLE activities_t PARTITION OF activities FOR VALUES FROM ('2026-03-01') TO ('2026-03-04')`)
	const insert = `INSERT INTO activities (event_id, event_type, created_at, received_at)
		SELECT 'e' || i, 'user.login', TIMESTAMPTZ '2026-03-01' + i * INTERVAL '1 hour', TIMESTAMPTZ '2026-03-05' - i * INTERVAL '1 minute'
		FROM generate_series(%d, %d) i ON CONFLICT DO NOTHING`
	exec(fmt.Sprintf(insert, 1, 3))
	exec(`BEGIN`)
	exec(fmt.Sprintf(insert, 4, 5))
	exec(fmt.Sprintf(insert, 6, 9))
	exec(`COMMIT`)

	if _, err := p.UpTo(ctx, 13); err != nil {
		t.Fatalf("up to 00013: %v", err)
	}
	// What activity_txs must hold: the log grouped by transaction.
	const fromLog = `SELECT concat_ws(' ', tx_id, max(id), count(*), min(created_at), max(created_at), min(received_at))
		FROM activities GROUP BY tx_id ORDER BY tx_id`
	const txs = `SELECT concat_ws(' ', tx_id, last_id, rows, first_at, last_at, first_received_at) FROM activity_txs ORDER BY tx_id`
	check := func(what string, want int) {
		t.Helper()
		got, log := rows(t, sqlDB, txs), rows(t, sqlDB, fromLog)
		if !slices.Equal(got, log) || len(got) != want {
			t.Errorf("%s: activity_txs\n%s\nwant %d rows, the log's\n%s", what, strings.Join(got, "\n"), want, strings.Join(log, "\n"))
		}
	}
	check("after the migration", 2)

	exec(`BEGIN`)
	exec(fmt.Sprintf(insert, 10, 12))
	exec(fmt.Sprintf(insert, 1, 2)) // stored already: nothing
	exec(fmt.Sprintf(insert, 13, 14))
	exec(`COMMIT`)
	check("after a transaction of three statements", 3)
	exec(fmt.Sprintf(insert, 1, 14))
	check("after a statement that stored nothing", 3)
	exec(`BEGIN`)
	exec(fmt.Sprintf(insert, 15, 16))
	exec(`ROLLBACK`)
	check("after a rolled back transaction", 3)
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"activities"}, []string{"event_id", "event_type", "created_at", "received_at"}, pgx.CopyFromRows([][]any{
		{"c1", "user.login", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)},
		{"c2", "user.login", time.Date(2026, 3, 3, 5, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)},
	}))
	if err != nil || n != 2 {
		t.Fatalf("copy: %d rows, %v", n, err)
	}
	check("after a COPY", 4)

	if _, err := p.DownTo(ctx, 12); err != nil {
		t.Fatalf("down to 00012: %v", err)
	}
	if got := rows(t, sqlDB, `SELECT concat_ws(' ', to_regclass('activity_txs') IS NULL,
		(SELECT count(*) FROM pg_trigger WHERE tgname = 'activities_record_tx'), (SELECT count(*) FROM pg_proc WHERE proname = 'activity_txs_record'))`); !slices.Equal(got, []string{"t 0 0"}) {
		t.Errorf("after the Down migration (no table, triggers, functions): %q", got)
	}
	exec(fmt.Sprintf(insert, 20, 21))
}
