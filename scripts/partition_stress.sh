#!/usr/bin/env bash
# Stresses PostgreSQL with what a rebuild under live load does to the
# version-partitioned rollups (docs/BENCHMARKS.md, "Known gaps": a segfault
# seen once): clients upserting into user_sketches and user_counts as the
# live statements do, beside one that creates, fills, indexes, attaches,
# DETACH ... CONCURRENTLY-es and drops partitions of both, in a loop.
#
#   STRESS_SECONDS=600 scripts/partition_stress.sh   # needs pgbench and psql
#
# It uses a throwaway database "activity_partition_stress" on the server of
# DATABASE_URL, migrated by `activity migrate` (ACTIVITY_BIN, else built).
# Exits 1 when a backend crashed or a client aborted.
set -euo pipefail
cd "$(dirname "$0")/.."
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/activity?sslmode=disable}
seconds=${STRESS_SECONDS:-600}
db=activity_partition_stress
url=$(echo "$DATABASE_URL" | sed -E "s#/[^/?]+([?]|\$)#/$db\\1#")
admin=$(echo "$DATABASE_URL" | sed -E "s#/[^/?]+([?]|\$)#/postgres\\1#")
bin="${ACTIVITY_BIN:-$(mktemp -d)/activity}"
[ -x "$bin" ] || go build -o "$bin" ./cmd/activity
dir=$(mktemp -d)
trap 'psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; rm -rf "$dir"' EXIT
psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" 2>&1 | grep -v "does not exist" || true
DATABASE_URL=$url "$bin" migrate >/dev/null

# Each client upserts its own keys (no deadlocks between clients), 100 rows
# a statement, conflicting with its earlier statements.
cat > "$dir/sketches.sql" <<'SQL'
\set u random(1, 100000)
INSERT INTO user_sketches AS t (version, res, bucket, community_id, event_type, users, exact, sketch)
SELECT 1, 'h', timestamptz '2026-12-01' + make_interval(hours => g % 100),
       ('00000000-0000-0000-0000-' || lpad((:client_id * 100 + g % 50)::text, 12, '0'))::uuid, 'e' || (g % 5), 1, true, '\x00'::bytea
FROM generate_series(:u, :u + 99) g
ON CONFLICT (version, res, community_id, bucket, event_type) DO UPDATE SET
    users = EXCLUDED.users, exact = EXCLUDED.exact, sketch = EXCLUDED.sketch;
SQL
cat > "$dir/counts.sql" <<'SQL'
\set u random(1, 100000)
INSERT INTO user_counts AS t (version, user_id, res, bucket, community_id, events, types, type_events, tq)
SELECT 1, ('00000000-0000-0000-0000-' || lpad((:client_id * 10000 + g % 1000)::text, 12, '0'))::uuid, 'd',
       timestamptz '2026-12-01', '00000000-0000-0000-0000-000000000001'::uuid,
       1, ARRAY[CASE WHEN g % 2 = 0 THEN 'x' ELSE 'y' END], ARRAY[1::bigint], ARRAY[g % 96]
FROM generate_series(:u, :u + 99) g
ON CONFLICT (version, user_id, res, bucket, community_id) DO UPDATE SET
    events = t.events + EXCLUDED.events,
    (types, type_events, tq) = (SELECT f.types, f.type_events, f.tq
                                FROM user_counts_merge(t.types, t.type_events, t.tq, EXCLUDED.types, EXCLUDED.type_events, EXCLUDED.tq) f);
SQL
# As a rebuild does: a fill table per version, indexed, renamed and
# attached; a batch of the new version; then the version detached and dropped.
cat > "$dir/ddl.sql" <<'SQL'
\set v random(100, 100000000)
CREATE TABLE us_fill_:v (LIKE user_sketches INCLUDING ALL EXCLUDING INDEXES, CHECK (version = :v));
INSERT INTO us_fill_:v SELECT :v, 'h', timestamptz '2026-12-01' + make_interval(hours => g),
    '00000000-0000-0000-0000-000000000001'::uuid, 'e', 1, true, '\x00'::bytea FROM generate_series(1, 50) g;
CREATE UNIQUE INDEX ON us_fill_:v (version, res, community_id, bucket, event_type) INCLUDE (users, exact);
CREATE TABLE uc_fill_:v (LIKE user_counts INCLUDING ALL EXCLUDING INDEXES, CHECK (version = :v));
CREATE UNIQUE INDEX ON uc_fill_:v (version, user_id, res, bucket, community_id);
CREATE INDEX ON uc_fill_:v (version, community_id, res, bucket, events DESC) INCLUDE (user_id)
    WHERE community_id <> '00000000-0000-0000-0000-000000000000';
BEGIN;
ALTER TABLE us_fill_:v RENAME TO user_sketches_v:v;
ALTER TABLE user_sketches ATTACH PARTITION user_sketches_v:v FOR VALUES IN (:v);
COMMIT;
BEGIN;
ALTER TABLE uc_fill_:v RENAME TO user_counts_v:v;
ALTER TABLE user_counts ATTACH PARTITION user_counts_v:v FOR VALUES IN (:v);
COMMIT;
INSERT INTO user_sketches (version, res, bucket, community_id, event_type, users, exact, sketch)
VALUES (:v, 'h', '2026-12-02', '00000000-0000-0000-0000-000000000002', 'e', 1, true, '\x00')
ON CONFLICT (version, res, community_id, bucket, event_type) DO UPDATE SET users = EXCLUDED.users;
ALTER TABLE user_counts DETACH PARTITION user_counts_v:v CONCURRENTLY;
ALTER TABLE user_sketches DETACH PARTITION user_sketches_v:v CONCURRENTLY;
DROP TABLE user_counts_v:v;
DROP TABLE user_sketches_v:v;
SQL
pgbench -n -f "$dir/sketches.sql" -c 3 -T "$seconds" "$url" > "$dir/sketches.out" 2>&1 &
pgbench -n -f "$dir/counts.sql" -c 2 -T "$seconds" "$url" > "$dir/counts.out" 2>&1 &
pgbench -n -f "$dir/ddl.sql" -c 1 -T "$seconds" "$url" > "$dir/ddl.out" 2>&1 &
wait || true
for f in sketches counts ddl; do
  echo "$f: $(grep -E 'number of transactions actually processed' "$dir/$f.out")"
done
# A crashed backend makes the server end every session: the clients abort
# with one of these.
if grep -hiE 'crash of another server process|server closed the connection unexpectedly|terminated abnormally' "$dir"/*.out; then
  echo "a backend crashed during the stress"
  exit 1
fi
if grep -hE 'aborted' "$dir"/*.out; then
  echo "a client aborted (see the errors above)"
  exit 1
fi
echo "no crash in ${seconds} s"
