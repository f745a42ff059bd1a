-- name: InterceptionInsertBatch :copyfrom
-- A batch of records in one COPY: all rows or none. recorded_at takes its
-- default, the database's clock.
INSERT INTO interceptions (id, replica_id, request_id, user_id, token_id, provider_id, provider_name,
                           provider_type, model, endpoint, streaming, started_at, ended_at, ttfb_ms, status,
                           upstream_status, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                           reasoning_tokens, tool_calls, prompt, error)
VALUES (sqlc.arg(id), sqlc.arg(replica_id), sqlc.arg(request_id), sqlc.arg(user_id), sqlc.arg(token_id),
        sqlc.arg(provider_id), sqlc.arg(provider_name), sqlc.arg(provider_type), sqlc.arg(model),
        sqlc.arg(endpoint), sqlc.arg(streaming), sqlc.arg(started_at), sqlc.arg(ended_at), sqlc.narg(ttfb_ms),
        sqlc.arg(status), sqlc.narg(upstream_status), sqlc.arg(input_tokens), sqlc.arg(output_tokens),
        sqlc.arg(cache_read_tokens), sqlc.arg(cache_write_tokens), sqlc.arg(reasoning_tokens),
        sqlc.arg(tool_calls), sqlc.narg(prompt), sqlc.narg(error));

-- name: InterceptionListExistingIDs :many
-- Which of these ids are already written: a batch retried after an attempt
-- whose outcome was unknown (the commit landed, the answer did not).
SELECT id FROM interceptions WHERE id = ANY(sqlc.arg(ids)::uuid[]);

-- name: InterceptionGetByID :one
SELECT * FROM interceptions WHERE id = sqlc.arg(id);

-- name: InterceptionListByStartedAt :many
-- Oldest first, started in [since, until). The cursor is the (started_at, id)
-- of the last row of the previous page; rows strictly after it come next.
SELECT * FROM interceptions
WHERE started_at >= sqlc.arg(since) AND started_at < sqlc.arg(until)
  AND (sqlc.narg(cursor_started_at)::timestamptz IS NULL
       OR (started_at, id) > (sqlc.narg(cursor_started_at), sqlc.arg(cursor_id)::uuid))
ORDER BY started_at, id
LIMIT sqlc.arg(row_limit);
