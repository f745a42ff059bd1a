// Package auth owns who a caller is: password hashing, API token minting and
// parsing, the token check every request goes through (with its cache, kept
// current by change notifications; see cache.go), the login throttle, and
// the roles a principal can hold.
package auth

import (
	"context"
	"errors"

	"github.com/google/uuid"
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
