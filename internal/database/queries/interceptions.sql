-- name: InterceptionInsertBatch :copyfrom
-- A batch of records in one COPY: all rows or none. recorded_at takes its
-- default, the database's clock.
INSERT INTO interceptions (id, replica_id, request_id, user_id, token_id, provider_id, provider_name,
                           provider_type, model, endpoint, streaming, client, session_id, started_at, ended_at,
                           ttfb_ms, status, upstream_status, input_tokens, output_tokens, cache_read_tokens,
                           cache_write_tokens, reasoning_tokens, tool_calls, prompt, error, cost_micros,
                           cache_write_1h_tokens)
VALUES (sqlc.arg(id), sqlc.arg(replica_id), sqlc.arg(request_id), sqlc.arg(user_id), sqlc.arg(token_id),
        sqlc.arg(provider_id), sqlc.arg(provider_name), sqlc.arg(provider_type), sqlc.arg(model),
        sqlc.arg(endpoint), sqlc.arg(streaming), sqlc.arg(client), sqlc.narg(session_id), sqlc.arg(started_at),
        sqlc.arg(ended_at), sqlc.narg(ttfb_ms),
        sqlc.arg(status), sqlc.narg(upstream_status), sqlc.arg(input_tokens), sqlc.arg(output_tokens),
        sqlc.arg(cache_read_tokens), sqlc.arg(cache_write_tokens), sqlc.arg(reasoning_tokens),
        sqlc.arg(tool_calls), sqlc.narg(prompt), sqlc.narg(error), sqlc.narg(cost_micros),
        sqlc.arg(cache_write_1h_tokens));

-- name: InterceptionListExistingIDs :many
-- Which of these ids are already written: a batch retried after an attempt
-- whose outcome was unknown (the commit landed, the answer did not). The
-- bounds on started_at (the batch's earliest and latest) keep the lookup to
-- the partitions the batch went to.
SELECT id FROM interceptions
WHERE id = ANY(sqlc.arg(ids)::uuid[])
  AND started_at BETWEEN sqlc.arg(min_started_at) AND sqlc.arg(max_started_at);

-- name: InterceptionGetByID :one
-- Without started_at this looks the id up in every partition's primary key
-- index: one probe a day kept.
SELECT * FROM interceptions WHERE id = sqlc.arg(id);

-- name: InterceptionGetByIDStartedBetween :one
-- The id, started in [since, until): the bounds leave the planner one
-- partition to probe (at execution, for a generic plan), when they lie in
-- one day, as the millisecond an id carries does (interceptions.NewID).
SELECT * FROM interceptions
WHERE id = sqlc.arg(id) AND started_at >= sqlc.arg(since) AND started_at < sqlc.arg(until);

-- name: InterceptionListByStartedAt :many
-- Oldest first, started in [since, until). The cursor is the (started_at, id)
-- of the last row of the previous page; rows strictly after it come next.
SELECT * FROM interceptions
WHERE started_at >= sqlc.arg(since) AND started_at < sqlc.arg(until)
  AND (sqlc.narg(cursor_started_at)::timestamptz IS NULL
       OR (started_at, id) > (sqlc.narg(cursor_started_at), sqlc.arg(cursor_id)::uuid))
ORDER BY started_at, id
LIMIT sqlc.arg(row_limit);

-- name: InterceptionList :many
-- Newest first, without the prompts. Empty filters match everything. The
-- cursor is the (started_at, id) of the last row of the previous page; rows
-- strictly before it in that order come next. Run it with a plan made for
-- its values (database.PlanPerCall), so that the filters left empty
-- drop out and the planner reads the one index and the partitions that fit.
SELECT id, replica_id, request_id, user_id, token_id, provider_id, provider_name, provider_type, model, endpoint,
       streaming, client, session_id, started_at, ended_at, ttfb_ms, status, upstream_status, input_tokens,
       output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, tool_calls, error, recorded_at,
       cost_micros, cache_write_1h_tokens
FROM interceptions
WHERE (sqlc.narg(user_id)::uuid IS NULL OR user_id = sqlc.narg(user_id))
  AND (sqlc.narg(provider_name)::text IS NULL OR provider_name = sqlc.narg(provider_name))
  AND (sqlc.narg(model)::text IS NULL OR model = sqlc.narg(model))
  AND (sqlc.narg(client)::text IS NULL OR client = sqlc.narg(client))
  AND (sqlc.narg(session_id)::text IS NULL OR session_id = sqlc.narg(session_id))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(since)::timestamptz IS NULL OR started_at >= sqlc.narg(since))
  AND (sqlc.narg(until)::timestamptz IS NULL OR started_at < sqlc.narg(until))
  AND (sqlc.narg(cursor_started_at)::timestamptz IS NULL
       OR (started_at, id) < (sqlc.narg(cursor_started_at), sqlc.narg(cursor_id)::uuid))
  -- Implied by the row comparison, which the planner cannot prune
  -- partitions by: this skips the days after the cursor.
  AND (sqlc.narg(cursor_started_at)::timestamptz IS NULL OR started_at <= sqlc.narg(cursor_started_at))
ORDER BY started_at DESC, id DESC
LIMIT sqlc.arg(row_limit);

-- name: InterceptionPartitionList :many
-- The partitions of interceptions, the default one included, by name.
SELECT c.relname::text AS name
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'interceptions'::regclass
ORDER BY c.relname;

-- name: InterceptionPartitionCreate :one
-- Makes the partition of a UTC day, moving that day's rows out of the
-- default partition; returns how many it moved (migration 0007).
SELECT interceptions_partition_create(sqlc.arg(day)::date)::bigint AS moved;

-- name: InterceptionPartitionDrop :one
-- Drops the partition of a UTC day with its rows (migration 0007).
SELECT interceptions_partition_drop(sqlc.arg(day)::date)::boolean AS dropped;

-- name: InterceptionDefaultPartitionDays :many
-- The UTC days of the rows in the default partition started in [since, until).
SELECT DISTINCT date_trunc('day', started_at, 'UTC')::timestamptz AS day
FROM interceptions_default
WHERE started_at >= sqlc.arg(since) AND started_at < sqlc.arg(until)
ORDER BY day;

-- name: InterceptionDefaultPartitionDeleteBefore :execrows
-- Rows of the default partition started before the retention's cutoff: the
-- few whose day never had a partition (the rest go with their partition).
DELETE FROM interceptions_default WHERE started_at < sqlc.arg(cutoff);

-- name: InterceptionDefaultPartitionCount :one
SELECT count(*) FROM interceptions_default;

-- name: InterceptionRetentionLockTimeout :exec
-- Bounds, for the rest of the transaction, how long a statement waits for a
-- table lock: the partition DDL waits behind running queries, and the writes
-- queued behind it wait as long.
SELECT set_config('lock_timeout', sqlc.arg(timeout)::text, true);
