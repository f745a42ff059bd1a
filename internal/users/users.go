// Package users owns aigate's users and their API tokens: validation, the
// first-owner bootstrap, login, role and suspension changes (never leaving the
// deployment without an active owner), and token minting and revocation.
// Every change commits together with its audit entry. HTTP handlers and the
// CLI are thin layers over this package.
package users

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/users/emailaddr"
)

// LoginTokenLifetime is how long a token made by `login` lives.
const LoginTokenLifetime = 30 * 24 * time.Hour

// loginScopes are the scopes of the tokens login and the first owner get:
// they drive the CLI, and a password typed into `aigate login` should not
// yield a token that also works in a coding agent's config.
var loginScopes = []auth.Scope{auth.ScopeAPI}

// DefaultTokenScopes are the scopes of a token created without naming any:
// most tokens are made for a tool that calls the gateway.
var DefaultTokenScopes = []auth.Scope{auth.ScopeGateway}

// User is a user as callers see it: no password hash.
type User struct {
	ID        uuid.UUID `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      auth.Role `json:"role"`
	Suspended bool      `json:"suspended"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Token is an API token as callers see it: never the secret or its hash.
type Token struct {
	ID         string       `json:"id"`
	UserID     uuid.UUID    `json:"user_id"`
	Name       string       `json:"name"`
	Scopes     []auth.Scope `json:"scopes"`
	ExpiresAt  *time.Time   `json:"expires_at"`
	LastUsedAt *time.Time   `json:"last_used_at"`
	CreatedAt  time.Time    `json:"created_at"`
}

// Service is the users domain.
type Service struct {
	db       *database.DB
	auth     *auth.Authenticator
	audit    *audit.Recorder
	throttle *auth.LoginThrottle
	now      func() time.Time
}

// NewService returns the users service. Changes that remove rights are
// announced on auth.ChangesChannel in their transaction, for every
// replica's cache, and pushed to authn's at once.
func NewService(db *database.DB, authn *auth.Authenticator, rec *audit.Recorder, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, auth: authn, audit: rec, throttle: auth.NewLoginThrottle(), now: now}
}

func toUser(u dbsqlc.User) User {
	return User{ID: u.ID, Email: u.Email, Name: u.Name, Role: auth.Role(u.Role), Suspended: u.Suspended,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func toToken(t dbsqlc.ApiToken) Token {
	return Token{ID: t.ID, UserID: t.UserID, Name: t.Name, Scopes: auth.ScopesFromStrings(t.Scopes), ExpiresAt: t.ExpiresAt,
		LastUsedAt: t.LastUsedAt, CreatedAt: t.CreatedAt}
}

// auditFields are the fields of a user that audit diffs track.
func auditFields(u dbsqlc.User) map[string]any {
	return map[string]any{"email": u.Email, "name": u.Name, "role": string(u.Role), "suspended": u.Suspended, "password": u.PasswordHash}
}

// Input creates a user.
type Input struct {
	Email    string
	Name     string
	Password string
	Role     string
}

// validateEmail returns email in the normal form it is stored and compared
// in (emailaddr.Normalize), so that spellings of one address such as
// "SAM@…", "ſam@…" and "ｓａｍ@…" are one user under the unique index.
func validateEmail(email string) (string, *apperr.Validation) {
	e, ok := emailaddr.Parse(email)
	if !ok {
		return "", &apperr.Validation{Field: "email", Detail: "must be an email address such as ada@example.com"}
	}
	return e, nil
}

func validateName(name string) *apperr.Validation {
	if strings.TrimSpace(name) == "" || len(name) > 200 {
		return &apperr.Validation{Field: "name", Detail: "must be 1 to 200 characters"}
	}
	return nil
}

func validatePassword(p string) *apperr.Validation {
	if len(p) < auth.MinPasswordLength || len(p) > 1024 {
		return &apperr.Validation{Field: "password", Detail: fmt.Sprintf("must be %d to 1024 characters", auth.MinPasswordLength)}
	}
	return nil
}

func (in Input) validate(roleRequired bool) (email string, role auth.Role, err error) {
	var vs []apperr.Validation
	email, v := validateEmail(in.Email)
	if v != nil {
		vs = append(vs, *v)
	}
	if v := validateName(in.Name); v != nil {
		vs = append(vs, *v)
	}
	if v := validatePassword(in.Password); v != nil {
		vs = append(vs, *v)
	}
	if roleRequired {
		r, ok := auth.ParseRole(in.Role)
		if !ok {
			vs = append(vs, apperr.Validation{Field: "role", Detail: "must be one of owner, auditor, member"})
		}
		role = r
	}
	return email, role, apperr.Invalid(vs...)
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func (s *Service) insertUser(ctx context.Context, tx pgx.Tx, actor audit.Actor, email string, in Input, role auth.Role) (dbsqlc.User, error) {
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return dbsqlc.User{}, err
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return dbsqlc.User{}, err
	}
	u, err := dbsqlc.New(tx).UserInsert(ctx, dbsqlc.UserInsertParams{
		ID: id, Email: email, Name: in.Name, PasswordHash: hash, Role: dbsqlc.UserRole(role), Now: s.now().UTC(),
	})
	if isUniqueViolation(err) {
		return dbsqlc.User{}, apperr.Conflict("A user with email %s already exists.", email)
	}
	if err != nil {
		return dbsqlc.User{}, fmt.Errorf("insert user: %w", err)
	}
	if actor.ID == "" { // the first owner creates themself
		actor = audit.Actor{ID: u.ID.String(), Email: u.Email}
	}
	err = s.audit.Record(ctx, tx, audit.Entry{
		Actor: actor, Action: audit.ActionCreate, ResourceType: "user", ResourceID: u.ID.String(), ResourceName: u.Email,
		Diff: audit.Changes(nil, auditFields(u), "password"),
	})
	return u, err
}

// ErrAlreadyInitialised answers users/first once a user exists.
var ErrAlreadyInitialised = apperr.Conflict("This aigate already has users; log in instead.")

// CreateFirst creates the first owner and a token for them, only while no
// user exists. Concurrent calls queue on the first_user lock: one wins, the
// rest see a user and get ErrAlreadyInitialised.
func (s *Service) CreateFirst(ctx context.Context, in Input) (User, string, error) {
	// Answer "already initialised" before judging the input, so a client
	// can tell a set-up server from a fresh one whatever it sends.
	if n, err := dbsqlc.New(s.db.Pool).UserCount(ctx); err != nil {
		return User{}, "", fmt.Errorf("count users: %w", err)
	} else if n > 0 {
		return User{}, "", ErrAlreadyInitialised
	}
	email, _, err := in.validate(false)
	if err != nil {
		return User{}, "", err
	}
	type result struct {
		u     dbsqlc.User
		token string
	}
	r, err := database.LockedTx(ctx, s.db, database.LockFirstUser, func(ctx context.Context, tx pgx.Tx) (result, error) {
		n, err := dbsqlc.New(tx).UserCount(ctx)
		if err != nil {
			return result{}, fmt.Errorf("count users: %w", err)
		}
		if n > 0 {
			return result{}, ErrAlreadyInitialised
		}
		u, err := s.insertUser(ctx, tx, audit.Actor{}, email, in, auth.RoleOwner)
		if err != nil {
			return result{}, err
		}
		actor := audit.Actor{ID: u.ID.String(), Email: u.Email}
		_, token, err := s.insertToken(ctx, tx, actor, u, "first login", loginScopes, ptr(s.now().Add(LoginTokenLifetime)), audit.ActionLogin)
		return result{u, token}, err
	})
	if err != nil {
		return User{}, "", err
	}
	return toUser(r.u), r.token, nil
}

// Create adds a user.
func (s *Service) Create(ctx context.Context, actor audit.Actor, in Input) (User, error) {
	email, role, err := in.validate(true)
	if err != nil {
		return User{}, err
	}
	u, err := database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (dbsqlc.User, error) {
		return s.insertUser(ctx, tx, actor, email, in, role)
	})
	return toUser(u), err
}

// Any reports whether the deployment has a user yet: until it does, the
// first `aigate login` creates the first owner.
func (s *Service) Any(ctx context.Context) (bool, error) {
	n, err := dbsqlc.New(s.db.Pool).UserCount(ctx)
	if err != nil {
		return false, fmt.Errorf("count users: %w", err)
	}
	return n > 0, nil
}

// List returns every user.
func (s *Service) List(ctx context.Context) ([]User, error) {
	rows, err := dbsqlc.New(s.db.Pool).UserList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]User, len(rows))
	for i, r := range rows {
		out[i] = toUser(r)
	}
	return out, nil
}

// lookup finds a user by id or email; an email is normalised by the same
// rule as when it was stored.
func lookup(ctx context.Context, q *dbsqlc.Queries, ref string, forUpdate bool) (dbsqlc.User, error) {
	var (
		u   dbsqlc.User
		err error
	)
	if id, perr := uuid.Parse(ref); perr == nil {
		if forUpdate {
			u, err = q.UserGetByIDForUpdate(ctx, id)
		} else {
			u, err = q.UserGetByID(ctx, id)
		}
	} else {
		u, err = q.UserGetByEmail(ctx, emailaddr.Normalize(ref))
		if err == nil && forUpdate {
			u, err = q.UserGetByIDForUpdate(ctx, u.ID)
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return dbsqlc.User{}, apperr.NotFound("No user %q.", ref)
	}
	if err != nil {
		return dbsqlc.User{}, fmt.Errorf("look up user: %w", err)
	}
	return u, nil
}

// Get returns a user by id or email.
func (s *Service) Get(ctx context.Context, ref string) (User, error) {
	u, err := lookup(ctx, dbsqlc.New(s.db.Pool), ref, false)
	return toUser(u), err
}

// Resolve returns the id of the user ref (an id or an email) names, for
// access checks that must compare users, not spellings.
func (s *Service) Resolve(ctx context.Context, ref string) (uuid.UUID, error) {
	u, err := lookup(ctx, dbsqlc.New(s.db.Pool), ref, false)
	return u.ID, err
}

// Patch changes a user; nil fields stay as they are.
type Patch struct {
	Email     *string
	Name      *string
	Password  *string
	Role      *string
	Suspended *bool
}

func (p Patch) empty() bool {
	return p.Email == nil && p.Name == nil && p.Password == nil && p.Role == nil && p.Suspended == nil
}

// isActiveOwner reports whether u counts towards "at least one owner".
func isActiveOwner(u dbsqlc.User) bool { return u.Role == dbsqlc.UserRoleOwner && !u.Suspended }

// lockOwners locks every active owner's row, in id order, before the row
// being changed is locked. Every change that could remove an owner starts
// so, so they all take their row locks in one order: two owners demoting
// each other at once queue on the first owner's row instead of deadlocking
// (each holding its target and waiting for the other's), and the second
// then sees the first's change. The locks hold until commit, so the owners
// counted stay owners until this change is in.
func lockOwners(ctx context.Context, q *dbsqlc.Queries) ([]uuid.UUID, error) {
	ids, err := q.UserLockActiveOwners(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock owners: %w", err)
	}
	return ids, nil
}

// ensureAnotherOwner refuses a change that takes u out of the active owners
// (locked by lockOwners) when none would remain: nobody could manage the
// deployment any more.
func ensureAnotherOwner(owners []uuid.UUID, u dbsqlc.User) error {
	for _, id := range owners {
		if id != u.ID {
			return nil
		}
	}
	return apperr.Conflict("This is the last active owner; make another user owner first.")
}

// mayRemoveOwner reports whether p can take a user out of the active owners.
func (p Patch) mayRemoveOwner() bool { return p.Role != nil || p.Suspended != nil }

// Update applies p to the user ref.
func (s *Service) Update(ctx context.Context, actor audit.Actor, ref string, p Patch) (User, error) {
	if p.empty() {
		return User{}, apperr.Invalid(apperr.Validation{Field: "body", Detail: "give at least one of email, name, password, role, suspended"})
	}
	var vs []apperr.Validation
	var email string
	if p.Email != nil {
		e, v := validateEmail(*p.Email)
		if v != nil {
			vs = append(vs, *v)
		}
		email = e
	}
	if p.Name != nil {
		if v := validateName(*p.Name); v != nil {
			vs = append(vs, *v)
		}
	}
	if p.Password != nil {
		if v := validatePassword(*p.Password); v != nil {
			vs = append(vs, *v)
		}
	}
	if p.Role != nil {
		if _, ok := auth.ParseRole(*p.Role); !ok {
			vs = append(vs, apperr.Validation{Field: "role", Detail: "must be one of owner, auditor, member"})
		}
	}
	if err := apperr.Invalid(vs...); err != nil {
		return User{}, err
	}
	var hash string
	if p.Password != nil {
		h, err := auth.HashPassword(*p.Password)
		if err != nil {
			return User{}, err
		}
		hash = h
	}

	u, err := database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (dbsqlc.User, error) {
		q := dbsqlc.New(tx)
		var owners []uuid.UUID
		if p.mayRemoveOwner() {
			var err error
			if owners, err = lockOwners(ctx, q); err != nil {
				return dbsqlc.User{}, err
			}
		}
		old, err := lookup(ctx, q, ref, true)
		if err != nil {
			return dbsqlc.User{}, err
		}
		next := old
		if p.Email != nil {
			next.Email = email
		}
		if p.Name != nil {
			next.Name = *p.Name
		}
		if p.Password != nil {
			next.PasswordHash = hash
		}
		if p.Role != nil {
			next.Role = dbsqlc.UserRole(*p.Role)
		}
		if p.Suspended != nil {
			next.Suspended = *p.Suspended
		}
		if isActiveOwner(old) && !isActiveOwner(next) {
			if err := ensureAnotherOwner(owners, old); err != nil {
				return dbsqlc.User{}, err
			}
		}
		updated, err := q.UserUpdate(ctx, dbsqlc.UserUpdateParams{
			ID: old.ID, Email: next.Email, Name: next.Name, PasswordHash: next.PasswordHash,
			Role: next.Role, Suspended: next.Suspended, Now: s.now().UTC(),
		})
		if isUniqueViolation(err) {
			return dbsqlc.User{}, apperr.Conflict("A user with email %s already exists.", next.Email)
		}
		if err != nil {
			return dbsqlc.User{}, fmt.Errorf("update user: %w", err)
		}
		// Every replica drops the user's cached tokens when this commits:
		// the principal they carry (role, email, suspension) may be stale.
		if err := auth.PublishUserChanged(ctx, tx, old.ID); err != nil {
			return dbsqlc.User{}, err
		}
		return updated, s.audit.Record(ctx, tx, audit.Entry{
			Actor: actor, Action: audit.ActionWrite, ResourceType: "user", ResourceID: old.ID.String(), ResourceName: updated.Email,
			Diff: audit.Changes(auditFields(old), auditFields(updated), "password"),
		})
	})
	if err != nil {
		return User{}, err
	}
	// At once here; the notification reaches this replica too, later.
	s.auth.ForgetUser(u.ID)
	return toUser(u), nil
}

// Delete removes a user and, with it, their tokens.
func (s *Service) Delete(ctx context.Context, actor audit.Actor, ref string) error {
	id, err := database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (uuid.UUID, error) {
		q := dbsqlc.New(tx)
		owners, err := lockOwners(ctx, q)
		if err != nil {
			return uuid.Nil, err
		}
		old, err := lookup(ctx, q, ref, true)
		if err != nil {
			return uuid.Nil, err
		}
		if isActiveOwner(old) {
			if err := ensureAnotherOwner(owners, old); err != nil {
				return uuid.Nil, err
			}
		}
		if _, err := q.UserDelete(ctx, old.ID); err != nil {
			return uuid.Nil, fmt.Errorf("delete user: %w", err)
		}
		if err := auth.PublishUserChanged(ctx, tx, old.ID); err != nil {
			return uuid.Nil, err
		}
		return old.ID, s.audit.Record(ctx, tx, audit.Entry{
			Actor: actor, Action: audit.ActionDelete, ResourceType: "user", ResourceID: old.ID.String(), ResourceName: old.Email,
			Diff: audit.Changes(auditFields(old), nil, "password"),
		})
	})
	if err != nil {
		return err
	}
	s.auth.ForgetUser(id)
	return nil
}

// Login checks an email and password and returns a new token. clientIP is
// the caller's address ("" for in-process callers). Wrong credentials get
// one answer whether or not the email exists, after the same work; the
// attempt is reserved with the throttle, per email and per client, before
// the password is verified, so parallel guesses are throttled exactly like
// sequential ones.
func (s *Service) Login(ctx context.Context, email, password, clientIP string) (User, string, error) {
	key := emailaddr.Normalize(email)
	now := s.now()
	attempt, wait := s.throttle.Reserve(key, clientIP, now)
	if attempt == nil {
		return User{}, "", &apperr.Error{Kind: apperr.KindThrottled, RetryAfter: wait,
			Message: fmt.Sprintf("Too many failed logins for this email or from this address; try again in %d s.", int(wait.Seconds()+0.999))}
	}
	// From here on the attempt counts as a failure unless it is released
	// or succeeds: a wrong password just returns.
	invalid := apperr.Unauthorized("Wrong email or password.")
	u, err := dbsqlc.New(s.db.Pool).UserGetByEmail(ctx, key)
	if errors.Is(err, pgx.ErrNoRows) {
		auth.BurnPasswordCheck(password)
		return User{}, "", invalid
	}
	if err != nil {
		attempt.Release()
		return User{}, "", fmt.Errorf("look up user: %w", err)
	}
	ok, err := auth.VerifyPassword(u.PasswordHash, password)
	if err != nil {
		attempt.Release()
		return User{}, "", fmt.Errorf("verify password of user %s: %w", u.ID, err)
	}
	if !ok {
		return User{}, "", invalid
	}
	if u.Suspended {
		attempt.Release()
		return User{}, "", apperr.Forbidden("This user is suspended.")
	}
	attempt.Succeeded()
	actor := audit.Actor{ID: u.ID.String(), Email: u.Email}
	token, err := database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (string, error) {
		_, token, err := s.insertToken(ctx, tx, actor, u, "login "+now.UTC().Format(time.RFC3339), loginScopes, ptr(now.Add(LoginTokenLifetime)), audit.ActionLogin)
		return token, err
	})
	if err != nil {
		return User{}, "", err
	}
	return toUser(u), token, nil
}

func ptr[T any](v T) *T { return &v }

func (s *Service) insertToken(ctx context.Context, tx pgx.Tx, actor audit.Actor, u dbsqlc.User, name string, scopes []auth.Scope, expiresAt *time.Time, action audit.Action) (Token, string, error) {
	id, token, hash, err := auth.NewToken()
	if err != nil {
		return Token{}, "", fmt.Errorf("generate token: %w", err)
	}
	if expiresAt != nil {
		expiresAt = ptr(expiresAt.UTC().Truncate(time.Microsecond))
	}
	row, err := dbsqlc.New(tx).APITokenInsert(ctx, dbsqlc.APITokenInsertParams{
		ID: id, UserID: u.ID, Name: name, SecretHash: hash, Scopes: auth.ScopeStrings(scopes), ExpiresAt: expiresAt, Now: s.now().UTC(),
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("insert token: %w", err)
	}
	fields := map[string]any{"id": row.ID, "name": row.Name, "user": u.Email, "scopes": row.Scopes, "expires_at": row.ExpiresAt}
	resourceType, resourceID, resourceName := "api_token", row.ID, row.Name
	if action == audit.ActionLogin {
		resourceType, resourceID, resourceName = "user", u.ID.String(), u.Email
		fields = map[string]any{"token_id": row.ID, "scopes": row.Scopes}
	}
	err = s.audit.Record(ctx, tx, audit.Entry{
		Actor: actor, Action: action, ResourceType: resourceType, ResourceID: resourceID, ResourceName: resourceName,
		Diff: audit.Changes(nil, fields),
	})
	return toToken(row), token, err
}

// TokenInput mints a token.
type TokenInput struct {
	Name      string
	ExpiresAt *time.Time // nil: never expires
	// Scopes are scope names; nil means DefaultTokenScopes. An empty list
	// is refused: a token that opens nothing is a mistake.
	Scopes []string
}

// CreateToken mints a token for the user ref; the secret is returned once.
func (s *Service) CreateToken(ctx context.Context, actor audit.Actor, ref string, in TokenInput) (Token, string, error) {
	var vs []apperr.Validation
	if strings.TrimSpace(in.Name) == "" || len(in.Name) > 100 {
		vs = append(vs, apperr.Validation{Field: "name", Detail: "must be 1 to 100 characters"})
	}
	scopes := DefaultTokenScopes
	if in.Scopes != nil {
		var err error
		if scopes, err = auth.ParseScopes(in.Scopes); err != nil {
			vs = append(vs, apperr.Validation{Field: "scopes", Detail: err.Error()})
		}
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(s.now()) {
		vs = append(vs, apperr.Validation{Field: "expires_at", Detail: "must be in the future"})
	}
	if err := apperr.Invalid(vs...); err != nil {
		return Token{}, "", err
	}
	type result struct {
		t      Token
		secret string
	}
	r, err := database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (result, error) {
		u, err := lookup(ctx, dbsqlc.New(tx), ref, false)
		if err != nil {
			return result{}, err
		}
		t, secret, err := s.insertToken(ctx, tx, actor, u, in.Name, scopes, in.ExpiresAt, audit.ActionCreate)
		return result{t, secret}, err
	})
	return r.t, r.secret, err
}

// ListTokens lists the user's tokens.
func (s *Service) ListTokens(ctx context.Context, ref string) ([]Token, error) {
	q := dbsqlc.New(s.db.Pool)
	u, err := lookup(ctx, q, ref, false)
	if err != nil {
		return nil, err
	}
	rows, err := q.APITokenListByUser(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out := make([]Token, len(rows))
	for i, r := range rows {
		out[i] = toToken(r)
	}
	return out, nil
}

// RevokeToken deletes one of the user's tokens.
func (s *Service) RevokeToken(ctx context.Context, actor audit.Actor, ref, tokenID string) error {
	_, err := database.Tx(ctx, s.db, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		q := dbsqlc.New(tx)
		u, err := lookup(ctx, q, ref, false)
		if err != nil {
			return struct{}{}, err
		}
		t, err := q.APITokenGet(ctx, tokenID)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && t.UserID != u.ID) {
			return struct{}{}, apperr.NotFound("User %s has no token %q.", u.Email, tokenID)
		}
		if err != nil {
			return struct{}{}, fmt.Errorf("look up token: %w", err)
		}
		if _, err := q.APITokenDelete(ctx, t.ID); err != nil {
			return struct{}{}, fmt.Errorf("delete token: %w", err)
		}
		if err := auth.PublishTokenRevoked(ctx, tx, t.ID); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, s.audit.Record(ctx, tx, audit.Entry{
			Actor: actor, Action: audit.ActionDelete, ResourceType: "api_token", ResourceID: t.ID, ResourceName: t.Name,
			Diff: audit.Changes(map[string]any{"id": t.ID, "name": t.Name, "user": u.Email}, nil),
		})
	})
	if err != nil {
		return err
	}
	s.auth.ForgetToken(tokenID)
	return nil
}
