-- +goose Up

-- user_counts keeps one row per user, tier, bucket and community, and the
-- event types inside it, instead of a row for every type beside a row for
-- all of them: 6M rows instead of 13.4M for 10M activities (seeded year),
-- less than half of what a rebuild writes and indexes, and one row to
-- upsert where a live batch touched a user's day or month.
--
-- Every row lists its event types (types, each once, in byte order) and
-- the events of each (type_events); events is every type's. A day row ('d')
-- also lists each of its events as the index of its type in types (from 0)
-- times 96 plus its quarter of the UTC day (0..95): tq. So a whole day or
-- month reads its figures per type from type_events, and a part of a day
-- (a local day of a zone) counts its quarters in tq.
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
    types        TEXT[]      COLLATE "C" NOT NULL,
    type_events  BIGINT[]    NOT NULL,
    tq           INT[]       COMPRESSION lz4,
    CONSTRAINT user_counts_check CHECK ((res = 'd') = (tq IS NOT NULL)),
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

WITH ranked AS (
    SELECT s.version, s.user_id, s.res, s.bucket, s.community_id, s.event_type, s.events, s.qs,
           (row_number() OVER (PARTITION BY s.version, s.user_id, s.res, s.bucket, s.community_id
                               ORDER BY s.event_type COLLATE "C") - 1)::int AS ti
    FROM user_counts s WHERE s.event_type <> ''
), typed AS (
    SELECT r.version, r.user_id, r.res, r.bucket, r.community_id, sum(r.events)::bigint AS events,
           array_agg(r.event_type ORDER BY r.ti) AS types, array_agg(r.events ORDER BY r.ti) AS type_events
    FROM ranked r GROUP BY r.version, r.user_id, r.res, r.bucket, r.community_id
), quarters AS (
    SELECT r.version, r.user_id, r.bucket, r.community_id, array_agg(r.ti * 96 + x.q ORDER BY r.ti, x.q) AS tq
    FROM ranked r CROSS JOIN LATERAL unnest(r.qs) AS x(q)
    WHERE r.res = 'd'
    GROUP BY r.version, r.user_id, r.bucket, r.community_id
)
INSERT INTO user_counts_folded (version, user_id, res, bucket, community_id, events, types, type_events, tq)
SELECT t.version, t.user_id, t.res, t.bucket, t.community_id, t.events, t.types, t.type_events, q.tq
FROM typed t
LEFT JOIN quarters q ON t.res = 'd' AND q.version = t.version AND q.user_id = t.user_id
                    AND q.bucket = t.bucket AND q.community_id = t.community_id;

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

-- A row's types and their events with another's folded in: each type
-- once, in byte order, with the sum of its events; and, for day rows, the
-- events of both (tq) with their type indexes into the folded types
-- (UserCountsApply).
-- +goose StatementBegin
CREATE FUNCTION user_counts_merge(a_types TEXT[], a_events BIGINT[], a_tq INT[],
                                  b_types TEXT[], b_events BIGINT[], b_tq INT[],
                                  OUT types TEXT[], OUT type_events BIGINT[], OUT tq INT[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH m AS (
        SELECT array_agg(x.t ORDER BY x.t) AS types, array_agg(x.n ORDER BY x.t) AS type_events
        FROM (SELECT y.t COLLATE "C" AS t, sum(y.n)::bigint AS n
              FROM unnest(a_types || b_types, a_events || b_events) AS y(t, n) GROUP BY 1) x
    )
    SELECT m.types, m.type_events,
           CASE WHEN a_tq IS NOT NULL THEN
               ARRAY(SELECT (array_position(m.types, e.t) - 1) * 96 + e.q
                     FROM (SELECT a_types[v / 96 + 1] AS t, v % 96 AS q FROM unnest(a_tq) v
                           UNION ALL
                           SELECT b_types[v / 96 + 1], v % 96 FROM unnest(b_tq) v) e)
           END
    FROM m
$$;
-- +goose StatementEnd

-- A day row's events with their quarter of the day in [qlo, qhi) (the
-- reads of a part of a day row).
-- +goose StatementBegin
CREATE FUNCTION user_counts_in_quarters(tq INT[], qlo INT, qhi INT) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT count(*) FROM unnest(tq) v WHERE v % 96 >= qlo AND v % 96 < qhi
$$;
-- +goose StatementEnd

-- A row's events per event type over the quarters [qlo, qhi) of its day
-- (a month row, or all of a day: type_events; else counted in tq)
-- (UserCountsTypes).
-- +goose StatementBegin
CREATE FUNCTION user_counts_types(types TEXT[], type_events BIGINT[], tq INT[], qlo INT, qhi INT)
RETURNS TABLE (event_type TEXT, events BIGINT)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT y.t, y.n FROM unnest(types, type_events) AS y(t, n)
    WHERE tq IS NULL OR (qlo = 0 AND qhi = 96)
    UNION ALL
    SELECT types[v / 96 + 1], count(*) FROM unnest(tq) v
    WHERE tq IS NOT NULL AND NOT (qlo = 0 AND qhi = 96) AND v % 96 >= qlo AND v % 96 < qhi
    GROUP BY 1
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION user_counts_types(TEXT[], BIGINT[], INT[], INT, INT);
DROP FUNCTION user_counts_in_quarters(INT[], INT, INT);
DROP FUNCTION user_counts_merge(TEXT[], BIGINT[], INT[], TEXT[], BIGINT[], INT[]);
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
SELECT u.version, u.user_id, u.res, u.bucket, u.community_id, '', u.events,
       CASE WHEN u.res = 'd' THEN ARRAY(SELECT (v % 96)::smallint FROM unnest(u.tq) v) END
FROM user_counts u
UNION ALL
SELECT u.version, u.user_id, u.res, u.bucket, u.community_id, u.types[i], u.type_events[i],
       CASE WHEN u.res = 'd' THEN ARRAY(SELECT (v % 96)::smallint FROM unnest(u.tq) v WHERE v / 96 = i - 1) END
FROM user_counts u CROSS JOIN LATERAL generate_subscripts(u.types, 1) AS i;
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
