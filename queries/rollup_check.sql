-- Verification: each statement returns the rows where a rollup's current
-- version and the same figures computed by GROUP BY over the whole log
-- differ, both ways (side 'rollup': only in the rollup; 'log': only in the
-- recomputation). No rows means the rollup is exactly right. Used by the
-- projection tests and the chaos run; the recomputation is written apart
-- from queries/projections.sql on purpose.

-- name: RollupCheckEventCounts :many
WITH stored AS (
    SELECT t.bucket, t.community_id, t.event_type, t.events FROM event_counts t
    WHERE t.version = (SELECT p.current_version FROM projections p WHERE p.name = 'event_counts')
), recomputed AS (
    SELECT date_bin('15 minutes', a.created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
           COALESCE(a.community_id, '00000000-0000-0000-0000-000000000000'::uuid) AS community_id,
           a.event_type, count(*) AS events
    FROM activities a GROUP BY 1, 2, 3
)
SELECT 'rollup'::text AS side, d.bucket, d.community_id, d.event_type, d.events
FROM (SELECT * FROM stored EXCEPT SELECT * FROM recomputed) d
UNION ALL
SELECT 'log'::text AS side, d.bucket, d.community_id, d.event_type, d.events
FROM (SELECT * FROM recomputed EXCEPT SELECT * FROM stored) d;

-- name: RollupCheckUserBuckets :many
WITH stored AS (
    SELECT t.bucket, t.community_id, t.event_type, t.user_id, t.events FROM user_buckets t
    WHERE t.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_buckets')
), recomputed AS (
    SELECT date_bin('15 minutes', a.created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
           COALESCE(a.community_id, '00000000-0000-0000-0000-000000000000'::uuid) AS community_id,
           a.event_type, a.user_id, count(*) AS events
    FROM activities a WHERE a.user_id IS NOT NULL GROUP BY 1, 2, 3, 4
)
SELECT 'rollup'::text AS side, d.bucket, d.community_id, d.event_type, d.user_id, d.events
FROM (SELECT * FROM stored EXCEPT SELECT * FROM recomputed) d
UNION ALL
SELECT 'log'::text AS side, d.bucket, d.community_id, d.event_type, d.user_id, d.events
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
               ORDER BY a.community_id, a.created_at DESC, a.event_id DESC) n ON n.community_id = c.community_id
)
SELECT 'rollup'::text AS side, d.community_id, d.name, d.named_at, d.named_event_id, d.first_seen, d.events
FROM (SELECT * FROM stored EXCEPT SELECT * FROM recomputed) d
UNION ALL
SELECT 'log'::text AS side, d.community_id, d.name, d.named_at, d.named_event_id, d.first_seen, d.events
FROM (SELECT * FROM recomputed EXCEPT SELECT * FROM stored) d;
