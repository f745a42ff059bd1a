-- name: ReplicaInsert :exec
INSERT INTO replicas (id, hostname, version, http_address, started_at, last_seen_at)
VALUES (sqlc.arg(id), sqlc.arg(hostname), sqlc.arg(version), sqlc.arg(http_address), sqlc.arg(now), sqlc.arg(now));

-- name: ReplicaHeartbeat :execrows
UPDATE replicas
SET last_seen_at = sqlc.arg(now), stale = false, http_address = sqlc.arg(http_address)
WHERE id = sqlc.arg(id);

-- name: ReplicaMarkStale :execrows
UPDATE replicas
SET stale = true
WHERE NOT stale AND stopped_at IS NULL AND last_seen_at < sqlc.arg(seen_before);

-- name: ReplicaDeleteOld :execrows
DELETE FROM replicas WHERE last_seen_at < sqlc.arg(seen_before);

-- name: ReplicaStop :exec
UPDATE replicas SET stopped_at = sqlc.arg(now)::timestamptz, last_seen_at = sqlc.arg(now)::timestamptz WHERE id = sqlc.arg(id);

-- name: ReplicaList :many
SELECT * FROM replicas ORDER BY started_at, id;
