-- +goose Up

-- user_counts keeps one row per user, tier, bucket and community, and the
-- event types inside it, instead of a row for every type beside a row for
-- all of them: 6M rows instead of 13.4M for 10M activities (seeded year),
-- less than half of what a rebuild writes and indexes, and one row to
-- upsert where a live batch touched a user's day or month.
--
-- A day row ('d') lists each of its events twice, in the same order: the
-- quarter of the UTC day (qs, 0..95) and the event type (types). A month
-- row ('m') lists its event types (types, each once in a rebuilt row) and
-- the events of each (type_events). events is every type's.
--
-- The rows are converted in place, every version of the projection, so
-- reads and projectors go on from the same checkpoints; no rebuild needed.
CREATE TABLE user_counts_folded (
    version      INT         NOT NULL,
    user_id      UUID        NOT NULL,
    res          TEXT        COLLATE "C" NOT NULL CONSTRAINT user_counts_res_check CHECK (res IN ('d', 'm')),
    bucket       TIMESTAMPTZ NOT NULL,
    community_id UUID        NOT NULL,
    events       BIGINT      NOT NULL,
    qs           SMALLINT[],
    types        TEXT[]      COMPRESSION lz4 COLLATE "C" NOT NULL,
    type_events  BIGINT[],
    CONSTRAINT user_counts_check CHECK ((res = 'd') = (qs IS NOT NULL) AND (res = 'm') = (type_events IS NOT NULL)),
    PRIMARY KEY (version, user_id, res, bucket, community_id)
) PARTITION BY LIST (version);

-- +goose StatementBegin
DO $$
DECLARE
    v INT;
BEGIN
    FOR v IN SELECT version FROM projection_checkpoints WHERE name = 'user_counts'
             UNION SELECT DISTINCT version FROM user_counts
    LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF user_counts_folded FOR VALUES IN (%s)', 'user_counts_folded_v' || v, v);
    END LOOP;
END $$;
-- +goose StatementEnd

INSERT INTO user_counts_folded (version, user_id, res, bucket, community_id, events, qs, types, type_events)
SELECT u.version, u.user_id, 'd', u.bucket, u.community_id, count(*),
       array_agg(x.q ORDER BY u.event_type, x.q), array_agg(u.event_type ORDER BY u.event_type, x.q), NULL
FROM user_counts u CROSS JOIN LATERAL unnest(u.qs) AS x(q)
WHERE u.res = 'd' AND u.event_type <> ''
GROUP BY u.version, u.user_id, u.bucket, u.community_id
UNION ALL
SELECT u.version, u.user_id, 'm', u.bucket, u.community_id, sum(u.events),
       NULL, array_agg(u.event_type ORDER BY u.event_type), array_agg(u.events ORDER BY u.event_type)
FROM user_counts u
WHERE u.res = 'm' AND u.event_type <> ''
GROUP BY u.version, u.user_id, u.bucket, u.community_id;

DROP TABLE user_counts;
ALTER TABLE user_counts_folded RENAME TO user_counts;
ALTER INDEX user_counts_folded_pkey RENAME TO user_counts_pkey;
-- +goose StatementBegin
DO $$
DECLARE
    r RECORD;
BEGIN
    FOR r IN SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent IN ('user_counts'::regclass, 'user_counts_pkey'::regclass)
    LOOP
        EXECUTE format('ALTER %s %I RENAME TO %I', CASE WHEN r.name LIKE '%pkey' THEN 'INDEX' ELSE 'TABLE' END,
                       r.name, replace(r.name, 'user_counts_folded_', 'user_counts_'));
    END LOOP;
END $$;
-- +goose StatementEnd
-- The top users of a community per row: every row is every type's now.
-- The rows of activities without a community (the nil UUID, 47% of the
-- rows of the seeded year) have no top users to read: they stay out.
CREATE INDEX user_counts_top_idx ON user_counts (version, community_id, res, bucket, events DESC) INCLUDE (user_id)
    WHERE community_id <> '00000000-0000-0000-0000-000000000000';

-- A month row's types and their events with another's folded in: each type
-- once, in order, with the sum of its events (UserCountsApply).
-- +goose StatementBegin
CREATE FUNCTION user_counts_merge_types(a_types TEXT[], a_events BIGINT[], b_types TEXT[], b_events BIGINT[],
                                        OUT types TEXT[], OUT type_events BIGINT[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(x.t ORDER BY x.t), array_agg(x.n ORDER BY x.t)
    FROM (SELECT y.t COLLATE "C" AS t, sum(y.n)::bigint AS n
          FROM unnest(a_types || b_types, a_events || b_events) AS y(t, n) GROUP BY 1) x
$$;
-- +goose StatementEnd

-- A row's events per event type: a month row's type_events; a day row's
-- events with their quarter of the day in [qlo, qhi) (UserCountsTypes).
-- +goose StatementBegin
CREATE FUNCTION user_counts_types(types TEXT[], type_events BIGINT[], qs SMALLINT[], qlo INT, qhi INT)
RETURNS TABLE (event_type TEXT, events BIGINT)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT y.t, sum(y.n)::bigint FROM unnest(types, type_events) AS y(t, n)
    WHERE type_events IS NOT NULL GROUP BY y.t
    UNION ALL
    SELECT y.t, count(*) FROM unnest(types, qs) AS y(t, q)
    WHERE qs IS NOT NULL AND y.q >= qlo AND y.q < qhi GROUP BY y.t
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION user_counts_types(TEXT[], BIGINT[], SMALLINT[], INT, INT);
DROP FUNCTION user_counts_merge_types(TEXT[], BIGINT[], TEXT[], BIGINT[]);
CREATE TABLE user_counts_split (
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
-- +goose StatementBegin
DO $$
DECLARE
    v INT;
BEGIN
    FOR v IN SELECT version FROM projection_checkpoints WHERE name = 'user_counts'
             UNION SELECT DISTINCT version FROM user_counts
    LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF user_counts_split FOR VALUES IN (%s)', 'user_counts_split_v' || v, v);
    END LOOP;
END $$;
-- +goose StatementEnd
INSERT INTO user_counts_split (version, user_id, res, bucket, community_id, event_type, events, qs)
SELECT u.version, u.user_id, 'd', u.bucket, u.community_id, '', u.events, u.qs
FROM user_counts u WHERE u.res = 'd'
UNION ALL
SELECT u.version, u.user_id, 'd', u.bucket, u.community_id, x.t, count(*), array_agg(x.q)
FROM user_counts u CROSS JOIN LATERAL unnest(u.types, u.qs) AS x(t, q)
WHERE u.res = 'd'
GROUP BY u.version, u.user_id, u.bucket, u.community_id, x.t
UNION ALL
SELECT u.version, u.user_id, 'm', u.bucket, u.community_id, '', u.events, NULL
FROM user_counts u WHERE u.res = 'm'
UNION ALL
SELECT u.version, u.user_id, 'm', u.bucket, u.community_id, x.t, sum(x.n), NULL
FROM user_counts u CROSS JOIN LATERAL unnest(u.types, u.type_events) AS x(t, n)
WHERE u.res = 'm'
GROUP BY u.version, u.user_id, u.bucket, u.community_id, x.t;
DROP TABLE user_counts;
ALTER TABLE user_counts_split RENAME TO user_counts;
ALTER INDEX user_counts_split_pkey RENAME TO user_counts_pkey;
-- +goose StatementBegin
DO $$
DECLARE
    r RECORD;
BEGIN
    FOR r IN SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent IN ('user_counts'::regclass, 'user_counts_pkey'::regclass)
    LOOP
        EXECUTE format('ALTER %s %I RENAME TO %I', CASE WHEN r.name LIKE '%pkey' THEN 'INDEX' ELSE 'TABLE' END,
                       r.name, replace(r.name, 'user_counts_split_', 'user_counts_'));
    END LOOP;
END $$;
-- +goose StatementEnd
CREATE INDEX user_counts_top_idx ON user_counts (version, community_id, res, bucket, events DESC)
    INCLUDE (user_id) WHERE event_type = '';
