-- Daily usage buckets: the hourly buckets (usage_hourly) summed per UTC day,
-- kept by the rollup in the same transaction as the hours they sum
-- (internal/rollup, doc.go). Usage over days reads them instead of 24 times
-- as many hourly rows: the dashboard's 30-day overview summed 157,000 hourly
-- buckets of a million requests five times per view, about 1 s on two cores
-- (docs/performance.md); the days are about 12,000 rows. Totals reads the
-- whole days of a window here and the hours at its ends from usage_hourly,
-- so answers are unchanged.
--
-- One row per (day, user, provider, model, client) of the hourly buckets,
-- and equal to their sum: the latencies as the sums of the hourly
-- percentiles times their requests (what Totals weighs them by), the TTFB
-- sums over the hours that have one, with the requests of those hours. Like
-- usage_hourly the rows are derived: drop them and set daily_watermark to
-- NULL, and the next tick sums every hour again.

-- The rollup's lock (database.LockUsageRollup, 0x61696761_00000005) first,
-- before any table lock a tick would wait for: a tick of a replica of the
-- version before runs to its end, and later ones skip until this commits, so
-- no hour changes between the sum below and the daily watermark.
SELECT pg_advisory_xact_lock(7019255160543117317);

CREATE TABLE usage_daily (
    day                  timestamptz      NOT NULL CHECK (day = date_trunc('day', day, 'UTC')),
    user_id              uuid             NOT NULL,
    provider_id          uuid             NOT NULL,
    provider_name        text             NOT NULL,
    provider_type        ai_provider_type NOT NULL,
    model                text             NOT NULL,
    client               text             NOT NULL,
    requests             bigint           NOT NULL CHECK (requests > 0),
    errors               bigint           NOT NULL CHECK (errors >= 0 AND errors <= requests),
    input_tokens         bigint           NOT NULL CHECK (input_tokens >= 0),
    output_tokens        bigint           NOT NULL CHECK (output_tokens >= 0),
    cache_read_tokens    bigint           NOT NULL CHECK (cache_read_tokens >= 0),
    cache_write_tokens   bigint           NOT NULL CHECK (cache_write_tokens >= 0),
    reasoning_tokens     bigint           NOT NULL CHECK (reasoning_tokens >= 0),
    latency_p50_weighted bigint           NOT NULL CHECK (latency_p50_weighted >= 0),
    latency_p95_weighted bigint           NOT NULL CHECK (latency_p95_weighted >= latency_p50_weighted),
    ttfb_requests        bigint           NOT NULL CHECK (ttfb_requests >= 0 AND ttfb_requests <= requests),
    ttfb_p50_weighted    bigint           NOT NULL CHECK (ttfb_p50_weighted >= 0),
    ttfb_p95_weighted    bigint           NOT NULL CHECK (ttfb_p95_weighted >= ttfb_p50_weighted),
    -- The database's now() in the run that last changed the row.
    updated_at           timestamptz      NOT NULL,
    -- Also the index for reads by day (the whole fleet over a window).
    PRIMARY KEY (day, user_id, provider_id, provider_name, provider_type, model, client)
);

-- One user's usage over days (a member's own).
CREATE INDEX usage_daily_user_id_day_idx ON usage_daily (user_id, day);

-- The hourly buckets a run changed, by their updated_at: the days to sum
-- again. A tick changes the buckets of the last few minutes' requests, so
-- it reads a few rows of this index, not the table.
CREATE INDEX usage_hourly_updated_at_idx ON usage_hourly (updated_at);

-- One key's hours of a day, to sum them: a probe reads at most 24 entries.
-- With (user_id, hour) alone it read all the user's buckets of the day, for
-- each of their keys (every model and client), which at the end of a busy
-- day is hundreds a probe.
CREATE INDEX usage_hourly_key_hour_idx ON usage_hourly (user_id, provider_id, provider_name, provider_type, model, client, hour);

-- The runs that keep usage_daily find the hours changed since the last of
-- them by updated_at > daily_watermark (less the look-back), not by the
-- interceptions' watermark: during a rolling upgrade replicas of the version
-- before this migration still tick, changing hours and moving the watermark
-- without summing the days, and the next tick of this version must find
-- those hours too.
ALTER TABLE usage_rollup_state ADD COLUMN daily_watermark timestamptz;

-- The days of the hours there are.
INSERT INTO usage_daily (day, user_id, provider_id, provider_name, provider_type, model, client, requests, errors,
                         input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
                         latency_p50_weighted, latency_p95_weighted, ttfb_requests, ttfb_p50_weighted,
                         ttfb_p95_weighted, updated_at)
SELECT date_trunc('day', hour, 'UTC'), user_id, provider_id, provider_name, provider_type, model, client,
       sum(requests), sum(errors), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens),
       sum(cache_write_tokens), sum(reasoning_tokens),
       sum(latency_p50_ms::bigint * requests), sum(latency_p95_ms::bigint * requests),
       coalesce(sum(requests) FILTER (WHERE ttfb_p50_ms IS NOT NULL), 0),
       coalesce(sum(ttfb_p50_ms::bigint * requests), 0), coalesce(sum(ttfb_p95_ms::bigint * requests), 0),
       now()
FROM usage_hourly
GROUP BY 1, 2, 3, 4, 5, 6, 7;

UPDATE usage_rollup_state SET daily_watermark = now();
