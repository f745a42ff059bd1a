-- The price book (internal/pricing) and the cost of each request: what a
-- model's tokens cost, the cost the gateway computes from it for every
-- interception, and the rollups' sums of it.

-- The rollup's lock (database.LockUsageRollup, 0x61696761_00000005) first,
-- as in 0011: a tick of a replica of the version before runs to its end
-- before the buckets change shape, and later ones wait for this to commit.
SELECT pg_advisory_xact_lock(7019255160543117317);

-- One price of a model, in micro-dollars (1e-6 USD) per million tokens, so
-- $3.00 per million tokens is 3000000 and every cost is integer arithmetic
-- (pricing.Price.Cost). Rows come from the default book shipped in the
-- binary (source 'default', replaced by a newer book at startup under the
-- price_book lock) or from an operator (source 'override', through the API,
-- audited); an override wins over a default.
--
-- model is an exact name or a prefix pattern ending in '*' ("claude-sonnet-4-5*"),
-- lower case, as pricing normalises the names it looks up. A request's
-- price is, of the rows of its provider type whose model matches: the
-- override rows if any, else the default ones; the exact name, else the
-- longest prefix; the latest effective_from at or before the request's
-- start; and of that version, the tier with the largest min_input_tokens
-- below the request's prompt (input including cached tokens; 0 is the
-- normal tier, which always applies).
CREATE TABLE model_prices (
    id               uuid             PRIMARY KEY,
    source           text             NOT NULL CHECK (source IN ('default', 'override')),
    provider_type    ai_provider_type NOT NULL,
    model            text             NOT NULL CHECK (model ~ '^[^*]+\*?$' AND model = lower(model)),
    min_input_tokens bigint           NOT NULL DEFAULT 0 CHECK (min_input_tokens >= 0),
    effective_from   timestamptz      NOT NULL,
    input            bigint           NOT NULL CHECK (input >= 0),
    output           bigint           NOT NULL CHECK (output >= 0),
    cache_read       bigint           NOT NULL CHECK (cache_read >= 0),
    cache_write_5m   bigint           NOT NULL CHECK (cache_write_5m >= 0),
    cache_write_1h   bigint           NOT NULL CHECK (cache_write_1h >= 0),
    -- NULL: reasoning tokens are billed as output, as every vendor does today.
    reasoning        bigint           CHECK (reasoning >= 0),
    note             text             NOT NULL DEFAULT '',
    created_at       timestamptz      NOT NULL,
    updated_at       timestamptz      NOT NULL,
    UNIQUE (source, provider_type, model, min_input_tokens, effective_from)
);

-- The default book loaded: its as_of date, which a replica compares with
-- the one it ships to decide whether to replace the default rows.
CREATE TABLE price_book_state (
    singleton     boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    default_as_of date,
    loaded_at     timestamptz,
    loaded_by     uuid
);

INSERT INTO price_book_state DEFAULT VALUES;

-- The cost of each request, from the price in effect at its start; NULL when
-- its model has no price (never a silent 0). cache_write_tokens stays the
-- total of the 5-minute and 1-hour cache writes; the 1-hour part, which
-- Anthropic bills at 2x input rather than 1.25x, is kept apart.
ALTER TABLE interceptions ADD COLUMN cost_micros bigint CHECK (cost_micros >= 0);
ALTER TABLE interceptions ADD COLUMN cache_write_1h_tokens bigint NOT NULL DEFAULT 0
    CHECK (cache_write_1h_tokens >= 0 AND cache_write_1h_tokens <= cache_write_tokens);

-- The buckets' cost (the sum of their priced requests) and their unpriced
-- requests: requests with tokens and no cost, whose cost the sum lacks.
ALTER TABLE usage_hourly ADD COLUMN cost_micros bigint NOT NULL DEFAULT 0 CHECK (cost_micros >= 0);
ALTER TABLE usage_hourly ADD COLUMN unpriced_requests bigint NOT NULL DEFAULT 0
    CHECK (unpriced_requests >= 0 AND unpriced_requests <= requests);
ALTER TABLE usage_daily ADD COLUMN cost_micros bigint NOT NULL DEFAULT 0 CHECK (cost_micros >= 0);
ALTER TABLE usage_daily ADD COLUMN unpriced_requests bigint NOT NULL DEFAULT 0
    CHECK (unpriced_requests >= 0 AND unpriced_requests <= requests);

-- Every request recorded before this migration is unpriced. The buckets
-- hold no per-request tokens, so their unpriced count is estimated as the
-- requests that ended ok in buckets that have tokens (those that failed
-- rarely have any); a bucket the rollup recomputes later gets the exact
-- count. The days are the sums of their hours, as always.
UPDATE usage_hourly
SET unpriced_requests = requests - errors
WHERE input_tokens + output_tokens + cache_read_tokens + cache_write_tokens > 0 AND requests > errors;

UPDATE usage_daily d
SET unpriced_requests = h.unpriced
FROM (SELECT date_trunc('day', hour, 'UTC') AS day, user_id, provider_id, provider_name, provider_type, model,
             client, sum(unpriced_requests) AS unpriced
      FROM usage_hourly
      GROUP BY 1, 2, 3, 4, 5, 6, 7) h
WHERE d.day = h.day AND d.user_id = h.user_id AND d.provider_id = h.provider_id
  AND d.provider_name = h.provider_name AND d.provider_type = h.provider_type AND d.model = h.model
  AND d.client = h.client AND h.unpriced > 0;

-- The unpriced buckets of a window, for the usage API's list of unpriced
-- models: few rows, found without reading the window's others.
CREATE INDEX usage_hourly_unpriced_idx ON usage_hourly (hour) WHERE unpriced_requests > 0;
