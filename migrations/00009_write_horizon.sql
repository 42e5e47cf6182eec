-- +goose Up

-- The lowest transaction id that may still write activities, as the
-- calling statement's snapshot sees it: the lowest running xid of the
-- snapshot, leaving out the transactions that pg_stat_activity shows under
-- the projectors' application name (they write rollups, never activities)
-- or in another database (a backend serves one database for its whole life
-- and writes only its tables); else the snapshot's xmax. Every row with a
-- tx_id below it is committed, or never will be. A batch's end
-- (ActivityRangeEnd) and a rebuild's watermark (ActivityWatermark) are both
-- this, written once here.
--
-- Why reading pg_stat_activity is safe: it is read after the statement's
-- snapshot was taken (the first read of it in the calling transaction, which
-- the callers ensure), so an xid that is in the snapshot and shown there
-- belonged to that backend's transaction: a backend's tag outlives its xid
-- (PostgreSQL clears the xid before it resets a SET LOCAL), and an xid
-- assigned after the snapshot is not in it. A transaction of this database
-- not tagged, or not visible in pg_stat_activity (a prepared one, or
-- another role's without pg_read_all_stats), counts.
-- +goose StatementBegin
CREATE FUNCTION activity_write_horizon(projector_application_name TEXT) RETURNS BIGINT
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(min(x::text::bigint), pg_snapshot_xmax(pg_current_snapshot())::text::bigint)
    FROM pg_snapshot_xip(pg_current_snapshot()) AS x
    WHERE NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_stat_activity s
        WHERE s.backend_xid::text::bigint = x::text::bigint % 4294967296
          AND (s.application_name = projector_application_name
               OR s.datname <> current_database()))
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION activity_write_horizon(TEXT);
