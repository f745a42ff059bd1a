-- interceptions becomes a table partitioned by day of started_at, and learns
-- which client sent each request and in which session.
--
-- Why partitions: records are kept for --interceptions-retention (90 days by
-- default) and then pruned. Deleting old rows one by one would take locks for
-- as long as the delete runs and leave the table bloated until a vacuum; with
-- one partition per UTC day, pruning drops whole partitions, which takes a
-- lock for milliseconds and gives the disk space back at once.
--
-- Why a day: pruning is as fine as a partition, so rows are kept at most a
-- day longer than the retention; 90 days are about a hundred partitions (with
-- the days made ahead), few enough for the planner, and a query over recent
-- hours (the rollups, the newest page of a listing) reads one or two of them.
--
-- The partitions are named interceptions_pYYYYMMDD and hold [day 00:00 UTC,
-- next day 00:00 UTC). The retention service (internal/interceptions,
-- retention.go) creates them ahead of time through interceptions_partition_create
-- and drops old ones through interceptions_partition_drop; both are below, so
-- runtime code calls them through sqlc and never builds DDL itself.
-- interceptions_default takes a row whose day has no partition (see the
-- function), so a write never fails for want of one.
--
-- This migration runs in one transaction and copies the existing rows into the
-- new table, holding interceptions locked meanwhile. The table is young (0004)
-- and small on the installations there are today, so that takes moments; it
-- would not on a table of many millions of rows, which is why it happens now.

-- The rows wait in a temporary table, so the new table is made under the old
-- name and its constraints and indexes get the names PostgreSQL gives them.
CREATE TEMPORARY TABLE interceptions_0004 ON COMMIT DROP AS SELECT * FROM interceptions;
DROP TABLE interceptions;

-- As in 0004 (see its comments), plus client and session_id, and with the
-- primary key on (id, started_at): a partitioned table's unique keys must hold
-- its partition key. The id stays unique in practice, being made once per
-- request (UUIDv7); a retried batch repeats both id and started_at, so its
-- rows still collide with those already written, in the same partition.
CREATE TABLE interceptions (
    id                 uuid             NOT NULL,
    replica_id         uuid             NOT NULL,
    request_id         text             NOT NULL,
    user_id            uuid             NOT NULL,
    token_id           text             NOT NULL,
    provider_id        uuid             NOT NULL,
    provider_name      text             NOT NULL,
    provider_type      ai_provider_type NOT NULL,
    model              text             NOT NULL,
    endpoint           text             NOT NULL CHECK (endpoint IN ('chat_completions', 'responses', 'messages')),
    streaming          boolean          NOT NULL,
    -- The program that sent the request, from its User-Agent
    -- (internal/gateway/client.go); 'other' for anything not recognised and
    -- for the rows recorded before this migration.
    client             text             NOT NULL DEFAULT 'other'
                                        CHECK (client IN ('claude-code', 'codex', 'openai-sdk', 'anthropic-sdk', 'curl', 'other')),
    -- The client's own session or conversation id (Claude Code's
    -- X-Claude-Code-Session-Id, Codex's session_id header); NULL when it sent
    -- none. Text from the client, cut to 128 bytes.
    session_id         text             CHECK (session_id <> '' AND octet_length(session_id) <= 128),
    started_at         timestamptz      NOT NULL,
    ended_at           timestamptz      NOT NULL,
    ttfb_ms            integer          CHECK (ttfb_ms >= 0),
    status             text             NOT NULL CHECK (status IN ('ok', 'upstream_error', 'client_cancelled', 'gateway_error')),
    upstream_status    integer          CHECK (upstream_status BETWEEN 100 AND 599),
    input_tokens       bigint           NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens      bigint           NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cache_read_tokens  bigint           NOT NULL DEFAULT 0 CHECK (cache_read_tokens >= 0),
    cache_write_tokens bigint           NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0),
    reasoning_tokens   bigint           NOT NULL DEFAULT 0 CHECK (reasoning_tokens >= 0),
    tool_calls         jsonb            NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tool_calls) = 'array'),
    prompt             jsonb,
    error              text,
    -- The rollups' watermark, as in 0004. A query on recorded_at alone reads
    -- every partition's index; bounding started_at too (a record is written
    -- within minutes of its start) lets the planner skip the old ones.
    recorded_at        timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (id, started_at),
    CHECK (ended_at >= started_at)
) PARTITION BY RANGE (started_at);

-- Indexes on the partitioned table are made on every partition, present and
-- future.
-- The rollups' watermark: rows written since the last run.
CREATE INDEX interceptions_recorded_at_idx ON interceptions (recorded_at);
-- Recomputing an hour's buckets, and the listing: newest first by
-- (started_at, id), one page after another.
CREATE INDEX interceptions_started_at_id_idx ON interceptions (started_at, id);
-- One user's requests over time (a member's own usage and listing).
CREATE INDEX interceptions_user_id_started_at_id_idx ON interceptions (user_id, started_at, id);
-- One session's requests in order.
CREATE INDEX interceptions_session_id_started_at_id_idx ON interceptions (session_id, started_at, id)
    WHERE session_id IS NOT NULL;

-- The safety net: a row whose day has no partition lands here instead of
-- failing its batch. That happens only when the retention service has not
-- run for longer than the days it makes ahead, or for a row whose start time
-- is older than the retention or further ahead than those days (a replica
-- with a wrong clock). The service moves a day's rows from here into the
-- day's partition when it creates it, and deletes the ones older than the
-- retention; it keeps this partition small, because creating a partition
-- scans it.
CREATE TABLE interceptions_default PARTITION OF interceptions DEFAULT;

-- interceptions_partition_create makes the partition of one UTC day and
-- returns how many rows it moved into it from interceptions_default; 0, doing
-- nothing, when the partition exists.
--
-- CREATE TABLE ... PARTITION OF would lock interceptions ACCESS EXCLUSIVE,
-- stopping every read and write until commit; a table made apart and then
-- attached needs only SHARE UPDATE EXCLUSIVE on it, which neither COPY nor
-- SELECT waits for. The default partition is locked first, ACCESS EXCLUSIVE
-- (the attach takes that lock anyway, to check the default holds no row of
-- the new day): no row of the day can land there between the move and the
-- attach. The caller bounds the waits with lock_timeout.
CREATE FUNCTION interceptions_partition_create(day date) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    part  text        := 'interceptions_p' || to_char(day, 'YYYYMMDD');
    lo    timestamptz := day::timestamp AT TIME ZONE 'UTC';
    hi    timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
    moved bigint;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN 0;
    END IF;
    LOCK TABLE interceptions_default IN ACCESS EXCLUSIVE MODE;
    EXECUTE format('CREATE TABLE %I (LIKE interceptions INCLUDING ALL)', part);
    EXECUTE format('WITH moved AS (DELETE FROM interceptions_default WHERE started_at >= $1 AND started_at < $2 RETURNING *)
                    INSERT INTO %I SELECT * FROM moved', part) USING lo, hi;
    GET DIAGNOSTICS moved = ROW_COUNT;
    EXECUTE format('ALTER TABLE interceptions ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    RETURN moved;
END
$$;

-- interceptions_partition_drop drops the partition of one UTC day, with its
-- rows, and reports whether there was one. It locks interceptions ACCESS
-- EXCLUSIVE until commit (DETACH ... CONCURRENTLY, which would not, cannot run
-- in a transaction nor beside a default partition); the caller bounds the wait
-- with lock_timeout and commits at once.
CREATE FUNCTION interceptions_partition_drop(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'interceptions_p' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(part) IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TABLE %I', part);
    RETURN true;
END
$$;

-- A partition for each day the existing rows cover, then the rows; the
-- retention service makes today's and the days ahead when it starts.
SELECT interceptions_partition_create(day)
FROM (SELECT DISTINCT (started_at AT TIME ZONE 'UTC')::date AS day FROM interceptions_0004) AS days;

INSERT INTO interceptions (id, replica_id, request_id, user_id, token_id, provider_id, provider_name, provider_type,
                           model, endpoint, streaming, started_at, ended_at, ttfb_ms, status, upstream_status,
                           input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
                           tool_calls, prompt, error, recorded_at)
SELECT id, replica_id, request_id, user_id, token_id, provider_id, provider_name, provider_type,
       model, endpoint, streaming, started_at, ended_at, ttfb_ms, status, upstream_status,
       input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
       tool_calls, prompt, error, recorded_at
FROM interceptions_0004;

DROP TABLE interceptions_0004;
