-- name: SettingEnsure :one
-- Stores value under name unless one is there already; returns the stored one.
WITH ins AS (
    INSERT INTO settings (name, value) VALUES (@name, @value)
    ON CONFLICT (name) DO NOTHING
    RETURNING value
)
SELECT value FROM ins
UNION ALL
SELECT value FROM settings WHERE name = @name
LIMIT 1;
