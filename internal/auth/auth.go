// Package auth owns who a caller is: password hashing, API token minting and
// parsing, the token check every request goes through (with its short-lived
// cache), the login throttle, and the roles a principal can hold.
package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// Role is what a user may do.
type Role string

// The roles, from most to least powerful.
const (
	RoleOwner   Role = "owner"   // everything
	RoleAuditor Role = "auditor" // read providers (no secrets), the audit log, all usage
	RoleMember  Role = "member"  // use the gateway, read own usage and tokens
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, bool) {
	switch Role(s) {
	case RoleOwner, RoleAuditor, RoleMember:
		return Role(s), true
	}
	return "", false
}

// Principal is an authenticated caller.
type Principal struct {
	UserID  uuid.UUID
	Email   string
	Role    Role
	TokenID string
	// Scopes are where the token may be used (HasScope); a token's scopes
	// never change, so the cache may keep them.
	Scopes []Scope
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller stored by WithPrincipal.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Authentication failures. All of them answer 401; the distinction is for
// logs and metrics.
var (
	ErrMalformedToken = errors.New("malformed token")
	ErrUnknownToken   = errors.New("unknown or revoked token")
	ErrExpiredToken   = errors.New("expired token")
	ErrSuspendedUser  = errors.New("user suspended")
)

// CacheTTL is how long a verified token is trusted without asking the
// database. It bounds how long a revocation or suspension made on another
// replica takes to apply here; on the replica that made the change it
// applies at once (Forget*).
const CacheTTL = 500 * time.Millisecond

// maxCached bounds the cache; past it, expired entries are swept.
const maxCached = 10_000

type cached struct {
	hash       []byte
	principal  Principal
	expiresAt  *time.Time // the token's own expiry
	validUntil time.Time  // when the cache entry must be re-checked
}

// Authenticator checks API tokens. Safe for concurrent use.
type Authenticator struct {
	db     *database.DB
	now    func() time.Time
	logger *slog.Logger

	mu    sync.RWMutex
	cache map[string]cached // by token id
}

// NewAuthenticator returns an Authenticator; now may be nil for time.Now.
func NewAuthenticator(db *database.DB, now func() time.Time, logger *slog.Logger) *Authenticator {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{db: db, now: now, logger: logger, cache: map[string]cached{}}
}

// Authenticate returns the principal a token belongs to. A cache hit costs a
// SHA-256 and a map lookup; a miss costs one indexed query.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (Principal, error) {
	id, secret, ok := ParseToken(token)
	if !ok {
		return Principal{}, ErrMalformedToken
	}
	hash := HashSecret(secret)
	now := a.now()

	a.mu.RLock()
	c, hit := a.cache[id]
	a.mu.RUnlock()
	if hit && now.Before(c.validUntil) && subtle.ConstantTimeCompare(c.hash, hash) == 1 {
		if c.expiresAt != nil && !now.Before(*c.expiresAt) {
			return Principal{}, ErrExpiredToken
		}
		return c.principal, nil
	}

	q := dbsqlc.New(a.db.Pool)
	row, err := q.APITokenGetWithUser(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrUnknownToken
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up token: %w", err)
	}
	if subtle.ConstantTimeCompare(row.ApiToken.SecretHash, hash) != 1 {
		return Principal{}, ErrUnknownToken
	}
	if row.UserSuspended {
		return Principal{}, ErrSuspendedUser
	}
	if row.ApiToken.ExpiresAt != nil && !now.Before(*row.ApiToken.ExpiresAt) {
		return Principal{}, ErrExpiredToken
	}
	p := Principal{UserID: row.ApiToken.UserID, Email: row.UserEmail, Role: Role(row.UserRole), TokenID: id,
		Scopes: ScopesFromStrings(row.ApiToken.Scopes)}
	if err := q.APITokenTouch(ctx, dbsqlc.APITokenTouchParams{Now: now.UTC(), ID: id}); err != nil {
		// Losing a last_used_at update is not worth failing the request.
		a.logger.Warn("could not record token use", "token_id", id, "error", err)
	}
	a.store(id, cached{hash: hash, principal: p, expiresAt: row.ApiToken.ExpiresAt, validUntil: now.Add(CacheTTL)}, now)
	return p, nil
}

func (a *Authenticator) store(id string, c cached, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= maxCached {
		for k, v := range a.cache {
			if !now.Before(v.validUntil) {
				delete(a.cache, k)
			}
		}
		if len(a.cache) >= maxCached {
			clear(a.cache)
		}
	}
	a.cache[id] = c
}

// ForgetToken drops a revoked token from this replica's cache.
func (a *Authenticator) ForgetToken(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.cache, id)
}

// ForgetUser drops every cached token of a user whose rights changed
// (suspended, deleted, role changed).
func (a *Authenticator) ForgetUser(userID uuid.UUID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, v := range a.cache {
		if v.principal.UserID == userID {
			delete(a.cache, k)
		}
	}
}
