-- name: SiteConfigList :many
SELECT * FROM site_configs ORDER BY key;

-- name: SiteConfigInsert :exec
-- A plain insert, not an upsert: it runs under the deployment_setup lock, and
-- a duplicate here would mean the lock failed, which must not pass silently.
INSERT INTO site_configs (key, value, created_at)
VALUES (sqlc.arg(key), sqlc.arg(value), sqlc.arg(created_at));
