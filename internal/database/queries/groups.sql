-- name: GroupInsert :one
INSERT INTO groups (id, name, display_name, created_at, updated_at)
VALUES (sqlc.arg(id), sqlc.arg(name), sqlc.arg(display_name), sqlc.arg(now), sqlc.arg(now))
RETURNING *;

-- name: GroupGetByID :one
SELECT * FROM groups WHERE id = sqlc.arg(id);

-- name: GroupGetByName :one
SELECT * FROM groups WHERE name = sqlc.arg(name);

-- name: GroupGetByIDForUpdate :one
SELECT * FROM groups WHERE id = sqlc.arg(id) FOR UPDATE;

-- name: GroupList :many
-- Name order is the order operators see; the member count saves a query
-- per group in listings.
SELECT g.id, g.name, g.display_name, g.created_at, g.updated_at,
       (SELECT count(*) FROM group_members m WHERE m.group_id = g.id)::bigint AS member_count
FROM groups g
ORDER BY g.name;

-- name: GroupUpdate :one
UPDATE groups
SET name = sqlc.arg(name), display_name = sqlc.arg(display_name), updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id)
RETURNING *;

-- name: GroupDelete :execrows
DELETE FROM groups WHERE id = sqlc.arg(id);
