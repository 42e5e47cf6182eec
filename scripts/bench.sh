#!/usr/bin/env bash
# make bench: runs the benchmark set and prints one table (Markdown, for
# docs/BENCHMARKS.md):
#   - request-to-log ingest throughput for 1/100/1000-event requests beside a
#     plain COPY of the same rows, measured in the same run (go test -bench);
#   - freshness at a steady rate (cmd/loadgen against `activity serve`);
#   - analytics query latency beside the naive GROUP BY over the log;
#   - projection rebuild speed (`activity projections rebuild --all`);
#   - peak memory (VmHWM) of the service.
# It uses the PostgreSQL server of DATABASE_URL (a throwaway database, dropped
# at the end) and a private redis-server on a free port (REDIS_URL when
# redis-server is not installed), and cleans up after itself.
#
# Knobs: BENCH_TIME (go test -benchtime, 30000x), BENCH_RATE (5000),
# BENCH_DURATION (30s), BENCH_WARMUP (10s of the same load before the measured
# run: the first seconds after the service starts are slower, see
# docs/BENCHMARKS.md; 0s for none), BENCH_BATCH (100), BENCH_CLIENTS (8), BENCH_QUERIES
# (200 requests per endpoint), BENCH_NAIVE (20 runs of each naive log query),
# BENCH_SKIP_GO=1 (skip the go test benchmarks), BENCH_TEMPLATE (a database to
# start from instead of an empty one, copied file by file and left untouched:
# a seeded, rebuilt history such as the 10M year of docs/BENCHMARKS.md; the
# figures are then over that history and the rebuild is of all of it).
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/activity?sslmode=disable}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
BENCH_TIME=${BENCH_TIME:-30000x}
BENCH_RATE=${BENCH_RATE:-5000}
BENCH_DURATION=${BENCH_DURATION:-30s}
BENCH_WARMUP=${BENCH_WARMUP:-10s}
BENCH_BATCH=${BENCH_BATCH:-100}
BENCH_CLIENTS=${BENCH_CLIENTS:-8}
BENCH_QUERIES=${BENCH_QUERIES:-200}
BENCH_NAIVE=${BENCH_NAIVE:-20}

say() { echo "bench: $*" >&2; }
db_url() { echo "$DATABASE_URL" | sed -E "s#/[^/?]+([?]|\$)#/$1\\1#"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }
# jget FILE EXPR: a value from a JSON file (jq, else python3 with a jq-like path).
jget() {
  if command -v jq >/dev/null; then jq -r "$2 // empty" "$1"; else
    python3 - "$1" "$2" <<'EOF'
import json, sys, re
v = json.load(open(sys.argv[1]))
path, _, op = sys.argv[2].partition("|")
for part in re.findall(r'[^.\[\] ]+', path):
    if v is None: break
    v = v[int(part)] if isinstance(v, list) else v.get(part)
if op.strip() == "length" and v is not None: v = len(v)
print("" if v is None else v)
EOF
  fi
}
ms() { awk -v v="$1" 'BEGIN { if (v == "") print "-"; else if (v >= 1000) printf "%.2f s", v/1000; else printf "%.1f ms", v }'; }

work=$(mktemp -d)
BENCH_DB="activity_bench_$$"
ADMIN_DB_URL=$(db_url postgres)
svc_pid="" redis_pid=""
cleanup() {
  [ -n "$svc_pid" ] && kill "$svc_pid" 2>/dev/null && wait "$svc_pid" 2>/dev/null || true
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null || true
  psql "$ADMIN_DB_URL" -qc "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

say "building bin/activity and the load generator"
go build -o bin/activity ./cmd/activity
go build -o "$work/loadgen" ./cmd/loadgen

# A private Redis, so the benchmark shares its stream with nobody.
if command -v redis-server >/dev/null; then
  rport=$(free_port)
  mkdir -p "$work/redis"
  redis-server --port "$rport" --bind 127.0.0.1 --dir "$work/redis" --save '' \
    --appendonly yes --appendfsync everysec --daemonize no >"$work/redis.log" 2>&1 &
  redis_pid=$!
  BENCH_REDIS_URL="redis://127.0.0.1:$rport/0"
  for _ in $(seq 1 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis_note="private redis-server (AOF, fsync everysec)"
else
  BENCH_REDIS_URL=$REDIS_URL
  redis_note="REDIS_URL"
fi

# 1. Request-to-log throughput beside the COPY baseline.
declare -A ingest=()
if [ "${BENCH_SKIP_GO:-}" != 1 ]; then
  say "go test ./write -bench 'RequestToLog|CopyBaseline' -benchtime $BENCH_TIME (a few minutes)"
  TEST_DATABASE_URL=$ADMIN_DB_URL TEST_REDIS_URL=$BENCH_REDIS_URL \
    go test ./write -run '^$' -bench 'RequestToLog|CopyBaseline' -benchtime "$BENCH_TIME" -count 1 -timeout 30m | tee "$work/gobench.txt" >&2
  while read -r name rate; do ingest[$name]=$rate; done < <(awk '/^Benchmark/ {
      for (i = 1; i < NF; i++) if ($(i+1) == "events/s") { n = $1; sub(/-[0-9]+$/, "", n); print n, $i } }' "$work/gobench.txt")
fi

# 2. The service on free ports against a fresh database (or a copy of BENCH_TEMPLATE).
db_note="an empty database"
if [ -n "${BENCH_TEMPLATE:-}" ]; then
  # FILE_COPY (PostgreSQL 15+) copies the files instead of writing the whole
  # history to the WAL.
  strategy=""
  [ "$(psql "$ADMIN_DB_URL" -Atc 'SHOW server_version_num')" -ge 150000 ] && strategy=" STRATEGY FILE_COPY"
  say "copying database $BENCH_TEMPLATE to $BENCH_DB"
  psql "$ADMIN_DB_URL" -qc "CREATE DATABASE $BENCH_DB TEMPLATE \"$BENCH_TEMPLATE\"$strategy" >/dev/null
  db_note="a copy of database $BENCH_TEMPLATE ($(psql "$(db_url "$BENCH_DB")" -Atc 'SELECT count(*) FROM activities') activities before the load)"
else
  psql "$ADMIN_DB_URL" -qc "CREATE DATABASE $BENCH_DB" >/dev/null
fi
BENCH_DB_URL=$(db_url "$BENCH_DB")
hport=$(free_port); mport=$(free_port)
admin_key="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
API="http://127.0.0.1:$hport"
say "starting activity serve on $API (database $BENCH_DB)"
DATABASE_URL=$BENCH_DB_URL REDIS_URL=$BENCH_REDIS_URL ACTIVITY_HTTP_ADDR="127.0.0.1:$hport" \
  ACTIVITY_METRICS_ADDR="127.0.0.1:$mport" ACTIVITY_ADMIN_KEY=$admin_key ACTIVITY_RATE_LIMIT=-1 \
  ./bin/activity serve >"$work/service.log" 2>&1 &
svc_pid=$!
for _ in $(seq 1 150); do curl -sf "$API/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "$API/readyz" >/dev/null || { cat "$work/service.log" >&2; say "the service did not become ready"; exit 1; }

say "loadgen: $BENCH_RATE events/s, $BENCH_BATCH events/request, $BENCH_CLIENTS clients, $BENCH_DURATION after a warm-up of $BENCH_WARMUP"
"$work/loadgen" -url "$API" -key "$admin_key" -rate "$BENCH_RATE" -batch "$BENCH_BATCH" -clients "$BENCH_CLIENTS" \
  -duration "$BENCH_DURATION" -warmup "$BENCH_WARMUP" -database-url "$BENCH_DB_URL" -json -quiet >"$work/fresh.json"
cat "$work/fresh.json" >&2

say "query latency: $BENCH_QUERIES requests per endpoint, $BENCH_NAIVE runs of each naive log query"
"$work/loadgen" -url "$API" -key "$admin_key" -query "$BENCH_QUERIES" -naive "$BENCH_NAIVE" -database-url "$BENCH_DB_URL" -json >"$work/query.json" || true

rebuild_s="" rows=""
if ./bin/activity help 2>&1 | grep -q 'projections rebuild'; then
  rows=$(psql "$BENCH_DB_URL" -Atc "SELECT count(*) FROM activities")
  say "activity projections rebuild --all over $rows activities"
  t0=$(date +%s.%N)
  if DATABASE_URL=$BENCH_DB_URL ./bin/activity projections rebuild --all >"$work/rebuild.txt" 2>&1; then
    rebuild_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  else
    say "rebuild failed: $(tail -n 3 "$work/rebuild.txt")"
  fi
fi
hwm=$(awk '/VmHWM/ { printf "%.0f MiB", $2/1024 }' "/proc/$svc_pid/status" 2>/dev/null || echo "-")

# The table.
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || uname -m)
pgv=$(psql "$ADMIN_DB_URL" -Atc "SHOW server_version" 2>/dev/null | cut -d' ' -f1)
rv=$(redis-server --version 2>/dev/null | sed -nE 's/.*v=([0-9.]+).*/\1/p')
copy=${ingest[BenchmarkCopyBaseline]:-}
ratio() { [ -n "$1" ] && [ -n "$copy" ] && awk -v a="$1" -v b="$copy" 'BEGIN { printf "%.0f%% of COPY", 100*a/b }' || echo "-"; }
num() { [ -n "$1" ] && awk -v v="$1" 'BEGIN { printf "%.0f events/s", v }' || echo "-"; }
f="$work/fresh.json"
echo
echo "activity benchmarks, $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) cores ($cpu), PostgreSQL $pgv, Redis ${rv:-?} ($redis_note), $db_note"
echo
echo "| benchmark | figure | beside |"
echo "|---|---|---|"
for n in 1 100 1000; do
  v=${ingest[BenchmarkRequestToLog/events=$n]:-}
  echo "| ingest, $n-event requests (request → log) | $(num "$v") | $(ratio "$v") |"
done
echo "| plain COPY of the same rows | $(num "$copy") | baseline |"
echo "| loadgen: accepted at a target of $BENCH_RATE/s ($BENCH_BATCH/request, $BENCH_CLIENTS clients) | $(num "$(jget "$f" .accepted_events_per_s)") | request p50 $(ms "$(jget "$f" .request_latency.p50_ms)"), p99 $(ms "$(jget "$f" .request_latency.p99_ms)"), non-2xx responses $(jget "$f" .non_2xx_total) |"
echo "| freshness p50 / p99 at $BENCH_RATE/s after $BENCH_WARMUP of the same load (a marker every 100 ms until the rollups hold it) | $(ms "$(jget "$f" .marker_freshness.p50_ms)") / $(ms "$(jget "$f" .marker_freshness.p99_ms)") | max $(ms "$(jget "$f" .marker_freshness.max_ms)"), n=$(jget "$f" .marker_freshness.n) |"
echo "| distinct-user freshness p50 / p99, the same run (with each marker, a new user in a new community, until GET /analytics/events counts that user) | $(ms "$(jget "$f" .user_marker_freshness.p50_ms)") / $(ms "$(jget "$f" .user_marker_freshness.p99_ms)") | max $(ms "$(jget "$f" .user_marker_freshness.max_ms)"), n=$(jget "$f" .user_marker_freshness.n), not seen $(n=$(jget "$f" .user_markers_not_seen); echo "${n:-0}") |"
fa=$(jget "$f" .freshness_all_s)
if [ -n "$fa" ]; then fa=$(awk -v v="$fa" 'BEGIN { printf "%.2f s", v }'); else fa="not reached: $(jget "$f" .freshness_note)"; fi
echo "| freshness of the whole run (last response → rollups hold every accepted event) | $fa | via $(jget "$f" .freshness_source) |"
if [ -s "$work/query.json" ]; then
  n=$(jget "$work/query.json" '.endpoints | length')
  for i in $(seq 0 $((n - 1))); do
    name=$(jget "$work/query.json" ".endpoints[$i].name")
    st=$(jget "$work/query.json" ".endpoints[$i].status")
    if [ "$st" != ok ]; then echo "| query: $name | not answering: ${st:0:80} | |"; continue; fi
    naive="-"
    np50=$(jget "$work/query.json" ".endpoints[$i].naive_log_query.p50_ms")
    [ -n "$np50" ] && naive="naive log query p50 $(ms "$np50"), p99 $(ms "$(jget "$work/query.json" ".endpoints[$i].naive_log_query.p99_ms")")"
    echo "| query: $name, p50 / p99 | $(ms "$(jget "$work/query.json" ".endpoints[$i].api.p50_ms")") / $(ms "$(jget "$work/query.json" ".endpoints[$i].api.p99_ms")") | $naive |"
  done
fi
if [ -n "$rebuild_s" ]; then
  echo "| projection rebuild --all | ${rebuild_s}s for $rows activities | $(awk -v r="$rows" -v s="$rebuild_s" 'BEGIN { printf "%.0f activities/s", r/s }') |"
else
  echo "| projection rebuild --all | - | not available or failed |"
fi
echo "| peak memory of the service (VmHWM) | $hwm | after all of the above |"
