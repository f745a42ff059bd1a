package database_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
)

// waitFor bounds every wait in these tests; things normally happen in
// milliseconds, the bound only keeps a broken test from hanging.
const waitFor = time.Minute

func setup(t *testing.T) *database.DB {
	t.Helper()
	db := testdb.New(t)
	_, err := db.Pool.Exec(context.Background(), "CREATE TABLE things (id int PRIMARY KEY)")
	require.NoError(t, err)
	return db
}

func count(t *testing.T, db *database.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM things").Scan(&n))
	return n
}

func insert(ctx context.Context, tx pgx.Tx, id int) error {
	_, err := tx.Exec(ctx, "INSERT INTO things VALUES ($1)", id)
	return err
}

func TestTxCommitsAndRollsBack(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()

	got, err := database.Tx(ctx, db, func(ctx context.Context, tx pgx.Tx) (int, error) {
		return 7, insert(ctx, tx, 1)
	})
	require.NoError(t, err)
	require.Equal(t, 7, got)
	require.Equal(t, 1, count(t, db))

	boom := errors.New("boom")
	_, err = database.Tx(ctx, db, func(ctx context.Context, tx pgx.Tx) (int, error) {
		require.NoError(t, insert(ctx, tx, 2))
		return 0, boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, 1, count(t, db), "the failed transaction's insert must be rolled back")

	require.Panics(t, func() {
		_, _ = database.Tx(ctx, db, func(ctx context.Context, tx pgx.Tx) (int, error) {
			require.NoError(t, insert(ctx, tx, 3))
			panic("handler bug")
		})
	})
	require.Equal(t, 1, count(t, db), "a panicking transaction must be rolled back")
}

// TestTxRollbackSurvivesCancel cancels the context inside the transaction: the
// rollback must still reach the server, so the connection goes back to the
// pool clean and the row never appears.
func TestTxRollbackSurvivesCancel(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := database.Tx(ctx, db, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		require.NoError(t, insert(ctx, tx, 1))
		cancel()
		return struct{}{}, ctx.Err()
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 0, count(t, db))
	var inTx int
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'").Scan(&inTx))
	require.Zero(t, inTx, "no connection may be left inside the transaction")
}

// TestLockedTxSerialises runs many increments of a counter that is read and
// written without row locks; only the advisory lock keeps them from losing
// updates.
func TestLockedTxSerialises(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, "CREATE TABLE counter (n int); INSERT INTO counter VALUES (0)")
	require.NoError(t, err)

	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				_, err := database.LockedTx(ctx, db, database.LockUsageCounters, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
					var n int
					if err := tx.QueryRow(ctx, "SELECT n FROM counter").Scan(&n); err != nil {
						return struct{}{}, err
					}
					_, err := tx.Exec(ctx, "UPDATE counter SET n = $1", n+1)
					return struct{}{}, err
				})
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT n FROM counter").Scan(&n))
	require.Equal(t, workers*rounds, n)
}

func TestTryLockedTxSkipsWhenHeld(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	holding := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := database.LockedTx(ctx, db, database.LockUsageRollup, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
			close(holding)
			<-release
			return struct{}{}, nil
		})
		done <- err
	}()
	<-holding
	ran := false
	_, err := database.TryLockedTx(ctx, db, database.LockUsageRollup, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		ran = true
		return struct{}{}, nil
	})
	require.ErrorIs(t, err, database.ErrLockNotAcquired)
	require.False(t, ran)
	close(release)
	require.NoError(t, <-done)

	_, err = database.TryLockedTx(ctx, db, database.LockUsageRollup, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		ran = true
		return struct{}{}, nil
	})
	require.NoError(t, err)
	require.True(t, ran, "once the lock is free the job runs")
}

// The wait is logged, with the holder, every LockWaitLogAfter on the
// handle's clock, and the grant after a logged wait says how long it took.
func TestLockWaitIsLoggedWithHolder(t *testing.T) {
	t.Parallel()
	db := setup(t)
	var logs testlog.Buffer
	db.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	db.Clock = clk
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()

	holding := make(chan struct{})
	release := make(chan struct{})
	holderPID := make(chan uint32, 1)
	holder := make(chan error)
	go func() {
		_, err := database.LockedTx(ctx, db, database.LockDeploymentSetup, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
			holderPID <- tx.Conn().PgConn().PID()
			close(holding)
			<-release
			return struct{}{}, nil
		})
		holder <- err
	}()
	<-holding

	var logged atomic.Bool
	waiter := make(chan error)
	go func() {
		_, err := database.LockedTx(ctx, db, database.LockDeploymentSetup, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
			logged.Store(strings.Contains(logs.String(), "waiting for advisory lock"))
			return struct{}{}, nil
		})
		waiter <- err
	}()
	// The holder armed the timer once on its way to the lock; the waiter's
	// is the second.
	require.NoError(t, clk.WaitArmed(ctx, database.LockWaitTimer, 2))
	require.NotContains(t, logs.String(), "waiting for advisory lock", "not before LockWaitLogAfter")
	clk.Advance(db.LockWaitLogAfter)
	// Armed again once the first log is written.
	require.NoError(t, clk.WaitArmed(ctx, database.LockWaitTimer, 3))
	require.Contains(t, logs.String(), "waited=2s")
	clk.Advance(db.LockWaitLogAfter)
	require.NoError(t, clk.WaitArmed(ctx, database.LockWaitTimer, 4))
	require.Contains(t, logs.String(), "waited=4s", "logged again at the same interval")
	close(release)
	require.NoError(t, <-holder)
	require.NoError(t, <-waiter)
	require.True(t, logged.Load())
	out := logs.String()
	// One line per log: a session holding the same lock in another test's
	// database is not named.
	require.Equal(t, 2, strings.Count(out, "waiting for advisory lock"), out)
	require.Contains(t, out, "lock=deployment_setup")
	require.Contains(t, out, "holder_pid="+strconv.FormatUint(uint64(<-holderPID), 10))
	require.Contains(t, out, `msg="advisory lock acquired" lock=deployment_setup waited=4s`)
}

// acquireStarts counts the pool's Acquire calls as they begin, before they
// wait for a connection.
type acquireStarts struct{ n atomic.Int64 }

func (a *acquireStarts) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	a.n.Add(1)
	return ctx
}

func (a *acquireStarts) TraceAcquireEnd(context.Context, *pgxpool.Pool, pgxpool.TraceAcquireEndData) {
}

func (a *acquireStarts) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (a *acquireStarts) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Regression: when the waiters hold every pool connection, the wait logger
// cannot get one for its holder query. The waiter granted the lock must not
// wait for that query, or it never commits and nobody gets a connection back
// (seen as a 20-minute hang of twenty concurrent first-user requests).
func TestLockWaitLoggingCannotStarveTheGrantedTx(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = 2
	acquires := &acquireStarts{}
	cfg.ConnConfig.Tracer = acquires
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	var logs testlog.Buffer
	db := database.New(pool, slog.New(slog.NewTextHandler(&logs, nil)))
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	db.Clock = clk

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	// An outside session holds the lock so both pool connections wait on it.
	outside, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer outside.Close(context.Background())
	outsideTx, err := outside.Begin(ctx)
	require.NoError(t, err)
	_, err = outsideTx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(database.LockDeploymentSetup))
	require.NoError(t, err)

	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := database.LockedTx(ctx, db, database.LockDeploymentSetup, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
				return struct{}{}, nil
			})
			errs <- err
		}()
	}
	// Both waiters hold a connection (their transactions began before they
	// armed the logger) and wait on the lock; then both loggers fire and ask
	// the full pool for a third connection.
	require.NoError(t, clk.WaitArmed(ctx, database.LockWaitTimer, 2))
	require.Equal(t, int32(2), pool.Stat().AcquiredConns())
	before := acquires.n.Load()
	clk.Advance(db.LockWaitLogAfter)
	require.Eventually(t, func() bool { return acquires.n.Load() == before+2 }, waitFor, time.Millisecond,
		"both loggers asked for a connection")
	require.NoError(t, outsideTx.Commit(ctx))
	for range 2 {
		require.NoError(t, <-errs, "a waiter was left waiting (logs: %s)", logs.String())
	}
	require.NotContains(t, logs.String(), "context canceled", "cancelling the holder query is not a warning")
}
