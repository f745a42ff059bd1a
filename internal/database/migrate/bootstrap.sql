-- The migrator's own bookkeeping. It is created (if missing) under the
-- migrations advisory lock before any migration runs, so concurrent first
-- starts never race on it.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version        integer     PRIMARY KEY,
    name           text        NOT NULL,
    applied_at     timestamptz NOT NULL,
    aigate_version text        NOT NULL
);
