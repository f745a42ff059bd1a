-- (Not policy_windows.sql: Go reads a file name ending in _windows, up to its
-- first dot, as a Windows-only file, and the generated code would vanish.)

-- name: PolicyWindowsAt :many
-- The windows of a policy that start at window_start, one per subject, for
-- its status ('' alone for a shared pool), with the email of a per-member
-- window's user (subjects are '' or a user id).
SELECT w.subject, w.window_start, w.window_end, w.settled, w.granted, u.email AS user_email
FROM policy_windows w
LEFT JOIN users u ON u.id = NULLIF(w.subject, '')::uuid
WHERE w.policy_id = sqlc.arg(policy_id) AND w.window_start = sqlc.arg(window_start)
ORDER BY w.subject;
