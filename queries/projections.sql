-- Every rollup statement applies the activities in one (tx_id, id) range:
-- (from_tx, from_id) exclusive to (to_tx, to_id) inclusive. A rebuild is the
-- same statement over the whole log below a watermark into an empty version;
-- a live projector runs it per batch, in the transaction that advances its
-- checkpoint. Events without a community count under the nil UUID.

-- name: ActivityWatermark :one
-- Every row with tx_id below this is committed (or never will be): the
-- write horizon (migration 00009), which a batch's end is bounded by too.
SELECT activity_write_horizon(@projector_application_name::text)::bigint AS watermark;

-- name: EventCountsApply :execrows
-- Events per UTC hour (with the events of each quarter of it), day and
-- month, and per local day of each of the version's @time_zones, per community and for the platform (the all-communities key
-- ffffffff-ffff-ffff-ffff-ffffffffffff, which also counts events without a
-- community), per event type and for every type (the empty event type).
WITH quarters AS (
    SELECT date_bin('15 minutes', a.created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS quarter,
           a.community_id, a.event_type, count(*) AS n
    FROM activities a
    WHERE (a.tx_id, a.id) > (@from_tx::bigint, @from_id::bigint)
      AND (a.tx_id, a.id) <= (@to_tx::bigint, @to_id::bigint)
      AND a.created_at >= @first_at::timestamptz AND a.created_at <= @last_at::timestamptz
    GROUP BY 1, 2, 3
), base AS (
    SELECT x.hour, qs.community_id, qs.event_type,
           COALESCE(sum(qs.n) FILTER (WHERE qs.quarter = x.hour), 0)::bigint AS q0,
           COALESCE(sum(qs.n) FILTER (WHERE qs.quarter = x.hour + interval '15 minutes'), 0)::bigint AS q1,
           COALESCE(sum(qs.n) FILTER (WHERE qs.quarter = x.hour + interval '30 minutes'), 0)::bigint AS q2,
           COALESCE(sum(qs.n) FILTER (WHERE qs.quarter = x.hour + interval '45 minutes'), 0)::bigint AS q3
    FROM quarters qs
    CROSS JOIN LATERAL (SELECT date_bin('1 hour', qs.quarter, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS hour) x
    GROUP BY 1, 2, 3
), keyed AS (
    SELECT b.hour, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid AS community_id, ''::text AS event_type,
           sum(b.q0)::bigint AS q0, sum(b.q1)::bigint AS q1, sum(b.q2)::bigint AS q2, sum(b.q3)::bigint AS q3
    FROM base b GROUP BY b.hour
    UNION ALL
    SELECT b.hour, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid, b.event_type,
           sum(b.q0)::bigint, sum(b.q1)::bigint, sum(b.q2)::bigint, sum(b.q3)::bigint
    FROM base b GROUP BY b.hour, b.event_type
    UNION ALL
    SELECT b.hour, b.community_id, '',
           sum(b.q0)::bigint, sum(b.q1)::bigint, sum(b.q2)::bigint, sum(b.q3)::bigint
    FROM base b WHERE b.community_id IS NOT NULL GROUP BY b.hour, b.community_id
    UNION ALL
    SELECT b.hour, b.community_id, b.event_type, b.q0, b.q1, b.q2, b.q3
    FROM base b WHERE b.community_id IS NOT NULL
), zoned AS (
    -- Local days of the version's report time zones, from the quarters (a
    -- zone's midnight may fall inside a UTC hour).
    SELECT 'z:' || z.zone AS res, date_trunc('day', qs.quarter, z.zone) AS bucket, qs.community_id, qs.event_type,
           sum(qs.n)::bigint AS n
    FROM quarters qs CROSS JOIN (SELECT unnest(@time_zones::text[]) AS zone) z
    GROUP BY 1, 2, 3, 4
), zkeyed AS (
    SELECT zb.res, zb.bucket, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid AS community_id, ''::text AS event_type,
           sum(zb.n)::bigint AS events
    FROM zoned zb GROUP BY zb.res, zb.bucket
    UNION ALL
    SELECT zb.res, zb.bucket, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid, zb.event_type, sum(zb.n)::bigint
    FROM zoned zb GROUP BY zb.res, zb.bucket, zb.event_type
    UNION ALL
    SELECT zb.res, zb.bucket, zb.community_id, '', sum(zb.n)::bigint
    FROM zoned zb WHERE zb.community_id IS NOT NULL GROUP BY zb.res, zb.bucket, zb.community_id
    UNION ALL
    SELECT zb.res, zb.bucket, zb.community_id, zb.event_type, zb.n
    FROM zoned zb WHERE zb.community_id IS NOT NULL
), tiers AS (
    SELECT 'h'::text AS res, kd.hour AS bucket, kd.community_id, kd.event_type,
           kd.q0 + kd.q1 + kd.q2 + kd.q3 AS events, ARRAY[kd.q0, kd.q1, kd.q2, kd.q3] AS quarters
    FROM keyed kd
    UNION ALL
    SELECT 'd', date_bin('1 day', kd.hour, TIMESTAMPTZ '2000-01-01 00:00:00+00'), kd.community_id, kd.event_type,
           sum(kd.q0 + kd.q1 + kd.q2 + kd.q3)::bigint, NULL
    FROM keyed kd GROUP BY 2, 3, 4
    UNION ALL
    SELECT 'm', date_trunc('month', kd.hour, 'UTC'), kd.community_id, kd.event_type,
           sum(kd.q0 + kd.q1 + kd.q2 + kd.q3)::bigint, NULL
    FROM keyed kd GROUP BY 2, 3, 4
    UNION ALL
    SELECT zk.res, zk.bucket, zk.community_id, zk.event_type, zk.events, NULL
    FROM zkeyed zk
)
INSERT INTO event_counts AS t (version, res, bucket, community_id, event_type, events, quarters)
SELECT @version::int, tr.res, tr.bucket, tr.community_id, tr.event_type, tr.events, tr.quarters
FROM tiers tr
ORDER BY tr.res, tr.community_id, tr.bucket, tr.event_type
ON CONFLICT (version, res, community_id, bucket, event_type) DO UPDATE SET
    events = t.events + EXCLUDED.events,
    quarters = CASE WHEN t.res = 'h' THEN ARRAY[t.quarters[1] + EXCLUDED.quarters[1], t.quarters[2] + EXCLUDED.quarters[2],
                                                t.quarters[3] + EXCLUDED.quarters[3], t.quarters[4] + EXCLUDED.quarters[4]] END;

-- name: UserSketchActivities :many
-- The distinct (UTC quarter hour, community, event type, user) of a range,
-- which projections/user_sketches.go folds into the sketches of every tier
-- and key (quarters, not hours: a report zone's midnight may fall inside an
-- hour).
SELECT date_bin('15 minutes', a.created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')::timestamptz AS quarter,
       a.community_id, a.event_type, a.user_id::uuid AS user_id
FROM activities a
WHERE (a.tx_id, a.id) > (@from_tx::bigint, @from_id::bigint)
  AND (a.tx_id, a.id) <= (@to_tx::bigint, @to_id::bigint)
  AND a.created_at >= @first_at::timestamptz AND a.created_at <= @last_at::timestamptz
  AND a.user_id IS NOT NULL
GROUP BY 1, 2, 3, 4;

-- name: UserSketchesGet :many
-- The stored sketches of the given keys (those that exist).
SELECT s.res, s.bucket, s.community_id, s.event_type, s.sketch
FROM (SELECT unnest(@res::text[]) AS res, unnest(@buckets::timestamptz[]) AS bucket,
             unnest(@communities::uuid[]) AS community_id, unnest(@event_types::text[]) AS event_type) k
JOIN user_sketches s
  ON s.version = @version::int AND s.res = k.res AND s.community_id = k.community_id
 AND s.bucket = k.bucket AND s.event_type = k.event_type;

-- name: UserSketchesPut :exec
-- Stores merged sketches (the caller merged the stored ones in).
INSERT INTO user_sketches AS t (version, res, bucket, community_id, event_type, users, exact, sketch)
SELECT @version::int, k.res, k.bucket, k.community_id, k.event_type, k.users, k.exact, k.sketch
FROM (SELECT unnest(@res::text[]) AS res, unnest(@buckets::timestamptz[]) AS bucket,
             unnest(@communities::uuid[]) AS community_id, unnest(@event_types::text[]) AS event_type,
             unnest(@users::bigint[]) AS users, unnest(@exact::bool[]) AS exact,
             unnest(@sketches::bytea[]) AS sketch) k
ON CONFLICT (version, res, community_id, bucket, event_type) DO UPDATE SET
    users = EXCLUDED.users, exact = EXCLUDED.exact, sketch = EXCLUDED.sketch;

-- name: UserCountsApply :execrows
-- Each user's events per UTC day and month, per community (the nil UUID for
-- none): every row its event types (each once, in byte order) with their
-- events; a day row also each event as its type's index in types times 96
-- plus its quarter of the day (0..95), so a local day of any zone, of every
-- type or one, is a sum over one or two day rows. A row of one type has no
-- type_events (its events are the type's). user_counts_fold (migration
-- 00012) folds a batch's row into the stored one.
WITH base AS (
    SELECT a.user_id, COALESCE(a.community_id, '00000000-0000-0000-0000-000000000000'::uuid) AS community_id,
           a.event_type COLLATE "C" AS event_type, date_bin('1 day', a.created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS day,
           (floor(date_part('epoch', a.created_at))::bigint % 86400 / 900)::int AS q
    FROM activities a
    WHERE (a.tx_id, a.id) > (@from_tx::bigint, @from_id::bigint)
      AND (a.tx_id, a.id) <= (@to_tx::bigint, @to_id::bigint)
      AND a.created_at >= @first_at::timestamptz AND a.created_at <= @last_at::timestamptz
      AND a.user_id IS NOT NULL
), per_type AS (
    SELECT b.user_id, b.community_id, b.day, b.event_type, count(*) AS events,
           (dense_rank() OVER (PARTITION BY b.user_id, b.community_id, b.day ORDER BY b.event_type) - 1)::int AS ti,
           array_agg(b.q) AS qs
    FROM base b GROUP BY b.user_id, b.community_id, b.day, b.event_type
), days AS (
    -- One aggregation over each type's quarters (the first of them, n = 1,
    -- stands for its type), not a join of two: planned for a batch of one
    -- partition, such a join was estimated at a few rows and run as a
    -- nested loop that sorted the other side once per row (minutes).
    INSERT INTO user_counts AS t (version, user_id, res, bucket, community_id, events, types, type_events, tq)
    SELECT @version::int, pt.user_id, 'd', pt.day, pt.community_id,
           (sum(pt.events) FILTER (WHERE x.n = 1))::bigint,
           array_agg(pt.event_type ORDER BY pt.ti) FILTER (WHERE x.n = 1),
           CASE WHEN max(pt.ti) > 0 THEN array_agg(pt.events ORDER BY pt.ti) FILTER (WHERE x.n = 1) END,
           array_agg(pt.ti * 96 + x.q ORDER BY pt.ti, x.q)
    FROM per_type pt CROSS JOIN LATERAL unnest(pt.qs) WITH ORDINALITY AS x(q, n)
    GROUP BY pt.user_id, pt.day, pt.community_id
    ORDER BY pt.user_id, pt.day, pt.community_id
    ON CONFLICT (version, user_id, res, bucket, community_id) DO UPDATE SET
        events = t.events + EXCLUDED.events,
        (types, type_events, tq) = (SELECT f.types, f.type_events, f.tq
                                    FROM user_counts_fold(t.types, t.type_events, t.events, t.tq,
                                                          EXCLUDED.types, EXCLUDED.type_events, EXCLUDED.events, EXCLUDED.tq) f)
)
INSERT INTO user_counts AS t (version, user_id, res, bucket, community_id, events, types, type_events)
SELECT @version::int, m.user_id, 'm', m.month, m.community_id, sum(m.events)::bigint,
       array_agg(m.event_type ORDER BY m.event_type), CASE WHEN count(*) > 1 THEN array_agg(m.events ORDER BY m.event_type) END
FROM (SELECT pt.user_id, pt.community_id, date_trunc('month', pt.day, 'UTC') AS month, pt.event_type, sum(pt.events)::bigint AS events
      FROM per_type pt GROUP BY 1, 2, 3, 4) m
GROUP BY m.user_id, m.month, m.community_id
ORDER BY m.user_id, m.month, m.community_id
ON CONFLICT (version, user_id, res, bucket, community_id) DO UPDATE SET
    events = t.events + EXCLUDED.events,
    (types, type_events) = (SELECT f.types, f.type_events
                            FROM user_counts_fold(t.types, t.type_events, t.events, NULL,
                                                  EXCLUDED.types, EXCLUDED.type_events, EXCLUDED.events, NULL) f);

-- name: UserStatsApply :execrows
INSERT INTO user_stats AS t (version, user_id, community_id, first_seen, last_seen, events)
SELECT @version::int, a.user_id, COALESCE(a.community_id, '00000000-0000-0000-0000-000000000000'::uuid),
       min(a.created_at), max(a.created_at), count(*)
FROM activities a
WHERE (a.tx_id, a.id) > (@from_tx::bigint, @from_id::bigint)
  AND (a.tx_id, a.id) <= (@to_tx::bigint, @to_id::bigint)
  AND a.created_at >= @first_at::timestamptz AND a.created_at <= @last_at::timestamptz
  AND a.user_id IS NOT NULL
GROUP BY 2, 3
ON CONFLICT (version, user_id, community_id)
DO UPDATE SET first_seen = LEAST(t.first_seen, EXCLUDED.first_seen),
              last_seen = GREATEST(t.last_seen, EXCLUDED.last_seen),
              events = t.events + EXCLUDED.events;

-- name: CommunityStatsApply :execrows
-- The name is the one of the latest community.created by (occurred_at, event_id).
INSERT INTO community_stats AS t (version, community_id, name, named_at, named_event_id, first_seen, events)
SELECT @version::int, c.community_id, n.name, n.named_at, n.event_id, c.first_seen, c.events
FROM (
    SELECT a.community_id, min(a.created_at) AS first_seen, count(*) AS events
    FROM activities a
    WHERE (a.tx_id, a.id) > (@from_tx::bigint, @from_id::bigint)
      AND (a.tx_id, a.id) <= (@to_tx::bigint, @to_id::bigint)
      AND a.created_at >= @first_at::timestamptz AND a.created_at <= @last_at::timestamptz
      AND a.community_id IS NOT NULL
    GROUP BY a.community_id
) c
LEFT JOIN (
    SELECT DISTINCT ON (a.community_id) a.community_id, a.metadata->>'name' AS name,
           a.created_at AS named_at, a.event_id
    FROM activities a
    WHERE (a.tx_id, a.id) > (@from_tx::bigint, @from_id::bigint)
      AND (a.tx_id, a.id) <= (@to_tx::bigint, @to_id::bigint)
      AND a.created_at >= @first_at::timestamptz AND a.created_at <= @last_at::timestamptz
      AND a.community_id IS NOT NULL AND a.event_type = 'community.created'
    ORDER BY a.community_id, a.created_at DESC, a.event_id COLLATE "C" DESC
) n ON n.community_id = c.community_id
ON CONFLICT (version, community_id) DO UPDATE SET
    first_seen = LEAST(t.first_seen, EXCLUDED.first_seen),
    events = t.events + EXCLUDED.events,
    name = CASE WHEN EXCLUDED.named_at IS NOT NULL AND (t.named_at IS NULL
                     OR (EXCLUDED.named_at, EXCLUDED.named_event_id COLLATE "C") > (t.named_at, t.named_event_id COLLATE "C"))
                THEN EXCLUDED.name ELSE t.name END,
    named_event_id = CASE WHEN EXCLUDED.named_at IS NOT NULL AND (t.named_at IS NULL
                     OR (EXCLUDED.named_at, EXCLUDED.named_event_id COLLATE "C") > (t.named_at, t.named_event_id COLLATE "C"))
                THEN EXCLUDED.named_event_id ELSE t.named_event_id END,
    named_at = CASE WHEN EXCLUDED.named_at IS NOT NULL AND (t.named_at IS NULL
                     OR (EXCLUDED.named_at, EXCLUDED.named_event_id COLLATE "C") > (t.named_at, t.named_event_id COLLATE "C"))
                THEN EXCLUDED.named_at ELSE t.named_at END;

-- name: UserTraitsApply :execrows
-- Each trait of each user.identify in the range; a stored trait changes
-- only for a later identify (by occurred_at, then event_id).
INSERT INTO user_traits AS t (version, user_id, trait, value, set_at, event_id)
SELECT DISTINCT ON (x.user_id, x.trait) @version::int, x.user_id, x.trait, x.value, x.set_at, x.event_id
FROM (SELECT a.user_id, k.k AS trait, a.metadata -> k.k AS value, a.created_at AS set_at, a.event_id
      FROM activities a, jsonb_object_keys(a.metadata) AS k (k)
      WHERE (a.tx_id, a.id) > (@from_tx::bigint, @from_id::bigint)
        AND (a.tx_id, a.id) <= (@to_tx::bigint, @to_id::bigint)
        AND a.created_at >= @first_at::timestamptz AND a.created_at <= @last_at::timestamptz
        AND a.event_type = 'user.identify' AND a.user_id IS NOT NULL) x
ORDER BY x.user_id, x.trait, x.set_at DESC, x.event_id COLLATE "C" DESC
ON CONFLICT (version, user_id, trait) DO UPDATE SET
    value = EXCLUDED.value, set_at = EXCLUDED.set_at, event_id = EXCLUDED.event_id
WHERE (EXCLUDED.set_at, EXCLUDED.event_id COLLATE "C") > (t.set_at, t.event_id COLLATE "C");

-- name: ActivityTimeSpan :one
-- The first and last created_at of the rows below a watermark: the range of
-- days a bulk fill (projections/bulk.go) sizes its tables by, and how many
-- rows there are, which it sizes its buffers by. Read in the transaction
-- that then copies those rows out, from activity_txs (migration 00013; a
-- scan of the log for them took 0.8 s at 12M, before anything else of a
-- rebuild could start). (The Unix epoch for both when there are none.)
SELECT COALESCE(min(t.first_at), 'epoch')::timestamptz AS first_at,
       COALESCE(max(t.last_at), 'epoch')::timestamptz AS last_at,
       COALESCE(sum(t.rows), 0)::bigint AS rows
FROM activity_txs t WHERE t.tx_id < @below::bigint;

-- name: ZoneDayStarts :many
-- The start of the local day in @zone of each of @quarters, as the
-- event_counts statements compute it (date_trunc in the zone).
SELECT x.quarter::timestamptz AS quarter, date_trunc('day', x.quarter, @zone::text)::timestamptz AS day
FROM (SELECT unnest(@quarters::timestamptz[]) AS quarter) x;
