-- name: ReadPlanCustom :one
-- Starts every read transaction of read/ (whose doc.go describes the
-- parameters shared by these statements: scope, range, series bounds).
-- Plans every later statement of the read transaction for its actual
-- parameters, so optional filters ("@x IS NULL OR col = @x") fold away and
-- the matching indexes are used. JIT compilation is off: on plans over
-- hundreds of partitions or rollup rows it costs far more than it saves.
-- Also returns the report time zones whose local-day rows both
-- event_counts and user_sketches hold in the versions reads use.
SELECT set_config('plan_cache_mode', 'force_custom_plan', true) AS plan_cache_mode,
       set_config('jit', 'off', true) AS jit,
       ARRAY(SELECT ze.zone
             FROM (SELECT unnest(e.time_zones) AS zone FROM projection_checkpoints e
                   WHERE e.name = 'event_counts'
                     AND e.version = (SELECT pr.current_version FROM projections pr WHERE pr.name = 'event_counts')) ze
             WHERE ze.zone IN (SELECT unnest(u.time_zones) FROM projection_checkpoints u
                               WHERE u.name = 'user_sketches'
                                 AND u.version = (SELECT pr.current_version FROM projections pr WHERE pr.name = 'user_sketches'))
       )::text[] AS time_zones;

-- name: EventCountsSlots :many
-- Events per event type (the all-types rows when @event_type is empty,
-- each type when it is '*', else that one) over the pieces of the read plan
-- (read/plan.go: whole rollup rows, or quarters [qlo, qhi) of an hour row),
-- by the start of the part of each row selected: each lies in one slot of
-- the series, which the caller finds (a width_bucket here would unpack the
-- bounds array once per row). Whole rows are summed from the key index
-- alone; only parts of hours read the rows for their quarters.
WITH p AS (
    SELECT unnest(@res::text[]) AS res, unnest(@lo::timestamptz[]) AS lo, unnest(@hi::timestamptz[]) AS hi,
           unnest(@qlo::int[]) AS qlo, unnest(@qhi::int[]) AS qhi
), v AS (
    SELECT pr.current_version AS version FROM projections pr WHERE pr.name = 'event_counts'
), parts AS (
    SELECT e.bucket AS start_at, e.event_type, e.events
    FROM p JOIN event_counts e
      ON e.version = (SELECT v.version FROM v)
     AND e.res = p.res AND e.community_id = ANY (@keys::uuid[])
     AND e.bucket >= p.lo AND e.bucket < p.hi
     AND CASE @event_type::text WHEN '*' THEN e.event_type <> '' ELSE e.event_type = @event_type::text END
    WHERE p.qlo = 0 AND p.qhi = 4
    UNION ALL
    SELECT e.bucket + make_interval(mins => 15 * p.qlo), e.event_type,
           (SELECT COALESCE(sum(x), 0) FROM unnest(e.quarters[p.qlo + 1 : p.qhi]) x)::bigint
    FROM p JOIN event_counts e
      ON e.version = (SELECT v.version FROM v)
     AND e.res = p.res AND e.community_id = ANY (@keys::uuid[])
     AND e.bucket >= p.lo AND e.bucket < p.hi
     AND CASE @event_type::text WHEN '*' THEN e.event_type <> '' ELSE e.event_type = @event_type::text END
    WHERE NOT (p.qlo = 0 AND p.qhi = 4)
)
SELECT pt.start_at::timestamptz AS start_at, pt.event_type, sum(pt.events)::bigint AS events
FROM parts pt
GROUP BY 1, 2;

-- name: EventCountsTopCommunities :many
-- The communities with the most events over the plan's pieces, with their
-- names and the number of communities with any event in them. Whole rows
-- come from event_counts_top_idx alone (the all-types rows of a tier by
-- bucket, with their community and events).
WITH p AS (
    SELECT unnest(@res::text[]) AS res, unnest(@lo::timestamptz[]) AS lo, unnest(@hi::timestamptz[]) AS hi,
           unnest(@qlo::int[]) AS qlo, unnest(@qhi::int[]) AS qhi
), v AS (
    SELECT pr.current_version AS version FROM projections pr WHERE pr.name = 'event_counts'
), parts AS (
    SELECT e.community_id, e.events
    FROM p JOIN event_counts e
      ON e.version = (SELECT v.version FROM v)
     AND e.res = p.res AND e.event_type = '' AND e.bucket >= p.lo AND e.bucket < p.hi
     AND e.community_id <> 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid
     AND (@all_communities::bool OR e.community_id = ANY (@communities::uuid[]))
    WHERE p.qlo = 0 AND p.qhi = 4
    UNION ALL
    SELECT e.community_id, (SELECT COALESCE(sum(x), 0) FROM unnest(e.quarters[p.qlo + 1 : p.qhi]) x)::bigint
    FROM p JOIN event_counts e
      ON e.version = (SELECT v.version FROM v)
     AND e.res = p.res AND e.event_type = '' AND e.bucket >= p.lo AND e.bucket < p.hi
     AND e.community_id <> 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid
     AND (@all_communities::bool OR e.community_id = ANY (@communities::uuid[]))
    WHERE NOT (p.qlo = 0 AND p.qhi = 4)
), c AS (
    SELECT pt.community_id, sum(pt.events) AS events
    FROM parts pt
    GROUP BY pt.community_id
    HAVING sum(pt.events) > 0
)
SELECT c.community_id, cs.name, c.events::bigint AS events,
       (SELECT count(*) FROM c)::bigint AS communities
FROM c
LEFT JOIN community_stats cs
  ON cs.version = (SELECT pr.current_version FROM projections pr WHERE pr.name = 'community_stats')
 AND cs.community_id = c.community_id
ORDER BY c.events DESC, c.community_id
LIMIT @max_rows::int;

-- name: UserSketchesSlots :many
-- Distinct users per rollup row and event type (as in EventCountsSlots)
-- over the plan's pieces, by the start of each row: each row's own
-- estimate, from the key index alone (for plans whose slots are whole rows).
SELECT s.bucket::timestamptz AS start_at, s.event_type, s.users, s.exact
FROM (SELECT unnest(@res::text[]) AS res, unnest(@lo::timestamptz[]) AS lo, unnest(@hi::timestamptz[]) AS hi) p
JOIN user_sketches s
  ON s.version = (SELECT pr.current_version FROM projections pr WHERE pr.name = 'user_sketches')
 AND s.res = p.res AND s.community_id = ANY (@keys::uuid[])
 AND s.bucket >= p.lo AND s.bucket < p.hi
 AND CASE @event_type::text WHEN '*' THEN s.event_type <> '' ELSE s.event_type = @event_type::text END;

-- name: UserSketchesMerge :many
-- The sketches of the rows of UserSketchesSlots, by the start of the part of
-- each row selected, for the caller to merge per slot. A piece of quarters
-- selects its whole hour row: sketches do not split.
SELECT (s.bucket + make_interval(mins => 15 * p.qlo))::timestamptz AS start_at, s.event_type, s.sketch
FROM (SELECT unnest(@res::text[]) AS res, unnest(@lo::timestamptz[]) AS lo, unnest(@hi::timestamptz[]) AS hi,
             unnest(@qlo::int[]) AS qlo) p
JOIN user_sketches s
  ON s.version = (SELECT pr.current_version FROM projections pr WHERE pr.name = 'user_sketches')
 AND s.res = p.res AND s.community_id = ANY (@keys::uuid[])
 AND s.bucket >= p.lo AND s.bucket < p.hi
 AND CASE @event_type::text WHEN '*' THEN s.event_type <> '' ELSE s.event_type = @event_type::text END;

-- name: UserCountsTopLists :many
-- For each given rollup row (res, bucket) of community @community_id, its
-- @per_bucket users with the most events (every type), most first.
SELECT k.res::text AS res, k.bucket::timestamptz AS bucket, t.user_id, t.events
FROM (SELECT unnest(@res::text[]) AS res, unnest(@buckets::timestamptz[]) AS bucket) k
CROSS JOIN LATERAL (
    SELECT u.user_id, u.events
    FROM user_counts u
    WHERE u.version = (SELECT pr.current_version FROM projections pr WHERE pr.name = 'user_counts')
      AND u.community_id = @community_id::uuid
      AND u.community_id <> '00000000-0000-0000-0000-000000000000'::uuid -- user_counts_top_idx's predicate
      AND u.res = k.res::"char" AND u.bucket = k.bucket
    ORDER BY u.events DESC
    LIMIT @per_bucket::int
) t;

-- name: UserCountsPairs :many
-- The events in community @community_id of each given (user, day unit)
-- pair (read/plan.go: a month or day row, or quarters [qlo, qhi) of a day
-- row), summed per user; users with no such row are left out.
SELECT p.user_id::uuid AS user_id,
       sum(CASE WHEN p.qlo = 0 AND p.qhi = 96 THEN u.events
                ELSE user_counts_in_quarters(u.tq, p.qlo, p.qhi) END)::bigint AS events
FROM (SELECT unnest(@user_ids::uuid[]) AS user_id, unnest(@res::text[]) AS res, unnest(@buckets::timestamptz[]) AS bucket,
             unnest(@qlo::int[]) AS qlo, unnest(@qhi::int[]) AS qhi) p
JOIN user_counts u
  ON u.version = (SELECT pr.current_version FROM projections pr WHERE pr.name = 'user_counts')
 AND u.user_id = p.user_id AND u.res = p.res::"char" AND u.bucket = p.bucket
 AND u.community_id = @community_id::uuid
GROUP BY p.user_id;

-- name: UserCountsTopUsers :many
-- The users with the most events in community @community_id over the day
-- units, then by id: every user's sum (read/top_users.go uses it when the
-- top lists cannot settle the answer).
SELECT u.user_id, sum(CASE WHEN p.qlo = 0 AND p.qhi = 96 THEN u.events
                ELSE user_counts_in_quarters(u.tq, p.qlo, p.qhi) END)::bigint AS events
FROM (SELECT unnest(@res::text[]) AS res, unnest(@buckets::timestamptz[]) AS bucket,
             unnest(@qlo::int[]) AS qlo, unnest(@qhi::int[]) AS qhi) p
JOIN user_counts u
  ON u.version = (SELECT pr.current_version FROM projections pr WHERE pr.name = 'user_counts')
 AND u.community_id = @community_id::uuid
 AND u.community_id <> '00000000-0000-0000-0000-000000000000'::uuid -- user_counts_top_idx's predicate
 AND u.res = p.res::"char" AND u.bucket = p.bucket
GROUP BY u.user_id
HAVING sum(CASE WHEN p.qlo = 0 AND p.qhi = 96 THEN u.events
                ELSE user_counts_in_quarters(u.tq, p.qlo, p.qhi) END) > 0
ORDER BY 2 DESC, u.user_id
LIMIT @max_rows::int;

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

-- name: UserCountsSlots :many
-- One user's events in the scope, every type, over the day units of the
-- read plan, by the start of the part of each row selected (the caller
-- finds its slot).
SELECT (u.bucket + make_interval(mins => 15 * p.qlo))::timestamptz AS start_at,
       sum(CASE WHEN p.qlo = 0 AND p.qhi = 96 THEN u.events
                ELSE user_counts_in_quarters(u.tq, p.qlo, p.qhi) END)::bigint AS events
FROM (SELECT unnest(@res::text[]) AS res, unnest(@buckets::timestamptz[]) AS bucket,
             unnest(@qlo::int[]) AS qlo, unnest(@qhi::int[]) AS qhi) p
JOIN user_counts u
  ON u.version = (SELECT pr.current_version FROM projections pr WHERE pr.name = 'user_counts')
 AND u.user_id = @user_id::uuid AND u.res = p.res::"char" AND u.bucket = p.bucket
 AND (@all_communities::bool OR u.community_id = ANY (@communities::uuid[]))
GROUP BY 1;

-- name: UserCountsTypes :many
-- One user's events in the scope per event type over the day units of the
-- read plan: a whole row's type_events (a row of one type: its events), or
-- a part of a day row's events (their quarter in [qlo, qhi)).
SELECT x.event_type::text AS event_type, sum(x.events)::bigint AS events
FROM (SELECT unnest(@res::text[]) AS res, unnest(@buckets::timestamptz[]) AS bucket,
             unnest(@qlo::int[]) AS qlo, unnest(@qhi::int[]) AS qhi) p
JOIN user_counts u
  ON u.version = (SELECT pr.current_version FROM projections pr WHERE pr.name = 'user_counts')
 AND u.user_id = @user_id::uuid AND u.res = p.res::"char" AND u.bucket = p.bucket
 AND (@all_communities::bool OR u.community_id = ANY (@communities::uuid[]))
CROSS JOIN LATERAL user_counts_types(u.types, COALESCE(u.type_events, ARRAY[u.events]), u.tq, p.qlo, p.qhi) x
GROUP BY 1;

-- name: UserCountsByCommunity :many
-- One user's events per community in the scope (never the nil UUID) over
-- the day units, most first, then by id.
SELECT u.community_id, sum(CASE WHEN p.qlo = 0 AND p.qhi = 96 THEN u.events
                ELSE user_counts_in_quarters(u.tq, p.qlo, p.qhi) END)::bigint AS events
FROM (SELECT unnest(@res::text[]) AS res, unnest(@buckets::timestamptz[]) AS bucket,
             unnest(@qlo::int[]) AS qlo, unnest(@qhi::int[]) AS qhi) p
JOIN user_counts u
  ON u.version = (SELECT pr.current_version FROM projections pr WHERE pr.name = 'user_counts')
 AND u.user_id = @user_id::uuid AND u.res = p.res::"char" AND u.bucket = p.bucket
 AND (@all_communities::bool OR u.community_id = ANY (@communities::uuid[]))
 AND u.community_id <> '00000000-0000-0000-0000-000000000000'::uuid
GROUP BY u.community_id
HAVING sum(CASE WHEN p.qlo = 0 AND p.qhi = 96 THEN u.events
                ELSE user_counts_in_quarters(u.tq, p.qlo, p.qhi) END) > 0
ORDER BY 2 DESC, u.community_id;

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
