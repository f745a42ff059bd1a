package policies_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/policies"
	"github.com/aigate/aigate/internal/testdb"
)

var actor = audit.Actor{ID: uuid.NewString(), Email: "owner@example.com"}

func ptr[T any](v T) *T { return &v }

type fixture struct {
	db        *database.DB
	svc       *policies.Service
	now       time.Time
	dev, ops  uuid.UUID
	devToken  string
	listening *pgxpool.Conn
}

// setup makes a database with two users and a token of the first, and a
// connection listening on the policies channel.
func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{db: testdb.New(t), now: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC), dev: uuid.New(), ops: uuid.New(), devToken: "tok" + uuid.NewString()[:8]}
	f.svc = policies.NewService(f.db, &audit.Recorder{Now: func() time.Time { return f.now }}, func() time.Time { return f.now })
	for id, email := range map[uuid.UUID]string{f.dev: "dev@example.com", f.ops: "ops@example.com"} {
		_, err := f.db.Pool.Exec(ctx, `INSERT INTO users (id, email, name, password_hash, role, created_at, updated_at)
			VALUES ($1, $2, 'N', 'x', 'member', now(), now())`, id, email)
		require.NoError(t, err)
	}
	_, err := f.db.Pool.Exec(ctx, `INSERT INTO api_tokens (id, user_id, name, secret_hash, scopes, created_at)
		VALUES ($1, $2, 'ci', '\x00', '{gateway}', now())`, f.devToken, f.dev)
	require.NoError(t, err)
	conn, err := f.db.Pool.Acquire(ctx)
	require.NoError(t, err)
	t.Cleanup(conn.Release)
	_, err = conn.Exec(ctx, "LISTEN "+policies.ChangedChannel)
	require.NoError(t, err)
	f.listening = conn
	return f
}

// notified returns the next notification on the channel; the change has
// committed by then, so it is already queued.
func (f *fixture) notified(t *testing.T) policies.Change {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := f.listening.Conn().WaitForNotification(ctx)
	require.NoError(t, err)
	var c policies.Change
	require.NoError(t, json.Unmarshal([]byte(n.Payload), &c))
	return c
}

func (f *fixture) auditCount(t *testing.T, resourceType, action string) int {
	t.Helper()
	var n int
	require.NoError(t, f.db.Pool.QueryRow(context.Background(),
		"SELECT count(*) FROM audit_logs WHERE resource_type = $1 AND action = $2", resourceType, action).Scan(&n))
	return n
}

func validationsOf(t *testing.T, err error) map[string]string {
	t.Helper()
	e, ok := apperr.As(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, apperr.KindInvalid, e.Kind, "%v", err)
	out := map[string]string{}
	for _, v := range e.Validations {
		out[v.Field] = v.Detail
	}
	return out
}

func TestGroups(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	g, err := f.svc.CreateGroup(ctx, actor, policies.GroupInput{Name: "search", DisplayName: "Search team"})
	require.NoError(t, err)
	require.Equal(t, "search", g.Name)
	require.Equal(t, policies.Change{Resource: "group", ID: g.ID, Name: "search", Action: audit.ActionCreate}, f.notified(t))

	_, err = f.svc.CreateGroup(ctx, actor, policies.GroupInput{Name: "search"})
	e, _ := apperr.As(err)
	require.Equal(t, apperr.KindConflict, e.Kind)
	require.Contains(t, validationsOf(t, func() error {
		_, err := f.svc.CreateGroup(ctx, actor, policies.GroupInput{Name: "Search Team"})
		return err
	}()), "name")

	g, err = f.svc.AddMember(ctx, actor, "search", "DEV@example.com")
	require.NoError(t, err)
	require.Equal(t, 1, g.MemberCount)
	require.Equal(t, "dev@example.com", g.Members[0].Email)
	require.Equal(t, audit.ActionWrite, f.notified(t).Action)
	_, err = f.svc.AddMember(ctx, actor, "search", f.ops.String())
	require.NoError(t, err)
	f.notified(t)
	// Again: nothing changes, nothing is recorded.
	_, err = f.svc.AddMember(ctx, actor, g.ID.String(), "dev@example.com")
	require.NoError(t, err)
	require.Equal(t, 2, f.auditCount(t, "group", "write"))

	m, err := policies.LoadMemberships(ctx, f.db)
	require.NoError(t, err)
	require.Equal(t, map[uuid.UUID][]uuid.UUID{f.dev: {g.ID}, f.ops: {g.ID}}, m)

	_, err = f.svc.AddMember(ctx, actor, "search", "nobody@example.com")
	e, _ = apperr.As(err)
	require.Equal(t, apperr.KindNotFound, e.Kind)
	g, err = f.svc.RemoveMember(ctx, actor, "search", "ops@example.com")
	require.NoError(t, err)
	require.Equal(t, 1, g.MemberCount)
	f.notified(t)
	_, err = f.svc.RemoveMember(ctx, actor, "search", "ops@example.com")
	e, _ = apperr.As(err)
	require.Equal(t, apperr.KindNotFound, e.Kind)

	g, err = f.svc.UpdateGroup(ctx, actor, "search", policies.GroupPatch{Name: ptr("search-eng")})
	require.NoError(t, err)
	require.Equal(t, "Search team", g.DisplayName)
	f.notified(t)
	_, err = f.svc.UpdateGroup(ctx, actor, "search-eng", policies.GroupPatch{})
	require.Contains(t, validationsOf(t, err), "body")

	// A group a policy names is kept, with the reason.
	_, err = f.svc.Create(ctx, actor, policies.Input{Name: "team-budget", Scope: policies.ScopeGroup, Group: "search-eng",
		Kind: policies.KindBudget, Period: policies.PeriodMonth, LimitUSD: ptr("100")})
	require.NoError(t, err)
	f.notified(t)
	err = f.svc.DeleteGroup(ctx, actor, "search-eng")
	e, _ = apperr.As(err)
	require.Equal(t, apperr.KindConflict, e.Kind)
	require.Contains(t, e.Message, "team-budget")
	require.NoError(t, f.svc.Delete(ctx, actor, "team-budget"))
	f.notified(t)
	require.NoError(t, f.svc.DeleteGroup(ctx, actor, "search-eng"))
	require.Equal(t, audit.ActionDelete, f.notified(t).Action)
	gs, err := f.svc.ListGroups(ctx)
	require.NoError(t, err)
	require.Empty(t, gs)
	m, err = policies.LoadMemberships(ctx, f.db)
	require.NoError(t, err)
	require.Empty(t, m)
	require.Equal(t, 1, f.auditCount(t, "group", "delete"))
}

func TestPolicyValidation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	_, err := f.svc.CreateGroup(ctx, actor, policies.GroupInput{Name: "team"})
	require.NoError(t, err)
	base := func(mod func(*policies.Input)) policies.Input {
		in := policies.Input{Name: "p", Scope: policies.ScopeEveryone, Kind: policies.KindRequests, Period: policies.PeriodMinute, Limit: ptr[int64](10)}
		mod(&in)
		return in
	}
	hundredOne := make([]string, 101)
	for i := range hundredOne {
		hundredOne[i] = fmt.Sprintf("m%d", i)
	}
	for _, c := range []struct {
		name   string
		in     policies.Input
		field  string
		detail string
	}{
		{"name", base(func(in *policies.Input) { in.Name = "Team Budget" }), "name", "lowercase"},
		{"name like an id", base(func(in *policies.Input) { in.Name = "0190d5f8-7c1e-7a3b-9e4f-0123456789ab" }), "name", "not an id"},
		{"scope", base(func(in *policies.Input) { in.Scope = "team" }), "scope", "everyone, group, user, token"},
		{"group missing", base(func(in *policies.Input) { in.Scope = policies.ScopeGroup }), "group", "required"},
		{"group unknown", base(func(in *policies.Input) { in.Scope, in.Group = policies.ScopeGroup, "nope" }), "group", `no group "nope"`},
		{"user unknown", base(func(in *policies.Input) { in.Scope, in.User = policies.ScopeUser, "who@example.com" }), "user", `no user "who@example.com"`},
		{"token unknown", base(func(in *policies.Input) { in.Scope, in.Token = policies.ScopeToken, "nope" }), "token", `no API token "nope"`},
		{"user on scope everyone", base(func(in *policies.Input) { in.User = "dev@example.com" }), "user", "only for scope user"},
		{"per_member on a user", base(func(in *policies.Input) {
			in.Scope, in.User, in.PerMember = policies.ScopeUser, "dev@example.com", true
		}), "per_member", "only for scope everyone or group"},
		{"kind", base(func(in *policies.Input) { in.Kind = "dollars" }), "kind", "budget, tokens, requests, concurrency, models"},
		{"period missing", base(func(in *policies.Input) { in.Period = "" }), "period", "required"},
		{"period unknown", base(func(in *policies.Input) { in.Period = "hour" }), "period", "minute, day, week, month"},
		{"period on concurrency", base(func(in *policies.Input) { in.Kind = policies.KindConcurrency }), "period", "only for budget, tokens and requests"},
		{"limit missing", base(func(in *policies.Input) { in.Limit = nil }), "limit", "required"},
		{"limit negative", base(func(in *policies.Input) { in.Limit = ptr[int64](-1) }), "limit", "0 or more"},
		{"budget without a limit", base(func(in *policies.Input) { in.Kind, in.Limit = policies.KindBudget, nil }), "limit_usd", "required"},
		{"limit_usd on requests", base(func(in *policies.Input) { in.LimitUSD = ptr("1") }), "limit_usd", "only for budget"},
		{"limit_usd and limit", base(func(in *policies.Input) { in.Kind, in.LimitUSD = policies.KindBudget, ptr("1") }), "limit_usd", "not both"},
		{"limit_usd too precise", base(func(in *policies.Input) { in.Kind, in.Limit, in.LimitUSD = policies.KindBudget, nil, ptr("0.0000001") }), "limit_usd", "at most 6 decimals"},
		{"limit_usd not a number", base(func(in *policies.Input) { in.Kind, in.Limit, in.LimitUSD = policies.KindBudget, nil, ptr("$25") }), "limit_usd", "decimal amount"},
		{"allow_models on requests", base(func(in *policies.Input) { in.AllowModels = []string{"gpt-4o"} }), "allow_models", "only for models"},
		{"models without allow_models", base(func(in *policies.Input) { in.Kind, in.Period, in.Limit = policies.KindModels, "", nil }), "allow_models", "required"},
		{"limit on models", base(func(in *policies.Input) { in.Kind, in.Period, in.AllowModels = policies.KindModels, "", []string{"x"} }), "limit", "not for a models policy"},
		{"empty pattern", base(func(in *policies.Input) { in.Models = []string{"gpt-4o", ""} }), "models[1]", "empty"},
		{"whitespace in a pattern", base(func(in *policies.Input) { in.Providers = []string{"open ai"} }), "providers[0]", "whitespace"},
		{"star inside a pattern", base(func(in *policies.Input) { in.Models = []string{"gpt-*-mini"} }), "models[0]", "only at its end"},
		{"too many patterns", base(func(in *policies.Input) { in.Models = hundredOne }), "models", "at most 100"},
		{"time zone", base(func(in *policies.Input) { in.TimeZone = "Europe/Berlinn" }), "time_zone", `"Europe/Berlin"`},
		{"Local", base(func(in *policies.Input) { in.TimeZone = "Local" }), "time_zone", "IANA name"},
	} {
		_, err := f.svc.Create(ctx, actor, c.in)
		vs := validationsOf(t, err)
		require.Contains(t, vs, c.field, c.name)
		require.Contains(t, vs[c.field], c.detail, c.name)
	}
	require.Zero(t, f.auditCount(t, "policy", "create"))
}

func TestPolicyLifecycle(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	team, err := f.svc.CreateGroup(ctx, actor, policies.GroupInput{Name: "team"})
	require.NoError(t, err)
	f.notified(t)

	v, err := f.svc.Create(ctx, actor, policies.Input{Name: "dev-daily", Scope: policies.ScopeUser, User: "DEV@example.com",
		Kind: policies.KindBudget, Period: policies.PeriodDay, LimitUSD: ptr("25.50"), TimeZone: "Europe/Berlin",
		Models: []string{"claude-*", "claude-*", "gpt-4o"}})
	require.NoError(t, err)
	require.Equal(t, int64(25_500_000), *v.Limit)
	require.Equal(t, "25.50", *v.LimitUSD)
	require.Equal(t, "dev@example.com", *v.User)
	require.Equal(t, []string{"claude-*", "gpt-4o"}, v.Models, "deduplicated, in order")
	require.True(t, v.Enabled)
	require.Equal(t, policies.Change{Resource: "policy", ID: v.ID, Name: "dev-daily", Action: audit.ActionCreate}, f.notified(t))

	_, err = f.svc.Create(ctx, actor, policies.Input{Name: "dev-daily", Scope: policies.ScopeEveryone, Kind: policies.KindConcurrency, Limit: ptr[int64](3)})
	e, _ := apperr.As(err)
	require.Equal(t, apperr.KindConflict, e.Kind)

	// Patches: an empty one, the fixed fields, then real changes.
	_, err = f.svc.Update(ctx, actor, "dev-daily", policies.Patch{})
	require.Contains(t, validationsOf(t, err), "body")
	_, err = f.svc.Update(ctx, actor, "dev-daily", policies.Patch{Scope: ptr(policies.ScopeEveryone)})
	require.Contains(t, validationsOf(t, err), "scope")
	_, err = f.svc.Update(ctx, actor, "dev-daily", policies.Patch{Kind: ptr(policies.KindTokens)})
	require.Contains(t, validationsOf(t, err), "kind")
	_, err = f.svc.Update(ctx, actor, "dev-daily", policies.Patch{Group: ptr("team")})
	require.Contains(t, validationsOf(t, err), "group")
	v, err = f.svc.Update(ctx, actor, v.ID.String(), policies.Patch{Limit: ptr[int64](1_000_000), User: ptr("ops@example.com"), Enabled: ptr(false)})
	require.NoError(t, err)
	require.Equal(t, "1.00", *v.LimitUSD)
	require.Equal(t, "ops@example.com", *v.User)
	require.False(t, v.Enabled)
	require.Equal(t, audit.ActionWrite, f.notified(t).Action)
	var diff string
	require.NoError(t, f.db.Pool.QueryRow(ctx, "SELECT diff::text FROM audit_logs WHERE resource_type = 'policy' AND action = 'write'").Scan(&diff))
	require.JSONEq(t, `{"limit": {"old": 25500000, "new": 1000000}, "user": {"old": "dev@example.com", "new": "ops@example.com"}, "enabled": {"old": true, "new": false}}`, diff)

	enabled, err := policies.LoadEnabled(ctx, f.db)
	require.NoError(t, err)
	require.Empty(t, enabled, "the disabled policy is not enforced")
	_, err = f.svc.Update(ctx, actor, "dev-daily", policies.Patch{Enabled: ptr(true)})
	require.NoError(t, err)
	f.notified(t)

	// Other scopes, for LoadEnabled and the member's view.
	_, err = f.svc.Create(ctx, actor, policies.Input{Name: "team-monthly", Scope: policies.ScopeGroup, Group: team.ID.String(), PerMember: true,
		Kind: policies.KindTokens, Period: policies.PeriodMonth, Limit: ptr[int64](1_000_000)})
	require.NoError(t, err)
	_, err = f.svc.Create(ctx, actor, policies.Input{Name: "ci-rpm", Scope: policies.ScopeToken, Token: f.devToken,
		Kind: policies.KindRequests, Period: policies.PeriodMinute, Limit: ptr[int64](60)})
	require.NoError(t, err)
	_, err = f.svc.Create(ctx, actor, policies.Input{Name: "allowed", Scope: policies.ScopeEveryone, Kind: policies.KindModels, AllowModels: []string{"gpt-4o"}})
	require.NoError(t, err)
	enabled, err = policies.LoadEnabled(ctx, f.db)
	require.NoError(t, err)
	require.Len(t, enabled, 4)
	byName := map[string]policies.Policy{}
	for _, p := range enabled {
		byName[p.Name] = p
	}
	require.Equal(t, "Europe/Berlin", byName["dev-daily"].Location.String())
	require.Equal(t, f.ops, byName["dev-daily"].UserID)
	require.Equal(t, team.ID, byName["team-monthly"].GroupID)
	require.Equal(t, f.devToken, byName["ci-rpm"].TokenID)
	require.Equal(t, policies.PeriodNone, byName["allowed"].Period)

	// dev: not in the team yet; their token's policy and everyone's apply.
	mine, err := f.svc.ListFor(ctx, f.dev)
	require.NoError(t, err)
	require.Equal(t, []string{"allowed", "ci-rpm"}, names(mine))
	_, err = f.svc.AddMember(ctx, actor, "team", "dev@example.com")
	require.NoError(t, err)
	mine, err = f.svc.ListFor(ctx, f.dev)
	require.NoError(t, err)
	require.Equal(t, []string{"allowed", "ci-rpm", "team-monthly"}, names(mine))
	_, err = f.svc.GetFor(ctx, "dev-daily", f.dev)
	e, _ = apperr.As(err)
	require.Equal(t, apperr.KindNotFound, e.Kind, "another user's policy is not found")

	require.NoError(t, f.svc.Delete(ctx, actor, "dev-daily"))
	_, err = f.svc.Get(ctx, "dev-daily")
	e, _ = apperr.As(err)
	require.Equal(t, apperr.KindNotFound, e.Kind)
	require.Equal(t, 1, f.auditCount(t, "policy", "delete"))
	require.Equal(t, 4, f.auditCount(t, "policy", "create"))
}

func names(vs []policies.View) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

// TestChangeRollsBack: a change whose audit entry fails leaves nothing
// behind and announces nothing.
func TestChangeRollsBack(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	svc := policies.NewService(f.db, &audit.Recorder{AfterWrite: func(context.Context, audit.Entry) error { return fmt.Errorf("injected") }}, nil)
	_, err := svc.Create(ctx, actor, policies.Input{Name: "p", Scope: policies.ScopeEveryone, Kind: policies.KindConcurrency, Limit: ptr[int64](2)})
	require.ErrorContains(t, err, "injected")
	_, err = svc.CreateGroup(ctx, actor, policies.GroupInput{Name: "g"})
	require.ErrorContains(t, err, "injected")
	vs, err := f.svc.List(ctx)
	require.NoError(t, err)
	require.Empty(t, vs)
	// The next notification is this one's, not the failed changes'.
	g, err := f.svc.CreateGroup(ctx, actor, policies.GroupInput{Name: "g"})
	require.NoError(t, err)
	require.Equal(t, g.ID, f.notified(t).ID)
}

func TestStatus(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	shared, err := f.svc.Create(ctx, actor, policies.Input{Name: "daily", Scope: policies.ScopeEveryone,
		Kind: policies.KindBudget, Period: policies.PeriodDay, LimitUSD: ptr("10")})
	require.NoError(t, err)
	each, err := f.svc.Create(ctx, actor, policies.Input{Name: "each", Scope: policies.ScopeEveryone, PerMember: true,
		Kind: policies.KindRequests, Period: policies.PeriodMinute, Limit: ptr[int64](5)})
	require.NoError(t, err)
	at := time.Date(2026, 3, 4, 10, 30, 15, 0, time.UTC)

	st, err := policies.Status(ctx, f.db, shared.Policy, at, "")
	require.NoError(t, err)
	require.Equal(t, policies.WindowStatus{Policy: "daily", WindowStart: time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC),
		ResetsAt: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), Limit: 10_000_000, Remaining: 10_000_000,
		LimitUSD: "10.00", SpentUSD: "0.00", ReservedUSD: "0.00", RemainingUSD: "10.00"}, st, "no window yet: nothing spent")

	window := func(p policies.View, subject string, settled, granted int64) {
		start, end := p.Policy.Window(at)
		_, err := f.db.Pool.Exec(ctx, `INSERT INTO policy_windows (policy_id, subject, window_start, window_end, settled, granted)
			VALUES ($1, $2, $3, $4, $5, $6)`, p.ID, subject, start, end, settled, granted)
		require.NoError(t, err)
	}
	window(shared, "", 7_250_000, 3_000_000)
	st, err = policies.Status(ctx, f.db, shared.Policy, at, "")
	require.NoError(t, err)
	require.Equal(t, int64(7_250_000), st.Spent)
	require.Equal(t, int64(3_000_000), st.Reserved)
	require.Equal(t, int64(0), st.Remaining, "never below zero")
	require.True(t, st.Exhausted)
	require.Equal(t, "7.25", st.SpentUSD)
	// Yesterday's window is not today's.
	st, err = policies.Status(ctx, f.db, shared.Policy, at.AddDate(0, 0, 1), "")
	require.NoError(t, err)
	require.Zero(t, st.Spent)

	window(each, f.dev.String(), 2, 1)
	window(each, f.ops.String(), 5, 0)
	all, err := f.svc.Statuses(ctx, each, at, uuid.Nil)
	require.NoError(t, err)
	require.Len(t, all, 2)
	byUser := map[string]policies.WindowStatus{}
	for _, s := range all {
		byUser[s.User] = s
	}
	require.Equal(t, int64(2), byUser["dev@example.com"].Remaining)
	require.True(t, byUser["ops@example.com"].Exhausted)
	require.Empty(t, byUser["ops@example.com"].SpentUSD, "dollars for budgets only")
	mine, err := f.svc.Statuses(ctx, each, at, f.dev)
	require.NoError(t, err)
	require.Equal(t, []policies.WindowStatus{byUser["dev@example.com"]}, mine)
	fresh := uuid.New()
	mine, err = f.svc.Statuses(ctx, each, at, fresh)
	require.NoError(t, err)
	require.Equal(t, fresh.String(), mine[0].Subject)
	require.Equal(t, int64(5), mine[0].Remaining)
}
