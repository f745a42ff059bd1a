-- Hourly usage buckets rolled up from interceptions by internal/rollup, and
-- the rollup's watermark. The protocol (one replica per tick under the
-- usage_rollup lock, the look-back, the recompute of touched buckets) is drawn
-- in internal/rollup/doc.go.
--
-- One row per (hour, user, provider, model, client) that had a request: the
-- hour is the UTC hour the request started in (interceptions.started_at),
-- never when it was recorded, so a late record lands in the hour it belongs
-- to. The provider's id, name and type are all in the key, as interceptions
-- copies them: a renamed provider keeps its history under the name it had.
-- The rows are derived: recomputing a bucket from its interceptions gives
-- the same row, so they can always be rebuilt (drop the rows, set the
-- watermark to NULL). They are kept when interceptions are pruned.
CREATE TABLE usage_hourly (
    hour               timestamptz      NOT NULL CHECK (hour = date_trunc('hour', hour, 'UTC')),
    user_id            uuid             NOT NULL,
    provider_id        uuid             NOT NULL,
    provider_name      text             NOT NULL,
    provider_type      ai_provider_type NOT NULL,
    model              text             NOT NULL,
    client             text             NOT NULL,
    requests           bigint           NOT NULL CHECK (requests > 0),
    -- Requests whose status is not 'ok' (upstream and gateway errors, and
    -- requests the client cancelled).
    errors             bigint           NOT NULL CHECK (errors >= 0 AND errors <= requests),
    input_tokens       bigint           NOT NULL CHECK (input_tokens >= 0),
    output_tokens      bigint           NOT NULL CHECK (output_tokens >= 0),
    cache_read_tokens  bigint           NOT NULL CHECK (cache_read_tokens >= 0),
    cache_write_tokens bigint           NOT NULL CHECK (cache_write_tokens >= 0),
    reasoning_tokens   bigint           NOT NULL CHECK (reasoning_tokens >= 0),
    -- Nearest-rank percentiles (percentile_disc: a value some request had)
    -- of ended_at - started_at, in whole milliseconds rounded down.
    latency_p50_ms     integer          NOT NULL CHECK (latency_p50_ms >= 0),
    latency_p95_ms     integer          NOT NULL CHECK (latency_p95_ms >= latency_p50_ms),
    -- The same of interceptions.ttfb_ms; NULL when no request of the bucket
    -- got a byte back.
    ttfb_p50_ms        integer          CHECK (ttfb_p50_ms >= 0),
    ttfb_p95_ms        integer          CHECK (ttfb_p95_ms >= ttfb_p50_ms),
    -- The database's now() in the run that last changed the row: the
    -- watermark that run set. A run that finds the row unchanged leaves it
    -- alone, updated_at included.
    updated_at         timestamptz      NOT NULL,
    -- Also the index for reads by hour (the whole fleet over a window).
    PRIMARY KEY (hour, user_id, provider_id, provider_name, provider_type, model, client)
);

-- One user's usage over a window (a member's own).
CREATE INDEX usage_hourly_user_id_hour_idx ON usage_hourly (user_id, hour);

-- The rollup's one row.
CREATE TABLE usage_rollup_state (
    singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    -- The database's now() at the start of the last run's transaction, which
    -- came before its scan; NULL until the first run, which reads every
    -- interception. The next run recomputes the buckets of interceptions
    -- recorded after watermark minus its look-back: rows recorded (their
    -- COPY begun) before the watermark but committed after the scan began
    -- are found again by the look-back (see interceptions.recorded_at).
    watermark  timestamptz,
    updated_at timestamptz,
    -- The replica whose run set the watermark.
    updated_by uuid
);

INSERT INTO usage_rollup_state DEFAULT VALUES;
