package policies_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/policies"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func TestWindow(t *testing.T) {
	t.Parallel()
	berlin := zone(t, "Europe/Berlin")
	utc := time.UTC
	at := func(loc *time.Location, y int, m time.Month, d, h, min, s int) time.Time {
		return time.Date(y, m, d, h, min, s, 0, loc)
	}
	for _, c := range []struct {
		name       string
		period     policies.Period
		loc        *time.Location
		at         time.Time
		start, end time.Time
		hours      float64 // the window's length, when it is not the usual one
	}{
		{"minute", policies.PeriodMinute, utc, at(utc, 2026, 3, 4, 10, 7, 59), at(utc, 2026, 3, 4, 10, 7, 0), at(utc, 2026, 3, 4, 10, 8, 0), 0},
		{"minute on its first instant", policies.PeriodMinute, utc, at(utc, 2026, 3, 4, 10, 7, 0), at(utc, 2026, 3, 4, 10, 7, 0), at(utc, 2026, 3, 4, 10, 8, 0), 0},
		{"minute in a zone half an hour off", policies.PeriodMinute, zone(t, "Asia/Kolkata"), at(utc, 2026, 3, 4, 10, 7, 30), at(utc, 2026, 3, 4, 10, 7, 0), at(utc, 2026, 3, 4, 10, 8, 0), 0},
		{"day", policies.PeriodDay, utc, at(utc, 2026, 3, 4, 23, 59, 59), at(utc, 2026, 3, 4, 0, 0, 0), at(utc, 2026, 3, 5, 0, 0, 0), 24},
		{"day in Berlin", policies.PeriodDay, berlin, at(utc, 2026, 3, 4, 23, 30, 0), at(berlin, 2026, 3, 5, 0, 0, 0), at(berlin, 2026, 3, 6, 0, 0, 0), 24},
		{"day of spring forward", policies.PeriodDay, berlin, at(berlin, 2026, 3, 29, 12, 0, 0), at(berlin, 2026, 3, 29, 0, 0, 0), at(berlin, 2026, 3, 30, 0, 0, 0), 23},
		{"day of fall back", policies.PeriodDay, berlin, at(berlin, 2026, 10, 25, 2, 30, 0), at(berlin, 2026, 10, 25, 0, 0, 0), at(berlin, 2026, 10, 26, 0, 0, 0), 25},
		{"week from Monday", policies.PeriodWeek, utc, at(utc, 2026, 3, 4, 12, 0, 0), at(utc, 2026, 3, 2, 0, 0, 0), at(utc, 2026, 3, 9, 0, 0, 0), 168},
		{"week on a Sunday", policies.PeriodWeek, utc, at(utc, 2026, 3, 8, 23, 0, 0), at(utc, 2026, 3, 2, 0, 0, 0), at(utc, 2026, 3, 9, 0, 0, 0), 168},
		{"week on a Monday", policies.PeriodWeek, utc, at(utc, 2026, 3, 9, 0, 0, 0), at(utc, 2026, 3, 9, 0, 0, 0), at(utc, 2026, 3, 16, 0, 0, 0), 168},
		{"week across a year end", policies.PeriodWeek, utc, at(utc, 2027, 1, 1, 0, 0, 0), at(utc, 2026, 12, 28, 0, 0, 0), at(utc, 2027, 1, 4, 0, 0, 0), 168},
		{"week across spring forward", policies.PeriodWeek, berlin, at(berlin, 2026, 3, 29, 22, 0, 0), at(berlin, 2026, 3, 23, 0, 0, 0), at(berlin, 2026, 3, 30, 0, 0, 0), 167},
		{"month", policies.PeriodMonth, utc, at(utc, 2026, 1, 31, 23, 59, 59), at(utc, 2026, 1, 1, 0, 0, 0), at(utc, 2026, 2, 1, 0, 0, 0), 0},
		{"February", policies.PeriodMonth, utc, at(utc, 2026, 2, 15, 0, 0, 0), at(utc, 2026, 2, 1, 0, 0, 0), at(utc, 2026, 3, 1, 0, 0, 0), 28 * 24},
		{"February of a leap year", policies.PeriodMonth, utc, at(utc, 2028, 2, 29, 12, 0, 0), at(utc, 2028, 2, 1, 0, 0, 0), at(utc, 2028, 3, 1, 0, 0, 0), 29 * 24},
		{"December", policies.PeriodMonth, utc, at(utc, 2026, 12, 31, 23, 0, 0), at(utc, 2026, 12, 1, 0, 0, 0), at(utc, 2027, 1, 1, 0, 0, 0), 0},
		{"month of spring forward in Berlin", policies.PeriodMonth, berlin, at(utc, 2026, 2, 28, 23, 30, 0), at(berlin, 2026, 3, 1, 0, 0, 0), at(berlin, 2026, 4, 1, 0, 0, 0), 31*24 - 1},
		{"none (concurrency)", policies.PeriodNone, berlin, at(utc, 2026, 3, 4, 0, 0, 0), at(utc, 1970, 1, 1, 0, 0, 0), at(utc, 9999, 1, 1, 0, 0, 0), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := policies.Policy{Period: c.period, Location: c.loc}
			start, end := p.Window(c.at)
			require.True(t, start.Equal(c.start), "start %s, want %s", start, c.start)
			require.True(t, end.Equal(c.end), "end %s, want %s", end, c.end)
			require.Equal(t, time.UTC, start.Location(), "windows are in UTC, as the database's keys")
			require.False(t, c.at.Before(start))
			require.True(t, c.at.Before(end))
			if c.hours != 0 {
				require.Equal(t, c.hours, end.Sub(start).Hours())
			}
			// The next window starts where this one ends.
			next, _ := p.Window(end)
			if c.period != policies.PeriodNone {
				require.True(t, next.Equal(end))
			}
		})
	}
}

// TestWindowEveryHourOfAYear: in a DST zone, every hour of a year lies in
// the day window that Window gives it, and consecutive days tile time.
func TestWindowEveryHourOfAYear(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "America/Havana", "Asia/Beirut"} {
		loc := zone(t, name)
		for _, period := range []policies.Period{policies.PeriodDay, policies.PeriodWeek, policies.PeriodMonth} {
			p := policies.Policy{Period: period, Location: loc}
			from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var prevStart, prevEnd time.Time
			for at := from; at.Before(from.AddDate(1, 0, 0)); at = at.Add(30 * time.Minute) {
				start, end := p.Window(at)
				require.False(t, at.Before(start), "%s %s %s", name, period, at)
				require.True(t, at.Before(end), "%s %s %s", name, period, at)
				if !prevStart.IsZero() && !start.Equal(prevStart) {
					require.True(t, start.Equal(prevEnd), "%s %s: windows tile at %s", name, period, at)
				}
				prevStart, prevEnd = start, end
				// The window starts on the first instant of its local day:
				// the instant before is on the day before.
				before, first := start.Add(-time.Second).In(loc), start.In(loc)
				require.NotEqual(t, first.Format(time.DateOnly), before.Format(time.DateOnly), "%s %s at %s: %s starts mid-day", name, period, at, first)
				if period == policies.PeriodDay {
					local := start.In(loc)
					// 01:00 where midnight falls in a spring-forward gap.
					require.True(t, local.Hour() == 0 || local.Hour() == 1, "%s day starts at local midnight: %s", name, local)
					require.Equal(t, 0, local.Minute())
				}
			}
		}
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	user, other := uuid.New(), uuid.New()
	team, otherTeam := uuid.New(), uuid.New()
	for _, c := range []struct {
		name     string
		p        policies.Policy
		user     uuid.UUID
		token    string
		groups   []uuid.UUID
		provider string
		model    string
		want     bool
	}{
		{"everyone", policies.Policy{Scope: policies.ScopeEveryone}, user, "t1", nil, "openai", "gpt-4o", true},
		{"the user", policies.Policy{Scope: policies.ScopeUser, UserID: user}, user, "t1", nil, "openai", "gpt-4o", true},
		{"another user", policies.Policy{Scope: policies.ScopeUser, UserID: other}, user, "t1", nil, "openai", "gpt-4o", false},
		{"the token", policies.Policy{Scope: policies.ScopeToken, TokenID: "t1"}, user, "t1", nil, "openai", "gpt-4o", true},
		{"another token", policies.Policy{Scope: policies.ScopeToken, TokenID: "t2"}, user, "t1", nil, "openai", "gpt-4o", false},
		{"a token policy and no token", policies.Policy{Scope: policies.ScopeToken, TokenID: ""}, user, "", nil, "openai", "gpt-4o", false},
		{"a member of the group", policies.Policy{Scope: policies.ScopeGroup, GroupID: team}, user, "t1", []uuid.UUID{otherTeam, team}, "openai", "gpt-4o", true},
		{"not a member", policies.Policy{Scope: policies.ScopeGroup, GroupID: team}, user, "t1", []uuid.UUID{otherTeam}, "openai", "gpt-4o", false},
		{"no groups", policies.Policy{Scope: policies.ScopeGroup, GroupID: team}, user, "t1", nil, "openai", "gpt-4o", false},
		{"provider narrowing, in", policies.Policy{Scope: policies.ScopeEveryone, Providers: []string{"anthropic", "openai"}}, user, "", nil, "openai", "gpt-4o", true},
		{"provider narrowing, out", policies.Policy{Scope: policies.ScopeEveryone, Providers: []string{"anthropic"}}, user, "", nil, "openai", "gpt-4o", false},
		{"provider prefix", policies.Policy{Scope: policies.ScopeEveryone, Providers: []string{"openai-*"}}, user, "", nil, "openai-eu", "gpt-4o", true},
		{"model exact", policies.Policy{Scope: policies.ScopeEveryone, Models: []string{"gpt-4o"}}, user, "", nil, "openai", "gpt-4o", true},
		{"model exact is not a prefix", policies.Policy{Scope: policies.ScopeEveryone, Models: []string{"gpt-4o"}}, user, "", nil, "openai", "gpt-4o-mini", false},
		{"model prefix", policies.Policy{Scope: policies.ScopeEveryone, Models: []string{"claude-opus-*"}}, user, "", nil, "anthropic", "claude-opus-4-1", true},
		{"model prefix, out", policies.Policy{Scope: policies.ScopeEveryone, Models: []string{"claude-opus-*"}}, user, "", nil, "anthropic", "claude-sonnet-4", false},
		{"bare * matches any model", policies.Policy{Scope: policies.ScopeEveryone, Models: []string{"*"}}, user, "", nil, "anthropic", "x", true},
		{"both narrowings", policies.Policy{Scope: policies.ScopeUser, UserID: user, Providers: []string{"anthropic"}, Models: []string{"claude-*"}}, user, "", nil, "openai", "claude-x", false},
	} {
		require.Equal(t, c.want, c.p.Matches(c.user, c.token, c.groups, c.provider, c.model), c.name)
	}
}

func TestSubject(t *testing.T) {
	t.Parallel()
	u := uuid.New()
	require.Equal(t, "", policies.Policy{}.Subject(u))
	require.Equal(t, u.String(), policies.Policy{PerMember: true}.Subject(u))
}

func TestUSD(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int64{"25": 25_000_000, "25.00": 25_000_000, "0.000001": 1, "1.5": 1_500_000, "0": 0, "0.10": 100_000} {
		got, err := policies.ParseUSD(s)
		require.NoError(t, err, s)
		require.Equal(t, want, got, s)
	}
	for _, s := range []string{"", "-1", "1.0000001", "1,5", ".5", "5.", "1e3", " 1", "$5", "99999999999999999999"} {
		_, err := policies.ParseUSD(s)
		require.Error(t, err, s)
	}
	for micros, want := range map[int64]string{25_000_000: "25.00", 1: "0.000001", 1_500_000: "1.50", 0: "0.00", 1_234_567: "1.234567", -1_500: "-0.0015"} {
		require.Equal(t, want, policies.FormatUSD(micros))
	}
}

func TestAllows(t *testing.T) {
	t.Parallel()
	p := policies.Policy{Kind: policies.KindModels, AllowModels: []string{"gpt-4.1", "claude-sonnet-*"}}
	require.True(t, p.Allows("gpt-4.1"))
	require.False(t, p.Allows("gpt-4.1-mini"))
	require.True(t, p.Allows("claude-sonnet-4-5"))
	require.False(t, p.Allows("claude-opus-4-1"))
}

// The engine asks Window and Matches on every admission; they must cost
// next to nothing against its 100 µs budget.
func BenchmarkWindow(b *testing.B) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(b, err)
	at := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	for _, period := range []policies.Period{policies.PeriodMinute, policies.PeriodDay, policies.PeriodWeek, policies.PeriodMonth} {
		p := policies.Policy{Period: period, Location: berlin}
		b.Run(string(period), func(b *testing.B) {
			for b.Loop() {
				p.Window(at)
			}
		})
	}
}

func BenchmarkMatches(b *testing.B) {
	user, team := uuid.New(), uuid.New()
	groups := []uuid.UUID{uuid.New(), uuid.New(), team}
	p := policies.Policy{Scope: policies.ScopeGroup, GroupID: team, Providers: []string{"anthropic", "openai"}, Models: []string{"gpt-4o", "claude-*"}}
	for b.Loop() {
		p.Matches(user, "tok", groups, "anthropic", "claude-sonnet-4-5")
	}
}
