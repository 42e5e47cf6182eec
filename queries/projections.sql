-- Every rollup statement applies the activities in one (tx_id, id) range:
-- (from_tx, from_id) exclusive to (to_tx, to_id) inclusive. A rebuild is the
-- same statement over the whole log below a watermark into an empty version;
-- a live projector runs it per batch, in the transaction that advances its
-- checkpoint. Events without a community count under the nil UUID.

-- name: ActivityWatermark :one
-- Every row with tx_id below this is committed (or never will be).
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS watermark;

-- name: EventCountsApply :execrows
INSERT INTO event_counts AS t (version, bucket, community_id, event_type, events)
SELECT @version::int, date_bin('15 minutes', a.created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
       COALESCE(a.community_id, '00000000-0000-0000-0000-000000000000'::uuid), a.event_type, count(*)
FROM activities a
WHERE (a.tx_id, a.id) > (@from_tx::bigint, @from_id::bigint)
  AND (a.tx_id, a.id) <= (@to_tx::bigint, @to_id::bigint)
GROUP BY 2, 3, 4
ON CONFLICT (version, bucket, community_id, event_type)
DO UPDATE SET events = t.events + EXCLUDED.events;

-- name: UserBucketsApply :execrows
INSERT INTO user_buckets AS t (version, bucket, community_id, event_type, user_id, events)
SELECT @version::int, date_bin('15 minutes', a.created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
       COALESCE(a.community_id, '00000000-0000-0000-0000-000000000000'::uuid), a.event_type, a.user_id, count(*)
FROM activities a
WHERE (a.tx_id, a.id) > (@from_tx::bigint, @from_id::bigint)
  AND (a.tx_id, a.id) <= (@to_tx::bigint, @to_id::bigint)
  AND a.user_id IS NOT NULL
GROUP BY 2, 3, 4, 5
ON CONFLICT (version, bucket, community_id, event_type, user_id)
DO UPDATE SET events = t.events + EXCLUDED.events;

-- name: UserStatsApply :execrows
INSERT INTO user_stats AS t (version, user_id, community_id, first_seen, last_seen, events)
SELECT @version::int, a.user_id, COALESCE(a.community_id, '00000000-0000-0000-0000-000000000000'::uuid),
       min(a.created_at), max(a.created_at), count(*)
FROM activities a
WHERE (a.tx_id, a.id) > (@from_tx::bigint, @from_id::bigint)
  AND (a.tx_id, a.id) <= (@to_tx::bigint, @to_id::bigint)
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
      AND a.community_id IS NOT NULL
    GROUP BY a.community_id
) c
LEFT JOIN (
    SELECT DISTINCT ON (a.community_id) a.community_id, a.metadata->>'name' AS name,
           a.created_at AS named_at, a.event_id
    FROM activities a
    WHERE (a.tx_id, a.id) > (@from_tx::bigint, @from_id::bigint)
      AND (a.tx_id, a.id) <= (@to_tx::bigint, @to_id::bigint)
      AND a.community_id IS NOT NULL AND a.event_type = 'community.created'
    ORDER BY a.community_id, a.created_at DESC, a.event_id DESC
) n ON n.community_id = c.community_id
ON CONFLICT (version, community_id) DO UPDATE SET
    first_seen = LEAST(t.first_seen, EXCLUDED.first_seen),
    events = t.events + EXCLUDED.events,
    name = CASE WHEN EXCLUDED.named_at IS NOT NULL AND (t.named_at IS NULL
                     OR (EXCLUDED.named_at, EXCLUDED.named_event_id) > (t.named_at, t.named_event_id))
                THEN EXCLUDED.name ELSE t.name END,
    named_event_id = CASE WHEN EXCLUDED.named_at IS NOT NULL AND (t.named_at IS NULL
                     OR (EXCLUDED.named_at, EXCLUDED.named_event_id) > (t.named_at, t.named_event_id))
                THEN EXCLUDED.named_event_id ELSE t.named_event_id END,
    named_at = CASE WHEN EXCLUDED.named_at IS NOT NULL AND (t.named_at IS NULL
                     OR (EXCLUDED.named_at, EXCLUDED.named_event_id) > (t.named_at, t.named_event_id))
                THEN EXCLUDED.named_at ELSE t.named_at END;
