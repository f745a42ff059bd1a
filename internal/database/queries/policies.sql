-- name: PolicyInsert :one
INSERT INTO policies (id, name, description, scope, group_id, user_id, token_id, per_member, providers, models,
                      kind, period, limit_value, allow_models, time_zone, enabled, created_at, updated_at)
VALUES (sqlc.arg(id), sqlc.arg(name), sqlc.arg(description), sqlc.arg(scope), sqlc.narg(group_id),
        sqlc.narg(user_id), sqlc.narg(token_id), sqlc.arg(per_member), sqlc.arg(providers)::text[],
        sqlc.arg(models)::text[], sqlc.arg(kind), sqlc.narg(period), sqlc.narg(limit_value),
        sqlc.arg(allow_models)::text[], sqlc.arg(time_zone), sqlc.arg(enabled), sqlc.arg(now), sqlc.arg(now))
RETURNING *;

-- name: PolicyGetByID :one
SELECT * FROM policies WHERE id = sqlc.arg(id);

-- name: PolicyGetByName :one
SELECT * FROM policies WHERE name = sqlc.arg(name);

-- name: PolicyGetByIDForUpdate :one
SELECT * FROM policies WHERE id = sqlc.arg(id) FOR UPDATE;

-- name: PolicyList :many
-- With the names people know the scope's group and user by; name order.
SELECT p.*, g.name AS group_name, u.email AS user_email
FROM policies p
LEFT JOIN groups g ON g.id = p.group_id
LEFT JOIN users u ON u.id = p.user_id
ORDER BY p.name;

-- name: PolicyListEnabled :many
SELECT * FROM policies WHERE enabled ORDER BY name;

-- name: PolicyUpdate :one
UPDATE policies
SET name = sqlc.arg(name), description = sqlc.arg(description), group_id = sqlc.narg(group_id),
    user_id = sqlc.narg(user_id), token_id = sqlc.narg(token_id), per_member = sqlc.arg(per_member),
    providers = sqlc.arg(providers)::text[], models = sqlc.arg(models)::text[], period = sqlc.narg(period),
    limit_value = sqlc.narg(limit_value), allow_models = sqlc.arg(allow_models)::text[],
    time_zone = sqlc.arg(time_zone), enabled = sqlc.arg(enabled), updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id)
RETURNING *;

-- name: PolicyDelete :execrows
DELETE FROM policies WHERE id = sqlc.arg(id);

-- name: PolicyNamesByGroup :many
-- The policies naming a group, which its deletion would take with it.
SELECT name FROM policies WHERE group_id = sqlc.arg(group_id) ORDER BY name;
