-- name: UsageRollupPlanSettings :exec
-- For the rest of the rollup's transaction. A plan made for the watermark's
-- value, every run: the first run reads the whole table, which makes the
-- average cost of the plans made so far so high that PostgreSQL would settle
-- on a generic plan (no value for since: a third of the table estimated,
-- and scanned). And no JIT: compiling the plan of a table of many partitions
-- takes longer than running it.
SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true);

-- name: UsageRollupStateGet :one
-- The watermarks of the last run, and this transaction's now(): the
-- watermark this run will set, taken before its scan.
SELECT watermark, daily_watermark, now()::timestamptz AS scan_start FROM usage_rollup_state;

-- name: UsageHourlyTouchedSpan :one
-- How many interceptions were recorded after since (NULL: ever), and the
-- earliest and latest start among them: UsageHourlyRecompute's window on
-- started_at. Every partition's recorded_at index is probed, which costs a
-- probe per partition, not per row.
SELECT count(*)::bigint                                   AS recorded,
       coalesce(min(started_at), 'epoch')::timestamptz    AS first_started_at,
       coalesce(max(started_at), 'epoch')::timestamptz    AS last_started_at
FROM interceptions
WHERE recorded_at > coalesce(sqlc.narg(since)::timestamptz, '-infinity');

-- name: UsageHourlyRecompute :one
-- Recomputes, from all their interceptions, the buckets that interceptions
-- recorded after since (NULL: ever) fall in, and upserts them; a bucket whose
-- values are unchanged is not written. Returns how many buckets were
-- recomputed and how many of them were written.
--
-- [from_hour, to_hour) is the span of those rows' hours (UsageHourlyTouchedSpan).
-- As plain values in a plan made for them, they let the planner leave out
-- every partition but the touched days', so it plans and costs only those:
-- without them it costs a probe of each partition per bucket, and prefers
-- hashing the whole table. A row committed between the two statements and
-- outside the span is left to the next tick, which finds it by its look-back
-- (it was recorded at most a write timeout before it committed), as it
-- finds any row committed behind the watermark.
WITH touched AS (
    SELECT DISTINCT date_trunc('hour', started_at, 'UTC') AS hour, user_id, provider_id, provider_name,
                    provider_type, model, client
    FROM interceptions
    WHERE recorded_at > coalesce(sqlc.narg(since)::timestamptz, '-infinity')
      AND started_at >= sqlc.arg(from_hour)::timestamptz AND started_at < sqlc.arg(to_hour)::timestamptz
),
recomputed AS (
    SELECT t.hour, t.user_id, t.provider_id, t.provider_name, t.provider_type, t.model, t.client,
           count(*)::bigint                                   AS requests,
           -- A denial is a policy doing its job, not a failure: counted
           -- apart, so that the error rate is of the requests admitted.
           count(*) FILTER (WHERE i.status NOT IN ('ok', 'denied'))::bigint AS errors,
           count(*) FILTER (WHERE i.status = 'denied')::bigint AS denied,
           sum(i.input_tokens)::bigint                        AS input_tokens,
           sum(i.output_tokens)::bigint                       AS output_tokens,
           sum(i.cache_read_tokens)::bigint                   AS cache_read_tokens,
           sum(i.cache_write_tokens)::bigint                  AS cache_write_tokens,
           sum(i.reasoning_tokens)::bigint                    AS reasoning_tokens,
           coalesce(sum(i.cost_micros), 0)::bigint            AS cost_micros,
           -- Requests with tokens and no price: their cost is missing from
           -- cost_micros, and the usage API says so.
           count(*) FILTER (WHERE i.cost_micros IS NULL
                              AND i.input_tokens + i.output_tokens + i.cache_read_tokens + i.cache_write_tokens > 0)::bigint
                                                              AS unpriced_requests,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY floor(extract(epoch FROM i.ended_at - i.started_at) * 1000)::integer)
                                                              AS latency_p50_ms,
           percentile_disc(0.95) WITHIN GROUP (ORDER BY floor(extract(epoch FROM i.ended_at - i.started_at) * 1000)::integer)
                                                              AS latency_p95_ms,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY i.ttfb_ms)  AS ttfb_p50_ms,
           percentile_disc(0.95) WITHIN GROUP (ORDER BY i.ttfb_ms) AS ttfb_p95_ms
    FROM touched t
    -- The hour twice: as a range, which an index probe of a few buckets
    -- uses, and as an equality, which a hash or merge join of many uses
    -- (without it, that join pairs each row with every hour of its key).
    JOIN interceptions i
      ON i.started_at >= t.hour AND i.started_at < t.hour + interval '1 hour'
     AND date_trunc('hour', i.started_at, 'UTC') = t.hour
     AND i.user_id = t.user_id AND i.provider_id = t.provider_id AND i.provider_name = t.provider_name
     AND i.provider_type = t.provider_type AND i.model = t.model AND i.client = t.client
    WHERE i.started_at >= sqlc.arg(from_hour)::timestamptz AND i.started_at < sqlc.arg(to_hour)::timestamptz
    GROUP BY t.hour, t.user_id, t.provider_id, t.provider_name, t.provider_type, t.model, t.client
),
written AS (
    INSERT INTO usage_hourly AS u (hour, user_id, provider_id, provider_name, provider_type, model, client,
                                   requests, errors, denied, input_tokens, output_tokens, cache_read_tokens,
                                   cache_write_tokens, reasoning_tokens, latency_p50_ms, latency_p95_ms,
                                   ttfb_p50_ms, ttfb_p95_ms, cost_micros, unpriced_requests, updated_at)
    SELECT hour, user_id, provider_id, provider_name, provider_type, model, client,
           requests, errors, denied, input_tokens, output_tokens, cache_read_tokens,
           cache_write_tokens, reasoning_tokens, latency_p50_ms, latency_p95_ms,
           ttfb_p50_ms, ttfb_p95_ms, cost_micros, unpriced_requests, now()
    FROM recomputed
    ON CONFLICT (hour, user_id, provider_id, provider_name, provider_type, model, client) DO UPDATE
    SET requests = excluded.requests, errors = excluded.errors, denied = excluded.denied,
        input_tokens = excluded.input_tokens,
        output_tokens = excluded.output_tokens, cache_read_tokens = excluded.cache_read_tokens,
        cache_write_tokens = excluded.cache_write_tokens, reasoning_tokens = excluded.reasoning_tokens,
        latency_p50_ms = excluded.latency_p50_ms, latency_p95_ms = excluded.latency_p95_ms,
        ttfb_p50_ms = excluded.ttfb_p50_ms, ttfb_p95_ms = excluded.ttfb_p95_ms,
        cost_micros = excluded.cost_micros, unpriced_requests = excluded.unpriced_requests,
        updated_at = excluded.updated_at
    -- A re-run, or a bucket touched only by rows already counted, writes
    -- no new row version: no churn for vacuum, and updated_at says when the
    -- numbers last moved.
    WHERE (u.requests, u.errors, u.denied, u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens,
           u.reasoning_tokens, u.latency_p50_ms, u.latency_p95_ms, u.ttfb_p50_ms, u.ttfb_p95_ms, u.cost_micros,
           u.unpriced_requests)
          IS DISTINCT FROM
          (excluded.requests, excluded.errors, excluded.denied, excluded.input_tokens, excluded.output_tokens,
           excluded.cache_read_tokens, excluded.cache_write_tokens, excluded.reasoning_tokens,
           excluded.latency_p50_ms, excluded.latency_p95_ms, excluded.ttfb_p50_ms, excluded.ttfb_p95_ms,
           excluded.cost_micros, excluded.unpriced_requests)
    RETURNING 1
)
SELECT (SELECT count(*) FROM recomputed)::bigint AS recomputed,
       (SELECT count(*) FROM written)::bigint    AS written;

-- name: UsageDailyRecompute :one
-- Recomputes, from their hourly buckets, the usage_daily rows of every
-- (day, key) one of whose hours this transaction changed (updated_at is its
-- now()) and, with catch_up, one of whose hours changed after since (NULL:
-- ever), and upserts them; a row whose values are unchanged is not written.
-- Returns how many were recomputed and how many of them written. Run after
-- UsageHourlyRecompute in the same transaction, so it sees the hours that
-- statement changed.
WITH touched AS (
    SELECT DISTINCT date_trunc('day', hour, 'UTC') AS day, user_id, provider_id, provider_name, provider_type,
                    model, client
    FROM usage_hourly
    WHERE updated_at = now()
       OR (sqlc.arg(catch_up)::boolean AND updated_at > coalesce(sqlc.narg(since)::timestamptz, '-infinity'))
),
recomputed AS (
    SELECT t.day, t.user_id, t.provider_id, t.provider_name, t.provider_type, t.model, t.client,
           sum(h.requests)::bigint                                                     AS requests,
           sum(h.errors)::bigint                                                       AS errors,
           sum(h.denied)::bigint                                                       AS denied,
           sum(h.input_tokens)::bigint                                                 AS input_tokens,
           sum(h.output_tokens)::bigint                                                AS output_tokens,
           sum(h.cache_read_tokens)::bigint                                            AS cache_read_tokens,
           sum(h.cache_write_tokens)::bigint                                           AS cache_write_tokens,
           sum(h.reasoning_tokens)::bigint                                             AS reasoning_tokens,
           sum(h.cost_micros)::bigint                                                  AS cost_micros,
           sum(h.unpriced_requests)::bigint                                            AS unpriced_requests,
           sum(h.latency_p50_ms::bigint * h.requests)::bigint                          AS latency_p50_weighted,
           sum(h.latency_p95_ms::bigint * h.requests)::bigint                          AS latency_p95_weighted,
           coalesce(sum(h.requests) FILTER (WHERE h.ttfb_p50_ms IS NOT NULL), 0)::bigint AS ttfb_requests,
           coalesce(sum(h.ttfb_p50_ms::bigint * h.requests), 0)::bigint                AS ttfb_p50_weighted,
           coalesce(sum(h.ttfb_p95_ms::bigint * h.requests), 0)::bigint                AS ttfb_p95_weighted
    FROM touched t
    -- The day twice, as UsageHourlyRecompute joins the hour: a range for
    -- probing a few keys' hours, an equality for hashing many.
    JOIN usage_hourly h
      ON h.hour >= t.day AND h.hour < t.day + interval '1 day'
     AND date_trunc('day', h.hour, 'UTC') = t.day
     AND h.user_id = t.user_id AND h.provider_id = t.provider_id AND h.provider_name = t.provider_name
     AND h.provider_type = t.provider_type AND h.model = t.model AND h.client = t.client
    GROUP BY t.day, t.user_id, t.provider_id, t.provider_name, t.provider_type, t.model, t.client
),
written AS (
    INSERT INTO usage_daily AS d (day, user_id, provider_id, provider_name, provider_type, model, client,
                                  requests, errors, denied, input_tokens, output_tokens, cache_read_tokens,
                                  cache_write_tokens, reasoning_tokens, latency_p50_weighted,
                                  latency_p95_weighted, ttfb_requests, ttfb_p50_weighted, ttfb_p95_weighted,
                                  cost_micros, unpriced_requests, updated_at)
    SELECT day, user_id, provider_id, provider_name, provider_type, model, client,
           requests, errors, denied, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
           reasoning_tokens, latency_p50_weighted, latency_p95_weighted, ttfb_requests, ttfb_p50_weighted,
           ttfb_p95_weighted, cost_micros, unpriced_requests, now()
    FROM recomputed
    ON CONFLICT (day, user_id, provider_id, provider_name, provider_type, model, client) DO UPDATE
    SET requests = excluded.requests, errors = excluded.errors, denied = excluded.denied,
        input_tokens = excluded.input_tokens,
        output_tokens = excluded.output_tokens, cache_read_tokens = excluded.cache_read_tokens,
        cache_write_tokens = excluded.cache_write_tokens, reasoning_tokens = excluded.reasoning_tokens,
        latency_p50_weighted = excluded.latency_p50_weighted, latency_p95_weighted = excluded.latency_p95_weighted,
        ttfb_requests = excluded.ttfb_requests, ttfb_p50_weighted = excluded.ttfb_p50_weighted,
        ttfb_p95_weighted = excluded.ttfb_p95_weighted, cost_micros = excluded.cost_micros,
        unpriced_requests = excluded.unpriced_requests, updated_at = excluded.updated_at
    WHERE (d.requests, d.errors, d.denied, d.input_tokens, d.output_tokens, d.cache_read_tokens, d.cache_write_tokens,
           d.reasoning_tokens, d.latency_p50_weighted, d.latency_p95_weighted, d.ttfb_requests,
           d.ttfb_p50_weighted, d.ttfb_p95_weighted, d.cost_micros, d.unpriced_requests)
          IS DISTINCT FROM
          (excluded.requests, excluded.errors, excluded.denied, excluded.input_tokens, excluded.output_tokens,
           excluded.cache_read_tokens, excluded.cache_write_tokens, excluded.reasoning_tokens,
           excluded.latency_p50_weighted, excluded.latency_p95_weighted, excluded.ttfb_requests,
           excluded.ttfb_p50_weighted, excluded.ttfb_p95_weighted, excluded.cost_micros,
           excluded.unpriced_requests)
    RETURNING 1
)
SELECT (SELECT count(*) FROM recomputed)::bigint AS recomputed,
       (SELECT count(*) FROM written)::bigint    AS written;

-- name: UsageRollupStateAdvance :exec
-- now() is the transaction's start, the scan_start UsageRollupStateGet read.
-- Both watermarks: this run recomputed the hours and then their days.
UPDATE usage_rollup_state
SET watermark = now(), daily_watermark = now(), updated_at = now(), updated_by = sqlc.arg(replica_id)::uuid;

-- name: UsageTotals :many
-- Sums the buckets whose hour starts in [from_hour, to_hour), of one user or
-- of all, grouped by one of user, provider, model, client, day (UTC) or
-- hour, or not at all (''). The whole UTC days of the window,
-- [days_from, days_to), are read from usage_daily, 24 times fewer rows; the
-- hours before and after them from usage_hourly (rollup.Totals computes the
-- bounds: from_hour <= days_from <= days_to, days_to within an hour after
-- to_hour, as a day is whole when its last hour starts before to_hour; and
-- days_from = days_to = to_hour when the window has no whole day or the
-- grouping is by hour). The key
-- columns of the other groupings are zero values rather than NULL, so they
-- scan into plain Go types; bucket_start is from_hour unless grouped by day
-- or hour. The *_weighted columns are the sums of the buckets' percentiles
-- times their requests, for a requests-weighted mean; ttfb_requests counts
-- the requests of buckets that have a TTFB. Run it with a plan made for its
-- values (database.PlanPerCall), so that one user's question reads the
-- user indexes.
WITH buckets AS (
    SELECT hour AS start, user_id, provider_id, provider_name, provider_type, model, client, requests, errors,
           denied, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
           latency_p50_ms::bigint * requests                      AS latency_p50_weighted,
           latency_p95_ms::bigint * requests                      AS latency_p95_weighted,
           CASE WHEN ttfb_p50_ms IS NOT NULL THEN requests ELSE 0 END AS ttfb_requests,
           coalesce(ttfb_p50_ms::bigint * requests, 0)            AS ttfb_p50_weighted,
           coalesce(ttfb_p95_ms::bigint * requests, 0)            AS ttfb_p95_weighted,
           cost_micros, unpriced_requests
    FROM usage_hourly head
    WHERE head.hour >= sqlc.arg(from_hour) AND head.hour < sqlc.arg(days_from)
      AND (sqlc.narg(user_id)::uuid IS NULL OR head.user_id = sqlc.narg(user_id)::uuid)
    UNION ALL
    SELECT day, user_id, provider_id, provider_name, provider_type, model, client, requests, errors,
           denied, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
           latency_p50_weighted, latency_p95_weighted, ttfb_requests, ttfb_p50_weighted, ttfb_p95_weighted,
           cost_micros, unpriced_requests
    FROM usage_daily days
    WHERE days.day >= sqlc.arg(days_from) AND days.day < sqlc.arg(days_to)
      AND (sqlc.narg(user_id)::uuid IS NULL OR days.user_id = sqlc.narg(user_id)::uuid)
    UNION ALL
    SELECT hour, user_id, provider_id, provider_name, provider_type, model, client, requests, errors,
           denied, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
           latency_p50_ms::bigint * requests, latency_p95_ms::bigint * requests,
           CASE WHEN ttfb_p50_ms IS NOT NULL THEN requests ELSE 0 END,
           coalesce(ttfb_p50_ms::bigint * requests, 0), coalesce(ttfb_p95_ms::bigint * requests, 0),
           cost_micros, unpriced_requests
    FROM usage_hourly tail
    WHERE tail.hour >= sqlc.arg(days_to) AND tail.hour < sqlc.arg(to_hour)
      AND (sqlc.narg(user_id)::uuid IS NULL OR tail.user_id = sqlc.narg(user_id)::uuid)
)
SELECT coalesce(CASE sqlc.arg(group_by)::text
                    WHEN 'hour' THEN start
                    WHEN 'day' THEN date_trunc('day', start, 'UTC')
                END, sqlc.arg(from_hour))::timestamptz                                    AS bucket_start,
       coalesce(CASE WHEN sqlc.arg(group_by)::text = 'user' THEN user_id END,
                '00000000-0000-0000-0000-000000000000')::uuid                            AS user_id,
       coalesce(CASE WHEN sqlc.arg(group_by)::text = 'provider' THEN provider_id END,
                '00000000-0000-0000-0000-000000000000')::uuid                            AS provider_id,
       coalesce(CASE WHEN sqlc.arg(group_by)::text = 'provider' THEN provider_name END, '')::text AS provider_name,
       coalesce(CASE WHEN sqlc.arg(group_by)::text = 'provider' THEN provider_type::text END, '')::text AS provider_type,
       coalesce(CASE WHEN sqlc.arg(group_by)::text = 'model' THEN model END, '')::text   AS model,
       coalesce(CASE WHEN sqlc.arg(group_by)::text = 'client' THEN client END, '')::text AS client,
       sum(requests)::bigint                                                             AS requests,
       sum(errors)::bigint                                                               AS errors,
       sum(denied)::bigint                                                               AS denied,
       sum(input_tokens)::bigint                                                         AS input_tokens,
       sum(output_tokens)::bigint                                                        AS output_tokens,
       sum(cache_read_tokens)::bigint                                                    AS cache_read_tokens,
       sum(cache_write_tokens)::bigint                                                   AS cache_write_tokens,
       sum(reasoning_tokens)::bigint                                                     AS reasoning_tokens,
       sum(latency_p50_weighted)::bigint                                                 AS latency_p50_weighted,
       sum(latency_p95_weighted)::bigint                                                 AS latency_p95_weighted,
       sum(ttfb_requests)::bigint                                                        AS ttfb_requests,
       sum(ttfb_p50_weighted)::bigint                                                    AS ttfb_p50_weighted,
       sum(ttfb_p95_weighted)::bigint                                                    AS ttfb_p95_weighted,
       sum(cost_micros)::bigint                                                          AS cost_micros,
       sum(unpriced_requests)::bigint                                                    AS unpriced_requests
FROM buckets
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY bucket_start, requests DESC, user_id, provider_name, provider_id, model, client;

-- name: UsageUnpricedModels :many
-- The models with unpriced requests (tokens, no price) among the buckets
-- whose hour starts in [from_hour, to_hour), of one user or of all, with
-- how many: what the usage API and the dashboard's banner name. Read from
-- the hourly buckets alone: a window's unpriced buckets are few.
SELECT provider_type::text AS provider_type, model, sum(unpriced_requests)::bigint AS unpriced_requests
FROM usage_hourly
WHERE hour >= sqlc.arg(from_hour) AND hour < sqlc.arg(to_hour) AND unpriced_requests > 0
  AND (sqlc.narg(user_id)::uuid IS NULL OR user_id = sqlc.narg(user_id)::uuid)
GROUP BY provider_type, model
ORDER BY unpriced_requests DESC, provider_type, model
LIMIT 100;
