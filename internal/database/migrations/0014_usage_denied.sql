-- The requests a policy refused, counted apart from the errors in the usage
-- buckets: a denial (interceptions.status 'denied', since 0012) is the
-- gateway doing what the operator asked, not a failure, and counted as an
-- error it inflated the error rate and hid how many requests the policies
-- refused. From here errors counts the statuses other than 'ok' and
-- 'denied', denied counts 'denied', and requests still counts them all
-- (internal/rollup; an error rate, as the dashboard shows it, is errors over
-- the requests that were not denied).

-- The rollup's lock (usage_rollup, database.LockUsageRollup, 0x61696761_00000005) first,
-- as in 0011 and 0013: a tick of a replica of the version before runs to its
-- end before the buckets change shape, and later ones wait for this to
-- commit, so no tick interleaves with the new CHECKs.
SELECT pg_advisory_xact_lock(7019255160543117317);

-- No backfill: status 'denied' exists only since 0012, in the same release
-- as this migration, so no bucket written before it holds a denial.
--
-- During a rolling upgrade a replica of the version before may still win a
-- tick after this commits, and count new replicas' denials as errors, as it
-- always did: in a bucket it inserts, denied is 0 (the default) and the
-- CHECKs hold; in a bucket this version already split, errors + denied would
-- exceed requests, so the CHECK fails that tick, which rolls back and
-- leaves the hours to the next tick, of whichever replica.
ALTER TABLE usage_hourly ADD COLUMN denied bigint NOT NULL DEFAULT 0
    CHECK (denied >= 0);
ALTER TABLE usage_hourly ADD CONSTRAINT usage_hourly_errors_denied_check
    CHECK (errors + denied <= requests);
ALTER TABLE usage_daily ADD COLUMN denied bigint NOT NULL DEFAULT 0
    CHECK (denied >= 0);
ALTER TABLE usage_daily ADD CONSTRAINT usage_daily_errors_denied_check
    CHECK (errors + denied <= requests);
