-- name: AuditLogInsert :one
INSERT INTO audit_logs (time, actor, actor_email, action, resource_type, resource_id, resource_name, diff, request_id, ip, user_agent, status_code)
VALUES (sqlc.arg(time), sqlc.arg(actor), sqlc.arg(actor_email), sqlc.arg(action), sqlc.arg(resource_type), sqlc.arg(resource_id),
        sqlc.arg(resource_name), sqlc.arg(diff), sqlc.arg(request_id), sqlc.arg(ip), sqlc.arg(user_agent), sqlc.arg(status_code))
RETURNING id;

-- name: AuditLogList :many
-- Newest first. The cursor is the (time, id) of the last row of the previous
-- page; rows strictly after it in that order come next.
SELECT * FROM audit_logs
WHERE (sqlc.narg(resource_type)::text IS NULL OR resource_type = sqlc.narg(resource_type))
  AND (sqlc.narg(resource)::text IS NULL OR resource_id = sqlc.narg(resource) OR resource_name = sqlc.narg(resource))
  AND (sqlc.narg(actor)::text IS NULL OR actor = sqlc.narg(actor) OR actor_email = sqlc.narg(actor))
  AND (sqlc.narg(action)::text IS NULL OR action = sqlc.narg(action))
  AND (sqlc.narg(since)::timestamptz IS NULL OR time >= sqlc.narg(since))
  AND (sqlc.narg(until)::timestamptz IS NULL OR time < sqlc.narg(until))
  AND (sqlc.narg(cursor_time)::timestamptz IS NULL OR (time, id) < (sqlc.narg(cursor_time), sqlc.narg(cursor_id)::bigint))
ORDER BY time DESC, id DESC
LIMIT sqlc.arg(row_limit);
