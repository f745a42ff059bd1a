package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Group is a group as the API shows it; Members is there when one group
// is shown (not in a list).
type Group struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	DisplayName string        `json:"display_name"`
	MemberCount int           `json:"member_count"`
	Members     []GroupMember `json:"members,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
}

// GroupMember is a user in a group.
type GroupMember struct {
	ID      string    `json:"id"`
	Email   string    `json:"email"`
	Name    string    `json:"name"`
	AddedAt time.Time `json:"added_at"`
}

// GroupList is the answer to listing groups.
type GroupList struct {
	Groups []Group `json:"groups"`
}

// GroupInput creates a group.
type GroupInput struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
}

// GroupPatch changes a group; nil fields stay as they are.
type GroupPatch struct {
	Name        *string `json:"name,omitempty"`
	DisplayName *string `json:"display_name,omitempty"`
}

// Policy is a policy as the API shows it: Group is the group's name, User
// the user's email, Token the token's id (null unless the scope is theirs).
type Policy struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Scope       string    `json:"scope"`
	Group       *string   `json:"group"`
	User        *string   `json:"user"`
	Token       *string   `json:"token"`
	PerMember   bool      `json:"per_member"`
	Providers   []string  `json:"providers"`
	Models      []string  `json:"models"`
	Kind        string    `json:"kind"`
	Period      *string   `json:"period"`
	Limit       *int64    `json:"limit"`
	LimitUSD    *string   `json:"limit_usd,omitempty"`
	AllowModels []string  `json:"allow_models"`
	TimeZone    string    `json:"time_zone"`
	Enabled     bool      `json:"enabled"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// PolicyList is the answer to listing policies (a member's: those that
// apply to them).
type PolicyList struct {
	Policies []Policy `json:"policies"`
}

// PolicyInput creates a policy; empty fields are left out.
type PolicyInput struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Scope       string   `json:"scope"`
	Group       string   `json:"group,omitempty"`
	User        string   `json:"user,omitempty"`
	Token       string   `json:"token,omitempty"`
	PerMember   bool     `json:"per_member,omitempty"`
	Providers   []string `json:"providers,omitempty"`
	Models      []string `json:"models,omitempty"`
	Kind        string   `json:"kind"`
	Period      string   `json:"period,omitempty"`
	Limit       *int64   `json:"limit,omitempty"`
	LimitUSD    *string  `json:"limit_usd,omitempty"`
	AllowModels []string `json:"allow_models,omitempty"`
	TimeZone    string   `json:"time_zone,omitempty"`
	Enabled     *bool    `json:"enabled,omitempty"`
}

// PolicyPatch changes a policy; nil fields stay as they are.
type PolicyPatch struct {
	Name        *string   `json:"name,omitempty"`
	Description *string   `json:"description,omitempty"`
	Group       *string   `json:"group,omitempty"`
	User        *string   `json:"user,omitempty"`
	Token       *string   `json:"token,omitempty"`
	PerMember   *bool     `json:"per_member,omitempty"`
	Providers   *[]string `json:"providers,omitempty"`
	Models      *[]string `json:"models,omitempty"`
	Period      *string   `json:"period,omitempty"`
	Limit       *int64    `json:"limit,omitempty"`
	LimitUSD    *string   `json:"limit_usd,omitempty"`
	AllowModels *[]string `json:"allow_models,omitempty"`
	TimeZone    *string   `json:"time_zone,omitempty"`
	Enabled     *bool     `json:"enabled,omitempty"`
}

// PolicyWindowStatus is where one window of a policy stands; the _usd
// amounts are there for budgets.
type PolicyWindowStatus struct {
	Policy       string    `json:"policy"`
	Subject      string    `json:"subject"`
	User         string    `json:"user,omitempty"`
	WindowStart  time.Time `json:"window_start"`
	ResetsAt     time.Time `json:"resets_at"`
	Limit        int64     `json:"limit"`
	Spent        int64     `json:"spent"`
	Reserved     int64     `json:"reserved"`
	Remaining    int64     `json:"remaining"`
	Exhausted    bool      `json:"exhausted"`
	LimitUSD     string    `json:"limit_usd,omitempty"`
	SpentUSD     string    `json:"spent_usd,omitempty"`
	ReservedUSD  string    `json:"reserved_usd,omitempty"`
	RemainingUSD string    `json:"remaining_usd,omitempty"`
}

// PolicyStatus is the answer to a policy's status: its pool's window, or
// each member's of a per-member policy (a member's own alone).
type PolicyStatus struct {
	Policy    string               `json:"policy"`
	Kind      string               `json:"kind"`
	PerMember bool                 `json:"per_member"`
	Statuses  []PolicyWindowStatus `json:"statuses"`
}

func groupPath(ref string) string  { return "/api/v1/groups/" + url.PathEscape(ref) }
func policyPath(ref string) string { return "/api/v1/policies/" + url.PathEscape(ref) }

// ListGroups lists the groups by name.
func (c *Client) ListGroups(ctx context.Context) (GroupList, error) {
	var l GroupList
	err := c.Do(ctx, http.MethodGet, "/api/v1/groups", nil, nil, &l)
	return l, err
}

// GetGroup returns the group ref (a name or id) with its members.
func (c *Client) GetGroup(ctx context.Context, ref string) (Group, error) {
	var g Group
	err := c.Do(ctx, http.MethodGet, groupPath(ref), nil, nil, &g)
	return g, err
}

// CreateGroup adds a group.
func (c *Client) CreateGroup(ctx context.Context, in GroupInput) (Group, error) {
	var g Group
	err := c.Do(ctx, http.MethodPost, "/api/v1/groups", nil, in, &g)
	return g, err
}

// UpdateGroup renames the group ref or changes its display name.
func (c *Client) UpdateGroup(ctx context.Context, ref string, p GroupPatch) (Group, error) {
	var g Group
	err := c.Do(ctx, http.MethodPatch, groupPath(ref), nil, p, &g)
	return g, err
}

// DeleteGroup removes the group ref; one that policies name is refused (409).
func (c *Client) DeleteGroup(ctx context.Context, ref string) error {
	return c.Do(ctx, http.MethodDelete, groupPath(ref), nil, nil, nil)
}

// AddGroupMember puts the user userRef (an email or id) in the group ref.
func (c *Client) AddGroupMember(ctx context.Context, ref, userRef string) (Group, error) {
	var g Group
	err := c.Do(ctx, http.MethodPut, groupPath(ref)+"/members/"+url.PathEscape(userRef), nil, nil, &g)
	return g, err
}

// RemoveGroupMember takes the user userRef out of the group ref.
func (c *Client) RemoveGroupMember(ctx context.Context, ref, userRef string) error {
	return c.Do(ctx, http.MethodDelete, groupPath(ref)+"/members/"+url.PathEscape(userRef), nil, nil, nil)
}

// ListPolicies lists the policies by name; a member gets those that apply
// to them.
func (c *Client) ListPolicies(ctx context.Context) (PolicyList, error) {
	var l PolicyList
	err := c.Do(ctx, http.MethodGet, "/api/v1/policies", nil, nil, &l)
	return l, err
}

// GetPolicy returns the policy ref (an id or a name).
func (c *Client) GetPolicy(ctx context.Context, ref string) (Policy, error) {
	var p Policy
	err := c.Do(ctx, http.MethodGet, policyPath(ref), nil, nil, &p)
	return p, err
}

// CreatePolicy adds a policy.
func (c *Client) CreatePolicy(ctx context.Context, in PolicyInput) (Policy, error) {
	var p Policy
	err := c.Do(ctx, http.MethodPost, "/api/v1/policies", nil, in, &p)
	return p, err
}

// UpdatePolicy applies p to the policy ref.
func (c *Client) UpdatePolicy(ctx context.Context, ref string, p PolicyPatch) (Policy, error) {
	var out Policy
	err := c.Do(ctx, http.MethodPatch, policyPath(ref), nil, p, &out)
	return out, err
}

// DeletePolicy removes the policy ref.
func (c *Client) DeletePolicy(ctx context.Context, ref string) error {
	return c.Do(ctx, http.MethodDelete, policyPath(ref), nil, nil, nil)
}

// GetPolicyStatus returns where the policy ref's current window stands.
func (c *Client) GetPolicyStatus(ctx context.Context, ref string) (PolicyStatus, error) {
	var s PolicyStatus
	err := c.Do(ctx, http.MethodGet, policyPath(ref)+"/status", nil, nil, &s)
	return s, err
}
