-- name: ReadPlanCustom :exec
-- Starts every read transaction of read/ (whose doc.go describes the
-- parameters shared by these statements: scope, range, series bounds).
-- Plans every later statement of the read transaction for its actual
-- parameters, so optional filters ("@x IS NULL OR col = @x") fold away and
-- the matching indexes are used. JIT compilation is off: on plans over
-- hundreds of partitions or rollup rows it costs far more than it saves.
SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true);

-- name: EventCountsSeries :many
-- Events per series bucket.
SELECT width_bucket(ec.bucket, @bounds::timestamptz[])::int AS slot,
       sum(ec.events)::bigint AS events
FROM event_counts ec
WHERE ec.version = (SELECT p.current_version FROM projections p WHERE p.name = 'event_counts')
  AND ec.bucket >= @start_at::timestamptz AND ec.bucket < @end_at::timestamptz
  AND (@all_communities::bool OR ec.community_id = ANY (@communities::uuid[]))
  AND (@event_type::text = '' OR ec.event_type = @event_type::text)
GROUP BY 1
ORDER BY 1;

-- name: EventCountsByType :many
-- Events per event type, most first, then by name.
SELECT ec.event_type, sum(ec.events)::bigint AS events
FROM event_counts ec
WHERE ec.version = (SELECT p.current_version FROM projections p WHERE p.name = 'event_counts')
  AND ec.bucket >= @start_at::timestamptz AND ec.bucket < @end_at::timestamptz
  AND (@all_communities::bool OR ec.community_id = ANY (@communities::uuid[]))
GROUP BY ec.event_type
ORDER BY 2 DESC, ec.event_type COLLATE "C";

-- name: EventCountsTopCommunities :many
-- The communities with the most events (never the nil UUID), with their
-- names and the number of communities with any event in the range.
WITH c AS (
    SELECT ec.community_id, sum(ec.events) AS events
    FROM event_counts ec
    WHERE ec.version = (SELECT p.current_version FROM projections p WHERE p.name = 'event_counts')
      AND ec.bucket >= @start_at::timestamptz AND ec.bucket < @end_at::timestamptz
      AND (@all_communities::bool OR ec.community_id = ANY (@communities::uuid[]))
      AND ec.community_id <> '00000000-0000-0000-0000-000000000000'::uuid
    GROUP BY ec.community_id
)
SELECT c.community_id, cs.name, c.events::bigint AS events,
       (SELECT count(*) FROM c)::bigint AS communities
FROM c
LEFT JOIN community_stats cs
  ON cs.version = (SELECT p.current_version FROM projections p WHERE p.name = 'community_stats')
 AND cs.community_id = c.community_id
ORDER BY c.events DESC, c.community_id
LIMIT @max_rows::int;

-- name: UserBucketsActive :one
-- Exact distinct users over the whole range.
SELECT count(DISTINCT ub.user_id)::bigint AS users
FROM user_buckets ub
WHERE ub.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_buckets')
  AND ub.bucket >= @start_at::timestamptz AND ub.bucket < @end_at::timestamptz
  AND (@all_communities::bool OR ub.community_id = ANY (@communities::uuid[]));

-- name: UserBucketsActiveSeries :many
-- Exact distinct users per series bucket.
SELECT width_bucket(ub.bucket, @bounds::timestamptz[])::int AS slot,
       count(DISTINCT ub.user_id)::bigint AS users
FROM user_buckets ub
WHERE ub.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_buckets')
  AND ub.bucket >= @start_at::timestamptz AND ub.bucket < @end_at::timestamptz
  AND (@all_communities::bool OR ub.community_id = ANY (@communities::uuid[]))
GROUP BY 1
ORDER BY 1;

-- name: UserBucketsTopUsers :many
-- The users with the most events, then by id.
SELECT ub.user_id, sum(ub.events)::bigint AS events
FROM user_buckets ub
WHERE ub.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_buckets')
  AND ub.bucket >= @start_at::timestamptz AND ub.bucket < @end_at::timestamptz
  AND (@all_communities::bool OR ub.community_id = ANY (@communities::uuid[]))
GROUP BY ub.user_id
ORDER BY 2 DESC, ub.user_id
LIMIT @max_rows::int;

-- name: EventSeries :many
-- One row per (series bucket, event type) with events, with its exact
-- distinct users, ordered by bucket then event type.
WITH e AS (
    SELECT width_bucket(ec.bucket, @bounds::timestamptz[]) AS slot, ec.event_type, sum(ec.events) AS events
    FROM event_counts ec
    WHERE ec.version = (SELECT p.current_version FROM projections p WHERE p.name = 'event_counts')
      AND ec.bucket >= @start_at::timestamptz AND ec.bucket < @end_at::timestamptz
      AND (@all_communities::bool OR ec.community_id = ANY (@communities::uuid[]))
      AND (@event_type::text = '' OR ec.event_type = @event_type::text)
    GROUP BY 1, 2
), u AS (
    SELECT width_bucket(ub.bucket, @bounds::timestamptz[]) AS slot, ub.event_type, count(DISTINCT ub.user_id) AS users
    FROM user_buckets ub
    WHERE ub.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_buckets')
      AND ub.bucket >= @start_at::timestamptz AND ub.bucket < @end_at::timestamptz
      AND (@all_communities::bool OR ub.community_id = ANY (@communities::uuid[]))
      AND (@event_type::text = '' OR ub.event_type = @event_type::text)
    GROUP BY 1, 2
)
SELECT e.slot::int AS slot, e.event_type, e.events::bigint AS events,
       COALESCE(u.users, 0)::bigint AS unique_users
FROM e
LEFT JOIN u ON u.slot = e.slot AND u.event_type = e.event_type
WHERE e.events > 0
ORDER BY e.slot, e.event_type COLLATE "C";

-- name: CommunityStatsGet :one
-- A community as the log knows it; created_at is the time of its latest
-- community.created, else of its first activity.
SELECT cs.community_id, cs.name, COALESCE(cs.named_at, cs.first_seen)::timestamptz AS created_at
FROM community_stats cs
WHERE cs.version = (SELECT p.current_version FROM projections p WHERE p.name = 'community_stats')
  AND cs.community_id = @community_id::uuid;

-- name: UserStatsSummary :one
-- A user's all-time figures over the communities in scope; no row when the
-- scope holds no activity of the user.
SELECT min(us.first_seen)::timestamptz AS first_seen, max(us.last_seen)::timestamptz AS last_seen,
       sum(us.events)::bigint AS events
FROM user_stats us
WHERE us.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_stats')
  AND us.user_id = @user_id::uuid
  AND (@all_communities::bool OR us.community_id = ANY (@communities::uuid[]))
GROUP BY us.user_id;

-- name: UserBucketsUserSeries :many
-- One user's events per series bucket.
SELECT width_bucket(ub.bucket, @bounds::timestamptz[])::int AS slot, sum(ub.events)::bigint AS events
FROM user_buckets ub
WHERE ub.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_buckets')
  AND ub.user_id = @user_id::uuid
  AND ub.bucket >= @start_at::timestamptz AND ub.bucket < @end_at::timestamptz
  AND (@all_communities::bool OR ub.community_id = ANY (@communities::uuid[]))
GROUP BY 1
ORDER BY 1;

-- name: UserBucketsUserByType :many
-- One user's events per event type, most first, then by name.
SELECT ub.event_type, sum(ub.events)::bigint AS events
FROM user_buckets ub
WHERE ub.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_buckets')
  AND ub.user_id = @user_id::uuid
  AND ub.bucket >= @start_at::timestamptz AND ub.bucket < @end_at::timestamptz
  AND (@all_communities::bool OR ub.community_id = ANY (@communities::uuid[]))
GROUP BY ub.event_type
ORDER BY 2 DESC, ub.event_type COLLATE "C";

-- name: UserBucketsUserByCommunity :many
-- One user's events per community (never the nil UUID), most first, then by id.
SELECT ub.community_id, sum(ub.events)::bigint AS events
FROM user_buckets ub
WHERE ub.version = (SELECT p.current_version FROM projections p WHERE p.name = 'user_buckets')
  AND ub.user_id = @user_id::uuid
  AND ub.bucket >= @start_at::timestamptz AND ub.bucket < @end_at::timestamptz
  AND (@all_communities::bool OR ub.community_id = ANY (@communities::uuid[]))
  AND ub.community_id <> '00000000-0000-0000-0000-000000000000'::uuid
GROUP BY ub.community_id
ORDER BY 2 DESC, ub.community_id;

-- name: ActivityFeed :many
-- The log newest first by (created_at, id), after the keyset cursor
-- (@before_at, @before_id) when given. Every filter is optional: NULL, or an empty @event_type.
SELECT a.id, a.event_id, a.event_type, a.user_id, a.community_id, a.entity_type, a.entity_id,
       a.metadata, a.created_at, a.received_at
FROM activities a
WHERE (@all_communities::bool OR a.community_id = ANY (@communities::uuid[]))
  AND (sqlc.narg('user_id')::uuid IS NULL OR a.user_id = sqlc.narg('user_id')::uuid)
  AND (@event_type::text = '' OR a.event_type = @event_type::text)
  AND (sqlc.narg('from_at')::timestamptz IS NULL OR a.created_at >= sqlc.narg('from_at')::timestamptz)
  AND (sqlc.narg('to_at')::timestamptz IS NULL OR a.created_at < sqlc.narg('to_at')::timestamptz)
  AND (sqlc.narg('before_at')::timestamptz IS NULL
       OR (a.created_at, a.id) < (sqlc.narg('before_at')::timestamptz, @before_id::bigint))
ORDER BY a.created_at DESC, a.id DESC
LIMIT @max_rows::int;
