-- State of the projections: versions, checkpoints, locks and backlog. The
-- rollup statements themselves are in projections.sql.

-- name: ProjectionGet :one
SELECT name, current_version, next_version, updated_at FROM projections WHERE name = @name;

-- name: ProjectionGetForUpdate :one
SELECT name, current_version, next_version, updated_at FROM projections WHERE name = @name FOR UPDATE;

-- name: ProjectionSetNext :exec
UPDATE projections SET next_version = @next_version::int, updated_at = now() WHERE name = @name;

-- name: ProjectionSwitch :execrows
-- Makes the rebuilt version the one reads use.
UPDATE projections SET current_version = @version::int, next_version = NULL, updated_at = now()
WHERE name = @name AND next_version = @version::int;

-- name: ProjectionTryLock :one
-- One applier per (projection, version) at a time, across processes; held
-- until the end of the transaction.
SELECT pg_try_advisory_xact_lock(@key::int, @version::int) AS locked;

-- name: ProjectionHoldLock :one
-- The same lock for the whole session (until ProjectionReleaseLock): a
-- rebuild holds it while it fills a version in bulk, so no batch applies to
-- that version meanwhile; if the process dies, the lock goes with its
-- session and the projectors fill the version batch by batch instead.
SELECT pg_try_advisory_lock(@key::int, @version::int) AS locked;

-- name: ProjectionReleaseLock :exec
SELECT pg_advisory_unlock(@key::int, @version::int);

-- name: ProjectionLock :exec
SELECT pg_advisory_xact_lock(@key::int, @version::int);

-- name: CheckpointListByName :many
SELECT name, version, tx_id, activity_id, status, last_error, failures, updated_at
FROM projection_checkpoints WHERE name = @name ORDER BY version;

-- name: CheckpointGet :one
-- Read without a row lock: a batch takes no transaction id (which would hold
-- back the snapshot xmin, and so every projector) until it writes, and its
-- compare-and-set (CheckpointAdvance) at the end catches a checkpoint moved
-- meanwhile.
SELECT name, version, tx_id, activity_id, status, last_error, failures, updated_at, time_zones
FROM projection_checkpoints WHERE name = @name AND version = @version;

-- name: CheckpointGetForUpdate :one
SELECT name, version, tx_id, activity_id, status, last_error, failures, updated_at, time_zones
FROM projection_checkpoints WHERE name = @name AND version = @version FOR UPDATE;

-- name: CheckpointAdvance :execrows
-- Compare-and-set: moves the checkpoint only from where the caller read it
-- (and only if the version still holds the zones the batch applied), and clears a failure (back to live, or rebuilding for a version newer than
-- the current one).
UPDATE projection_checkpoints c SET
    tx_id = @new_tx::bigint, activity_id = @new_id::bigint,
    status = CASE WHEN c.status <> 'failing' THEN c.status
                  WHEN c.version > (SELECT p.current_version FROM projections p WHERE p.name = c.name) THEN 'rebuilding'
                  ELSE 'live' END,
    last_error = NULL, failures = 0, updated_at = now()
WHERE c.name = @name AND c.version = @version
  AND c.tx_id = @old_tx::bigint AND c.activity_id = @old_id::bigint
  AND c.time_zones = @time_zones::text[];

-- name: CheckpointAdoptZones :execrows
-- Gives a version that has applied nothing yet other report time zones (a
-- new installation's first version takes the configured ones). A batch
-- that read the old ones fails its compare-and-set.
UPDATE projection_checkpoints SET time_zones = @time_zones::text[], updated_at = now()
WHERE name = @name AND version = @version AND tx_id = 0 AND activity_id = 0
  AND time_zones <> @time_zones::text[];

-- name: CheckpointRecover :exec
-- Clears a failure without moving the checkpoint (nothing was left to apply).
UPDATE projection_checkpoints c SET
    status = CASE WHEN c.status <> 'failing' THEN c.status
                  WHEN c.version > (SELECT p.current_version FROM projections p WHERE p.name = c.name) THEN 'rebuilding'
                  ELSE 'live' END,
    last_error = NULL, failures = 0, updated_at = now()
WHERE c.name = @name AND c.version = @version AND (c.failures > 0 OR c.status = 'failing');

-- name: CheckpointMarkFailure :exec
-- Records a failed batch; after failing_after consecutive ones the version
-- shows as failing.
UPDATE projection_checkpoints c SET
    failures = c.failures + 1,
    last_error = @last_error::text,
    status = CASE WHEN c.failures + 1 >= @failing_after::int THEN 'failing' ELSE c.status END,
    updated_at = now()
WHERE c.name = @name AND c.version = @version;

-- name: CheckpointCreate :exec
-- The checkpoint of a version being rebuilt, at the start of the log, with
-- the report time zones whose local days it will hold.
INSERT INTO projection_checkpoints (name, version, tx_id, activity_id, status, time_zones)
VALUES (@name, @version, 0, 0, 'rebuilding', @time_zones::text[])
ON CONFLICT (name, version) DO UPDATE SET
    tx_id = 0, activity_id = 0, status = 'rebuilding', last_error = NULL, failures = 0, updated_at = now(),
    time_zones = EXCLUDED.time_zones;

-- name: CheckpointSetLive :exec
UPDATE projection_checkpoints SET status = 'live', last_error = NULL, failures = 0, updated_at = now()
WHERE name = @name AND version = @version;

-- name: CheckpointDeleteOthers :exec
-- Forgets every version of a projection but keep.
DELETE FROM projection_checkpoints WHERE name = @name AND version <> @keep::int;

-- name: ActivityTxRange :one
-- The transactions of the next batch after a checkpoint (activity_txs,
-- migration 00013), in tx_id order, among those below below_tx (a
-- rebuild's watermark: every transaction below it had ended when it was
-- taken) or, with the maximum bigint for none, below the write horizon
-- (activity_write_horizon, migration 00009: older than every running
-- transaction that may write the log, so no row can later appear below it;
-- another projector's or another database's transaction does not hold it
-- back): as many as hold fewer than max_rows rows before the last one
-- (ActivityRangeEnd cuts the batch at max_rows).
-- Gives the last of them (tx_id and last id: the end of the batch unless it
-- is cut inside that transaction), the span of their rows' created_at, and
-- whether more lie beyond. No row: nothing to apply. Not the lower of
-- watermark and horizon: the horizon may read below a watermark taken
-- earlier (a transaction that ends between the snapshot and the read of
-- pg_stat_activity counts as running), and a rebuild's batch that is not
-- full ends at the watermark, so it must hold every row below it. This is
-- the transaction's first read of pg_stat_activity, as the horizon needs.
WITH c AS (
    -- The rows before each transaction's, leaving out those of the
    -- checkpoint's own (some applied): ActivityRangeEnd cuts the batch.
    SELECT t.tx_id, t.last_id, t.first_at, t.last_at,
           COALESCE(sum(t.rows) FILTER (WHERE t.tx_id > @after_tx::bigint)
                    OVER (ORDER BY t.tx_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM (
        SELECT t.tx_id, t.last_id, t.rows, t.first_at, t.last_at FROM activity_txs t
        WHERE t.tx_id >= @after_tx::bigint AND (t.tx_id, t.last_id) > (@after_tx::bigint, @after_id::bigint)
          -- A subquery: evaluated once (an InitPlan), not per row.
          AND t.tx_id < CASE WHEN @below_tx::bigint < 9223372036854775807 THEN @below_tx::bigint
                             ELSE (SELECT activity_write_horizon(@projector_application_name::text)) END
        ORDER BY t.tx_id
        -- Every transaction here holds a row at least: max_txs is max_rows
        -- + 1, so a transaction past the batch tells whether more lie beyond.
        LIMIT @max_txs::int
    ) t
)
SELECT (max(ARRAY[c.tx_id, c.last_id]) FILTER (WHERE c.before < @max_rows::int))[1]::bigint AS last_tx,
       (max(ARRAY[c.tx_id, c.last_id]) FILTER (WHERE c.before < @max_rows::int))[2]::bigint AS last_id,
       (min(c.first_at) FILTER (WHERE c.before < @max_rows::int))::timestamptz AS first_at,
       (max(c.last_at) FILTER (WHERE c.before < @max_rows::int))::timestamptz AS last_at,
       (count(*) FILTER (WHERE c.before >= @max_rows::int) > 0)::bool AS more
FROM c
HAVING count(*) > 0;

-- name: ActivityRangeEnd :one
-- The last (tx_id, id) of the next batch after a checkpoint, among the rows
-- of the transactions up to last_tx whose created_at lies in [first_at,
-- last_at] (ActivityTxRange: every row of those transactions does), with
-- the number of rows in the batch and the span of their created_at (the
-- batch's statements name it, so they plan and lock only the partitions it
-- covers). Planned for its parameters, it reads only the partitions of that
-- span, not every day of the log.
SELECT b.tx_id, b.id, count(*) OVER ()::int AS rows,
       (min(b.created_at) OVER ())::timestamptz AS first_at, (max(b.created_at) OVER ())::timestamptz AS last_at
FROM (
    SELECT a.tx_id, a.id, a.created_at FROM activities a
    WHERE (a.tx_id, a.id) > (@after_tx::bigint, @after_id::bigint)
      AND a.tx_id <= @last_tx::bigint
      AND a.created_at >= @first_at::timestamptz AND a.created_at <= @last_at::timestamptz
    ORDER BY a.tx_id, a.id
    LIMIT @max_rows::int
) b
ORDER BY b.tx_id DESC, b.id DESC
LIMIT 1;

-- name: ActivityLogEnd :one
-- The last (tx_id, id) of the log as this transaction sees it (test
-- fixtures: projections.ApplyWholeLog).
SELECT a.tx_id, a.id FROM activities a
ORDER BY a.tx_id DESC, a.id DESC
LIMIT 1;

-- name: ActivityBacklog :one
-- What a checkpoint has not applied yet, from activity_txs: the rows of the
-- transactions after its own, and the age at now (a clock passed in) of the
-- oldest received of them (0 when there are none); and, when the
-- checkpoint lies inside a transaction with rows after it (a batch cut
-- there), that transaction's last id and span (ActivityTxBacklog counts
-- them).
SELECT COALESCE(b.rows, 0)::bigint AS rows_behind,
       COALESCE(date_part('epoch', sqlc.arg(now)::timestamptz - b.first_received_at), 0)::float8 AS lag_seconds,
       COALESCE(p.last_id, 0)::bigint AS within_last_id,
       COALESCE(p.first_at, 'epoch')::timestamptz AS within_first_at,
       COALESCE(p.last_at, 'epoch')::timestamptz AS within_last_at
FROM (SELECT sum(t.rows) AS rows, min(t.first_received_at) AS first_received_at
      FROM activity_txs t WHERE t.tx_id > @after_tx::bigint) AS b
LEFT JOIN activity_txs p ON p.tx_id = @after_tx::bigint AND p.last_id > @after_id::bigint;

-- name: ActivityTxBacklog :one
-- The rows of one transaction after an id, and the age at now of the
-- oldest received of them: the part of a transaction a checkpoint inside it
-- has not applied (ActivityBacklog gives its span: planned for it, this
-- reads only those partitions).
SELECT count(*)::bigint AS rows_behind,
       COALESCE(date_part('epoch', sqlc.arg(now)::timestamptz - min(a.received_at)), 0)::float8 AS lag_seconds
FROM activities a
WHERE a.tx_id = @tx_id::bigint AND a.id > @after_id::bigint
  AND a.created_at >= @first_at::timestamptz AND a.created_at <= @last_at::timestamptz;

-- name: ActivityAfter :one
-- Whether any committed activity lies after a checkpoint (a projector's
-- test, after each batch, for activities held back behind a running
-- transaction): a transaction after it in activity_txs, or its own with
-- rows after its id.
SELECT EXISTS (
    SELECT 1 FROM activity_txs t
    WHERE t.tx_id >= @after_tx::bigint AND (t.tx_id, t.last_id) > (@after_tx::bigint, @after_id::bigint)
)::bool AS any;

-- name: UserTraitsDeleteVersion :exec
DELETE FROM user_traits WHERE version = @version::int;

-- name: UserTraitsDeleteOtherVersions :exec
DELETE FROM user_traits WHERE version <> @keep::int;

-- name: CommunityStatsDeleteVersion :exec
DELETE FROM community_stats WHERE version = @version::int;

-- name: CommunityStatsDeleteOtherVersions :exec
DELETE FROM community_stats WHERE version <> @keep::int;

-- name: ProjectorPlanSettings :exec
-- Starts every projector transaction. JIT compilation of plans that span
-- hundreds of daily partitions costs seconds per statement and buys nothing
-- for set-based batches: off for this transaction. A rebuild's batches
-- aggregate hundreds of thousands of rows: 128MB of work_mem keeps their
-- hash tables and sorts in memory (the default 4MB spills them to disk).
-- The application name tags the transaction as a projector's, one that
-- never writes activities, so other projectors' batches need not wait for
-- it (ActivityTxRange); never call this in a transaction that does.
-- Statements are planned for their parameters: a batch's statements name
-- the span of its rows' created_at, and a plan for it reads and locks only
-- the partitions it covers (a generic plan locks every day of the log
-- first, and PostgreSQL 15's fast-path locks end at 16).
SELECT set_config('jit', 'off', true), set_config('work_mem', '128MB', true),
       set_config('plan_cache_mode', 'force_custom_plan', true),
       set_config('application_name', @projector_application_name::text, true);
