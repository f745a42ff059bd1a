package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The types below mirror the server's JSON field for field, so a value
// marshalled again is the answer the server gave.

// User is a user as the API shows it.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Suspended bool      `json:"suspended"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Token is an API token without its secret.
type Token struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

// Session is the answer to a login or to creating the first owner: the user
// and a new token (the secret, shown once).
type Session struct {
	User  User   `json:"user"`
	Token string `json:"token"`
}

// NewToken is a created token and its secret, shown once.
type NewToken struct {
	APIToken Token  `json:"api_token"`
	Token    string `json:"token"`
}

// UserList is the answer to listing users.
type UserList struct {
	Users []User `json:"users"`
}

// TokenList is the answer to listing a user's tokens.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}

// AuditEntry is one audit log row.
type AuditEntry struct {
	ID           int64           `json:"id"`
	Time         time.Time       `json:"time"`
	Actor        string          `json:"actor"`
	ActorEmail   string          `json:"actor_email,omitempty"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resource_type"`
	ResourceID   string          `json:"resource_id"`
	ResourceName string          `json:"resource_name"`
	Diff         json.RawMessage `json:"diff"`
	RequestID    string          `json:"request_id"`
	IP           string          `json:"ip"`
	UserAgent    string          `json:"user_agent"`
	StatusCode   int32           `json:"status_code"`
}

// AuditPage is one page of the audit log, newest first. NextCursor is empty
// on the last page.
type AuditPage struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor"`
}

// AuditFilter selects audit entries; zero fields do not filter.
type AuditFilter struct {
	ResourceType string
	Resource     string // id or name
	Actor        string
	Action       string
	Since        *time.Time
	Until        *time.Time
	Limit        int
	Cursor       string
}

// UserInput creates a user. Role is ignored by CreateFirstUser (the first
// user is an owner).
type UserInput struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
	Role     string `json:"role,omitempty"`
}

// UserPatch changes a user; nil fields are left out of the request and stay
// as they are.
type UserPatch struct {
	Email     *string `json:"email,omitempty"`
	Name      *string `json:"name,omitempty"`
	Password  *string `json:"password,omitempty"`
	Role      *string `json:"role,omitempty"`
	Suspended *bool   `json:"suspended,omitempty"`
}

// userPath is /api/v1/users/{ref}, ref being an id, an email or "me".
func userPath(ref string) string { return "/api/v1/users/" + url.PathEscape(ref) }

// Login exchanges an email and password for a new token.
func (c *Client) Login(ctx context.Context, email, password string) (Session, error) {
	var s Session
	err := c.Do(ctx, http.MethodPost, "/api/v1/login", nil, map[string]string{"email": email, "password": password}, &s)
	return s, err
}

// CreateFirstUser creates the first owner of a server that has no users yet
// and logs them in. A server with users answers 409.
func (c *Client) CreateFirstUser(ctx context.Context, in UserInput) (Session, error) {
	in.Role = ""
	var s Session
	err := c.Do(ctx, http.MethodPost, "/api/v1/users/first", nil, in, &s)
	return s, err
}

// ListUsers lists every user.
func (c *Client) ListUsers(ctx context.Context) (UserList, error) {
	var l UserList
	err := c.Do(ctx, http.MethodGet, "/api/v1/users", nil, nil, &l)
	return l, err
}

// GetUser returns the user ref (an id, an email or "me").
func (c *Client) GetUser(ctx context.Context, ref string) (User, error) {
	var u User
	err := c.Do(ctx, http.MethodGet, userPath(ref), nil, nil, &u)
	return u, err
}

// CreateUser adds a user.
func (c *Client) CreateUser(ctx context.Context, in UserInput) (User, error) {
	var u User
	err := c.Do(ctx, http.MethodPost, "/api/v1/users", nil, in, &u)
	return u, err
}

// UpdateUser applies p to the user ref.
func (c *Client) UpdateUser(ctx context.Context, ref string, p UserPatch) (User, error) {
	var u User
	err := c.Do(ctx, http.MethodPatch, userPath(ref), nil, p, &u)
	return u, err
}

// DeleteUser removes the user ref and their tokens.
func (c *Client) DeleteUser(ctx context.Context, ref string) error {
	return c.Do(ctx, http.MethodDelete, userPath(ref), nil, nil, nil)
}

// ListTokens lists the tokens of the user ref.
func (c *Client) ListTokens(ctx context.Context, ref string) (TokenList, error) {
	var l TokenList
	err := c.Do(ctx, http.MethodGet, userPath(ref)+"/tokens", nil, nil, &l)
	return l, err
}

// CreateToken mints a token for the user ref; expiresAt nil means it never
// expires, scopes nil leaves them to the server (gateway).
func (c *Client) CreateToken(ctx context.Context, ref, name string, expiresAt *time.Time, scopes []string) (NewToken, error) {
	in := struct {
		Name      string     `json:"name"`
		ExpiresAt *time.Time `json:"expires_at,omitempty"`
		Scopes    []string   `json:"scopes,omitempty"`
	}{name, expiresAt, scopes}
	var t NewToken
	err := c.Do(ctx, http.MethodPost, userPath(ref)+"/tokens", nil, in, &t)
	return t, err
}

// RevokeToken deletes the token id of the user ref.
func (c *Client) RevokeToken(ctx context.Context, ref, id string) error {
	return c.Do(ctx, http.MethodDelete, userPath(ref)+"/tokens/"+url.PathEscape(id), nil, nil, nil)
}

// ListAudit returns one page of the audit log.
func (c *Client) ListAudit(ctx context.Context, f AuditFilter) (AuditPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{
		"resource_type": f.ResourceType, "resource": f.Resource, "actor": f.Actor, "action": f.Action, "cursor": f.Cursor,
	} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Since != nil {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if f.Until != nil {
		q.Set("until", f.Until.Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var p AuditPage
	err := c.Do(ctx, http.MethodGet, "/api/v1/audit", q, nil, &p)
	return p, err
}

// Provider is an AI provider as the API shows it: keys masked, Bedrock
// credentials never.
type Provider struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	DisplayName string            `json:"display_name"`
	Enabled     bool              `json:"enabled"`
	Deleted     bool              `json:"deleted"`
	BaseURL     string            `json:"base_url"`
	Settings    *ProviderSettings `json:"settings"`
	APIKeys     []ProviderKey     `json:"api_keys"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	Warnings    []ProviderWarning `json:"warnings,omitempty"`
	// State is ready, disabled, deleted or "broken: <why>"; empty from a
	// server older than the field.
	State string `json:"state,omitempty"`
	// GatewayBaseURL is the base URL to set in a tool (OPENAI_BASE_URL,
	// ANTHROPIC_BASE_URL) to use the provider through the server, as the
	// server was reached; empty from a server older than the field.
	GatewayBaseURL string `json:"gateway_base_url,omitempty"`
}

// ProviderWarning is something the server accepted but that is likely a
// mistake, such as a base URL against the vendor's convention.
type ProviderWarning struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// ProviderSettings are a Bedrock provider's settings; the credentials are
// write-only, HasCredentials says whether some are stored.
type ProviderSettings struct {
	Region         string `json:"region"`
	Model          string `json:"model"`
	SmallFastModel string `json:"small_fast_model"`
	HasCredentials bool   `json:"has_credentials"`
}

// ProviderKey is a stored API key, masked. Keys are tried in list order.
type ProviderKey struct {
	ID        string    `json:"id"`
	Masked    string    `json:"masked"`
	CreatedAt time.Time `json:"created_at"`
}

// ProviderList is the answer to listing providers.
type ProviderList struct {
	Providers []Provider `json:"providers"`
	// Form says which fields the providers have: ProviderFormFull, or
	// ProviderFormShort when the caller is a member. Empty from a server
	// older than the field, which answered members nothing but 403.
	Form string `json:"form,omitempty"`
}

// The forms of a ProviderList.
const (
	// ProviderFormFull has every field.
	ProviderFormFull = "full"
	// ProviderFormShort, what members get, has the name, type, display
	// name and gateway base URL only: the enabled providers they may use.
	ProviderFormShort = "short"
)

// Short reports whether l holds the short form, which members get.
func (l ProviderList) Short() bool { return l.Form == ProviderFormShort }

// ProviderKeyInput is one entry of a key set sent to the server: a stored
// key kept by its ID (KeepKey), or a new key (NewKey).
type ProviderKeyInput struct {
	ID     *string `json:"id,omitempty"`
	APIKey *string `json:"api_key,omitempty"`
}

// KeepKey keeps the stored key id, at its place in the list.
func KeepKey(id string) ProviderKeyInput { return ProviderKeyInput{ID: &id} }

// NewKey adds key, at its place in the list.
func NewKey(key string) ProviderKeyInput { return ProviderKeyInput{APIKey: &key} }

// ProviderSettingsInput sets Bedrock settings. In a patch a nil field keeps
// its value; "" resets a model to its default and clears the region or a
// credential.
type ProviderSettingsInput struct {
	Region          *string `json:"region,omitempty"`
	Model           *string `json:"model,omitempty"`
	SmallFastModel  *string `json:"small_fast_model,omitempty"`
	AccessKey       *string `json:"access_key,omitempty"`
	AccessKeySecret *string `json:"access_key_secret,omitempty"`
}

// ProviderInput creates a provider. Enabled nil means enabled; APIKeys may
// only hold new keys.
type ProviderInput struct {
	Name        string                 `json:"name"`
	Type        string                 `json:"type"`
	DisplayName string                 `json:"display_name"`
	Enabled     *bool                  `json:"enabled,omitempty"`
	BaseURL     string                 `json:"base_url"`
	Settings    *ProviderSettingsInput `json:"settings,omitempty"`
	APIKeys     []ProviderKeyInput     `json:"api_keys,omitempty"`
}

// ProviderPatch changes a provider; nil fields are left out and stay as
// they are. APIKeys, when not nil, is the complete new key set in order:
// stored keys left out are deleted, and an empty set clears them all. The
// type cannot change.
type ProviderPatch struct {
	Name        *string                `json:"name,omitempty"`
	DisplayName *string                `json:"display_name,omitempty"`
	Enabled     *bool                  `json:"enabled,omitempty"`
	BaseURL     *string                `json:"base_url,omitempty"`
	Settings    *ProviderSettingsInput `json:"settings,omitempty"`
	APIKeys     *[]ProviderKeyInput    `json:"api_keys,omitempty"`
}

// providerPath is /api/v1/providers/{ref}, ref being an id or a name.
func providerPath(ref string) string { return "/api/v1/providers/" + url.PathEscape(ref) }

// ListProviders lists the live providers (enabled and disabled) by name,
// and the deleted ones too with includeDeleted. A member gets the enabled
// ones only, in the short form (see ProviderList.Form); includeDeleted is
// refused them (403).
func (c *Client) ListProviders(ctx context.Context, includeDeleted bool) (ProviderList, error) {
	var q url.Values
	if includeDeleted {
		q = url.Values{"include_deleted": {"true"}}
	}
	var l ProviderList
	err := c.Do(ctx, http.MethodGet, "/api/v1/providers", q, nil, &l)
	return l, err
}

// GetProvider returns the live provider ref (an id or a name).
func (c *Client) GetProvider(ctx context.Context, ref string) (Provider, error) {
	var p Provider
	err := c.Do(ctx, http.MethodGet, providerPath(ref), nil, nil, &p)
	return p, err
}

// CreateProvider adds a provider.
func (c *Client) CreateProvider(ctx context.Context, in ProviderInput) (Provider, error) {
	var p Provider
	err := c.Do(ctx, http.MethodPost, "/api/v1/providers", nil, in, &p)
	return p, err
}

// UpdateProvider applies p to the live provider ref.
func (c *Client) UpdateProvider(ctx context.Context, ref string, p ProviderPatch) (Provider, error) {
	var out Provider
	err := c.Do(ctx, http.MethodPatch, providerPath(ref), nil, p, &out)
	return out, err
}

// DeleteProvider soft-deletes the live provider ref: it stops serving and
// its name stays reserved until it is restored.
func (c *Client) DeleteProvider(ctx context.Context, ref string) error {
	return c.Do(ctx, http.MethodDelete, providerPath(ref), nil, nil, nil)
}

// RestoreProvider undeletes the provider ref and enables it.
func (c *Client) RestoreProvider(ctx context.Context, ref string) (Provider, error) {
	var p Provider
	err := c.Do(ctx, http.MethodPost, providerPath(ref)+"/restore", nil, nil, &p)
	return p, err
}
