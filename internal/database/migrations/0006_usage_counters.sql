-- The usage counters every replica keeps in memory, their periodic cut-over
-- into one snapshot per period, and the marks that make a flush whose commit
-- went unanswered safe to retry. internal/usage owns the protocol (its doc.go
-- draws it); in short:
--
--   flush (each replica, every --usage-flush-interval and at shutdown):
--       add this replica's deltas to its row, or insert the row
--   snapshot (one replica per period end):
--       claim the period, then sum and delete every row in one statement
--
-- Both run in one transaction under the usage_counters advisory lock, so a
-- flush lands wholly before a snapshot (counted in it) or wholly after (in the
-- next period): never lost, never counted twice.

-- One row per replica: what it counted since the last snapshot. Deleted by
-- the snapshot; the replica's next flush then inserts a fresh row, which is
-- how a replica learns a new period has begun without talking to the others.
CREATE TABLE usage_counters (
    -- aigate's per-process replica ID (the replicas table's id). No foreign
    -- key: a row must be taken by the snapshot even after its replica's row
    -- was swept from replicas.
    replica_id         uuid        PRIMARY KEY,
    -- When the counts in this row began to be made: the start of the flush
    -- interval whose deltas inserted it. Counts flushed late (a database
    -- outage) are older than the snapshot period they end up in; the
    -- snapshot keeps the earliest of these as counted_since.
    period_start       timestamptz NOT NULL,
    -- Requests the gateway let through (sent upstream) and refused
    -- (authentication, later policy).
    requests_allowed   bigint      NOT NULL DEFAULT 0 CHECK (requests_allowed >= 0),
    requests_denied    bigint      NOT NULL DEFAULT 0 CHECK (requests_denied >= 0),
    input_tokens       bigint      NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens      bigint      NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cache_read_tokens  bigint      NOT NULL DEFAULT 0 CHECK (cache_read_tokens >= 0),
    cache_write_tokens bigint      NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0),
    reasoning_tokens   bigint      NOT NULL DEFAULT 0 CHECK (reasoning_tokens >= 0),
    -- How many distinct users and providers this replica saw in the period.
    -- Replaced, not added, by each flush: the replica holds the sets, and a
    -- user seen in two flush intervals is still one user. Capped at the
    -- replica's set bound (usage.MaxDistinct).
    distinct_users     integer     NOT NULL DEFAULT 0 CHECK (distinct_users >= 0),
    distinct_providers integer     NOT NULL DEFAULT 0 CHECK (distinct_providers >= 0),
    updated_at         timestamptz NOT NULL
);

-- The last flush each replica committed. A flush whose COMMIT got no answer
-- (the connection dropped) may or may not have landed; its replica keeps the
-- deltas and, in its next flush under the same lock, looks here: if the mark
-- is that flush's, it landed and the deltas are not written again. It cannot
-- live in usage_counters, which the snapshot deletes: a flush that landed
-- and was then taken by a snapshot would look as if it never happened.
CREATE TABLE usage_counter_flushes (
    replica_id uuid        PRIMARY KEY,
    -- Random per flush attempt, compared for equality only: a replica ID
    -- reused by a restarted process (a future --replica-id) cannot make an
    -- old mark look like a new flush's.
    flush_id   uuid        NOT NULL,
    -- Whether that flush inserted the replica's row (a new period began)
    -- rather than added to it, so the replica's distinct sets follow even a
    -- flush it only learns about afterwards.
    inserted   boolean     NOT NULL,
    flushed_at timestamptz NOT NULL
);

-- Old marks are pruned by the snapshot (a mark is only ever read by its own
-- replica's next flush, a minute later).
CREATE INDEX usage_counter_flushes_flushed_at_idx ON usage_counter_flushes (flushed_at);

-- One row per period: the sum of every replica's row at the period's end.
CREATE TABLE usage_snapshots (
    id                     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    period_start           timestamptz NOT NULL,
    -- The claim: the replica whose insert of this period end succeeds takes
    -- the snapshot; the others' inserts conflict and they do nothing.
    period_end             timestamptz NOT NULL UNIQUE,
    -- The earliest usage_counters.period_start summed in; before
    -- period_start when counts arrived late or a period was missed (every
    -- replica down at its end). NULL when no replica had counted anything.
    counted_since          timestamptz,
    -- How many replica rows were summed.
    replicas               integer     NOT NULL DEFAULT 0 CHECK (replicas >= 0),
    requests_allowed       bigint      NOT NULL DEFAULT 0 CHECK (requests_allowed >= 0),
    requests_denied        bigint      NOT NULL DEFAULT 0 CHECK (requests_denied >= 0),
    input_tokens           bigint      NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens          bigint      NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cache_read_tokens      bigint      NOT NULL DEFAULT 0 CHECK (cache_read_tokens >= 0),
    cache_write_tokens     bigint      NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0),
    reasoning_tokens       bigint      NOT NULL DEFAULT 0 CHECK (reasoning_tokens >= 0),
    -- Sums of the replicas' distinct counts: exact with one replica, an
    -- upper bound with several (a user served by two replicas counts twice).
    distinct_users         bigint      NOT NULL DEFAULT 0 CHECK (distinct_users >= 0),
    distinct_providers     bigint      NOT NULL DEFAULT 0 CHECK (distinct_providers >= 0),
    taken_at               timestamptz NOT NULL,
    taken_by               uuid        NOT NULL,
    -- Telemetry (--telemetry-url): only the replica that took the snapshot
    -- sends it. sent_at is set once the endpoint accepted it; attempts and
    -- the last error (a short message, never the URL) say why not yet.
    telemetry_sent_at      timestamptz,
    telemetry_attempts     integer     NOT NULL DEFAULT 0 CHECK (telemetry_attempts >= 0),
    telemetry_last_error   text,
    CHECK (period_end > period_start)
);
