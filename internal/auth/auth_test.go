package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/auth"
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
	for _, bad := range []string{"", "aig_", "aig_abc_def", "sk-" + token[4:], token + "x", strings.Replace(token, "_", "-", 2)} {
		_, _, ok := auth.ParseToken(bad)
		require.False(t, ok, bad)
	}
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	th := auth.NewLoginThrottle()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range th.FreeFailures {
		require.Zero(t, th.Wait("a", now))
		th.Failed("a", now)
	}
	require.Equal(t, th.BaseDelay, th.Wait("a", now))
	th.Failed("a", now)
	require.Equal(t, 2*th.BaseDelay, th.Wait("a", now), "the delay doubles")
	require.Zero(t, th.Wait("a", now.Add(2*th.BaseDelay)))
	for range 20 {
		th.Failed("a", now)
	}
	require.Equal(t, th.MaxDelay, th.Wait("a", now), "capped")
	require.Zero(t, th.Wait("b", now), "per key")
	require.Zero(t, th.Wait("a", now.Add(th.Window+time.Second)), "forgotten after a quiet window")
	th.Succeeded("a")
	require.Zero(t, th.Wait("a", now))
}

type fixture struct {
	db    *database.DB
	authn *auth.Authenticator
	now   time.Time
	user  dbsqlc.User
}

func setup(t testing.TB) *fixture {
	t.Helper()
	db := testdb.New(t)
	f := &fixture{db: db, now: time.Now()}
	f.authn = auth.NewAuthenticator(db, func() time.Time { return f.now }, nil)
	var err error
	f.user, err = dbsqlc.New(db.Pool).UserInsert(context.Background(), dbsqlc.UserInsertParams{
		ID: uuid.New(), Email: "u@example.com", Name: "U", PasswordHash: "x", Role: dbsqlc.UserRoleMember, Now: f.now,
	})
	require.NoError(t, err)
	return f
}

func (f *fixture) token(t testing.TB, expires *time.Time) string {
	t.Helper()
	id, token, hash, err := auth.NewToken()
	require.NoError(t, err)
	_, err = dbsqlc.New(f.db.Pool).APITokenInsert(context.Background(), dbsqlc.APITokenInsertParams{
		ID: id, UserID: f.user.ID, Name: "t", SecretHash: hash, ExpiresAt: expires, Now: f.now,
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

	var lastUsed *time.Time
	require.NoError(t, f.db.Pool.QueryRow(ctx, "SELECT last_used_at FROM api_tokens").Scan(&lastUsed))
	require.NotNil(t, lastUsed, "use is recorded")

	_, err = f.authn.Authenticate(ctx, tok+"a")
	require.ErrorIs(t, err, auth.ErrMalformedToken, "wrong length")
	forged := tok[:len(tok)-2] + "aa"
	if forged == tok {
		forged = tok[:len(tok)-2] + "bb"
	}
	_, err = f.authn.Authenticate(ctx, forged)
	require.ErrorIs(t, err, auth.ErrUnknownToken, "a cached id with the wrong secret is refused")

	soon := f.now.Add(time.Hour)
	expiring := f.token(t, &soon)
	_, err = f.authn.Authenticate(ctx, expiring)
	require.NoError(t, err)
	f.now = f.now.Add(2 * time.Hour)
	_, err = f.authn.Authenticate(ctx, expiring)
	require.ErrorIs(t, err, auth.ErrExpiredToken)

	_, err = f.db.Pool.Exec(ctx, "UPDATE users SET suspended = true")
	require.NoError(t, err)
	f.now = f.now.Add(auth.CacheTTL)
	_, err = f.authn.Authenticate(ctx, tok)
	require.ErrorIs(t, err, auth.ErrSuspendedUser)
}

// BenchmarkAuthenticateCached is the gateway's per-request cost of a token
// check once the token is cached.
func BenchmarkAuthenticateCached(b *testing.B) {
	f := setup(b)
	f.authn = auth.NewAuthenticator(f.db, func() time.Time { return f.now }, nil) // clock frozen: always a hit
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
		f.now = f.now.Add(auth.CacheTTL)
		if _, err := f.authn.Authenticate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
