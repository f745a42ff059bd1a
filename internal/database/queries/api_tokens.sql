-- name: APITokenInsert :one
INSERT INTO api_tokens (id, user_id, name, secret_hash, scopes, expires_at, created_at)
VALUES (sqlc.arg(id), sqlc.arg(user_id), sqlc.arg(name), sqlc.arg(secret_hash), sqlc.arg(scopes)::text[], sqlc.narg(expires_at), sqlc.arg(now))
RETURNING *;

-- name: APITokenGetWithUser :one
-- The one query behind every authenticated request that misses the cache.
SELECT sqlc.embed(t), u.email AS user_email, u.role AS user_role, u.suspended AS user_suspended
FROM api_tokens t
JOIN users u ON u.id = t.user_id
WHERE t.id = sqlc.arg(id);

-- name: APITokenListByUser :many
SELECT * FROM api_tokens WHERE user_id = sqlc.arg(user_id) ORDER BY created_at, id;

-- name: APITokenGet :one
SELECT * FROM api_tokens WHERE id = sqlc.arg(id);

-- name: APITokenDelete :execrows
DELETE FROM api_tokens WHERE id = sqlc.arg(id);

-- name: APITokenTouchBatch :exec
-- The authenticator's batched last_used_at writes: one statement per flush
-- for every token used since the last one. A time never moves backwards, so
-- a late flush from one replica cannot undo a newer one from another. Two
-- unnests in one select list walk the arrays in step (sqlc cannot analyse
-- the two-array form of unnest in FROM).
UPDATE api_tokens t SET last_used_at = u.used_at
FROM (SELECT unnest(sqlc.arg(ids)::text[]) AS id, unnest(sqlc.arg(used_at)::timestamptz[]) AS used_at) u
WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.used_at);
