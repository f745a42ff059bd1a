CREATE TYPE user_role AS ENUM ('owner', 'auditor', 'member');

CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    email         text        NOT NULL CHECK (email = lower(email) AND email <> ''),
    name          text        NOT NULL,
    -- argon2id in PHC string form; never leaves the database.
    password_hash text        NOT NULL,
    role          user_role   NOT NULL,
    suspended     boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE UNIQUE INDEX users_email_idx ON users (email);

-- API tokens look like aig_<id>_<secret>. The id is not secret and finds the
-- row; only a SHA-256 of the secret is stored. The secret is 256 random bits,
-- so a fast hash is enough: there is nothing to brute-force.
CREATE TABLE api_tokens (
    id           text        PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    secret_hash  bytea       NOT NULL,
    expires_at   timestamptz,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL
);

CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);

-- Written in the same transaction as the change it records, so a row exists
-- if and only if the change committed. Never updated or deleted by aigate.
CREATE TABLE audit_logs (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time          timestamptz NOT NULL,
    -- A user id, or 'system' for aigate's own changes (e.g. the env seed).
    actor         text        NOT NULL,
    actor_email   text        NOT NULL DEFAULT '',
    action        text        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   text        NOT NULL,
    resource_name text        NOT NULL,
    -- {"field": {"old": ..., "new": ...}} with secrets masked.
    diff          jsonb       NOT NULL DEFAULT '{}',
    request_id    text        NOT NULL DEFAULT '',
    ip            text        NOT NULL DEFAULT '',
    user_agent    text        NOT NULL DEFAULT '',
    status_code   integer     NOT NULL
);

CREATE INDEX audit_logs_time_id_idx ON audit_logs (time DESC, id DESC);
CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_type, resource_id);
CREATE INDEX audit_logs_actor_idx ON audit_logs (actor);
