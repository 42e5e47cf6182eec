-- +goose Up

-- One row per projection: which version reads use, and which one a rebuild
-- is building. Every rollup row carries its projection version, so a rebuild
-- writes version N+1 beside N and reads switch by changing current_version.
CREATE TABLE projections (
    name            TEXT PRIMARY KEY,
    current_version INT         NOT NULL,
    next_version    INT,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Where each version of each projection has got to in the log, in
-- (tx_id, activity_id) order. Advanced by compare-and-set in the same
-- transaction as the rollup deltas.
CREATE TABLE projection_checkpoints (
    name        TEXT        NOT NULL,
    version     INT         NOT NULL,
    tx_id       BIGINT      NOT NULL DEFAULT 0,
    activity_id BIGINT      NOT NULL DEFAULT 0,
    status      TEXT        NOT NULL CHECK (status IN ('live', 'rebuilding', 'failing')),
    last_error  TEXT,
    failures    INT         NOT NULL DEFAULT 0,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

-- Event counts per quarter hour (UTC), community and event type. Quarter
-- hours make local days exact in every IANA zone (all offsets are multiples
-- of 15 minutes). community_id is the nil UUID for events without one.
CREATE TABLE event_counts (
    version      INT         NOT NULL,
    bucket       TIMESTAMPTZ NOT NULL,
    community_id UUID        NOT NULL,
    event_type   TEXT        NOT NULL,
    events       BIGINT      NOT NULL,
    PRIMARY KEY (version, bucket, community_id, event_type)
);

CREATE INDEX event_counts_community_idx ON event_counts (version, community_id, bucket);

-- Which users were active per quarter hour, community and event type:
-- exact distinct users (DAU, WAU, MAU, any range, any zone).
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

-- All-time per-user figures, per community (nil UUID for none).
CREATE TABLE user_stats (
    version      INT         NOT NULL,
    user_id      UUID        NOT NULL,
    community_id UUID        NOT NULL,
    first_seen   TIMESTAMPTZ NOT NULL,
    last_seen    TIMESTAMPTZ NOT NULL,
    events       BIGINT      NOT NULL,
    PRIMARY KEY (version, user_id, community_id)
);

-- Community attributes from the log: the name of the latest community.created
-- (by occurred_at, then event_id), its time, and the first activity's time.
CREATE TABLE community_stats (
    version        INT         NOT NULL,
    community_id   UUID        NOT NULL,
    name           TEXT,
    named_at       TIMESTAMPTZ,
    named_event_id TEXT,
    first_seen     TIMESTAMPTZ NOT NULL,
    events         BIGINT      NOT NULL,
    PRIMARY KEY (version, community_id)
);

INSERT INTO projections (name, current_version) VALUES
    ('event_counts', 1), ('user_buckets', 1), ('user_stats', 1), ('community_stats', 1);
INSERT INTO projection_checkpoints (name, version, status) VALUES
    ('event_counts', 1, 'live'), ('user_buckets', 1, 'live'),
    ('user_stats', 1, 'live'), ('community_stats', 1, 'live');

-- +goose Down
DROP TABLE community_stats;
DROP TABLE user_stats;
DROP TABLE user_buckets;
DROP TABLE event_counts;
DROP TABLE projection_checkpoints;
DROP TABLE projections;
