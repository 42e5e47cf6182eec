-- Verification: each statement returns the rows where a rollup's current
-- version and the same figures computed by GROUP BY over the whole log
-- differ, both ways (side 'rollup': only in the rollup; 'log': only in the
-- recomputation). No rows means the rollup is exactly right. Used by the
-- projection tests and the chaos run; the recomputation is written apart
-- from queries/projections.sql on purpose.

-- name: RollupCheckEventCounts :many
-- Every tier (UTC hour with its quarters, day, month, and the local days of
-- the version's report time zones) and key (each community and the
-- platform; each event type and every type).
WITH stored AS (
    SELECT t.res, t.bucket, t.community_id, t.event_type, t.events, COALESCE(t.quarters, '{}') AS quarters
    FROM event_counts t
    WHERE t.version = (SELECT p.current_version FROM projections p WHERE p.name = 'event_counts')
), acts AS (
    SELECT a.created_at, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid AS community_id, ''::text AS event_type FROM activities a
    UNION ALL
    SELECT a.created_at, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid, a.event_type FROM activities a
    UNION ALL
    SELECT a.created_at, a.community_id, '' FROM activities a WHERE a.community_id IS NOT NULL
    UNION ALL
    SELECT a.created_at, a.community_id, a.event_type FROM activities a WHERE a.community_id IS NOT NULL
), recomputed AS (
    SELECT 'h'::text AS res, date_trunc('hour', x.created_at, 'UTC') AS bucket, x.community_id, x.event_type,
           count(*) AS events,
           ARRAY[count(*) FILTER (WHERE extract(minute FROM x.created_at AT TIME ZONE 'UTC') < 15),
                 count(*) FILTER (WHERE extract(minute FROM x.created_at AT TIME ZONE 'UTC') >= 15
                                    AND extract(minute FROM x.created_at AT TIME ZONE 'UTC') < 30),
                 count(*) FILTER (WHERE extract(minute FROM x.created_at AT TIME ZONE 'UTC') >= 30
                                    AND extract(minute FROM x.created_at AT TIME ZONE 'UTC') < 45),
                 count(*) FILTER (WHERE extract(minute FROM x.created_at AT TIME ZONE 'UTC') >= 45)]::bigint[] AS quarters
    FROM acts x GROUP BY 2, 3, 4
    UNION ALL
    SELECT 'd', date_trunc('day', x.created_at, 'UTC'), x.community_id, x.event_type, count(*), '{}'::bigint[]
    FROM acts x GROUP BY 2, 3, 4
    UNION ALL
    SELECT 'm', date_trunc('month', x.created_at, 'UTC'), x.community_id, x.event_type, count(*), '{}'::bigint[]
    FROM acts x GROUP BY 2, 3, 4
    UNION ALL
    SELECT 'z:' || z.zone, date_trunc('day', x.created_at, z.zone), x.community_id, x.event_type, count(*), '{}'::bigint[]
    FROM acts x
    CROSS JOIN (SELECT unnest(c.time_zones) AS zone FROM projection_checkpoints c
                WHERE c.name = 'event_counts'
                  AND c.version = (SELECT p.current_version FROM projections p WHERE p.name = 'event_counts')) z
    GROUP BY 1, 2, 3, 4
)
SELECT 'rollup'::text AS side, d.res, d.bucket, d.community_id, d.event_type, d.events, d.quarters::text AS quarters
FROM (SELECT * FROM stored EXCEPT SELECT * FROM recomputed) d
UNION ALL
SELECT 'log'::text AS side, d.res, d.bucket, d.community_id, d.event_type, d.events, d.quarters::text AS quarters
FROM (SELECT * FROM recomputed EXCEPT SELECT * FROM stored) d;

-- name: RollupCheckUserSketches :many
-- Distinct users per tier and key: an exact row must equal the count over
-- the log, an estimate must lie within @tolerance of it (relative).
WITH stored AS (
    SELECT t.res, t.bucket, t.community_id, t.event_type, t.users, t.exact, @tolerance::float8 AS tolerance
    FROM user_sketches t
    WHERE t.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_sketches')
), acts AS (
    SELECT a.created_at, a.user_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid AS community_id, ''::text AS event_type
    FROM activities a WHERE a.user_id IS NOT NULL
    UNION ALL
    SELECT a.created_at, a.user_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid, a.event_type
    FROM activities a WHERE a.user_id IS NOT NULL
    UNION ALL
    SELECT a.created_at, a.user_id, a.community_id, ''
    FROM activities a WHERE a.user_id IS NOT NULL AND a.community_id IS NOT NULL
    UNION ALL
    SELECT a.created_at, a.user_id, a.community_id, a.event_type
    FROM activities a WHERE a.user_id IS NOT NULL AND a.community_id IS NOT NULL
), recomputed AS (
    SELECT 'h'::text AS res, date_trunc('hour', x.created_at, 'UTC') AS bucket, x.community_id, x.event_type,
           count(DISTINCT x.user_id) AS users
    FROM acts x GROUP BY 2, 3, 4
    UNION ALL
    SELECT 'd', date_trunc('day', x.created_at, 'UTC'), x.community_id, x.event_type, count(DISTINCT x.user_id)
    FROM acts x GROUP BY 2, 3, 4
    UNION ALL
    SELECT 'm', date_trunc('month', x.created_at, 'UTC'), x.community_id, x.event_type, count(DISTINCT x.user_id)
    FROM acts x GROUP BY 2, 3, 4
    UNION ALL
    SELECT 'z:' || z.zone, date_trunc('day', x.created_at, z.zone), x.community_id, x.event_type, count(DISTINCT x.user_id)
    FROM acts x
    CROSS JOIN (SELECT unnest(c.time_zones) AS zone FROM projection_checkpoints c
                WHERE c.name = 'user_sketches'
                  AND c.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_sketches')) z
    GROUP BY 1, 2, 3, 4
)
SELECT s.res, s.bucket, s.community_id, s.event_type, s.users AS stored_users, s.exact,
       COALESCE(r.users, -1)::bigint AS log_users
FROM stored s
LEFT JOIN recomputed r
  ON r.res = s.res AND r.bucket = s.bucket AND r.community_id = s.community_id AND r.event_type = s.event_type
WHERE r.users IS NULL
   OR (s.exact AND s.users <> r.users)
   OR (NOT s.exact AND abs(s.users - r.users) > s.tolerance * r.users)
UNION ALL
SELECT r.res, r.bucket, r.community_id, r.event_type, -1::bigint, false, r.users
FROM recomputed r
WHERE NOT EXISTS (SELECT 1 FROM stored s
                  WHERE s.res = r.res AND s.bucket = r.bucket AND s.community_id = r.community_id
                    AND s.event_type = r.event_type);

-- name: RollupCheckUserCounts :many
-- Each user's events per UTC day (with the sorted quarters of the day of
-- its events) and month, per community (the nil UUID for none), per event
-- type and for every type (the empty event type): the stored rows read
-- back per type from their arrays, against the same figures from the log.
WITH stored AS (
    SELECT t.res::text AS res, t.bucket, t.user_id, t.community_id, ''::text AS event_type, t.events,
           COALESCE((SELECT array_agg(x % 96 ORDER BY x % 96) FROM unnest(t.tq) x), '{}')::int[] AS qs
    FROM user_counts t
    WHERE t.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_counts')
    UNION ALL
    -- Per type: its events from type_events (a row of one type: the row's
    -- events), its quarters from tq.
    SELECT t.res::text, t.bucket, t.user_id, t.community_id, t.types[i], (COALESCE(t.type_events, ARRAY[t.events]))[i],
           COALESCE((SELECT array_agg(x % 96 ORDER BY x % 96) FROM unnest(t.tq) x WHERE x / 96 = i - 1), '{}')::int[]
    FROM user_counts t CROSS JOIN LATERAL generate_subscripts(t.types, 1) AS i
    WHERE t.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_counts')
      AND cardinality(t.types) = cardinality(COALESCE(t.type_events, ARRAY[t.events]))
), logged AS (
    SELECT a.created_at, a.user_id, COALESCE(a.community_id, '00000000-0000-0000-0000-000000000000'::uuid) AS community_id,
           a.event_type,
           (extract(hour FROM a.created_at AT TIME ZONE 'UTC') * 4
            + floor(extract(minute FROM a.created_at AT TIME ZONE 'UTC') / 15))::int AS q
    FROM activities a WHERE a.user_id IS NOT NULL
), acts AS (
    SELECT l.created_at, l.user_id, l.community_id, ''::text AS event_type, l.q FROM logged l
    UNION ALL
    SELECT l.created_at, l.user_id, l.community_id, l.event_type, l.q FROM logged l
), recomputed AS (
    SELECT 'd'::text AS res, date_trunc('day', x.created_at, 'UTC') AS bucket, x.user_id, x.community_id, x.event_type,
           count(*) AS events,
           array_agg(x.q ORDER BY x.q)::int[] AS qs
    FROM acts x GROUP BY 2, 3, 4, 5
    UNION ALL
    SELECT 'm', date_trunc('month', x.created_at, 'UTC'), x.user_id, x.community_id, x.event_type, count(*), '{}'::int[]
    FROM acts x GROUP BY 2, 3, 4, 5
)
SELECT 'rollup'::text AS side, d.res, d.bucket, d.user_id, d.community_id, d.event_type, d.events, d.qs::text AS quarters
FROM (SELECT * FROM stored EXCEPT SELECT * FROM recomputed) d
UNION ALL
SELECT 'log'::text AS side, d.res, d.bucket, d.user_id, d.community_id, d.event_type, d.events, d.qs::text AS quarters
FROM (SELECT * FROM recomputed EXCEPT SELECT * FROM stored) d;

-- name: RollupCheckUserStats :many
WITH stored AS (
    SELECT t.user_id, t.community_id, t.first_seen, t.last_seen, t.events FROM user_stats t
    WHERE t.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_stats')
), recomputed AS (
    SELECT a.user_id, COALESCE(a.community_id, '00000000-0000-0000-0000-000000000000'::uuid) AS community_id,
           min(a.created_at) AS first_seen, max(a.created_at) AS last_seen, count(*) AS events
    FROM activities a WHERE a.user_id IS NOT NULL GROUP BY 1, 2
)
SELECT 'rollup'::text AS side, d.user_id, d.community_id, d.first_seen, d.last_seen, d.events
FROM (SELECT * FROM stored EXCEPT SELECT * FROM recomputed) d
UNION ALL
SELECT 'log'::text AS side, d.user_id, d.community_id, d.first_seen, d.last_seen, d.events
FROM (SELECT * FROM recomputed EXCEPT SELECT * FROM stored) d;

-- name: RollupCheckCommunityStats :many
WITH stored AS (
    SELECT t.community_id, t.name, t.named_at, t.named_event_id, t.first_seen, t.events FROM community_stats t
    WHERE t.version = (SELECT p.current_version FROM projections p WHERE p.name = 'community_stats')
), recomputed AS (
    SELECT c.community_id, n.name, n.named_at, n.event_id AS named_event_id, c.first_seen, c.events
    FROM (SELECT a.community_id, min(a.created_at) AS first_seen, count(*) AS events
          FROM activities a WHERE a.community_id IS NOT NULL GROUP BY 1) c
    LEFT JOIN (SELECT DISTINCT ON (a.community_id) a.community_id, a.metadata->>'name' AS name,
                      a.created_at AS named_at, a.event_id
               FROM activities a WHERE a.community_id IS NOT NULL AND a.event_type = 'community.created'
               ORDER BY a.community_id, a.created_at DESC, a.event_id COLLATE "C" DESC) n ON n.community_id = c.community_id
)
SELECT 'rollup'::text AS side, d.community_id, d.name, d.named_at, d.named_event_id, d.first_seen, d.events
FROM (SELECT * FROM stored EXCEPT SELECT * FROM recomputed) d
UNION ALL
SELECT 'log'::text AS side, d.community_id, d.name, d.named_at, d.named_event_id, d.first_seen, d.events
FROM (SELECT * FROM recomputed EXCEPT SELECT * FROM stored) d;

-- name: RollupCheckUserTraits :many
WITH stored AS (
    SELECT t.user_id, t.trait, t.value, t.set_at, t.event_id FROM user_traits t
    WHERE t.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_traits')
), recomputed AS (
    SELECT DISTINCT ON (x.user_id, x.trait) x.user_id, x.trait, x.value, x.set_at, x.event_id
    FROM (SELECT a.user_id, k.k AS trait, a.metadata -> k.k AS value, a.created_at AS set_at, a.event_id
          FROM activities a, jsonb_object_keys(a.metadata) AS k (k)
          WHERE a.event_type = 'user.identify' AND a.user_id IS NOT NULL) x
    ORDER BY x.user_id, x.trait, x.set_at DESC, x.event_id COLLATE "C" DESC
)
SELECT 'rollup'::text AS side, d.user_id, d.trait, d.value::text AS value, d.set_at, d.event_id
FROM (SELECT * FROM stored EXCEPT SELECT * FROM recomputed) d
UNION ALL
SELECT 'log'::text AS side, d.user_id, d.trait, d.value::text AS value, d.set_at, d.event_id
FROM (SELECT * FROM recomputed EXCEPT SELECT * FROM stored) d;
