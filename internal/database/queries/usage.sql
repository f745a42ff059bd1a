-- name: UsageCountersUpsert :one
-- One replica's flush, run under the usage_counters lock. A row that exists
-- gets the deltas added and its distinct counts replaced by the replica's
-- sets for the period; a row that does not (a snapshot took it: a new
-- period) is inserted with the deltas and the distinct counts of what was
-- seen since the last flush. The replica passes both distinct counts because
-- only this statement knows which case it is in; it reports which it was.
-- (Under the lock nothing else writes or deletes this row, so the CTE's
-- update-else-insert cannot race.)
WITH updated AS (
    UPDATE usage_counters AS c SET
        requests_allowed   = c.requests_allowed + sqlc.arg(requests_allowed),
        requests_denied    = c.requests_denied + sqlc.arg(requests_denied),
        input_tokens       = c.input_tokens + sqlc.arg(input_tokens),
        output_tokens      = c.output_tokens + sqlc.arg(output_tokens),
        cache_read_tokens  = c.cache_read_tokens + sqlc.arg(cache_read_tokens),
        cache_write_tokens = c.cache_write_tokens + sqlc.arg(cache_write_tokens),
        reasoning_tokens   = c.reasoning_tokens + sqlc.arg(reasoning_tokens),
        distinct_users     = sqlc.arg(period_users),
        distinct_providers = sqlc.arg(period_providers),
        updated_at         = sqlc.arg(now)
    WHERE c.replica_id = sqlc.arg(replica_id)
    RETURNING c.replica_id
), inserted AS (
    INSERT INTO usage_counters (replica_id, period_start, requests_allowed, requests_denied, input_tokens,
                                output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
                                distinct_users, distinct_providers, updated_at)
    SELECT sqlc.arg(replica_id), sqlc.arg(period_start), sqlc.arg(requests_allowed), sqlc.arg(requests_denied),
           sqlc.arg(input_tokens), sqlc.arg(output_tokens), sqlc.arg(cache_read_tokens),
           sqlc.arg(cache_write_tokens), sqlc.arg(reasoning_tokens), sqlc.arg(new_users), sqlc.arg(new_providers),
           sqlc.arg(now)
    WHERE NOT EXISTS (SELECT 1 FROM updated)
    RETURNING replica_id
)
SELECT EXISTS (SELECT 1 FROM inserted) AS inserted;

-- name: UsageCountersList :many
-- Every replica's row as it stands (tests, diagnostics).
SELECT * FROM usage_counters ORDER BY replica_id;

-- name: UsageSummaryGetAndReset :one
-- The cut-over: every replica's row summed and deleted in one statement,
-- under the usage_counters lock, so a flush is either in this sum or left
-- for the next one. With no rows it returns zeros, and counted_since (then
-- meaningless) is the epoch: sqlc cannot type a nullable aggregate.
WITH taken AS (
    DELETE FROM usage_counters RETURNING *
)
SELECT count(*)::integer                                  AS replicas,
       coalesce(min(period_start), 'epoch')::timestamptz  AS counted_since,
       coalesce(sum(requests_allowed), 0)::bigint         AS requests_allowed,
       coalesce(sum(requests_denied), 0)::bigint          AS requests_denied,
       coalesce(sum(input_tokens), 0)::bigint             AS input_tokens,
       coalesce(sum(output_tokens), 0)::bigint            AS output_tokens,
       coalesce(sum(cache_read_tokens), 0)::bigint        AS cache_read_tokens,
       coalesce(sum(cache_write_tokens), 0)::bigint       AS cache_write_tokens,
       coalesce(sum(reasoning_tokens), 0)::bigint         AS reasoning_tokens,
       coalesce(sum(distinct_users), 0)::bigint           AS distinct_users,
       coalesce(sum(distinct_providers), 0)::bigint       AS distinct_providers
FROM taken;

-- name: UsageCounterFlushGet :one
-- The last flush this replica committed (see usage_counter_flushes).
SELECT flush_id, inserted FROM usage_counter_flushes WHERE replica_id = sqlc.arg(replica_id);

-- name: UsageCounterFlushMark :exec
INSERT INTO usage_counter_flushes (replica_id, flush_id, inserted, flushed_at)
VALUES (sqlc.arg(replica_id), sqlc.arg(flush_id), sqlc.arg(inserted), sqlc.arg(now))
ON CONFLICT (replica_id) DO UPDATE
SET flush_id = EXCLUDED.flush_id, inserted = EXCLUDED.inserted, flushed_at = EXCLUDED.flushed_at;

-- name: UsageCounterFlushDeleteOld :execrows
DELETE FROM usage_counter_flushes WHERE flushed_at < sqlc.arg(before);

-- name: UsageSnapshotClaim :one
-- Claims a period for this replica: the row is inserted empty, and filled in
-- the same transaction. Another replica's claim of the same period end
-- conflicts and returns no row: that replica does nothing.
INSERT INTO usage_snapshots (period_start, period_end, taken_at, taken_by)
VALUES (sqlc.arg(period_start), sqlc.arg(period_end), sqlc.arg(now), sqlc.arg(taken_by))
ON CONFLICT (period_end) DO NOTHING
RETURNING id;

-- name: UsageSnapshotSetSummary :exec
UPDATE usage_snapshots SET
    counted_since      = sqlc.narg(counted_since),
    replicas           = sqlc.arg(replicas),
    requests_allowed   = sqlc.arg(requests_allowed),
    requests_denied    = sqlc.arg(requests_denied),
    input_tokens       = sqlc.arg(input_tokens),
    output_tokens      = sqlc.arg(output_tokens),
    cache_read_tokens  = sqlc.arg(cache_read_tokens),
    cache_write_tokens = sqlc.arg(cache_write_tokens),
    reasoning_tokens   = sqlc.arg(reasoning_tokens),
    distinct_users     = sqlc.arg(distinct_users),
    distinct_providers = sqlc.arg(distinct_providers)
WHERE id = sqlc.arg(id);

-- name: UsageSnapshotGetByID :one
SELECT * FROM usage_snapshots WHERE id = sqlc.arg(id);

-- name: UsageSnapshotList :many
-- Oldest first.
SELECT * FROM usage_snapshots ORDER BY period_end;

-- name: UsageSnapshotListUnsent :many
-- This replica's snapshots the telemetry endpoint has not accepted yet and
-- that have attempts left, oldest first.
SELECT * FROM usage_snapshots
WHERE taken_by = sqlc.arg(taken_by) AND telemetry_sent_at IS NULL AND telemetry_attempts < sqlc.arg(max_attempts)
ORDER BY period_end;

-- name: UsageSnapshotTelemetrySent :exec
UPDATE usage_snapshots
SET telemetry_sent_at = sqlc.arg(now)::timestamptz, telemetry_attempts = telemetry_attempts + 1, telemetry_last_error = NULL
WHERE id = sqlc.arg(id);

-- name: UsageSnapshotTelemetryFailed :exec
UPDATE usage_snapshots
SET telemetry_attempts = telemetry_attempts + 1, telemetry_last_error = sqlc.arg(last_error)::text
WHERE id = sqlc.arg(id);
