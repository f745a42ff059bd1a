-- name: AIProviderInsert :one
INSERT INTO ai_providers (id, name, type, display_name, enabled, deleted, base_url, settings,
                          credentials, credentials_key_digest, created_at, updated_at)
VALUES (sqlc.arg(id), sqlc.arg(name), sqlc.arg(type), sqlc.arg(display_name), sqlc.arg(enabled), false,
        sqlc.arg(base_url), sqlc.narg(settings), sqlc.narg(credentials), sqlc.narg(credentials_key_digest),
        sqlc.arg(now), sqlc.arg(now))
RETURNING *;

-- name: AIProviderGetByID :one
SELECT * FROM ai_providers WHERE id = sqlc.arg(id);

-- name: AIProviderGetByName :one
SELECT * FROM ai_providers WHERE name = sqlc.arg(name);

-- name: AIProviderGetByIDForUpdate :one
SELECT * FROM ai_providers WHERE id = sqlc.arg(id) FOR UPDATE;

-- name: AIProviderList :many
-- Deleted rows only when asked for; name order is the order operators see.
SELECT * FROM ai_providers
WHERE sqlc.arg(include_deleted)::boolean OR NOT deleted
ORDER BY name;

-- name: AIProviderUpdate :one
UPDATE ai_providers
SET name = sqlc.arg(name), display_name = sqlc.arg(display_name), enabled = sqlc.arg(enabled),
    deleted = sqlc.arg(deleted), base_url = sqlc.arg(base_url), settings = sqlc.narg(settings),
    credentials = sqlc.narg(credentials), credentials_key_digest = sqlc.narg(credentials_key_digest),
    updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id)
RETURNING *;

-- name: AIProviderKeysList :many
-- Keys of the given providers, in the order they are tried.
SELECT * FROM ai_provider_keys
WHERE provider_id = ANY(sqlc.arg(provider_ids)::uuid[])
ORDER BY provider_id, position;

-- name: AIProviderKeyInsert :exec
INSERT INTO ai_provider_keys (id, provider_id, position, api_key, key_digest, created_at, updated_at)
VALUES (sqlc.arg(id), sqlc.arg(provider_id), sqlc.arg(position), sqlc.arg(api_key), sqlc.arg(key_digest),
        sqlc.arg(now), sqlc.arg(now));

-- name: AIProviderKeySetPosition :exec
UPDATE ai_provider_keys SET position = sqlc.arg(position), updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id);

-- name: AIProviderKeyDelete :exec
DELETE FROM ai_provider_keys WHERE id = sqlc.arg(id);

-- name: AIProviderKeysToRotate :many
-- A batch of keys not yet under the active encryption key. A provider
-- change holding one of them is waited for: changes are short.
SELECT * FROM ai_provider_keys
WHERE key_digest <> sqlc.arg(active_digest)
ORDER BY id
LIMIT sqlc.arg(batch_size)
FOR UPDATE;

-- name: AIProviderKeyReencrypt :exec
UPDATE ai_provider_keys SET api_key = sqlc.arg(api_key), key_digest = sqlc.arg(key_digest)
WHERE id = sqlc.arg(id);

-- name: AIProviderCredentialsToRotate :many
SELECT id, credentials FROM ai_providers
WHERE credentials_key_digest <> sqlc.arg(active_digest)
ORDER BY id
LIMIT sqlc.arg(batch_size)
FOR UPDATE;

-- name: AIProviderCredentialsReencrypt :exec
UPDATE ai_providers SET credentials = sqlc.arg(credentials), credentials_key_digest = sqlc.arg(credentials_key_digest)
WHERE id = sqlc.arg(id);

-- name: EncryptionKeyDigestsInUse :many
-- Every encryption key digest some stored ciphertext needs, with how many
-- ciphertexts use it.
SELECT digest::text, count(*)::bigint AS ciphertexts FROM (
    SELECT key_digest AS digest FROM ai_provider_keys
    UNION ALL
    SELECT credentials_key_digest FROM ai_providers WHERE credentials_key_digest IS NOT NULL
) d
GROUP BY digest
ORDER BY digest;
