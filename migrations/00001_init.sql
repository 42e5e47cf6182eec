-- +goose Up

-- Users and communities are known once any event names them. The writer upserts
-- a stub row for every id it meets, in the same transaction as the activities,
-- so the foreign keys hold without rejecting events.
CREATE TABLE users (
    id          UUID PRIMARY KEY,
    external_id TEXT,
    email       TEXT UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE communities (
    id         UUID PRIMARY KEY,
    name       TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The immutable activity log. Daily range partitions (UTC), no DEFAULT
-- partition: internal/partitions creates them ahead and on demand.
-- PostgreSQL 15 does not allow identity columns on partitioned tables, so id
-- comes from a plain sequence.
CREATE SEQUENCE activities_id_seq AS BIGINT;

CREATE TABLE activities (
    id           BIGINT      NOT NULL DEFAULT nextval('activities_id_seq'),
    -- The writing transaction's id: projectors read rows in (tx_id, id) order
    -- below the snapshot xmin, so rows committed out of id order are never skipped.
    tx_id        BIGINT      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    event_id     TEXT        NOT NULL CHECK (char_length(event_id) BETWEEN 1 AND 100),
    event_type   TEXT        NOT NULL CHECK (char_length(event_type) BETWEEN 1 AND 64),
    user_id      UUID        REFERENCES users (id),
    community_id UUID        REFERENCES communities (id),
    entity_type  TEXT        CHECK (char_length(entity_type) <= 64),
    entity_id    TEXT        CHECK (char_length(entity_id) <= 256),
    metadata     JSONB       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    ip_address   INET,
    user_agent   TEXT        CHECK (char_length(user_agent) <= 512),
    created_at   TIMESTAMPTZ NOT NULL, -- when the activity occurred: the partition key
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (created_at, id),
    UNIQUE (event_id, created_at)
) PARTITION BY RANGE (created_at);

ALTER SEQUENCE activities_id_seq OWNED BY activities.id;

-- See docs/SCHEMA.md for the query each index serves.
CREATE INDEX activities_user_created_idx      ON activities (user_id, created_at);
CREATE INDEX activities_community_created_idx ON activities (community_id, created_at);
CREATE INDEX activities_type_created_idx      ON activities (event_type, created_at);
CREATE INDEX activities_tx_idx                ON activities (tx_id, id);

-- +goose StatementBegin
CREATE FUNCTION activities_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'activities is append-only: % is not allowed (retention drops whole partitions)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER activities_no_update_delete
    BEFORE UPDATE OR DELETE ON activities
    FOR EACH ROW EXECUTE FUNCTION activities_append_only();

CREATE TRIGGER activities_no_truncate
    BEFORE TRUNCATE ON activities
    FOR EACH STATEMENT EXECUTE FUNCTION activities_append_only();

-- Dead letters: anything the pipeline could not store, with the reason.
CREATE TABLE failed_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source     TEXT        NOT NULL, -- writer, segment, projector
    reason     TEXT        NOT NULL,
    event_id   TEXT,
    payload    TEXT        NOT NULL,
    -- Set by the writer to the stream entry id and event index, so a
    -- redelivered entry does not record its dead letters twice.
    dedup_key  TEXT UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX failed_events_created_idx ON failed_events (created_at DESC, id DESC);

CREATE TABLE api_keys (
    id          UUID PRIMARY KEY,
    name        TEXT        NOT NULL,
    role        TEXT        NOT NULL CHECK (role IN ('ingest', 'read', 'admin')),
    communities UUID[]      NOT NULL DEFAULT '{}',
    key_hash    BYTEA       NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ
);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE api_keys;
DROP TABLE failed_events;
DROP TABLE activities;
DROP FUNCTION activities_append_only();
DROP TABLE communities;
DROP TABLE users;
