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

-- name: APITokenTouch :exec
-- last_used_at is written at most once a minute per token, so busy gateway
-- traffic does not turn every request into a write.
UPDATE api_tokens SET last_used_at = sqlc.arg(now)::timestamptz
WHERE id = sqlc.arg(id) AND (last_used_at IS NULL OR last_used_at < sqlc.arg(now)::timestamptz - interval '1 minute');
