package policies

import (
	"slices"
	"strings"
	"sync"
	"time"

	// Time zones resolve from the binary's own copy of the zone database,
	// so a policy in "Europe/Berlin" works the same in a minimal container
	// image without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/google/uuid"
)

// ChangedChannel is notified, in the transaction of the change, of every
// change to a policy, a group or a group's members: the enforcement engine
// of every replica reloads policies and memberships on it.
const ChangedChannel = "aigate_policies_changed"

// Scope is whose requests a policy limits.
type Scope string

// The scopes.
const (
	ScopeEveryone Scope = "everyone"
	ScopeGroup    Scope = "group"
	ScopeUser     Scope = "user"
	ScopeToken    Scope = "token"
)

// Kind is what a policy limits.
type Kind string

// The kinds.
const (
	KindBudget      Kind = "budget"      // micro-dollars per period
	KindTokens      Kind = "tokens"      // input + output tokens per period
	KindRequests    Kind = "requests"    // requests per period
	KindConcurrency Kind = "concurrency" // requests in flight at once
	KindModels      Kind = "models"      // the models the scope may call
)

// Period is the calendar period of a budget, tokens or requests policy.
type Period string

// The periods; PeriodNone for concurrency and models policies.
const (
	PeriodNone   Period = ""
	PeriodMinute Period = "minute"
	PeriodDay    Period = "day"
	PeriodWeek   Period = "week"
	PeriodMonth  Period = "month"
)

// Policy is a policy as the enforcement engine sees it.
type Policy struct {
	ID          uuid.UUID
	Name        string
	Description string
	Scope       Scope
	// GroupID and UserID are uuid.Nil unless Scope is group or user.
	GroupID, UserID uuid.UUID
	// TokenID is "" unless Scope is token.
	TokenID string
	// PerMember gives each member of everyone or a group the limit, rather
	// than one pool they share.
	PerMember bool
	// Providers (names) and Models narrow the policy to requests that match
	// one of their patterns, when not empty (see MatchPattern).
	Providers, Models []string
	Kind              Kind
	Period            Period
	// Limit is micro-dollars for a budget, tokens, requests, or requests in
	// flight; 0 for a models policy.
	Limit int64
	// AllowModels are the patterns a models policy allows.
	AllowModels []string
	TimeZone    string
	// Location is TimeZone loaded; never nil in what this package returns.
	Location  *time.Location
	Enabled   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// The window of a policy without a period (concurrency, models): one that
// never ends, with the start the schema gives a concurrency window.
var (
	foreverStart = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	foreverEnd   = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Window is the calendar window of p's period in p's time zone that holds
// at: [start, end), both in UTC so that they compare and key maps as the
// database's timestamptz values do. Days, weeks (from Monday) and months
// start at local midnight, computed with time.Date in the zone, so a day
// across a daylight-saving change is 23 or 25 hours long. A policy without
// a period has one window from 1970 to 9999.
func (p Policy) Window(at time.Time) (start, end time.Time) {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	t := at.In(loc)
	y, m, d := t.Date()
	switch p.Period {
	case PeriodMinute:
		// Every zone in use today is offset from UTC by whole minutes, so
		// a local minute is a UTC minute; truncating the instant avoids
		// asking time.Date for a wall time that occurs twice.
		start = at.Truncate(time.Minute)
		end = start.Add(time.Minute)
	case PeriodDay:
		start, end = midnight(loc, y, m, d), midnight(loc, y, m, d+1)
	case PeriodWeek:
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		start, end = midnight(loc, y, m, d-back), midnight(loc, y, m, d-back+7)
	case PeriodMonth:
		start, end = midnight(loc, y, m, 1), midnight(loc, y, m+1, 1)
	default:
		return foreverStart, foreverEnd
	}
	return start.UTC(), end.UTC()
}

// midnight is the first instant of the local day y-m-d in loc (d may
// overflow the month, as time.Date allows). Where clocks spring forward at
// midnight (America/Santiago, for one), 00:00 does not exist and time.Date
// may answer with the instant an hour before the change, which is still on
// the day before; the day then starts at the change itself.
func midnight(loc *time.Location, y int, m time.Month, d int) time.Time {
	c := time.Date(y, m, d, 0, 0, 0, 0, loc)
	// Noon exists on every day, and carries the normalised date.
	noon := time.Date(y, m, d, 12, 0, 0, 0, loc)
	if cy, cm, cd := c.Date(); cd != noon.Day() || cm != noon.Month() || cy != noon.Year() {
		_, c = c.ZoneBounds()
	}
	return c
}

// Matches reports whether p applies to a request by userID with tokenID,
// whose user is in groups, to the provider named provider for model. It
// does not look at Enabled: the engine holds enabled policies only.
func (p Policy) Matches(userID uuid.UUID, tokenID string, groups []uuid.UUID, provider, model string) bool {
	if !p.scopeMatches(userID, tokenID, groups) {
		return false
	}
	if len(p.Providers) > 0 && !MatchAny(p.Providers, provider) {
		return false
	}
	if len(p.Models) > 0 && !MatchAny(p.Models, model) {
		return false
	}
	return true
}

func (p Policy) scopeMatches(userID uuid.UUID, tokenID string, groups []uuid.UUID) bool {
	switch p.Scope {
	case ScopeEveryone:
		return true
	case ScopeGroup:
		return slices.Contains(groups, p.GroupID)
	case ScopeUser:
		return userID == p.UserID
	case ScopeToken:
		return tokenID != "" && tokenID == p.TokenID
	}
	return false
}

// AppliesTo reports whether p's scope takes in the user with userID, one of
// whose tokens is in tokenIDs, and who is in groups, whatever provider or
// model they call: the policies a member is shown as theirs.
func (p Policy) AppliesTo(userID uuid.UUID, tokenIDs []string, groups []uuid.UUID) bool {
	if p.Scope == ScopeToken {
		return slices.Contains(tokenIDs, p.TokenID)
	}
	return p.scopeMatches(userID, "", groups)
}

// Allows reports whether a models policy lets its scope call model: the
// model matches one of AllowModels.
func (p Policy) Allows(model string) bool { return MatchAny(p.AllowModels, model) }

// Subject is the subject of the window a request of userID draws on: "" for
// a shared pool, the user's id for a per-member policy.
func (p Policy) Subject(userID uuid.UUID) string {
	if p.PerMember {
		return userID.String()
	}
	return ""
}

// MatchPattern reports whether s matches pattern: equal to it, or, for a
// pattern ending in *, starting with what precedes the *.
func MatchPattern(pattern, s string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(s, prefix)
	}
	return pattern == s
}

// MatchAny reports whether s matches one of patterns.
func MatchAny(patterns []string, s string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return MatchPattern(p, s) })
}

// locations caches loaded time zones: time.LoadLocation reads and parses
// the zone data on every call, and policies are reloaded on every change.
var locations sync.Map // name -> *time.Location

// loadLocation is time.LoadLocation, cached.
func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}
