package poolertest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/rollup"
	"github.com/aigate/aigate/internal/servertest"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/users"
)

const upstreamKey = "sk-upstream-POOLER-0123456789abcdef"

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`

// chat sends one chat completion through a replica's gateway.
func chat(t *testing.T, baseURL, provider, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+"/ai/"+provider+"/v1/chat/completions", strings.NewReader(chatBody))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// Three replicas whose pool goes through PgBouncer in transaction mode and
// whose pub/sub connects directly: the first start on an empty database
// (migrations, site setup, the provider seed from the environment), the
// gateway, a provider change reaching every replica, and a rollup.
func TestReplicasThroughPgBouncer(t *testing.T) {
	t.Parallel()
	direct := testdb.EmptyURL(t)
	pooled := startPgBouncer(t, direct)
	mock := llmmock.New(t, llmmock.Options{Keys: []string{upstreamKey}})
	environ := []string{
		"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_NAME=oa",
		"AIGATE_PROVIDER_0_BASE_URL=" + mock.OpenAIBaseURL(), "AIGATE_PROVIDER_0_KEY=" + upstreamKey,
	}
	rs := servertest.StartMany(t, 3, servertest.Options{DatabaseURL: pooled, ListenURL: direct, Environ: environ})
	ctx := context.Background()

	u, _, err := rs[0].Users().CreateFirst(ctx, users.Input{Email: "dev@example.com", Name: "Dev", Password: "correct horse battery"})
	require.NoError(t, err)
	me := audit.Actor{ID: u.ID.String(), Email: u.Email}
	_, token, err := rs[0].Users().CreateToken(ctx, me, u.ID.String(), users.TokenInput{Name: "agent"})
	require.NoError(t, err)

	for i, r := range rs {
		status, body := chat(t, r.URL, "oa", token)
		require.Equal(t, http.StatusOK, status, "replica %d, the seeded provider: %s", i, body)
	}

	// A provider made on one replica is served by the others once its
	// notification reaches them over their direct LISTEN connections (the
	// backstop reload is an hour away).
	key := upstreamKey
	_, err = rs[0].Providers().Create(ctx, me, providers.Input{
		Name: "second", Type: "openai", BaseURL: mock.OpenAIBaseURL(), APIKeys: []providers.KeyInput{{APIKey: &key}},
	})
	require.NoError(t, err)
	for i, r := range rs[1:] {
		require.Eventually(t, func() bool {
			status, _ := chat(t, r.URL, "second", token)
			return status == http.StatusOK
		}, waitFor, 5*time.Millisecond, "replica %d never served the new provider", i+1)
	}

	// Every request is recorded (the recorder's COPY goes through the
	// pooler too) and one rollup tick, through the pooler, counts them.
	var recorded int
	require.Eventually(t, func() bool {
		require.NoError(t, rs[2].DB().Pool.QueryRow(ctx, "SELECT count(*) FROM interceptions WHERE status = 'ok'").Scan(&recorded))
		return recorded >= len(rs)+2
	}, waitFor, 5*time.Millisecond)
	svc, err := rollup.New(rollup.Config{DB: rs[1].DB(), ReplicaID: rs[1].ReplicaID()})
	require.NoError(t, err)
	res, err := svc.Tick(ctx)
	require.NoError(t, err)
	require.False(t, res.Skipped)
	require.EqualValues(t, recorded, res.Recorded)
	require.Positive(t, res.Written)
	var requests int64
	require.NoError(t, rs[0].DB().Pool.QueryRow(ctx, "SELECT coalesce(sum(requests), 0) FROM usage_hourly").Scan(&requests))
	require.EqualValues(t, recorded, requests)
}

// Ten replicas starting at once through the pooler all come up: their
// migrations, setup and seed contend for the same advisory locks over
// shared server connections.
func TestTenReplicasStartThroughPgBouncer(t *testing.T) {
	t.Parallel()
	direct := testdb.EmptyURL(t)
	pooled := startPgBouncer(t, direct)
	rs := servertest.StartMany(t, 10, servertest.Options{DatabaseURL: pooled, ListenURL: direct})
	var live int
	require.NoError(t, rs[0].DB().Pool.QueryRow(context.Background(),
		"SELECT count(*) FROM replicas WHERE stopped_at IS NULL").Scan(&live))
	require.Equal(t, 10, live)
}

// The advisory locks are transaction-scoped, so PgBouncer's handing a
// client's statements to any server connection cannot leak one: a second
// client cannot take a lock the first holds, waits for it, and gets it
// when the first commits.
func TestAdvisoryLocksThroughPgBouncer(t *testing.T) {
	t.Parallel()
	direct := testdb.URL(t)
	pooled := startPgBouncer(t, direct)
	ctx := context.Background()
	a, b := openPooled(t, pooled), openPooled(t, pooled)
	lock := database.LockAIProvidersEnvSeed

	held := make(chan int32)
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := database.LockedTx(ctx, a, lock, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
			var pid int32
			if err := tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
				return struct{}{}, err
			}
			held <- pid
			<-release
			return struct{}{}, nil
		})
		done <- err
	}()
	holder := <-held

	var other int32
	_, err := database.TryLockedTx(ctx, b, lock, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		return struct{}{}, tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&other)
	})
	require.True(t, errors.Is(err, database.ErrLockNotAcquired), "a second client took a held lock: %v", err)

	waited := make(chan error, 1)
	go func() {
		_, err := database.LockedTx(ctx, b, lock, func(ctx context.Context, tx pgx.Tx) (struct{}, error) { return struct{}{}, nil })
		waited <- err
	}()
	// The waiter is blocked in PostgreSQL on another server connection.
	require.Eventually(t, func() bool {
		var waiting int
		require.NoError(t, a.Pool.QueryRow(ctx,
			"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid <> $1 AND "+thisDatabase, holder).Scan(&waiting))
		return waiting == 1
	}, waitFor, 5*time.Millisecond)
	select {
	case err := <-waited:
		t.Fatalf("the waiter got the lock while it was held: %v", err)
	default:
	}
	close(release)
	require.NoError(t, <-done)
	require.NoError(t, <-waited, "the waiter gets the lock once the holder commits")

	// Nothing outlives the transactions: no advisory lock is left on any
	// server connection the pooler keeps.
	var left int
	require.NoError(t, a.Pool.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "+thisDatabase).Scan(&left))
	require.Zero(t, left)
}

// thisDatabase keeps a pg_locks query to the test's database: the cluster
// is shared with the other tests.
const thisDatabase = "database = (SELECT oid FROM pg_database WHERE datname = current_database())"

func openPooled(t *testing.T, url string) *database.DB {
	t.Helper()
	pool, err := database.Connect(context.Background(), database.ConnectOptions{URL: url, ApplicationName: "poolertest"})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return database.New(pool, testdb.Logger(t))
}
