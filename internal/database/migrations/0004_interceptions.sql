-- One row per request the gateway intercepted: who, which provider and model,
-- how long, how it ended and the token usage. The usage rollups read it.
--
-- An append-only fact table, written in batches with COPY by each replica's
-- recorder (internal/interceptions), never updated. No foreign keys, on
-- purpose: a record must outlive the user, token or provider it names (the
-- history stays when they are deleted), it must never be refused because one
-- of them was deleted between the request and the batch, and checking a key
-- per row would slow every COPY and lock the referenced rows. The provider's
-- name and type are copied in for the same reason.
CREATE TABLE interceptions (
    -- Made by the gateway (UUIDv7, so roughly in time order), which makes a
    -- retried batch idempotent: a row already written has the same id.
    id                 uuid             PRIMARY KEY,
    replica_id         uuid             NOT NULL,
    request_id         text             NOT NULL,
    user_id            uuid             NOT NULL,
    -- api_tokens.id, the non-secret half of the token.
    token_id           text             NOT NULL,
    provider_id        uuid             NOT NULL,
    provider_name      text             NOT NULL,
    provider_type      ai_provider_type NOT NULL,
    model              text             NOT NULL,
    endpoint           text             NOT NULL CHECK (endpoint IN ('chat_completions', 'responses', 'messages')),
    streaming          boolean          NOT NULL,
    started_at         timestamptz      NOT NULL,
    ended_at           timestamptz      NOT NULL,
    -- NULL when no byte came back from the provider.
    ttfb_ms            integer          CHECK (ttfb_ms >= 0),
    status             text             NOT NULL CHECK (status IN ('ok', 'upstream_error', 'client_cancelled', 'gateway_error')),
    -- NULL when the provider never answered.
    upstream_status    integer          CHECK (upstream_status BETWEEN 100 AND 599),
    input_tokens       bigint           NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens      bigint           NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cache_read_tokens  bigint           NOT NULL DEFAULT 0 CHECK (cache_read_tokens >= 0),
    cache_write_tokens bigint           NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0),
    reasoning_tokens   bigint           NOT NULL DEFAULT 0 CHECK (reasoning_tokens >= 0),
    -- [{"id", "name"}] in the order the model made them.
    tool_calls         jsonb            NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tool_calls) = 'array'),
    -- Only with prompt capture on (--record-prompts).
    prompt             jsonb,
    -- A short message for an operator; never secrets.
    error              text,
    -- When the row was written, by the database's clock (one clock for every
    -- replica): records arrive late (batched, retried), so the rollups'
    -- watermark is on recorded_at, never on started_at. now() is the start of
    -- the writing COPY, which commits up to one write later (the recorder's
    -- WriteTimeout, 30s by default): a rollup re-reads at least that margin
    -- before its watermark, or it misses rows committed behind it.
    recorded_at        timestamptz      NOT NULL DEFAULT now(),
    CHECK (ended_at >= started_at)
);

-- The rollups' watermark: rows written since the last run.
CREATE INDEX interceptions_recorded_at_idx ON interceptions (recorded_at);
-- Recomputing an hour's buckets, and listing by time.
CREATE INDEX interceptions_started_at_idx ON interceptions (started_at);
-- One user's requests over time (a member's own usage).
CREATE INDEX interceptions_user_id_started_at_idx ON interceptions (user_id, started_at);
