-- name: SchemaMigrationList :many
SELECT * FROM schema_migrations ORDER BY version;

-- name: SchemaMigrationInsert :exec
INSERT INTO schema_migrations (version, name, applied_at, aigate_version)
VALUES (sqlc.arg(version), sqlc.arg(name), sqlc.arg(applied_at), sqlc.arg(aigate_version));

-- name: SchemaMigrationMaxVersion :one
SELECT coalesce(max(version), 0)::integer FROM schema_migrations;

-- name: SchemaMigrationTableExists :one
SELECT (to_regclass('schema_migrations') IS NOT NULL)::boolean AS exists;
