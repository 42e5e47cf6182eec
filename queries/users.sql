-- name: UserEnsureBatch :exec
-- Makes sure a row exists for every user id, keeping the original external id
-- (Segment's non-UUID userId) when one is given. Ids must be distinct; they
-- are inserted in id order so concurrent writers cannot deadlock.
INSERT INTO users (id, external_id)
SELECT t.id, NULLIF(t.external_id, '')
FROM (
    SELECT unnest(@ids::uuid[]) AS id, unnest(@external_ids::text[]) AS external_id
) AS t
WHERE NOT EXISTS (
    SELECT 1 FROM users u
    WHERE u.id = t.id AND (t.external_id = '' OR u.external_id IS NOT DISTINCT FROM t.external_id)
)
ORDER BY t.id
ON CONFLICT (id) DO UPDATE SET external_id = EXCLUDED.external_id
WHERE EXCLUDED.external_id IS NOT NULL;

-- name: UserSetEmail :exec
-- Records an identified user's e-mail. An address already held by another
-- user is left where it is.
UPDATE users SET email = @email::text
WHERE users.id = @id::uuid
  AND users.email IS DISTINCT FROM @email::text
  AND NOT EXISTS (SELECT 1 FROM users o WHERE o.email = @email::text AND o.id <> @id::uuid);

-- name: CommunityEnsureBatch :exec
INSERT INTO communities (id)
SELECT t.id FROM (SELECT unnest(@ids::uuid[]) AS id) AS t
WHERE NOT EXISTS (SELECT 1 FROM communities c WHERE c.id = t.id)
ORDER BY t.id
ON CONFLICT (id) DO NOTHING;

-- name: UserCopy :copyfrom
-- Bulk-loads user rows (activity dev seed).
INSERT INTO users (id, created_at) VALUES (@id, @created_at);

-- name: CommunityCopy :copyfrom
-- Bulk-loads community rows (activity dev seed).
INSERT INTO communities (id, name, created_at) VALUES (@id, @name, @created_at);
