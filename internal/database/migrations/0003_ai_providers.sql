CREATE TYPE ai_provider_type AS ENUM ('openai', 'anthropic', 'bedrock');

-- One row per provider ever created. A delete is soft (deleted = true): the
-- name stays reserved and the environment seed never brings it back.
CREATE TABLE ai_providers (
    id           uuid             PRIMARY KEY,
    -- The routing name in /ai/{name}/...
    name         text             NOT NULL CHECK (name ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(name) <= 63),
    type         ai_provider_type NOT NULL,
    display_name text             NOT NULL DEFAULT '',
    enabled      boolean          NOT NULL DEFAULT true,
    deleted      boolean          NOT NULL DEFAULT false,
    -- Empty only for Bedrock, whose endpoint then follows from the region.
    base_url     text             NOT NULL DEFAULT '',
    -- Bedrock only: {"region", "model", "small_fast_model"}; never secrets.
    settings     jsonb,
    -- Bedrock only: the access key pairs, AES-256-GCM encrypted as one JSON
    -- document; credentials_key_digest names the encryption key used.
    credentials            bytea,
    credentials_key_digest text,
    created_at   timestamptz      NOT NULL,
    updated_at   timestamptz      NOT NULL,
    CHECK (deleted = false OR enabled = false),
    CHECK ((credentials IS NULL) = (credentials_key_digest IS NULL)),
    CHECK (type = 'bedrock' OR (settings IS NULL AND credentials IS NULL))
);

-- Over all rows, deleted ones included.
CREATE UNIQUE INDEX ai_providers_name_idx ON ai_providers (name);

-- Bearer keys of openai and anthropic providers, tried in position order.
CREATE TABLE ai_provider_keys (
    id          uuid        PRIMARY KEY,
    provider_id uuid        NOT NULL REFERENCES ai_providers (id) ON DELETE CASCADE,
    position    integer     NOT NULL CHECK (position >= 0),
    -- AES-256-GCM; the associated data binds it to this row's id.
    api_key     bytea       NOT NULL,
    -- Digest of the encryption key that made api_key, so rotation finds
    -- what is left to re-encrypt without decrypting everything.
    key_digest  text        NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    -- Deferred, so a key set can be renumbered in one transaction.
    CONSTRAINT ai_provider_keys_position_key UNIQUE (provider_id, position) DEFERRABLE INITIALLY DEFERRED
);

CREATE INDEX ai_provider_keys_key_digest_idx ON ai_provider_keys (key_digest);
