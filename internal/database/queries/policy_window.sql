-- (Not policy_windows.sql: Go reads a file name ending in _windows, up to its
-- first dot, as a Windows-only file, and the generated code would vanish.)

-- name: PolicyWindowsAt :many
-- The windows of a policy that start at window_start, one per subject, for
-- its status ('' alone for a shared pool).
SELECT subject, window_start, window_end, settled, granted
FROM policy_windows
WHERE policy_id = sqlc.arg(policy_id) AND window_start = sqlc.arg(window_start)
ORDER BY subject;
