-- name: FailedEventInsert :exec
-- Records a dead letter; a repeated dedup_key (a redelivered stream entry) is
-- recorded once.
INSERT INTO failed_events (source, reason, event_id, payload, dedup_key)
VALUES (@source, @reason, @event_id, @payload, @dedup_key)
ON CONFLICT (dedup_key) DO NOTHING;

-- name: FailedEventList :many
-- Newest first, keyset-paginated by (created_at, id).
SELECT id, source, reason, event_id, payload, created_at
FROM failed_events
WHERE (@before_id::bigint = 0 OR id < @before_id)
ORDER BY id DESC
LIMIT @max_rows;

-- name: FailedEventCount :one
SELECT count(*) FROM failed_events;
