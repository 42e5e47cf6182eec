#!/usr/bin/env bash
# Times `activity projections rebuild` on a seeded database (docs/BENCHMARKS.md,
# "Rebuild speed"): --all with the bulk fill, --all batch by batch
# (ACTIVITY_REBUILD_BULK=off, the baseline), --all with the bulk fill again,
# then each projection on its own.
#
#   activity dev seed --activities 10000000 --rebuild=false   # into DATABASE_URL
#   psql "$DATABASE_URL" -c 'VACUUM ANALYZE'
#   scripts/rebuild_bench.sh
#
# With arguments, times only `rebuild ARG` for each (e.g. `--all user_counts`).
# Each line also gives the machine's CPU time over the command (/proc/stat):
# the rebuild is CPU-bound on small machines, so busy core-seconds compare
# runs better than wall time alone.
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL to the seeded database}"
export ACTIVITY_REPORT_TIME_ZONES="${ACTIVITY_REPORT_TIME_ZONES:-America/New_York}"
bin="${ACTIVITY_BIN:-$(mktemp -d)/activity}"
[ -x "$bin" ] || go build -o "$bin" ./cmd/activity
# cpu: the machine's busy and idle CPU time so far, in clock ticks (/proc/stat).
cpu() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }
run() { # label, then the command's arguments
  local label=$1 start end busy0 idle0 busy1 idle1
  shift
  read -r busy0 idle0 < <(cpu)
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  read -r busy1 idle1 < <(cpu)
  awk -v s="$start" -v e="$end" -v l="$label" -v t="$(date -u +%H:%MZ)" -v b=$((busy1 - busy0)) -v i=$((idle1 - idle0)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%s  %-45s %7.1f s  (machine CPU %.1f core-s busy, %.1f idle)\n", t, l, e - s, b / hz, i / hz }'
}
if [ $# -gt 0 ]; then
  for a in "$@"; do
    run "rebuild $a" "$bin" projections rebuild "$a"
  done
  exit 0
fi
run "rebuild --all (bulk)" "$bin" projections rebuild --all
run "rebuild --all (ACTIVITY_REBUILD_BULK=off)" env ACTIVITY_REBUILD_BULK=off "$bin" projections rebuild --all
run "rebuild --all (bulk)" "$bin" projections rebuild --all
for p in event_counts user_counts user_sketches user_stats community_stats user_traits; do
  run "rebuild $p" "$bin" projections rebuild "$p"
done
