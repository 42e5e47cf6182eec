-- +goose Up

-- event_counts changes shape (version 2 of the projection): from quarter
-- hours × community × event type, about one row per activity on real data,
-- to a tiered rollup that a range of any length reads in a few hundred rows:
--
--   res 'h': UTC hours, with the events of each quarter of the hour in
--            quarters[1..4] (zones with :30/:45 offsets start their days on
--            a quarter hour; whole-hour zones never look at quarters);
--   res 'd': UTC days;   res 'm': UTC months.
--
-- Each level holds every community (community_id) and, under the all-
-- communities key ffffffff-ffff-ffff-ffff-ffffffffffff, the platform (which
-- also counts events without a community); event_type '' is every event
-- type. A read splits its range into the coarsest whole buckets (months in
-- the middle, days and hours at the edges): see read/plan.go.
DROP TABLE event_counts;

CREATE TABLE event_counts (
    version      INT         NOT NULL,
    res          TEXT        NOT NULL CHECK (res IN ('h', 'd', 'm')),
    bucket       TIMESTAMPTZ NOT NULL,
    community_id UUID        NOT NULL,
    event_type   TEXT        NOT NULL,
    events       BIGINT      NOT NULL,
    quarters     BIGINT[]    CHECK ((res = 'h') = (quarters IS NOT NULL)),
    PRIMARY KEY (version, res, community_id, bucket, event_type)
);

-- Every community's total in a range (top communities) without walking
-- each community's key range.
CREATE INDEX event_counts_bucket_idx ON event_counts (version, res, event_type, bucket);

UPDATE projections SET current_version = current_version + 1, next_version = NULL, updated_at = now()
WHERE name = 'event_counts';
DELETE FROM projection_checkpoints WHERE name = 'event_counts';
INSERT INTO projection_checkpoints (name, version, status)
SELECT name, current_version, 'live' FROM projections WHERE name = 'event_counts';

-- Distinct users per bucket, in the same tiers and keys as event_counts, as
-- mergeable sketches (internal/sketch): the exact set of user hashes while
-- it holds at most 256, else a HyperLogLog of 4,096 registers (relative
-- error bound 5%). users is the sketch's own estimate and exact says whether
-- it is exact, so a series whose buckets are whole rows reads no sketch.
CREATE TABLE user_sketches (
    version      INT         NOT NULL,
    res          TEXT        NOT NULL CHECK (res IN ('h', 'd', 'm')),
    bucket       TIMESTAMPTZ NOT NULL,
    community_id UUID        NOT NULL,
    event_type   TEXT        NOT NULL,
    users        BIGINT      NOT NULL,
    exact        BOOLEAN     NOT NULL,
    sketch       BYTEA       NOT NULL,
    PRIMARY KEY (version, res, community_id, bucket, event_type)
);

CREATE INDEX user_sketches_bucket_idx ON user_sketches (version, res, event_type, bucket);

INSERT INTO projections (name, current_version) VALUES ('user_sketches', 1);
INSERT INTO projection_checkpoints (name, version, status) VALUES ('user_sketches', 1, 'live');

-- user_buckets (quarter hours × community × event type × user, as large as
-- the log and read row by row) gives way to user_counts: each user's events
-- per UTC day and month, per community (the nil UUID for events without
-- one), per event type and for every type (''). A day row lists the quarter
-- of the day (0..95) of each of its events in qs, so the edges of a range
-- and the local days of any zone are exact without an hour tier (users are
-- sparse: hour rows would be as many as the activities). A user's page
-- reads a dozen months and the days at the edges; the top users of a
-- community come from each bucket's own top list (the partial index) and
-- exact sums for the candidates (read/top_users.go).
DROP TABLE user_buckets;
DELETE FROM projection_checkpoints WHERE name = 'user_buckets';
DELETE FROM projections WHERE name = 'user_buckets';

CREATE TABLE user_counts (
    version      INT         NOT NULL,
    user_id      UUID        NOT NULL,
    res          TEXT        NOT NULL CHECK (res IN ('d', 'm')),
    bucket       TIMESTAMPTZ NOT NULL,
    community_id UUID        NOT NULL,
    event_type   TEXT        NOT NULL,
    events       BIGINT      NOT NULL,
    qs           SMALLINT[]  CHECK ((res = 'd') = (qs IS NOT NULL)),
    PRIMARY KEY (version, user_id, res, bucket, community_id, event_type)
);

CREATE INDEX user_counts_top_idx ON user_counts (version, community_id, res, bucket, events DESC)
    INCLUDE (user_id) WHERE event_type = '';

INSERT INTO projections (name, current_version) VALUES ('user_counts', 1);
INSERT INTO projection_checkpoints (name, version, status) VALUES ('user_counts', 1, 'live');

-- +goose Down
DELETE FROM projection_checkpoints WHERE name = 'user_counts';
DELETE FROM projections WHERE name = 'user_counts';
DROP TABLE user_counts;
CREATE TABLE user_buckets (
    version      INT         NOT NULL,
    bucket       TIMESTAMPTZ NOT NULL,
    community_id UUID        NOT NULL,
    event_type   TEXT        NOT NULL,
    user_id      UUID        NOT NULL,
    events       BIGINT      NOT NULL,
    PRIMARY KEY (version, bucket, community_id, event_type, user_id)
);
CREATE INDEX user_buckets_user_idx      ON user_buckets (version, user_id, bucket);
CREATE INDEX user_buckets_community_idx ON user_buckets (version, community_id, bucket);
INSERT INTO projections (name, current_version) VALUES ('user_buckets', 1);
INSERT INTO projection_checkpoints (name, version, status) VALUES ('user_buckets', 1, 'live');
DELETE FROM projection_checkpoints WHERE name = 'user_sketches';
DELETE FROM projections WHERE name = 'user_sketches';
DROP TABLE user_sketches;
DROP TABLE event_counts;
CREATE TABLE event_counts (
    version      INT         NOT NULL,
    bucket       TIMESTAMPTZ NOT NULL,
    community_id UUID        NOT NULL,
    event_type   TEXT        NOT NULL,
    events       BIGINT      NOT NULL,
    PRIMARY KEY (version, bucket, community_id, event_type)
);
CREATE INDEX event_counts_community_idx ON event_counts (version, community_id, bucket);
UPDATE projections SET current_version = current_version + 1, next_version = NULL, updated_at = now()
WHERE name = 'event_counts';
DELETE FROM projection_checkpoints WHERE name = 'event_counts';
INSERT INTO projection_checkpoints (name, version, status)
SELECT name, current_version, 'live' FROM projections WHERE name = 'event_counts';
