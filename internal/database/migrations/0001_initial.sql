-- Site-wide values generated once per deployment (deployment ID, generated
-- secrets). Written only under the deployment_setup advisory lock.
CREATE TABLE site_configs (
    key        text        PRIMARY KEY,
    value      text        NOT NULL,
    created_at timestamptz NOT NULL
);

-- Every aigate process that has started against this database. A replica
-- heartbeats its row; rows not seen for a while are marked stale by the
-- others, and long-gone rows are deleted.
CREATE TABLE replicas (
    id           uuid        PRIMARY KEY,
    hostname     text        NOT NULL,
    version      text        NOT NULL,
    http_address text        NOT NULL,
    started_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    stopped_at   timestamptz,
    stale        boolean     NOT NULL DEFAULT false
);

CREATE INDEX replicas_last_seen_at_idx ON replicas (last_seen_at);
