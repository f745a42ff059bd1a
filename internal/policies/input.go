package policies

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/google/uuid"

	"github.com/aigate/aigate/internal/apperr"
)

// namePattern is the schema's CHECK on group and policy names, so that a
// name the API accepts is one the database stores.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

const nameRule = "must be 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit, such as team-search"

// validName reports whether name may name a group or a policy: the schema's
// pattern, and not the form of an id, since a path value that parses as an
// id is looked up as one (a policy named like another's id could never be
// reached by its name).
func validName(name string) bool {
	if !namePattern.MatchString(name) {
		return false
	}
	_, err := uuid.Parse(name)
	return err != nil
}

// Bounds on what a policy carries.
const (
	maxDescription  = 1000
	maxDisplayName  = 200
	maxPatterns     = 100
	maxPatternBytes = 200
)

// Input creates a policy; its JSON is the API's request body.
type Input struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Scope       Scope  `json:"scope"`
	// Group (a name or id), User (an email or id) and Token (an id) name
	// the scope's subject; only the one the scope needs is given.
	Group     string   `json:"group"`
	User      string   `json:"user"`
	Token     string   `json:"token"`
	PerMember bool     `json:"per_member"`
	Providers []string `json:"providers"`
	Models    []string `json:"models"`
	Kind      Kind     `json:"kind"`
	Period    Period   `json:"period"`
	Limit     *int64   `json:"limit"`
	// LimitUSD is a budget's limit in dollars, as a decimal string; give it
	// or Limit (micro-dollars).
	LimitUSD    *string  `json:"limit_usd"`
	AllowModels []string `json:"allow_models"`
	// TimeZone is an IANA zone name; "" is UTC.
	TimeZone string `json:"time_zone"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled"`
}

// Patch changes a policy; absent (nil) fields stay as they are. A policy's
// scope and kind are fixed: its windows count in the kind's unit for the
// scope's subjects.
type Patch struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	Scope       *Scope    `json:"scope"`
	Group       *string   `json:"group"`
	User        *string   `json:"user"`
	Token       *string   `json:"token"`
	PerMember   *bool     `json:"per_member"`
	Providers   *[]string `json:"providers"`
	Models      *[]string `json:"models"`
	Kind        *Kind     `json:"kind"`
	Period      *Period   `json:"period"`
	Limit       *int64    `json:"limit"`
	LimitUSD    *string   `json:"limit_usd"`
	AllowModels *[]string `json:"allow_models"`
	TimeZone    *string   `json:"time_zone"`
	Enabled     *bool     `json:"enabled"`
}

func (p Patch) empty() bool {
	return p == Patch{}
}

// draft is a policy's fields before its group, user and token are looked
// up: what validate judges, for a creation and for a policy with a patch
// applied alike.
type draft struct {
	Input
}

// spec is a validated draft: the Policy to store, less its ids, and the
// references still to look up.
type spec struct {
	p                  Policy
	group, user, token string
}

// validate judges d and returns what to store, or every invalid field.
func (d draft) validate() (spec, error) {
	var vs []apperr.Validation
	bad := func(field, format string, args ...any) {
		vs = append(vs, apperr.Validation{Field: field, Detail: fmt.Sprintf(format, args...)})
	}
	s := spec{p: Policy{Name: d.Name, Description: d.Description, Scope: d.Scope, PerMember: d.PerMember,
		Kind: d.Kind, Period: d.Period, Enabled: d.Enabled == nil || *d.Enabled}}
	if !validName(d.Name) {
		bad("name", nameRule+", and not an id")
	}
	if len(d.Description) > maxDescription {
		bad("description", "must be at most %d bytes", maxDescription)
	}

	refs := map[Scope]struct{ field, value, rule string }{
		ScopeGroup: {"group", d.Group, "a group's name or id"},
		ScopeUser:  {"user", d.User, "a user's email or id"},
		ScopeToken: {"token", d.Token, "an API token's id"},
	}
	switch d.Scope {
	case ScopeEveryone, ScopeGroup, ScopeUser, ScopeToken:
	default:
		bad("scope", "must be one of everyone, group, user, token")
	}
	for _, sc := range []Scope{ScopeGroup, ScopeUser, ScopeToken} {
		r := refs[sc]
		switch {
		case sc == d.Scope && r.value == "":
			bad(r.field, "is required for scope %s: give %s", sc, r.rule)
		case sc != d.Scope && r.value != "":
			bad(r.field, "is only for scope %s", sc)
		}
	}
	s.group, s.user, s.token = d.Group, d.User, d.Token
	if d.PerMember && d.Scope != ScopeEveryone && d.Scope != ScopeGroup {
		bad("per_member", "is only for scope everyone or group: a user's or a token's limit is already their own")
	}

	periodic := d.Kind == KindBudget || d.Kind == KindTokens || d.Kind == KindRequests
	switch d.Kind {
	case KindBudget, KindTokens, KindRequests, KindConcurrency, KindModels:
	default:
		bad("kind", "must be one of budget, tokens, requests, concurrency, models")
	}
	switch {
	case periodic && d.Period == "":
		bad("period", "is required for a %s policy: one of minute, day, week, month", d.Kind)
	case periodic && !slices.Contains([]Period{PeriodMinute, PeriodDay, PeriodWeek, PeriodMonth}, d.Period):
		bad("period", "must be one of minute, day, week, month")
	case !periodic && d.Period != "" && d.Kind != "":
		bad("period", "is only for budget, tokens and requests policies; a %s policy has none", d.Kind)
	}

	switch {
	case d.Kind == KindModels:
		if d.Limit != nil || d.LimitUSD != nil {
			bad("limit", "is not for a models policy: it allows models, it does not count")
		}
	case d.LimitUSD != nil && d.Kind != KindBudget:
		bad("limit_usd", "is only for budget policies; give limit")
	case d.LimitUSD != nil && d.Limit != nil:
		bad("limit_usd", "give limit (micro-dollars) or limit_usd (dollars), not both")
	case d.LimitUSD != nil:
		micros, err := ParseUSD(*d.LimitUSD)
		if err != nil {
			bad("limit_usd", "%s", err.Error())
		}
		s.p.Limit = micros
	case d.Limit == nil:
		if d.Kind == KindBudget {
			bad("limit_usd", "is required: the budget in dollars, such as \"25.00\" (or limit, in micro-dollars)")
		} else if d.Kind != "" {
			bad("limit", "is required: the most %s", limitUnit(d.Kind))
		}
	case *d.Limit < 0:
		bad("limit", "must be 0 or more")
	default:
		s.p.Limit = *d.Limit
	}

	var v *apperr.Validation
	if s.p.Providers, v = patterns("providers", d.Providers); v != nil {
		vs = append(vs, *v)
	}
	if s.p.Models, v = patterns("models", d.Models); v != nil {
		vs = append(vs, *v)
	}
	if s.p.AllowModels, v = patterns("allow_models", d.AllowModels); v != nil {
		vs = append(vs, *v)
	}
	switch {
	case d.Kind == KindModels && len(s.p.AllowModels) == 0:
		bad("allow_models", "is required for a models policy: the models the scope may call, such as [\"gpt-4o\", \"claude-*\"]")
	case d.Kind != KindModels && len(d.AllowModels) > 0:
		bad("allow_models", "is only for models policies")
	}

	s.p.TimeZone = d.TimeZone
	if s.p.TimeZone == "" {
		s.p.TimeZone = "UTC"
	}
	// "Local" is whatever zone each replica's machine is in: replicas in
	// different zones would disagree on when a day starts.
	if loc, err := loadLocation(s.p.TimeZone); err != nil || s.p.TimeZone == "Local" || strings.ContainsFunc(s.p.TimeZone, unicode.IsSpace) {
		bad("time_zone", "%q is not a time zone: use an IANA name such as \"Europe/Berlin\", \"America/New_York\" or \"UTC\"", d.TimeZone)
	} else {
		s.p.Location = loc
	}
	return s, apperr.Invalid(vs...)
}

func limitUnit(k Kind) string {
	switch k {
	case KindTokens:
		return "input + output tokens per period"
	case KindRequests:
		return "requests per period"
	case KindConcurrency:
		return "requests in flight at once"
	}
	return "amount"
}

// patterns checks a list of patterns (exact, or a prefix ending in *) and
// returns it without duplicates, in the order given.
func patterns(field string, in []string) ([]string, *apperr.Validation) {
	out := []string{}
	for i, p := range in {
		bad := func(detail string) *apperr.Validation {
			return &apperr.Validation{Field: fmt.Sprintf("%s[%d]", field, i), Detail: detail}
		}
		switch {
		case p == "":
			return nil, bad("must not be empty")
		case strings.ContainsFunc(p, unicode.IsSpace):
			return nil, bad("must not contain whitespace")
		case len(p) > maxPatternBytes:
			return nil, bad(fmt.Sprintf("must be at most %d bytes", maxPatternBytes))
		case strings.Contains(strings.TrimSuffix(p, "*"), "*"):
			return nil, bad("may hold * only at its end, as a prefix such as claude-*")
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) > maxPatterns {
		return nil, &apperr.Validation{Field: field, Detail: fmt.Sprintf("must have at most %d entries", maxPatterns)}
	}
	return out, nil
}

// patched is the draft of p with patch applied, and the draft's fields a
// patch may not change refused.
func patched(old draft, p Patch) (draft, error) {
	var vs []apperr.Validation
	if p.Scope != nil && *p.Scope != old.Scope {
		vs = append(vs, apperr.Validation{Field: "scope", Detail: "cannot be changed: create a new policy for another scope, then delete this one"})
	}
	if p.Kind != nil && *p.Kind != old.Kind {
		vs = append(vs, apperr.Validation{Field: "kind", Detail: "cannot be changed: its windows count in the kind's unit; create a new policy instead"})
	}
	if err := apperr.Invalid(vs...); err != nil {
		return draft{}, err
	}
	d := old
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&d.Name, p.Name)
	set(&d.Description, p.Description)
	set(&d.Group, p.Group)
	set(&d.User, p.User)
	set(&d.Token, p.Token)
	set(&d.TimeZone, p.TimeZone)
	if p.PerMember != nil {
		d.PerMember = *p.PerMember
	}
	if p.Providers != nil {
		d.Providers = *p.Providers
	}
	if p.Models != nil {
		d.Models = *p.Models
	}
	if p.AllowModels != nil {
		d.AllowModels = *p.AllowModels
	}
	if p.Period != nil {
		d.Period = *p.Period
	}
	// A new limit in either unit replaces the old one; both in one patch is
	// the error it is in a creation.
	if p.Limit != nil || p.LimitUSD != nil {
		d.Limit, d.LimitUSD = p.Limit, p.LimitUSD
	}
	if p.Enabled != nil {
		d.Enabled = p.Enabled
	}
	return d, nil
}
