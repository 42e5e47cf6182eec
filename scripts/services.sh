#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer at DATABASE_URL / REDIS_URL, and says
# what it did: uses them when they answer; else starts them with Docker
# Compose where a Docker engine answers; else starts the local packages
# (installing them with apt-get when missing). Then creates the database.
set -euo pipefail

DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/activity?sslmode=disable}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}

# host and port of a URL like scheme://user@host:port/db
url_host() { echo "$1" | sed -E 's#^[a-z]+://([^@/]*@)?([^:/?]+).*#\2#'; }
url_port() { echo "$1" | sed -nE 's#^[a-z]+://([^@/]*@)?[^:/?]+:([0-9]+).*#\2#p'; }
PGHOST_=$(url_host "$DATABASE_URL"); PGPORT_=$(url_port "$DATABASE_URL"); PGPORT_=${PGPORT_:-5432}
RHOST=$(url_host "$REDIS_URL"); RPORT=$(url_port "$REDIS_URL"); RPORT=${RPORT:-6379}

pg_up() { (echo > "/dev/tcp/$PGHOST_/$PGPORT_") 2>/dev/null; }
redis_up() { (echo > "/dev/tcp/$RHOST/$RPORT") 2>/dev/null; }
wait_for() { for _ in $(seq 1 60); do "$1" && return 0; sleep 0.5; done; return 1; }

if pg_up && redis_up; then
  echo "services: using PostgreSQL at $PGHOST_:$PGPORT_ and Redis at $RHOST:$RPORT (already answering)"
elif docker info >/dev/null 2>&1; then
  echo "services: starting PostgreSQL and Redis with Docker Compose"
  docker compose up -d postgres redis
  wait_for pg_up && wait_for redis_up
else
  if ! pg_up; then
    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
      echo "services: installing PostgreSQL (apt-get)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    ver=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "services: starting the local PostgreSQL $ver cluster"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    wait_for pg_up || { echo "services: PostgreSQL did not start" >&2; exit 1; }
  fi
  if ! redis_up; then
    if ! command -v redis-server >/dev/null; then
      echo "services: installing Redis (apt-get)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    fi
    echo "services: starting a local redis-server on port $RPORT"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$RPORT" --save "" --appendonly no
    wait_for redis_up || { echo "services: Redis did not start" >&2; exit 1; }
  fi
fi

dbname=$(echo "$DATABASE_URL" | sed -nE 's#^[a-z]+://[^/]+/([^?]+).*#\1#p')
base=$(echo "$DATABASE_URL" | sed -E "s#/${dbname}([?]|\$)#/postgres\1#")
if [ -n "$dbname" ] && command -v psql >/dev/null; then
  if [ "$(psql "$base" -tAc "SELECT 1 FROM pg_database WHERE datname = '$dbname'")" != "1" ]; then
    psql "$base" -qc "CREATE DATABASE \"$dbname\"" && echo "services: created database $dbname"
  fi
fi
