#!/usr/bin/env bash
# Rebuilds projections over and over while `activity serve` (with its live
# projectors) takes a steady load, and reports every rebuild that fails and
# any PostgreSQL backend crash (docs/BENCHMARKS.md, "Known gaps").
#
#   scripts/rebuild_soak.sh            # 240 s of `rebuild --all`
#   SOAK_SECONDS=600 SOAK_REBUILD="user_sketches event_counts" scripts/rebuild_soak.sh
#
# Uses the PostgreSQL server of DATABASE_URL (a throwaway database, dropped at
# the end) and a private redis-server on a free port (REDIS_URL when
# redis-server is not installed). Knobs:
# SOAK_SECONDS (240), SOAK_RATE (1500 events/s), SOAK_REBUILD (--all: what
# each round rebuilds, one rebuild per word), PG_LOG (the server log to
# watch for crashes; default the Debian cluster's).
set -euo pipefail
cd "$(dirname "$0")/.."
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/activity?sslmode=disable}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
SOAK_SECONDS=${SOAK_SECONDS:-240}
SOAK_RATE=${SOAK_RATE:-1500}
SOAK_REBUILD=${SOAK_REBUILD:---all}
PG_LOG=${PG_LOG:-/var/log/postgresql/postgresql-15-main.log}

db="activity_soak_$$"
admin_url=$(echo "$DATABASE_URL" | sed -E "s#/[^/?]+([?]|\$)#/postgres\\1#")
soak_url=$(echo "$DATABASE_URL" | sed -E "s#/[^/?]+([?]|\$)#/$db\\1#")
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# grep -c prints 0 (and fails) when nothing matches, nothing when the log is missing.
crashes() { local n; n=$(grep -c "terminated by signal" "$PG_LOG" 2>/dev/null) || true; echo "${n:-0}"; }
svc="" load="" redis=""
cleanup() {
  [ -n "$load" ] && kill "$load" 2>/dev/null || true
  [ -n "$svc" ] && kill "$svc" 2>/dev/null && wait "$svc" 2>/dev/null || true
  [ -n "$redis" ] && kill "$redis" 2>/dev/null || true
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/activity" ./cmd/activity
go build -o "$work/loadgen" ./cmd/loadgen
psql "$admin_url" -qc "CREATE DATABASE $db"
if command -v redis-server >/dev/null; then
  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
  redis=$!
  REDIS_URL="redis://127.0.0.1:$rport/0"
  for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
export DATABASE_URL=$soak_url REDIS_URL
"$work/activity" migrate >/dev/null
hport=$(free_port) mport=$(free_port)
ACTIVITY_HTTP_ADDR="127.0.0.1:$hport" ACTIVITY_METRICS_ADDR="127.0.0.1:$mport" ACTIVITY_ADMIN_KEY="soak-$$" \
  ACTIVITY_RATE_LIMIT=-1 "$work/activity" serve >"$work/serve.log" 2>&1 &
svc=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$hport/readyz" >/dev/null && break; sleep 0.2; done
"$work/loadgen" -url "http://127.0.0.1:$hport" -key "soak-$$" -rate "$SOAK_RATE" -batch 50 -clients 4 \
  -duration "$((SOAK_SECONDS + 30))s" -marker-every 0 >"$work/load.log" 2>&1 &
load=$!

before=$(crashes) rounds=0 failed=0
end=$((SECONDS + SOAK_SECONDS))
while [ $SECONDS -lt $end ]; do
  for what in $SOAK_REBUILD; do
    rounds=$((rounds + 1))
    if ! "$work/activity" projections rebuild "$what" >"$work/rebuild.log" 2>&1; then
      failed=$((failed + 1))
      echo "soak: rebuild $what failed: $(tail -c 400 "$work/rebuild.log")" >&2
    fi
  done
done
after=$(crashes)
echo "soak: $rounds rebuilds ($SOAK_REBUILD) in ${SOAK_SECONDS}s at $SOAK_RATE events/s: $failed failed, $((after - before)) PostgreSQL backend crashes"
[ "$failed" -eq 0 ] && [ "$after" -eq "$before" ]
