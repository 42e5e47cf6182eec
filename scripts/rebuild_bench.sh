#!/usr/bin/env bash
# Times `activity projections rebuild` on a seeded database (docs/BENCHMARKS.md,
# "Rebuild speed"): --all with the bulk fill, --all batch by batch
# (ACTIVITY_REBUILD_BULK=off, the baseline), --all with the bulk fill again,
# then each projection on its own.
#
#   activity dev seed --activities 10000000 --rebuild=false   # into DATABASE_URL
#   psql "$DATABASE_URL" -c 'VACUUM ANALYZE'
#   scripts/rebuild_bench.sh
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL to the seeded database}"
export ACTIVITY_REPORT_TIME_ZONES="${ACTIVITY_REPORT_TIME_ZONES:-America/New_York}"
bin="${ACTIVITY_BIN:-$(mktemp -d)/activity}"
[ -x "$bin" ] || go build -o "$bin" ./cmd/activity
run() { # label, then the command's arguments
  local label=$1 start end
  shift
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v l="$label" -v t="$(date -u +%H:%MZ)" 'BEGIN { printf "%s  %-45s %7.1f s\n", t, l, e - s }'
}
run "rebuild --all (bulk)" "$bin" projections rebuild --all
run "rebuild --all (ACTIVITY_REBUILD_BULK=off)" env ACTIVITY_REBUILD_BULK=off "$bin" projections rebuild --all
run "rebuild --all (bulk)" "$bin" projections rebuild --all
for p in event_counts user_counts user_sketches user_stats community_stats user_traits; do
  run "rebuild $p" "$bin" projections rebuild "$p"
done
