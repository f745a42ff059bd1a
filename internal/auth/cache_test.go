package auth_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/pubsub"
	"github.com/aigate/aigate/internal/servertest"
	"github.com/aigate/aigate/internal/users"
)

// 100 requests at once with a token nobody has checked yet cost one lookup:
// the first asks the database, the 99 others wait for its answer. The table
// is locked meanwhile, so all 100 are in before the lookup can answer.
func TestColdTokenMissesCoalesced(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	tok := f.token(t, nil)
	id, _, _ := auth.ParseToken(tok)

	lock, err := f.db.Pool.Begin(ctx)
	require.NoError(t, err)
	// Released on every path: a failed wait below would leave the checks
	// blocked behind the lock.
	defer func() { _ = lock.Rollback(ctx) }()
	_, err = lock.Exec(ctx, "LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	const n = 100
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			p, err := f.authn.Authenticate(ctx, tok)
			if err == nil && p.UserID != f.user.ID {
				err = errAssert("wrong principal")
			}
			errs <- err
		})
	}
	require.Eventually(t, func() bool { return auth.Waiting(f.authn, id) == n-1 }, 30*time.Second, time.Millisecond)
	require.NoError(t, lock.Rollback(ctx))
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, auth.Lookups(f.authn))

	// Unknown tokens are not cached (a new token must work at once), but
	// concurrent misses on one are coalesced just the same.
	_, unknown, _, err := auth.NewToken()
	require.NoError(t, err)
	for range 3 {
		_, err = f.authn.Authenticate(ctx, unknown)
		require.ErrorIs(t, err, auth.ErrUnknownToken)
	}
	require.Equal(t, 4, auth.Lookups(f.authn), "every check of an unknown token asks")
}

type errAssert string

func (e errAssert) Error() string { return string(e) }

// A full cache drops the token used least recently, not everything.
func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.authn = auth.NewAuthenticator(auth.Config{DB: f.db, Clock: f.clk, MaxEntries: 3})
	ctx := context.Background()
	toks := make([]string, 4)
	for i := range toks {
		toks[i] = f.token(t, nil)
	}
	check := func(i int, lookups int) {
		t.Helper()
		_, err := f.authn.Authenticate(ctx, toks[i])
		require.NoError(t, err)
		require.Equal(t, lookups, auth.Lookups(f.authn), "after token %d", i)
		require.LessOrEqual(t, auth.Cached(f.authn), 3)
	}
	check(0, 1)
	check(1, 2)
	check(2, 3)
	check(0, 3) // a hit: 0 is now the most recent, 1 the least
	check(3, 4) // evicts 1
	check(0, 4)
	check(2, 4)
	check(3, 4)
	check(1, 5) // back, evicting 0, the least recent of 0, 2, 3
	check(2, 5)
	check(3, 5)
	check(0, 6)
}

// last_used_at is written off the request path: not by the check itself,
// but every TouchInterval for every token used since the last write, and
// once more when Run stops.
func TestLastUsedWrittenInBatches(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.authn = auth.NewAuthenticator(auth.Config{DB: f.db, Clock: f.clk, TouchInterval: 10 * time.Second})
	ctx := context.Background()
	a, b := f.token(t, nil), f.token(t, nil)
	aID, _, _ := auth.ParseToken(a)
	bID, _, _ := auth.ParseToken(b)
	lastUsed := func(id string) *time.Time {
		var at *time.Time
		require.NoError(t, f.db.Pool.QueryRow(ctx, "SELECT last_used_at FROM api_tokens WHERE id = $1", id).Scan(&at))
		return at
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.authn.Run(runCtx) }()
	require.NoError(t, f.clk.WaitArmed(ctx, auth.TouchTimer, 1))

	for range 3 {
		_, err := f.authn.Authenticate(ctx, a)
		require.NoError(t, err)
		f.clk.Advance(time.Second)
	}
	_, err := f.authn.Authenticate(ctx, b)
	require.NoError(t, err)
	usedA, usedB := f.clk.Now().Add(-time.Second), f.clk.Now()
	require.Nil(t, lastUsed(aID), "not written by the check")
	require.Nil(t, lastUsed(bID))

	// 3 s have passed; the write is due at 10 s.
	f.clk.Advance(7 * time.Second)
	require.Eventually(t, func() bool { return lastUsed(bID) != nil }, 30*time.Second, time.Millisecond)
	require.True(t, usedA.Equal(*lastUsed(aID)), "%v", lastUsed(aID))
	require.True(t, usedB.Equal(*lastUsed(bID)), "%v", lastUsed(bID))

	// A write covers every token used since the last one in one statement.
	f.clk.Advance(time.Second)
	_, err = f.authn.Authenticate(ctx, a)
	require.NoError(t, err)
	_, err = f.authn.Authenticate(ctx, b)
	require.NoError(t, err)
	n, err := f.authn.FlushUses(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = f.authn.FlushUses(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing new: no statement")
	require.True(t, f.clk.Now().Equal(*lastUsed(aID)))

	// A use just before shutdown is written by Run's last write.
	f.clk.Advance(time.Second)
	_, err = f.authn.Authenticate(ctx, b)
	require.NoError(t, err)
	stop()
	<-done
	require.True(t, f.clk.Now().Equal(*lastUsed(bID)), "%v", lastUsed(bID))
}

// Acceptance 2 on the manual clock: a revoked token and a suspended user
// are refused by another replica, whose cache trusts them for 5 minutes,
// with the clock standing still: only the change notification can do it.
func TestRevocationReachesOtherReplica(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	a := servertest.Start(t, servertest.Options{Clock: clk})
	b := servertest.Start(t, servertest.Options{Clock: clk, DatabaseURL: a.DatabaseURL})
	ctx := context.Background()
	u, err := a.Users().Create(ctx, audit.System, users.Input{Email: "m@example.com", Name: "M", Password: "correct horse battery", Role: "member"})
	require.NoError(t, err)
	mint := func() (string, string) {
		tok, secret, err := a.Users().CreateToken(ctx, audit.System, u.ID.String(), users.TokenInput{Name: "t", Scopes: []string{"api"}})
		require.NoError(t, err)
		return tok.ID, secret
	}
	status := func(r *servertest.Replica, token string) int {
		req, err := http.NewRequest(http.MethodGet, r.URL+"/api/v1/users/me", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode
	}
	cachedOnB := func(token string) {
		t.Helper()
		before := lookups(t, b)
		require.Equal(t, http.StatusOK, status(b, token))
		require.Equal(t, http.StatusOK, status(b, token))
		require.Equal(t, before+1, lookups(t, b), "the second check came from the cache")
	}

	revokedID, revoked := mint()
	_, keptSecret := mint()
	cachedOnB(revoked)
	cachedOnB(keptSecret)
	require.NoError(t, a.Users().RevokeToken(ctx, audit.System, u.ID.String(), revokedID))
	require.Eventually(t, func() bool { return status(b, revoked) == http.StatusUnauthorized }, 30*time.Second, time.Millisecond)
	before := lookups(t, b)
	require.Equal(t, http.StatusUnauthorized, status(b, revoked))
	require.Equal(t, before, lookups(t, b), "a revoked token is refused from the cache")
	require.Equal(t, http.StatusOK, status(b, keptSecret), "the user's other token still works")

	_, err = a.Users().Update(ctx, audit.System, u.ID.String(), users.Patch{Suspended: ptrTo(true)})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return status(b, keptSecret) == http.StatusUnauthorized }, 30*time.Second, time.Millisecond)
	_, err = a.Users().Update(ctx, audit.System, u.ID.String(), users.Patch{Suspended: ptrTo(false)})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return status(b, keptSecret) == http.StatusOK }, 30*time.Second, time.Millisecond)
	require.Equal(t, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), clk.Now(), "the clock never moved")
}

// When pubsub may have missed notifications (here its connection is cut),
// the cache is emptied: the next check asks the database.
func TestMissedNotificationsEmptyTheCache(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	r := servertest.Start(t, servertest.Options{Clock: clk})
	ctx := context.Background()
	u, err := r.Users().Create(ctx, audit.System, users.Input{Email: "m@example.com", Name: "M", Password: "correct horse battery", Role: "member"})
	require.NoError(t, err)
	_, secret, err := r.Users().CreateToken(ctx, audit.System, u.ID.String(), users.TokenInput{Name: "t", Scopes: []string{"api"}})
	require.NoError(t, err)
	get := func() {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, r.URL+"/api/v1/users/me", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	get()
	get()
	require.Equal(t, 1.0, lookups(t, r))

	_, err = r.DB().Pool.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
		pubsub.ApplicationName)
	require.NoError(t, err)
	require.NoError(t, clk.WaitArmed(ctx, pubsub.ReconnectTimer, 1))
	clk.Advance(time.Second)
	require.True(t, r.Logs.WaitFor("emptying the token cache", 30*time.Second, nil), r.Logs.String())
	get()
	require.Equal(t, 2.0, lookups(t, r))
}

func ptrTo[T any](v T) *T { return &v }

// lookups reads aigate_auth_token_lookups_total from a replica's registry.
func lookups(t *testing.T, r *servertest.Replica) float64 {
	t.Helper()
	mfs, err := r.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "aigate_auth_token_lookups_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no aigate_auth_token_lookups_total")
	return 0
}

// The lookup runs under its first caller's context: when that caller goes
// away, the callers waiting on it look up again instead of failing.
func TestAbandonedLookupIsRetried(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	tok := f.token(t, nil)
	id, _, _ := auth.ParseToken(tok)
	lock, err := f.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = lock.Rollback(ctx) }()
	_, err = lock.Exec(ctx, "LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	leaderCtx, leave := context.WithCancel(ctx)
	leader := make(chan error, 1)
	go func() { _, err := f.authn.Authenticate(leaderCtx, tok); leader <- err }()
	require.Eventually(t, func() bool { return auth.Waiting(f.authn, id) == 0 }, 30*time.Second, time.Millisecond)
	waiter := make(chan error, 1)
	go func() { _, err := f.authn.Authenticate(ctx, tok); waiter <- err }()
	require.Eventually(t, func() bool { return auth.Waiting(f.authn, id) == 1 }, 30*time.Second, time.Millisecond)
	leave()
	require.ErrorIs(t, <-leader, context.Canceled)
	require.NoError(t, lock.Rollback(ctx))
	require.NoError(t, <-waiter)
	require.Equal(t, 2, auth.Lookups(f.authn))
}
