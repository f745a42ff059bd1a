package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// LockWaitLogAfter is how long a transaction may wait for an advisory lock
// before the wait is logged together with the sessions that hold it. Waits are
// logged again at the same interval until the lock is granted.
const LockWaitLogAfter = 2 * time.Second

// DB is the handle every component gets: the pool plus the logger used for
// database-level events such as long lock waits.
type DB struct {
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	// LockWaitLogAfter overrides the package default.
	LockWaitLogAfter time.Duration
	// Clock times lock waits and what uses the handle's time (migrations);
	// nil is the real clock. The lock-wait logger's timer is named
	// LockWaitTimer.
	Clock clock.Clock
}

// LockWaitTimer names the timer a transaction waiting for an advisory lock
// arms, for LockWaitLogAfter, before each log of the wait (clock.Manual's
// WaitArmed).
const LockWaitTimer = "database.lockwait"

// Now is the time on the handle's clock.
func (db *DB) Now() time.Time { return clock.Or(db.Clock).Now() }

// New wraps an open pool.
func New(pool *pgxpool.Pool, logger *slog.Logger) *DB {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DB{Pool: pool, Logger: logger, LockWaitLogAfter: LockWaitLogAfter}
}

// ErrLockNotAcquired is returned by TryLockedTx when another session holds
// the lock; the caller skips its work.
var ErrLockNotAcquired = errors.New("advisory lock held by another session")

// Tx runs fn in a transaction and commits it when fn returns nil. Inside fn
// only tx may be used, so everything fn does commits or rolls back together.
// The rollback runs even when ctx has been cancelled.
func Tx[T any](ctx context.Context, db *DB, fn func(ctx context.Context, tx pgx.Tx) (T, error)) (T, error) {
	return runTx(ctx, db, pgx.TxOptions{}, nil, false, fn)
}

// SnapshotTx is Tx for readers that need several queries to see one
// consistent state of the database (REPEATABLE READ, READ ONLY), such as
// loading providers together with their keys.
func SnapshotTx[T any](ctx context.Context, db *DB, fn func(ctx context.Context, tx pgx.Tx) (T, error)) (T, error) {
	return runTx(ctx, db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, nil, false, fn)
}

// LockedTx is Tx with the transaction-scoped advisory lock taken first. It
// waits for the lock; commit or rollback releases it. Use it for work that
// must happen exactly once however many replicas race to do it.
func LockedTx[T any](ctx context.Context, db *DB, lock LockID, fn func(ctx context.Context, tx pgx.Tx) (T, error)) (T, error) {
	return runTx(ctx, db, pgx.TxOptions{}, &lock, false, fn)
}

// TryLockedTx is LockedTx for periodic jobs: when another session holds the
// lock it returns ErrLockNotAcquired at once instead of waiting.
func TryLockedTx[T any](ctx context.Context, db *DB, lock LockID, fn func(ctx context.Context, tx pgx.Tx) (T, error)) (T, error) {
	return runTx(ctx, db, pgx.TxOptions{}, &lock, true, fn)
}

func runTx[T any](ctx context.Context, db *DB, opts pgx.TxOptions, lock *LockID, try bool, fn func(ctx context.Context, tx pgx.Tx) (T, error)) (result T, err error) {
	var zero T
	tx, err := db.Pool.BeginTx(ctx, opts)
	if err != nil {
		return zero, fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
		if err != nil {
			// A cancelled ctx must not stop the rollback: the connection
			// would go back to the pool with the transaction still open.
			if rbErr := tx.Rollback(context.WithoutCancel(ctx)); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) {
				err = errors.Join(err, fmt.Errorf("roll back transaction: %w", rbErr))
			}
		}
	}()

	if lock != nil {
		if try {
			ok, err := dbsqlc.New(tx).AdvisoryXactTryLock(ctx, int64(*lock))
			if err != nil {
				return zero, fmt.Errorf("try advisory lock %s: %w", lock, err)
			}
			if !ok {
				return zero, ErrLockNotAcquired
			}
		} else if err := db.waitLock(ctx, tx, *lock); err != nil {
			return zero, err
		}
	}

	result, err = fn(ctx, tx)
	if err != nil {
		return zero, err
	}
	if err := tx.Commit(ctx); err != nil {
		return zero, fmt.Errorf("commit transaction: %w", err)
	}
	return result, nil
}

// waitLock takes the lock, logging who holds it while the wait goes on so an
// operator can see why startup is stuck.
//
// The holder query needs a second pool connection. When many transactions
// wait on one lock they can hold every connection in the pool, so that query
// may itself wait; it is cancelled the moment the lock is granted; otherwise
// the transaction that finally got the lock would wait for a connection that
// only its own commit can free.
func (db *DB) waitLock(ctx context.Context, tx pgx.Tx, lock LockID) error {
	c := clock.Or(db.Clock)
	start := c.Now()
	logCtx, stopLogging := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		// A timer re-armed after each log rather than a ticker: the next log
		// comes an interval after this one ended, so a slow holder query
		// does not give two logs back to back, and a test knows a log is
		// done when the timer is armed again.
		t := c.NewTimer(LockWaitTimer, db.LockWaitLogAfter)
		defer t.Stop()
		for {
			select {
			case <-logCtx.Done():
				return
			case <-t.C:
				db.logLockHolders(logCtx, lock, c.Now().Sub(start))
				t.Reset(db.LockWaitLogAfter)
			}
		}
	}()
	err := dbsqlc.New(tx).AdvisoryXactLock(ctx, int64(lock))
	stopLogging()
	<-stopped
	if err != nil {
		return fmt.Errorf("wait for advisory lock %s: %w", lock, err)
	}
	if waited := c.Now().Sub(start); waited >= db.LockWaitLogAfter {
		db.Logger.Info("advisory lock acquired", "lock", lock.String(), "waited", waited.Round(time.Millisecond))
	}
	return nil
}

func (db *DB) logLockHolders(ctx context.Context, lock LockID, waited time.Duration) {
	// PostgreSQL splits a bigint advisory key into classid (high 32 bits)
	// and objid (low 32 bits).
	holders, err := dbsqlc.New(db.Pool).AdvisoryLockHolders(ctx, dbsqlc.AdvisoryLockHoldersParams{
		ClassID: int64(uint64(lock) >> 32),
		ObjID:   int64(uint64(lock) & 0xffffffff),
	})
	if err != nil {
		if ctx.Err() == nil {
			db.Logger.Warn("waiting for advisory lock", "lock", lock.String(), "waited", waited.Round(time.Millisecond), "error", err)
		}
		return
	}
	for _, h := range holders {
		db.Logger.Warn("waiting for advisory lock", "lock", lock.String(), "waited", waited.Round(time.Millisecond),
			"holder_pid", h.Pid, "holder_application", h.ApplicationName, "holder_client", h.ClientAddr,
			"holder_xact_age_ms", h.XactAgeMs)
	}
	if len(holders) == 0 {
		db.Logger.Warn("waiting for advisory lock", "lock", lock.String(), "waited", waited.Round(time.Millisecond))
	}
}
