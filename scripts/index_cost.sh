#!/usr/bin/env bash
# Measures what each index of activities costs at insert time: inserts the same
# ROWS rows into a fresh, migrated database once with every index, once without
# each secondary index, and once with no secondary index, and prints rows/s.
# Usage: scripts/index_cost.sh [ROWS]   (needs DATABASE_URL's server and `activity migrate`)
set -euo pipefail
ROWS=${1:-200000}
BASE=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/activity?sslmode=disable}
SERVER=$(echo "$BASE" | sed -E 's#/[^/?]+([?]|$)#/postgres\1#')
go build -o /tmp/activity-idx ./cmd/activity
run() { # $1 label, $2 SQL run before the insert
  local db="activity_idx_$RANDOM"
  psql "$SERVER" -qc "CREATE DATABASE $db" >/dev/null
  local url; url=$(echo "$SERVER" | sed -E "s#/postgres([?]|\$)#/$db\1#")
  DATABASE_URL=$url /tmp/activity-idx migrate >/dev/null
  psql "$url" -qc "CREATE TABLE activities_p0 PARTITION OF activities FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
    INSERT INTO users (id) SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid FROM generate_series(1, 1000) g;
    INSERT INTO communities (id) SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(g), 12, '0'))::uuid FROM generate_series(1, 50) g;
    $2" >/dev/null
  local ms
  ms=$(psql "$url" -qAt -c '\timing on' -c "INSERT INTO activities (event_id, event_type, user_id, community_id, entity_type, entity_id, metadata, ip_address, user_agent, created_at, received_at)
    SELECT md5(g::text), (ARRAY['user.login','member.activated','github.push','event.created'])[g % 4 + 1],
      ('00000000-0000-4000-8000-' || lpad(to_hex(g % 1000 + 1), 12, '0'))::uuid,
      ('00000000-0000-4000-9000-' || lpad(to_hex(g % 50 + 1), 12, '0'))::uuid,
      'repository', 'repo-' || (g % 97), jsonb_build_object('plan', 'pro', 'n', g), '127.0.0.1', 'bench',
      timestamptz '2026-01-01' + (g || ' seconds')::interval, now()
    FROM generate_series(1, $ROWS) g" | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p')
  psql "$SERVER" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
  awk -v l="$1" -v ms="$ms" -v n="$ROWS" 'BEGIN { printf "%-45s %10.0f rows/s\n", l, n / (ms / 1000) }'
}
run "all indexes" ""
for idx in activities_user_created_idx activities_community_created_idx activities_type_created_idx activities_tx_idx; do
  run "without $idx" "DROP INDEX $idx"
done
run "no secondary index (PK + unique only)" "DROP INDEX activities_user_created_idx, activities_community_created_idx, activities_type_created_idx, activities_tx_idx"
run "all indexes + GIN on metadata" "CREATE INDEX ON activities USING gin (metadata)"
