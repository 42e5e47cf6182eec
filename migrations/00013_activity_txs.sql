-- +goose Up

-- One row per transaction that appended to the log: where its rows lie in
-- the projectors' (tx_id, id) order (its last id) and in time (the span of
-- their created_at, and the first received_at), and how many there are.
-- A projector finds its next batch here (ActivityTxRange) and then reads
-- only the partitions the batch's span covers; reading the log itself for
-- rows past a checkpoint visits every daily partition's (tx_id, id) index
-- (366 over a year: ~50 ms a batch under load; with the status's and the
-- held-back test's reads, 32 s of statement time in a 30 s run at 5,000
-- events/s on 2 cores). The status's rows behind and lag read it too.
--
-- A statement trigger on activities writes it, in the inserting
-- transaction (it commits or rolls back with the rows): INSERT and COPY
-- through activities, whatever the path. A row inserted into a partition
-- directly fires no trigger of the parent and would be missed: nothing in
-- activity does that. Dropping a partition by hand (retention) leaves its
-- transactions' rows here; projectors step over them (no rows to apply).
CREATE TABLE activity_txs (
    tx_id             BIGINT      PRIMARY KEY,
    last_id           BIGINT      NOT NULL,
    rows              BIGINT      NOT NULL CHECK (rows > 0),
    first_at          TIMESTAMPTZ NOT NULL,
    last_at           TIMESTAMPTZ NOT NULL,
    first_received_at TIMESTAMPTZ NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION activity_txs_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- A transaction's later statements fold into its row (only it writes
    -- that row, so this never waits for another transaction). A statement
    -- that inserted nothing (every event already stored) adds no row.
    INSERT INTO activity_txs AS t (tx_id, last_id, rows, first_at, last_at, first_received_at)
    SELECT n.tx_id, max(n.id), count(*), min(n.created_at), max(n.created_at), min(n.received_at)
    FROM appended n
    GROUP BY n.tx_id
    ON CONFLICT (tx_id) DO UPDATE SET
        last_id = greatest(t.last_id, EXCLUDED.last_id),
        rows = t.rows + EXCLUDED.rows,
        first_at = least(t.first_at, EXCLUDED.first_at),
        last_at = greatest(t.last_at, EXCLUDED.last_at),
        first_received_at = least(t.first_received_at, EXCLUDED.first_received_at);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Created before the backfill, in its transaction: CREATE TRIGGER waits for
-- the transactions appending to the log and holds off new ones until this
-- commits, so every row is in the backfill or fires the trigger.
CREATE TRIGGER activities_record_tx
    AFTER INSERT ON activities
    REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION activity_txs_record();

INSERT INTO activity_txs (tx_id, last_id, rows, first_at, last_at, first_received_at)
SELECT a.tx_id, max(a.id), count(*), min(a.created_at), max(a.created_at), min(a.received_at)
FROM activities a
GROUP BY a.tx_id;

-- +goose Down
DROP TRIGGER activities_record_tx ON activities;
DROP FUNCTION activity_txs_record();
DROP TABLE activity_txs;
