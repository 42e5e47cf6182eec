-- name: ActivityInsertBatch :execrows
-- Appends a batch; a (event_id, created_at) already stored is skipped, so any
-- number of deliveries store an event once. Empty strings stand for NULL.
INSERT INTO activities (
    event_id, event_type, user_id, community_id, entity_type, entity_id,
    metadata, ip_address, user_agent, created_at, received_at
)
SELECT e.event_id, e.event_type,
       NULLIF(e.user_id, '')::uuid, NULLIF(e.community_id, '')::uuid,
       NULLIF(e.entity_type, ''), NULLIF(e.entity_id, ''),
       e.metadata::jsonb, NULLIF(e.ip_address, '')::inet, NULLIF(e.user_agent, ''),
       e.created_at, e.received_at
FROM (
    SELECT unnest(@event_ids::text[]) AS event_id,
           unnest(@event_types::text[]) AS event_type,
           unnest(@user_ids::text[]) AS user_id,
           unnest(@community_ids::text[]) AS community_id,
           unnest(@entity_types::text[]) AS entity_type,
           unnest(@entity_ids::text[]) AS entity_id,
           unnest(@metadata::text[]) AS metadata,
           unnest(@ip_addresses::text[]) AS ip_address,
           unnest(@user_agents::text[]) AS user_agent,
           unnest(@created_ats::timestamptz[]) AS created_at,
           unnest(@received_ats::timestamptz[]) AS received_at
) AS e
ON CONFLICT (event_id, created_at) DO NOTHING;

-- name: ActivityCount :one
SELECT count(*) FROM activities;

-- name: ActivityCountByEvent :one
SELECT count(*) FROM activities WHERE event_id = @event_id;

-- name: ActivityCopy :copyfrom
-- The writer's fast path: COPY straight into the log. It fails on any
-- duplicate (event_id, created_at); the writer then falls back to
-- ActivityInsertBatch, which skips duplicates.
INSERT INTO activities (
    event_id, event_type, user_id, community_id, entity_type, entity_id,
    metadata, ip_address, user_agent, created_at, received_at
) VALUES (
    @event_id, @event_type, @user_id, @community_id, @entity_type, @entity_id,
    @metadata, @ip_address, @user_agent, @created_at, @received_at
);
