-- Groups, spend and rate policies, and the allowance windows and leases that
-- enforce them across replicas (internal/limits; the lease protocol is drawn
-- in its doc.go).

-- A group is a team: a set of users a policy can name. Later, SSO maps an
-- identity provider's groups onto these rows by name.
CREATE TABLE groups (
    id           uuid        PRIMARY KEY,
    name         text        NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    display_name text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE group_members (
    group_id uuid        NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at timestamptz NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

-- A user's groups, for deciding which policies apply to a request.
CREATE INDEX group_members_user_id_idx ON group_members (user_id);

-- A policy limits the requests of its scope:
--   everyone, a group, a user or a token; for everyone and a group, either
--   one pool the members share or the same limit for each member
--   (per_member), narrowed to some providers (by name) and models (exact, or
--   a prefix ending in *) when those arrays are not empty.
-- Its kind says what it limits:
--   budget      micro-dollars (cost from the price book) per period
--   tokens      input + output tokens per period
--   requests    requests per period
--   concurrency requests in flight at once (no period)
--   models      the models the scope may call (allow_models), no limit
-- Periods are calendar ones in time_zone: a minute, or a day, an ISO week
-- (from Monday) or a month, from midnight.
CREATE TABLE policies (
    id           uuid        PRIMARY KEY,
    name         text        NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    description  text        NOT NULL DEFAULT '',
    scope        text        NOT NULL CHECK (scope IN ('everyone', 'group', 'user', 'token')),
    group_id     uuid        REFERENCES groups (id) ON DELETE CASCADE,
    user_id      uuid        REFERENCES users (id) ON DELETE CASCADE,
    token_id     text        REFERENCES api_tokens (id) ON DELETE CASCADE,
    per_member   boolean     NOT NULL DEFAULT false,
    providers    text[]      NOT NULL DEFAULT '{}',
    models       text[]      NOT NULL DEFAULT '{}',
    kind         text        NOT NULL CHECK (kind IN ('budget', 'tokens', 'requests', 'concurrency', 'models')),
    period       text        CHECK (period IN ('minute', 'day', 'week', 'month')),
    limit_value  bigint      CHECK (limit_value >= 0),
    allow_models text[]      NOT NULL DEFAULT '{}',
    time_zone    text        NOT NULL DEFAULT 'UTC',
    enabled      boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CHECK ((scope = 'group') = (group_id IS NOT NULL)),
    CHECK ((scope = 'user') = (user_id IS NOT NULL)),
    CHECK ((scope = 'token') = (token_id IS NOT NULL)),
    CHECK (NOT per_member OR scope IN ('everyone', 'group')),
    CHECK ((kind IN ('budget', 'tokens', 'requests')) = (period IS NOT NULL)),
    CHECK ((kind = 'models') = (limit_value IS NULL)),
    CHECK ((kind = 'models') = (cardinality(allow_models) > 0))
);

-- One window of a limited policy: its period's allowance for one subject
-- ('' for a shared pool, a user id for per_member policies). settled is what
-- requests consumed (written with their interceptions, in the same
-- transaction); granted is the allowance out on replicas' leases and not yet
-- consumed. A grant never makes settled + granted exceed the policy's limit;
-- a settlement moves an amount from granted to settled. A concurrency
-- window has window_start 1970-01-01 and settles nothing: its requests hand
-- their slot back.
CREATE TABLE policy_windows (
    policy_id    uuid        NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    subject      text        NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL CHECK (window_end > window_start),
    settled      bigint      NOT NULL DEFAULT 0,
    granted      bigint      NOT NULL DEFAULT 0,
    -- Set when a replica could not get the allowance a request needed: from
    -- then on replicas hand back what they hold idle and lease per request,
    -- so the last of the allowance goes to whoever needs it.
    tight_since  timestamptz,
    PRIMARY KEY (policy_id, subject, window_start)
);

-- What one replica holds of a window. granted is the allowance it was given
-- less what its requests consumed (it goes below zero when requests cost
-- more than they reserved). A lease not renewed by expires_at (its replica
-- died) is reclaimed by the next replica that leases from the window.
CREATE TABLE policy_leases (
    policy_id    uuid        NOT NULL,
    subject      text        NOT NULL,
    window_start timestamptz NOT NULL,
    replica_id   uuid        NOT NULL,
    granted      bigint      NOT NULL,
    expires_at   timestamptz NOT NULL,
    -- When the replica last handed back its idle allowance after the window
    -- became tight.
    acked_at     timestamptz,
    PRIMARY KEY (policy_id, subject, window_start, replica_id),
    FOREIGN KEY (policy_id, subject, window_start) REFERENCES policy_windows ON DELETE CASCADE
);

-- A replica renews its leases with one statement.
CREATE INDEX policy_leases_replica_id_idx ON policy_leases (replica_id);

-- A request refused by a policy is recorded too.
ALTER TABLE interceptions DROP CONSTRAINT interceptions_status_check;
ALTER TABLE interceptions ADD CONSTRAINT interceptions_status_check
    CHECK (status IN ('ok', 'upstream_error', 'client_cancelled', 'gateway_error', 'denied'));
