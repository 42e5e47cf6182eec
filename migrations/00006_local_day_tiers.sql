-- +goose Up

-- Local days of report time zones (ACTIVITY_REPORT_TIME_ZONES): event_counts
-- and user_sketches may hold a fourth tier per zone, res 'z:<IANA zone>',
-- whose buckets are the zone's local midnights. A daily series in such a
-- zone reads one row per day instead of composing each day from 24 hours
-- (and merging 24 sketches per day and event type). Which zones a version
-- of a projection holds is fixed when the version is created (a rebuild
-- takes the configured list), so a changed list applies after
-- `activity projections rebuild event_counts user_sketches`.
ALTER TABLE projection_checkpoints ADD COLUMN time_zones TEXT[] NOT NULL DEFAULT '{}';

ALTER TABLE event_counts DROP CONSTRAINT event_counts_res_check;
ALTER TABLE event_counts ADD CONSTRAINT event_counts_res_check CHECK (res IN ('h', 'd', 'm') OR res LIKE 'z:%');
ALTER TABLE user_sketches DROP CONSTRAINT user_sketches_res_check;
ALTER TABLE user_sketches ADD CONSTRAINT user_sketches_res_check CHECK (res IN ('h', 'd', 'm') OR res LIKE 'z:%');

-- +goose Down
DELETE FROM event_counts WHERE res LIKE 'z:%';
DELETE FROM user_sketches WHERE res LIKE 'z:%';
ALTER TABLE user_sketches DROP CONSTRAINT user_sketches_res_check;
ALTER TABLE user_sketches ADD CONSTRAINT user_sketches_res_check CHECK (res IN ('h', 'd', 'm'));
ALTER TABLE event_counts DROP CONSTRAINT event_counts_res_check;
ALTER TABLE event_counts ADD CONSTRAINT event_counts_res_check CHECK (res IN ('h', 'd', 'm'));
ALTER TABLE projection_checkpoints DROP COLUMN time_zones;
