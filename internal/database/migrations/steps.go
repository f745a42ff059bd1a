package migrations

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/users/emailaddr"
)

// Step is the part of a migration that SQL cannot express. It runs right
// after the file it belongs to, in the same transaction, with the migrator's
// clock; an error fails the migration like an SQL error. Like the files,
// steps are never changed once released, and use plain SQL of their time
// rather than the runtime queries, which follow the latest schema.
type Step func(ctx context.Context, tx pgx.Tx, now time.Time) error

// Steps maps a migration file name to its Go step.
var Steps = map[string]Step{
	"0005_users_email_normalized.sql": normalizeUserEmails,
}

// EmailCollisionError fails 0005_users_email_normalized when users whose
// stored emails differ become one email under the normalisation rule.
// aigate never merges accounts: a person decides which one stays.
type EmailCollisionError struct {
	// Collisions maps each shared normalised email to the users that
	// would have it, oldest first.
	Collisions map[string][]CollidingUser
}

// CollidingUser is one of the users sharing a normalised email.
type CollidingUser struct {
	ID    uuid.UUID
	Email string // as stored before the migration
}

func (e *EmailCollisionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "users would share an email under the normalisation rule (%d email(s)):", len(e.Collisions))
	for _, email := range slices.Sorted(maps.Keys(e.Collisions)) {
		fmt.Fprintf(&b, " %s is shared by", email)
		for i, u := range e.Collisions[email] {
			if i > 0 {
				b.WriteString(" and")
			}
			fmt.Fprintf(&b, " user %s (%q)", u.ID, u.Email)
		}
		b.WriteString(";")
	}
	b.WriteString(" aigate never merges accounts: with the aigate version you upgraded from, change the email of all but one of each" +
		" (aigate users edit ID --email NEW) or delete them, then start this version again")
	return b.String()
}

// normalizeUserEmails rewrites every stored email into its normal form, with
// an audit entry by "system" for each one that changes, or fails with an
// EmailCollisionError, changing nothing, if two users would share one.
func normalizeUserEmails(ctx context.Context, tx pgx.Tx, now time.Time) error {
	rows, err := tx.Query(ctx, "SELECT id, email FROM users ORDER BY created_at, id")
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowToStructByPos[CollidingUser])
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	byEmail := make(map[string][]CollidingUser, len(users))
	for _, u := range users {
		n := emailaddr.Normalize(u.Email)
		byEmail[n] = append(byEmail[n], u)
	}
	collisions := map[string][]CollidingUser{}
	for email, us := range byEmail {
		if len(us) > 1 {
			collisions[email] = us
		}
	}
	if len(collisions) > 0 {
		return &EmailCollisionError{Collisions: collisions}
	}
	// Since no two users share a normal form and the rule is idempotent, no
	// update can take an email another row still holds.
	for _, u := range users {
		n := emailaddr.Normalize(u.Email)
		if n == u.Email {
			continue
		}
		if _, err := tx.Exec(ctx, "UPDATE users SET email = $2, updated_at = $3 WHERE id = $1", u.ID, n, now); err != nil {
			return fmt.Errorf("normalise the email of user %s: %w", u.ID, err)
		}
		diff, err := json.Marshal(map[string]any{"email": map[string]string{"old": u.Email, "new": n}})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_logs (time, actor, action, resource_type, resource_id, resource_name, diff, status_code)
VALUES ($1, 'system', 'write', 'user', $2, $3, $4, 200)`, now, u.ID.String(), n, diff); err != nil {
			return fmt.Errorf("audit the email change of user %s: %w", u.ID, err)
		}
	}
	return nil
}
