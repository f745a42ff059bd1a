-- name: PolicyWindowEnsure :exec
-- Opens a window the first time a replica leases from it.
INSERT INTO policy_windows (policy_id, subject, window_start, window_end)
VALUES (sqlc.arg(policy_id), sqlc.arg(subject), sqlc.arg(window_start), sqlc.arg(window_end))
ON CONFLICT (policy_id, subject, window_start) DO NOTHING;

-- name: PolicyWindowLock :one
-- Locks one window for a grant or a hand-back and reads it with its policy's
-- current limit (a changed limit applies to the next grant). Windows are
-- always locked before their leases, in key order when there are several, so
-- grants, settlements and hand-backs never deadlock.
SELECT w.settled, w.granted, w.tight_since, p.limit_value::bigint AS limit_value
FROM policy_windows w
JOIN policies p ON p.id = w.policy_id
WHERE w.policy_id = sqlc.arg(policy_id) AND w.subject = sqlc.arg(subject) AND w.window_start = sqlc.arg(window_start)
FOR UPDATE OF w;

-- name: PolicyLeasesReclaimExpired :one
-- Takes back the leases of replicas that stopped renewing them (they died):
-- what they held returns to the window. A negative lease (its requests cost
-- more than they reserved) stays spent: granted rises back to the sum of the
-- live leases.
WITH dead AS (
    DELETE FROM policy_leases l
    WHERE l.policy_id = sqlc.arg(policy_id) AND l.subject = sqlc.arg(subject) AND l.window_start = sqlc.arg(window_start)
      AND l.expires_at < sqlc.arg(now)
    RETURNING l.granted
), upd AS (
    UPDATE policy_windows w SET granted = w.granted - (SELECT coalesce(sum(granted), 0) FROM dead)
    WHERE w.policy_id = sqlc.arg(policy_id) AND w.subject = sqlc.arg(subject) AND w.window_start = sqlc.arg(window_start)
      AND EXISTS (SELECT 1 FROM dead)
    RETURNING 1
)
SELECT count(*)::bigint AS reclaimed FROM dead;

-- name: PolicyWindowGrant :one
-- The grant itself, on the window the transaction has locked: one UPDATE
-- that moves amount into granted and the lease that receives it.
WITH win AS (
    UPDATE policy_windows w SET granted = w.granted + sqlc.arg(amount)
    WHERE w.policy_id = sqlc.arg(policy_id) AND w.subject = sqlc.arg(subject) AND w.window_start = sqlc.arg(window_start)
    RETURNING w.policy_id
)
INSERT INTO policy_leases (policy_id, subject, window_start, replica_id, granted, expires_at)
SELECT sqlc.arg(policy_id), sqlc.arg(subject), sqlc.arg(window_start), sqlc.arg(replica_id), sqlc.arg(amount),
       sqlc.arg(expires_at)
FROM win
ON CONFLICT (policy_id, subject, window_start, replica_id)
    DO UPDATE SET granted = policy_leases.granted + EXCLUDED.granted, expires_at = EXCLUDED.expires_at
RETURNING granted;

-- name: PolicyWindowSetTight :exec
UPDATE policy_windows SET tight_since = sqlc.arg(now)
WHERE policy_id = sqlc.arg(policy_id) AND subject = sqlc.arg(subject) AND window_start = sqlc.arg(window_start)
  AND tight_since IS NULL;

-- name: PolicyLeasesUnacked :one
-- The live leases of other replicas that have not handed back their idle
-- allowance since the window became tight.
SELECT count(*)::bigint
FROM policy_leases l
WHERE l.policy_id = sqlc.arg(policy_id) AND l.subject = sqlc.arg(subject) AND l.window_start = sqlc.arg(window_start)
  AND l.replica_id <> sqlc.arg(replica_id) AND l.expires_at >= sqlc.arg(now)
  AND (l.acked_at IS NULL OR l.acked_at < sqlc.arg(tight_since));

-- name: PolicyLeaseHandBack :exec
-- A replica hands back amount of its lease (idle allowance) on a window the
-- transaction has locked, and records when it did.
WITH l AS (
    UPDATE policy_leases SET granted = granted - sqlc.arg(amount), acked_at = sqlc.arg(now)
    WHERE policy_id = sqlc.arg(policy_id) AND subject = sqlc.arg(subject) AND window_start = sqlc.arg(window_start)
      AND replica_id = sqlc.arg(replica_id)
    RETURNING 1
)
UPDATE policy_windows w SET granted = w.granted - sqlc.arg(amount)
WHERE w.policy_id = sqlc.arg(policy_id) AND w.subject = sqlc.arg(subject) AND w.window_start = sqlc.arg(window_start)
  AND EXISTS (SELECT 1 FROM l);

-- name: PolicyWindowsLockMany :exec
-- Locks the windows a settlement touches, in key order.
WITH k AS (
    SELECT unnest(sqlc.arg(policy_ids)::uuid[]) AS policy_id, unnest(sqlc.arg(subjects)::text[]) AS subject,
           unnest(sqlc.arg(window_starts)::timestamptz[]) AS window_start
)
SELECT 1
FROM policy_windows w
JOIN k ON w.policy_id = k.policy_id AND w.subject = k.subject AND w.window_start = k.window_start
ORDER BY w.policy_id, w.subject, w.window_start
FOR UPDATE OF w;

-- name: PolicyWindowsSettle :exec
-- Settles what requests consumed, in the transaction that writes their
-- interceptions: each amount moves from the replica's lease to settled. When
-- the lease is gone (it expired and was reclaimed, with this allowance in
-- it), the amount is settled without touching granted, which no longer
-- holds it. Keys are distinct (the caller sums per key).
WITH c AS (
    SELECT unnest(sqlc.arg(policy_ids)::uuid[]) AS policy_id, unnest(sqlc.arg(subjects)::text[]) AS subject,
           unnest(sqlc.arg(window_starts)::timestamptz[]) AS window_start, unnest(sqlc.arg(amounts)::bigint[]) AS amount
), l AS (
    UPDATE policy_leases pl SET granted = pl.granted - c.amount
    FROM c
    WHERE pl.policy_id = c.policy_id AND pl.subject = c.subject AND pl.window_start = c.window_start
      AND pl.replica_id = sqlc.arg(replica_id)
    RETURNING pl.policy_id, pl.subject, pl.window_start, c.amount
)
UPDATE policy_windows w
SET settled = w.settled + c.amount,
    granted = w.granted - coalesce((SELECT l.amount FROM l
                                    WHERE l.policy_id = c.policy_id AND l.subject = c.subject
                                      AND l.window_start = c.window_start), 0)
FROM c
WHERE w.policy_id = c.policy_id AND w.subject = c.subject AND w.window_start = c.window_start;

-- name: PolicyLeasesRenew :many
-- Keeps this replica's leases alive; the keys returned are the leases it
-- still has.
UPDATE policy_leases SET expires_at = sqlc.arg(expires_at)
WHERE replica_id = sqlc.arg(replica_id)
RETURNING policy_id, subject, window_start, granted;

-- name: PolicyLeasesOfReplica :many
-- This replica's leases, in key order, for releasing them all at shutdown.
SELECT policy_id, subject, window_start, granted
FROM policy_leases
WHERE replica_id = sqlc.arg(replica_id)
ORDER BY policy_id, subject, window_start;

-- name: PolicyLeaseDelete :exec
-- Releases one lease on a window the transaction has locked: what it holds
-- returns to the window.
WITH l AS (
    DELETE FROM policy_leases
    WHERE policy_id = sqlc.arg(policy_id) AND subject = sqlc.arg(subject) AND window_start = sqlc.arg(window_start)
      AND replica_id = sqlc.arg(replica_id)
    RETURNING granted
)
UPDATE policy_windows w SET granted = w.granted - (SELECT granted FROM l)
WHERE w.policy_id = sqlc.arg(policy_id) AND w.subject = sqlc.arg(subject) AND w.window_start = sqlc.arg(window_start)
  AND EXISTS (SELECT 1 FROM l);

-- name: PolicyWindowsDeleteEnded :execrows
-- Windows that ended long ago; their leases go with them.
DELETE FROM policy_windows WHERE window_end < sqlc.arg(before);
