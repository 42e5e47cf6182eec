-- +goose Up

-- Secondary indexes of the rollups that the reads do not need. Every live
-- upsert of a rollup row writes an entry into each index of its table (the
-- key indexes INCLUDE the changing figures, so no update is HOT), and a
-- rebuild builds each index over every row of the new version.
--
-- user_sketches_bucket_idx served no query: every read of user_sketches
-- names its community keys, which lead the key index.
DROP INDEX user_sketches_bucket_idx;

-- The bucket index of event_counts serves the top communities alone, which
-- read the all-types rows (event_type = '') of a tier over a range of
-- buckets. The per-type rows, three in four, leave it.
-- Building it takes a SHARE lock on every partition: live event_counts
-- batches wait for it (1.8 s for this whole migration at 10M activities).
DROP INDEX event_counts_bucket_idx;
CREATE INDEX event_counts_top_idx ON event_counts (version, res, bucket) INCLUDE (community_id, events)
    WHERE event_type = '';

-- +goose Down
DROP INDEX event_counts_top_idx;
CREATE INDEX event_counts_bucket_idx ON event_counts (version, res, event_type, bucket) INCLUDE (community_id, events);
CREATE INDEX user_sketches_bucket_idx ON user_sketches (version, res, event_type, bucket);
