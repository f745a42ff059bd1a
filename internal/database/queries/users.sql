-- name: UserCount :one
SELECT count(*) FROM users;

-- name: UserInsert :one
INSERT INTO users (id, email, name, password_hash, role, suspended, created_at, updated_at)
VALUES (sqlc.arg(id), sqlc.arg(email), sqlc.arg(name), sqlc.arg(password_hash), sqlc.arg(role), false, sqlc.arg(now), sqlc.arg(now))
RETURNING *;

-- name: UserGetByID :one
SELECT * FROM users WHERE id = sqlc.arg(id);

-- name: UserGetByEmail :one
SELECT * FROM users WHERE email = sqlc.arg(email);

-- name: UserGetByIDForUpdate :one
SELECT * FROM users WHERE id = sqlc.arg(id) FOR UPDATE;

-- name: UserList :many
SELECT * FROM users ORDER BY created_at, id;

-- name: UserUpdate :one
UPDATE users
SET email = sqlc.arg(email), name = sqlc.arg(name), password_hash = sqlc.arg(password_hash),
    role = sqlc.arg(role), suspended = sqlc.arg(suspended), updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id)
RETURNING *;

-- name: UserDelete :execrows
DELETE FROM users WHERE id = sqlc.arg(id);

-- name: UserLockActiveOwners :many
-- Locks the active owners' rows in id order, so every change that could
-- remove an owner takes the same locks in the same order: two owners
-- demoting each other queue instead of deadlocking, and neither can see
-- the other as the owner who remains once the other's change commits.
SELECT id FROM users WHERE role = 'owner' AND NOT suspended ORDER BY id FOR UPDATE;
