-- +goose Up

-- The read queries answer from the rollups' indexes alone where they can
-- (index-only scans): a year of daily counts, or every community's total
-- for the top communities, no longer visits a heap page per row. Events
-- become part of both indexes of event_counts, the estimate of user_sketches
-- part of its key index. (Live updates of these rows were not HOT updates
-- before either: events, users and quarters change with every batch.)
ALTER TABLE event_counts DROP CONSTRAINT event_counts_pkey;
ALTER TABLE event_counts ADD PRIMARY KEY (version, res, community_id, bucket, event_type) INCLUDE (events);
DROP INDEX event_counts_bucket_idx;
CREATE INDEX event_counts_bucket_idx ON event_counts (version, res, event_type, bucket) INCLUDE (community_id, events);

ALTER TABLE user_sketches DROP CONSTRAINT user_sketches_pkey;
ALTER TABLE user_sketches ADD PRIMARY KEY (version, res, community_id, bucket, event_type) INCLUDE (users, exact);

-- Dense sketches (4 KiB) are stored compressed; a local day of a zone other
-- than UTC merges 24 of them, and lz4 decompresses several times faster
-- than the default pglz. Applies to sketches written from now on.
ALTER TABLE user_sketches ALTER COLUMN sketch SET COMPRESSION lz4;

-- +goose Down
ALTER TABLE user_sketches ALTER COLUMN sketch SET COMPRESSION default;
ALTER TABLE user_sketches DROP CONSTRAINT user_sketches_pkey;
ALTER TABLE user_sketches ADD PRIMARY KEY (version, res, community_id, bucket, event_type);
DROP INDEX event_counts_bucket_idx;
CREATE INDEX event_counts_bucket_idx ON event_counts (version, res, event_type, bucket);
ALTER TABLE event_counts DROP CONSTRAINT event_counts_pkey;
ALTER TABLE event_counts ADD PRIMARY KEY (version, res, community_id, bucket, event_type);
