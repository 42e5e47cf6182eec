# activity: `make run` starts the service with everything it needs;
# `make test` runs the tests against real PostgreSQL and Redis.

export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/activity?sslmode=disable
export REDIS_URL ?= redis://127.0.0.1:6379/0
export ACTIVITY_ADMIN_KEY ?= dev-admin-key-change-me
TEST_DATABASE_URL ?= $(shell echo '$(DATABASE_URL)' | sed -E 's#/[^/?]+([?]|$$)#/postgres\1#')
TEST_REDIS_URL ?= $(REDIS_URL)

.PHONY: run test services build generate check-generated vet fuzz bench

run: services build
	./bin/activity serve

services:
	@./scripts/services.sh

build:
	go build -o bin/activity ./cmd/activity

test: services check-generated
	TEST_DATABASE_URL='$(TEST_DATABASE_URL)' TEST_REDIS_URL='$(TEST_REDIS_URL)' go test -count=1 -timeout 12m ./...
	cd sdk && go test -count=1 -race ./...

generate:
	go tool sqlc generate

# Fails when the committed sqlc output is not what the queries generate.
check-generated:
	go tool sqlc diff

vet:
	go vet ./...
	gofmt -l . | (! grep .)

fuzz:
	go test ./domain -run XXX -fuzz FuzzDecodeRequest -fuzztime 30s
	go test ./domain -run XXX -fuzz FuzzDecodeEvent -fuzztime 30s
	go test ./domain -run XXX -fuzz FuzzSanitizeValue -fuzztime 30s

.PHONY: chaos loadgen

# Benchmarks: ingest vs COPY, freshness at 5,000 events/s, query latency,
# rebuild speed, peak memory; one table (see scripts/bench.sh for knobs).
bench: services
	./scripts/bench.sh

# The chaos run: roles as separate processes on a private PostgreSQL and
# Redis, SIGKILLs and outages under load; fails on any loss, duplicate or
# rollup mismatch. `make chaos CHAOS_FLAGS=-short` is the one-minute form.
chaos:
	go run ./cmd/chaos $(CHAOS_FLAGS)

# Load against the server of `make run` (admin key by default), e.g.
# `make loadgen LOADGEN_FLAGS='-rate 5000 -duration 30s'`.
LOADGEN_URL ?= http://127.0.0.1:8080
loadgen:
	go build -o bin/loadgen ./cmd/loadgen
	./bin/loadgen -url '$(LOADGEN_URL)' -key '$(ACTIVITY_ADMIN_KEY)' $(LOADGEN_FLAGS)

# A synthetic history (internal/seed) COPYed into the empty database at
# DATABASE_URL, then the projections rebuilt, e.g.
# `make seed SEED_FLAGS='--activities 5000000 --seed 2'`.
.PHONY: seed
seed: services build
	./bin/activity dev seed $(SEED_FLAGS)
