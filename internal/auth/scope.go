package auth

import (
	"fmt"
	"slices"
	"strings"
)

// Scope is where a token may be used. It is checked apart from the role: a
// role says what a user may do, a scope which door the token opens, so a
// token handed to a coding agent cannot administer the deployment even when
// its user is an owner.
type Scope string

// The scopes, in the order they are stored and shown.
const (
	ScopeGateway Scope = "gateway" // the /ai/{provider}/... routes
	ScopeAPI     Scope = "api"     // the admin API, /api/v1/...
)

// AllScopes lists every scope in its canonical order.
var AllScopes = []Scope{ScopeGateway, ScopeAPI}

// ParseScopes validates a list of scope names and returns it in canonical
// order. The error says what is wrong and names the valid scopes; an empty
// list is refused because a token that opens nothing is a mistake.
func ParseScopes(names []string) ([]Scope, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("must name at least one scope: %s", scopeChoices)
	}
	seen := map[Scope]bool{}
	for _, n := range names {
		s := Scope(n)
		if !slices.Contains(AllScopes, s) {
			return nil, fmt.Errorf("%q is not a scope: use %s", n, scopeChoices)
		}
		if seen[s] {
			return nil, fmt.Errorf("lists %s twice: name each scope once", s)
		}
		seen[s] = true
	}
	out := make([]Scope, 0, len(seen))
	for _, s := range AllScopes {
		if seen[s] {
			out = append(out, s)
		}
	}
	return out, nil
}

const scopeChoices = "gateway (the /ai/ routes), api (the admin API), or both"

// ScopeStrings is scopes as the database stores them.
func ScopeStrings(scopes []Scope) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = string(s)
	}
	return out
}

// ScopesFromStrings reads scopes as the database stores them; the table's
// check constraint has already refused anything else.
func ScopesFromStrings(names []string) []Scope {
	out := make([]Scope, len(names))
	for i, n := range names {
		out[i] = Scope(n)
	}
	return out
}

// JoinScopes is scopes for people: "gateway,api".
func JoinScopes(scopes []Scope) string {
	return strings.Join(ScopeStrings(scopes), ",")
}

// HasScope reports whether the caller's token may be used where s is needed.
func (p Principal) HasScope(s Scope) bool { return slices.Contains(p.Scopes, s) }
