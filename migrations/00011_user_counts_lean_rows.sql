-- +goose Up

-- Two changes to user_counts that make its rows cheaper to write: a rebuild
-- COPYs and indexes ~6M of them at 10M activities, the longest chain of
-- its work.
--
-- res ('d' or 'm') becomes a one-byte "char" instead of TEXT. It is the
-- third column of both of the table's indexes; as a column of varying
-- length it kept PostgreSQL from caching the offsets of the columns after
-- it, so every comparison of an index build walked each index tuple from
-- its start to find bucket, community_id and events. Reads and live
-- batches compare it with a "char" (p.res::"char").
--
-- type_events is NULL in a row of one event type (three rows in four):
-- that type's events are the row's events. One array less to write,
-- parse and store per such row. Readers take COALESCE(type_events,
-- ARRAY[events]).
--
-- Every version's rows are rewritten once, in one pass (about 15 s at 10M
-- activities; the table is locked meanwhile, ingest is not).
ALTER TABLE user_counts DROP CONSTRAINT user_counts_check, DROP CONSTRAINT user_counts_res_check,
    ALTER COLUMN type_events DROP NOT NULL;
ALTER TABLE user_counts
    ALTER COLUMN res TYPE "char" USING res::"char",
    ALTER COLUMN type_events TYPE BIGINT[] USING CASE WHEN cardinality(types) > 1 THEN type_events END;
ALTER TABLE user_counts ADD CONSTRAINT user_counts_res_check CHECK (res IN ('d', 'm')),
    ADD CONSTRAINT user_counts_check CHECK ((res = 'd') = (tq IS NOT NULL)),
    ADD CONSTRAINT user_counts_type_events_check CHECK ((type_events IS NULL) = (cardinality(types) = 1));

-- +goose Down
ALTER TABLE user_counts DROP CONSTRAINT user_counts_check, DROP CONSTRAINT user_counts_res_check,
    DROP CONSTRAINT user_counts_type_events_check;
ALTER TABLE user_counts
    ALTER COLUMN res TYPE TEXT COLLATE "C" USING res::text,
    ALTER COLUMN type_events TYPE BIGINT[] USING COALESCE(type_events, ARRAY[events]);
ALTER TABLE user_counts ALTER COLUMN type_events SET NOT NULL,
    ADD CONSTRAINT user_counts_res_check CHECK (res IN ('d', 'm')),
    ADD CONSTRAINT user_counts_check CHECK ((res = 'd') = (tq IS NOT NULL));
