-- name: GroupMemberAdd :execrows
-- Adding a member twice changes nothing (and is not audited again).
INSERT INTO group_members (group_id, user_id, added_at)
VALUES (sqlc.arg(group_id), sqlc.arg(user_id), sqlc.arg(now))
ON CONFLICT (group_id, user_id) DO NOTHING;

-- name: GroupMemberRemove :execrows
DELETE FROM group_members WHERE group_id = sqlc.arg(group_id) AND user_id = sqlc.arg(user_id);

-- name: GroupMemberList :many
-- A group's members with what people recognise them by, in email order.
SELECT u.id, u.email, u.name, m.added_at
FROM group_members m JOIN users u ON u.id = m.user_id
WHERE m.group_id = sqlc.arg(group_id)
ORDER BY u.email;

-- name: GroupMembershipsAll :many
-- Every membership, for the enforcement engine's user -> groups map.
SELECT user_id, group_id FROM group_members ORDER BY user_id, group_id;

-- name: GroupMembershipsOfUser :many
SELECT group_id FROM group_members WHERE user_id = sqlc.arg(user_id) ORDER BY group_id;
