-- name: AdvisoryXactLock :exec
SELECT pg_advisory_xact_lock(sqlc.arg(id)::bigint);

-- name: AdvisoryXactTryLock :one
SELECT pg_try_advisory_xact_lock(sqlc.arg(id)::bigint);

-- name: AdvisoryLockHolders :many
-- The sessions holding a bigint advisory lock, for the log line written while
-- another session waits for it. Advisory locks belong to a database: without
-- the database condition, sessions holding the same key in another database
-- of the cluster would be named as holders.
SELECT a.pid::integer AS pid,
       a.application_name::text AS application_name,
       coalesce(host(a.client_addr), 'local')::text AS client_addr,
       coalesce((extract(epoch FROM now() - a.xact_start) * 1000)::bigint, 0)::bigint AS xact_age_ms
FROM pg_catalog.pg_locks l
JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory'
  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND l.granted
  AND l.classid::bigint = sqlc.arg(class_id)::bigint
  AND l.objid::bigint = sqlc.arg(obj_id)::bigint
  AND l.objsubid = 1;
