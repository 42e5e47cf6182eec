-- +goose Up
-- The four large rollups become partitioned by version: each version of
-- event_counts, user_sketches, user_counts and user_stats is a table of its
-- own (<table>_v<version>). A rebuild fills its version as a plain table
-- with no index, indexes it once, and attaches it (projections/bulk.go):
-- far cheaper than upserting every row through two indexes. Dropping the
-- old version after a switch drops its table instead of deleting and
-- vacuuming its rows. Reads and live batches go through the parent tables
-- as before; a version's partition is created (empty, with the parent's
-- indexes) the first time a batch applies to it.
--
-- Their text keys (res, event_type: ASCII) compare bytewise (COLLATE "C"):
-- under the database's default collation every comparison of an index
-- build's sort is a strcoll() call, and building the indexes of a rebuilt
-- version took longer than computing its rows. Equality and the order of
-- ASCII strings are the same in both.
ALTER TABLE event_counts RENAME TO event_counts_unpartitioned;
ALTER INDEX event_counts_pkey RENAME TO event_counts_unpartitioned_pkey;
ALTER INDEX event_counts_bucket_idx RENAME TO event_counts_unpartitioned_bucket_idx;
CREATE TABLE event_counts (
    version      INT         NOT NULL,
    res          TEXT        COLLATE "C" NOT NULL CONSTRAINT event_counts_res_check CHECK (res IN ('h', 'd', 'm') OR res LIKE 'z:%'),
    bucket       TIMESTAMPTZ NOT NULL,
    community_id UUID        NOT NULL,
    event_type   TEXT        COLLATE "C" NOT NULL,
    events       BIGINT      NOT NULL,
    quarters     BIGINT[]    CONSTRAINT event_counts_check CHECK ((res = 'h') = (quarters IS NOT NULL)),
    PRIMARY KEY (version, res, community_id, bucket, event_type) INCLUDE (events)
) PARTITION BY LIST (version);
CREATE INDEX event_counts_bucket_idx ON event_counts (version, res, event_type, bucket) INCLUDE (community_id, events);

ALTER TABLE user_sketches RENAME TO user_sketches_unpartitioned;
ALTER INDEX user_sketches_pkey RENAME TO user_sketches_unpartitioned_pkey;
ALTER INDEX user_sketches_bucket_idx RENAME TO user_sketches_unpartitioned_bucket_idx;
CREATE TABLE user_sketches (
    version      INT         NOT NULL,
    res          TEXT        COLLATE "C" NOT NULL CONSTRAINT user_sketches_res_check CHECK (res IN ('h', 'd', 'm') OR res LIKE 'z:%'),
    bucket       TIMESTAMPTZ NOT NULL,
    community_id UUID        NOT NULL,
    event_type   TEXT        COLLATE "C" NOT NULL,
    users        BIGINT      NOT NULL,
    exact        BOOLEAN     NOT NULL,
    sketch       BYTEA       COMPRESSION lz4 NOT NULL,
    PRIMARY KEY (version, res, community_id, bucket, event_type) INCLUDE (users, exact)
) PARTITION BY LIST (version);
CREATE INDEX user_sketches_bucket_idx ON user_sketches (version, res, event_type, bucket);

ALTER TABLE user_counts RENAME TO user_counts_unpartitioned;
ALTER INDEX user_counts_pkey RENAME TO user_counts_unpartitioned_pkey;
ALTER INDEX user_counts_top_idx RENAME TO user_counts_unpartitioned_top_idx;
CREATE TABLE user_counts (
    version      INT         NOT NULL,
    user_id      UUID        NOT NULL,
    res          TEXT        COLLATE "C" NOT NULL CONSTRAINT user_counts_res_check CHECK (res IN ('d', 'm')),
    bucket       TIMESTAMPTZ NOT NULL,
    community_id UUID        NOT NULL,
    event_type   TEXT        COLLATE "C" NOT NULL,
    events       BIGINT      NOT NULL,
    qs           SMALLINT[]  CONSTRAINT user_counts_check CHECK ((res = 'd') = (qs IS NOT NULL)),
    PRIMARY KEY (version, user_id, res, bucket, community_id, event_type)
) PARTITION BY LIST (version);
CREATE INDEX user_counts_top_idx ON user_counts (version, community_id, res, bucket, events DESC)
    INCLUDE (user_id) WHERE event_type = '';

ALTER TABLE user_stats RENAME TO user_stats_unpartitioned;
ALTER INDEX user_stats_pkey RENAME TO user_stats_unpartitioned_pkey;
CREATE TABLE user_stats (
    version      INT         NOT NULL,
    user_id      UUID        NOT NULL,
    community_id UUID        NOT NULL,
    first_seen   TIMESTAMPTZ NOT NULL,
    last_seen    TIMESTAMPTZ NOT NULL,
    events       BIGINT      NOT NULL,
    PRIMARY KEY (version, user_id, community_id)
) PARTITION BY LIST (version);

-- Every version that has a checkpoint or rows gets its partition, and the
-- rows move into it.
-- +goose StatementBegin
DO $$
DECLARE
    t TEXT;
    v INT;
BEGIN
    FOREACH t IN ARRAY ARRAY['event_counts', 'user_sketches', 'user_counts', 'user_stats'] LOOP
        FOR v IN EXECUTE format(
            'SELECT version FROM projection_checkpoints WHERE name = %L UNION SELECT DISTINCT version FROM %I',
            t, t || '_unpartitioned')
        LOOP
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES IN (%s)', t || '_v' || v, t, v);
        END LOOP;
        EXECUTE format('INSERT INTO %I SELECT * FROM %I', t, t || '_unpartitioned');
    END LOOP;
END $$;
-- +goose StatementEnd
DROP TABLE event_counts_unpartitioned;
DROP TABLE user_sketches_unpartitioned;
DROP TABLE user_counts_unpartitioned;
DROP TABLE user_stats_unpartitioned;

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['event_counts', 'user_sketches', 'user_counts', 'user_stats'] LOOP
        EXECUTE format('CREATE TABLE %I AS SELECT * FROM %I', t || '_unpartitioned', t);
        EXECUTE format('DROP TABLE %I', t);
        EXECUTE format('ALTER TABLE %I RENAME TO %I', t || '_unpartitioned', t);
    END LOOP;
END $$;
-- +goose StatementEnd
ALTER TABLE event_counts ALTER COLUMN version SET NOT NULL, ALTER COLUMN res SET NOT NULL, ALTER COLUMN bucket SET NOT NULL,
    ALTER COLUMN community_id SET NOT NULL, ALTER COLUMN event_type SET NOT NULL, ALTER COLUMN events SET NOT NULL,
    ADD CONSTRAINT event_counts_res_check CHECK (res IN ('h', 'd', 'm') OR res LIKE 'z:%'),
    ADD CONSTRAINT event_counts_check CHECK ((res = 'h') = (quarters IS NOT NULL)),
    ADD PRIMARY KEY (version, res, community_id, bucket, event_type) INCLUDE (events);
CREATE INDEX event_counts_bucket_idx ON event_counts (version, res, event_type, bucket) INCLUDE (community_id, events);
ALTER TABLE user_sketches ALTER COLUMN version SET NOT NULL, ALTER COLUMN res SET NOT NULL, ALTER COLUMN bucket SET NOT NULL,
    ALTER COLUMN community_id SET NOT NULL, ALTER COLUMN event_type SET NOT NULL, ALTER COLUMN users SET NOT NULL,
    ALTER COLUMN exact SET NOT NULL, ALTER COLUMN sketch SET NOT NULL, ALTER COLUMN sketch SET COMPRESSION lz4,
    ADD CONSTRAINT user_sketches_res_check CHECK (res IN ('h', 'd', 'm') OR res LIKE 'z:%'),
    ADD PRIMARY KEY (version, res, community_id, bucket, event_type) INCLUDE (users, exact);
CREATE INDEX user_sketches_bucket_idx ON user_sketches (version, res, event_type, bucket);
ALTER TABLE user_counts ALTER COLUMN version SET NOT NULL, ALTER COLUMN user_id SET NOT NULL, ALTER COLUMN res SET NOT NULL,
    ALTER COLUMN bucket SET NOT NULL, ALTER COLUMN community_id SET NOT NULL, ALTER COLUMN event_type SET NOT NULL,
    ALTER COLUMN events SET NOT NULL,
    ADD CONSTRAINT user_counts_res_check CHECK (res IN ('d', 'm')),
    ADD CONSTRAINT user_counts_check CHECK ((res = 'd') = (qs IS NOT NULL)),
    ADD PRIMARY KEY (version, user_id, res, bucket, community_id, event_type);
CREATE INDEX user_counts_top_idx ON user_counts (version, community_id, res, bucket, events DESC)
    INCLUDE (user_id) WHERE event_type = '';
ALTER TABLE user_stats ALTER COLUMN version SET NOT NULL, ALTER COLUMN user_id SET NOT NULL,
    ALTER COLUMN community_id SET NOT NULL, ALTER COLUMN first_seen SET NOT NULL, ALTER COLUMN last_seen SET NOT NULL,
    ALTER COLUMN events SET NOT NULL,
    ADD PRIMARY KEY (version, user_id, community_id);
