-- +goose Up

-- Identify traits projected from the log: for each user and trait, the
-- value of the latest user.identify (by occurred_at, then event_id) that
-- set it, as Segment merges traits. Late or repeated identifies apply in
-- any order with the same result. (traits.email never enters the log: the
-- Segment route writes it to users.email.)
CREATE TABLE user_traits (
    version    INT         NOT NULL,
    user_id    UUID        NOT NULL,
    trait      TEXT        NOT NULL,
    value      JSONB       NOT NULL,
    set_at     TIMESTAMPTZ NOT NULL,
    event_id   TEXT        NOT NULL,
    PRIMARY KEY (version, user_id, trait)
);

INSERT INTO projections (name, current_version) VALUES ('user_traits', 1);
INSERT INTO projection_checkpoints (name, version, status) VALUES ('user_traits', 1, 'live');

-- +goose Down
DELETE FROM projection_checkpoints WHERE name = 'user_traits';
DELETE FROM projections WHERE name = 'user_traits';
DROP TABLE user_traits;
