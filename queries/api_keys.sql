-- name: APIKeyInsert :exec
INSERT INTO api_keys (id, name, role, communities, key_hash)
VALUES (@id, @name, @role, @communities, @key_hash);

-- name: APIKeyEnsure :exec
-- Makes sure a key with this hash exists (the ACTIVITY_ADMIN_KEY bootstrap).
INSERT INTO api_keys (id, name, role, communities, key_hash)
VALUES (@id, @name, @role, @communities, @key_hash)
ON CONFLICT (key_hash) DO UPDATE SET revoked_at = NULL, role = EXCLUDED.role, communities = EXCLUDED.communities;

-- name: APIKeyGetByHash :one
SELECT id, name, role, communities, key_hash, created_at, revoked_at
FROM api_keys WHERE key_hash = @key_hash;

-- name: APIKeyList :many
SELECT id, name, role, communities, created_at, revoked_at
FROM api_keys ORDER BY created_at, id;

-- name: APIKeyRevoke :execrows
UPDATE api_keys SET revoked_at = now() WHERE id = @id AND revoked_at IS NULL;

-- name: APIKeyExists :one
SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = @id);
