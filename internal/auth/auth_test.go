package auth_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := auth.HashPassword("hunter2hunter2")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"))
	require.NotContains(t, h, "hunter2")
	ok, err := auth.VerifyPassword(h, "hunter2hunter2")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = auth.VerifyPassword(h, "hunter2hunter3")
	require.NoError(t, err)
	require.False(t, ok)
	h2, err := auth.HashPassword("hunter2hunter2")
	require.NoError(t, err)
	require.NotEqual(t, h, h2, "salted")
	_, err = auth.VerifyPassword("$bcrypt$nope", "x")
	require.Error(t, err)
}

func TestTokenFormat(t *testing.T) {
	t.Parallel()
	id, token, hash, err := auth.NewToken()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(token, auth.TokenPrefix+id+"_"))
	gotID, secret, ok := auth.ParseToken(token)
	require.True(t, ok)
	require.Equal(t, id, gotID)
	require.Equal(t, hash, auth.HashSecret(secret))
	outside := func(i int, c string) string { return token[:i] + c + token[i+1:] }
	idAt, secretAt := len(auth.TokenPrefix), len(auth.TokenPrefix)+len(id)+1
	for _, bad := range []string{"", "aig_", "aig_abc_def", "sk-" + token[4:], token + "x", strings.Replace(token, "_", "-", 2),
		outside(idAt, "\xff"), outside(idAt, "A"), outside(idAt, "1"), outside(secretAt, "\x00"), outside(secretAt, "8")} {
		_, _, ok := auth.ParseToken(bad)
		require.False(t, ok, bad)
	}
}

func TestLoginThrottleDelays(t *testing.T) {
	t.Parallel()
	th := auth.NewLoginThrottle()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fail := func(email string, at time.Time) {
		t.Helper()
		r, wait := th.Reserve(email, "192.0.2.1", at)
		require.NotNil(t, r, "admitted")
		require.Zero(t, wait)
		// Not calling Succeeded or Release leaves the attempt counted as
		// a failure, which is what a wrong password does.
	}
	for range auth.LoginFreePerEmail {
		fail("a@example.com", now)
	}
	r, wait := th.Reserve("a@example.com", "192.0.2.1", now)
	require.Nil(t, r)
	require.Equal(t, auth.LoginBaseDelay, wait)
	fail("a@example.com", now.Add(auth.LoginBaseDelay))
	now = now.Add(auth.LoginBaseDelay)
	_, wait = th.Reserve("a@example.com", "192.0.2.1", now)
	require.Equal(t, 2*auth.LoginBaseDelay, wait, "the delay doubles")
	_, wait = th.Reserve("a@example.com", "192.0.2.1", now.Add(auth.LoginBaseDelay))
	require.Equal(t, auth.LoginBaseDelay, wait, "a refused attempt is not counted and does not restart the delay")

	for range 10 {
		now = now.Add(auth.LoginMaxDelay)
		fail("a@example.com", now)
	}
	_, wait = th.Reserve("a@example.com", "192.0.2.1", now)
	require.Equal(t, auth.LoginMaxDelay, wait, "capped")

	r, _ = th.Reserve("b@example.com", "192.0.2.2", now)
	require.NotNil(t, r, "another email from another client is not slowed down")
	r.Succeeded()

	r, _ = th.Reserve("a@example.com", "192.0.2.1", now.Add(auth.LoginWindow+time.Second))
	require.NotNil(t, r, "forgotten after a quiet window")
	r.Succeeded()
	for range auth.LoginFreePerEmail {
		r, _ = th.Reserve("a@example.com", "192.0.2.1", now)
		require.NotNil(t, r, "a success forgets the email's failures")
	}
}

// TestLoginThrottleConcurrent: attempts made at the same moment are admitted
// no faster than one after another.
func TestLoginThrottleConcurrent(t *testing.T) {
	t.Parallel()
	th := auth.NewLoginThrottle()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 50
	var admitted atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if r, _ := th.Reserve("a@example.com", fmt.Sprintf("192.0.2.%d", i), now); r != nil {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(auth.LoginFreePerEmail), admitted.Load())
}

func TestLoginThrottlePerClient(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct{ first, same, other string }{
		"IPv4":             {"192.0.2.1", "192.0.2.1", "192.0.2.2"},
		"IPv4-mapped IPv6": {"192.0.2.1", "::ffff:192.0.2.1", "::ffff:192.0.2.2"},
		"IPv6 /64":         {"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:3::1"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			th := auth.NewLoginThrottle()
			for i := range auth.LoginFreePerClient {
				r, _ := th.Reserve(fmt.Sprintf("u%d@example.com", i), tc.first, now)
				require.NotNil(t, r)
			}
			r, wait := th.Reserve("fresh@example.com", tc.same, now)
			require.Nil(t, r, "a client spraying emails is slowed down")
			require.Equal(t, auth.LoginBaseDelay, wait)
			r, _ = th.Reserve("fresh@example.com", tc.other, now)
			require.NotNil(t, r, "another client is not")
		})
	}

	th := auth.NewLoginThrottle()
	for i := range auth.LoginFreePerClient {
		r, _ := th.Reserve(fmt.Sprintf("u%d@example.com", i), "192.0.2.1", now)
		require.NotNil(t, r)
		if i%2 == 0 {
			r.Succeeded()
		} else {
			r.Release()
		}
	}
	r, _ := th.Reserve("fresh@example.com", "192.0.2.1", now)
	require.NotNil(t, r, "successful and released attempts do not count against the client")

	th = auth.NewLoginThrottle()
	for range 3 * auth.LoginFreePerClient {
		r, _ := th.Reserve("a@example.com", "", now)
		if r != nil {
			r.Release()
		}
	}
	r, _ = th.Reserve("b@example.com", "", now)
	require.NotNil(t, r, "without a client address there is no client limit")
}

// TestLoginThrottleBounded: a spray of random emails from random addresses
// cannot grow the throttle past MaxEntries, and it forgets the quietest keys
// first.
func TestLoginThrottleBounded(t *testing.T) {
	t.Parallel()
	th := auth.NewLoginThrottle()
	th.MaxEntries = 1000
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range auth.LoginFreePerEmail {
		r, _ := th.Reserve("victim@example.com", "198.51.100.1", now)
		require.NotNil(t, r)
	}
	for i := range 10 * th.MaxEntries {
		if i%100 == 0 { // the attacker keeps guessing at the victim too
			_, wait := th.Reserve("victim@example.com", "198.51.100.1", now)
			require.Positive(t, wait)
			// Refused attempts are not remembered, so the victim's entry
			// ages; a guess that is admitted (after the delay) renews it.
			now = now.Add(auth.LoginMaxDelay)
			r, _ := th.Reserve("victim@example.com", "198.51.100.1", now)
			require.NotNil(t, r)
		}
		th.Reserve(fmt.Sprintf("%d@example.com", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), now)
		require.LessOrEqual(t, th.Len(), th.MaxEntries)
	}
	_, wait := th.Reserve("victim@example.com", "198.51.100.1", now)
	require.Positive(t, wait, "a key still being tried is not forgotten")

	now = now.Add(auth.LoginWindow + time.Second)
	th.Reserve("late@example.com", "192.0.2.1", now)
	require.Equal(t, 2, th.Len(), "quiet keys are dropped")
}

type fixture struct {
	db    *database.DB
	authn *auth.Authenticator
	clk   *clock.Manual
	user  dbsqlc.User
}

func setup(t testing.TB) *fixture {
	t.Helper()
	db := testdb.New(t)
	f := &fixture{db: db, clk: clock.NewManual(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))}
	f.authn = auth.NewAuthenticator(auth.Config{DB: db, Clock: f.clk})
	var err error
	f.user, err = dbsqlc.New(db.Pool).UserInsert(context.Background(), dbsqlc.UserInsertParams{
		ID: uuid.New(), Email: "u@example.com", Name: "U", PasswordHash: "x", Role: dbsqlc.UserRoleMember, Now: f.clk.Now(),
	})
	require.NoError(t, err)
	return f
}

// token mints a token with the given scopes (gateway if none).
func (f *fixture) token(t testing.TB, expires *time.Time, scopes ...auth.Scope) string {
	t.Helper()
	id, token, hash, err := auth.NewToken()
	require.NoError(t, err)
	if len(scopes) == 0 {
		scopes = []auth.Scope{auth.ScopeGateway}
	}
	_, err = dbsqlc.New(f.db.Pool).APITokenInsert(context.Background(), dbsqlc.APITokenInsertParams{
		ID: id, UserID: f.user.ID, Name: "t", SecretHash: hash, Scopes: auth.ScopeStrings(scopes), ExpiresAt: expires, Now: f.clk.Now(),
	})
	require.NoError(t, err)
	return token
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	tok := f.token(t, nil)
	p, err := f.authn.Authenticate(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, f.user.ID, p.UserID)
	require.Equal(t, auth.RoleMember, p.Role)

	_, err = f.authn.Authenticate(ctx, tok+"a")
	require.ErrorIs(t, err, auth.ErrMalformedToken, "wrong length")
	forged := tok[:len(tok)-2] + "aa"
	if forged == tok {
		forged = tok[:len(tok)-2] + "bb"
	}
	_, err = f.authn.Authenticate(ctx, forged)
	require.ErrorIs(t, err, auth.ErrUnknownToken, "a cached id with the wrong secret is refused")

	soon := f.clk.Now().Add(time.Hour)
	expiring := f.token(t, &soon)
	_, err = f.authn.Authenticate(ctx, expiring)
	require.NoError(t, err)
	f.clk.Advance(2 * time.Hour)
	_, err = f.authn.Authenticate(ctx, expiring)
	require.ErrorIs(t, err, auth.ErrExpiredToken)

	_, err = f.authn.Authenticate(ctx, tok)
	require.NoError(t, err)
	_, err = f.db.Pool.Exec(ctx, "UPDATE users SET suspended = true")
	require.NoError(t, err)
	_, err = f.authn.Authenticate(ctx, tok)
	require.NoError(t, err, "a change made behind the cache's back shows only after the TTL")
	f.clk.Advance(auth.CacheTTL)
	_, err = f.authn.Authenticate(ctx, tok)
	require.ErrorIs(t, err, auth.ErrSuspendedUser)
	_, err = f.authn.Authenticate(ctx, tok)
	require.ErrorIs(t, err, auth.ErrSuspendedUser, "from the cache")
	require.Equal(t, 5, auth.Lookups(f.authn), "each token once, again after the 2 h jump, and the first after the TTL; the forged one from the cache")
}

// The principal carries its token's scopes, from the database and from the
// cache alike.
func TestAuthenticateScopes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	for _, scopes := range [][]auth.Scope{{auth.ScopeGateway}, {auth.ScopeAPI}, {auth.ScopeGateway, auth.ScopeAPI}} {
		tok := f.token(t, nil, scopes...)
		for _, from := range []string{"database", "cache"} {
			p, err := f.authn.Authenticate(ctx, tok)
			require.NoError(t, err)
			require.Equal(t, scopes, p.Scopes, from)
			for _, s := range auth.AllScopes {
				require.Equal(t, slices.Contains(scopes, s), p.HasScope(s), "%s: %v has %s", from, scopes, s)
			}
		}
	}

	// The table refuses what ParseScopes would: no token opens nothing or
	// a door that does not exist.
	for _, bad := range [][]string{{}, {"admin"}, {"gateway", "API"}} {
		id, _, hash, err := auth.NewToken()
		require.NoError(t, err)
		_, err = dbsqlc.New(f.db.Pool).APITokenInsert(ctx, dbsqlc.APITokenInsertParams{
			ID: id, UserID: f.user.ID, Name: "t", SecretHash: hash, Scopes: bad, Now: f.clk.Now(),
		})
		require.ErrorContains(t, err, "api_tokens_scopes_check", "%v", bad)
	}
}

func TestParseScopes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   []string
		want []auth.Scope
		err  string
	}{
		{[]string{"gateway"}, []auth.Scope{auth.ScopeGateway}, ""},
		{[]string{"api"}, []auth.Scope{auth.ScopeAPI}, ""},
		{[]string{"api", "gateway"}, []auth.Scope{auth.ScopeGateway, auth.ScopeAPI}, ""},
		{nil, nil, "must name at least one scope"},
		{[]string{""}, nil, `"" is not a scope: use gateway`},
		{[]string{"Gateway"}, nil, `"Gateway" is not a scope`},
		{[]string{"gateway", "gateway"}, nil, "lists gateway twice"},
	} {
		got, err := auth.ParseScopes(c.in)
		if c.err != "" {
			require.ErrorContains(t, err, c.err, "%q", c.in)
			continue
		}
		require.NoError(t, err, "%q", c.in)
		require.Equal(t, c.want, got, "%q", c.in)
	}
}

// BenchmarkAuthenticateCached is the gateway's per-request cost of a token
// check once the token is cached.
func BenchmarkAuthenticateCached(b *testing.B) {
	f := setup(b) // the clock stands still: always a hit
	tok := f.token(b, nil)
	ctx := context.Background()
	_, err := f.authn.Authenticate(ctx, tok)
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.authn.Authenticate(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAuthenticateMiss is a cache miss: one indexed query.
func BenchmarkAuthenticateMiss(b *testing.B) {
	f := setup(b)
	tok := f.token(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.clk.Advance(auth.CacheTTL)
		if _, err := f.authn.Authenticate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
