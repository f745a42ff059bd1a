package interceptions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// Defaults for RetentionConfig.
const (
	DefaultRetention = 90 * 24 * time.Hour
	// DefaultDaysAhead: a week of partitions made in advance, so writes
	// find their partition even if the daily run fails for days on end.
	DefaultDaysAhead         = 7
	DefaultRetentionInterval = 24 * time.Hour
	DefaultRetentionRetry    = 5 * time.Minute
	// DefaultPartitionLockTimeout bounds each wait of the partition DDL for
	// a table lock, and so how long writes queue behind it.
	DefaultPartitionLockTimeout = 2 * time.Second
)

// RetentionTimer names the timer Run arms after each run, for Interval, or
// RetryInterval after a run that failed.
const RetentionTimer = "interceptions.retention"

// RetentionConfig configures a Retention. Zero fields take the defaults
// above.
type RetentionConfig struct {
	DB *database.DB
	// Retention is how long records are kept: a day's partition is dropped
	// once its last microsecond is older than Retention, so a record lives
	// at least Retention and at most a day (plus up to one Interval) longer.
	Retention time.Duration
	// DaysAhead is how many days after today have their partition made in
	// advance.
	DaysAhead int
	// Interval is the time between runs; RetryInterval replaces it after a
	// run that failed in part or whole.
	Interval, RetryInterval time.Duration
	// LockTimeout bounds each wait for a table lock (lock_timeout, in whole
	// milliseconds, at least one: 0 would mean no bound); a step that times
	// out is left for the next run.
	LockTimeout time.Duration
	// Clock gives "now" and the timer between runs (RetentionTimer); nil is
	// the real clock.
	Clock  clock.Clock
	Logger *slog.Logger
	// ReplicaID, when set, is named in the log of each run.
	ReplicaID uuid.UUID
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
}

// Retention keeps the interceptions table's daily partitions: made ahead,
// dropped when older than the retention. Every replica runs one; a run takes
// the interceptions_retention try-lock, so one replica works and the others
// skip that run.
//
// Each run, in one transaction under the lock:
//
//  1. makes the partitions of yesterday, today and DaysAhead days after
//     (yesterday for requests that started before midnight and are written
//     after), and of any day the default partition holds rows of, moving
//     those rows into it;
//  2. deletes the rows of the default partition older than the retention;
//  3. drops the partitions whose whole day is older than the retention.
//
// Each step runs in a savepoint with lock_timeout set, so a step stuck
// behind a long query gives up (and is retried at the next run, which comes
// after RetryInterval) without undoing the others. Nothing is deleted row by
// row but strays of the default partition; the usage rollups are other
// tables and are never pruned.
type Retention struct {
	cfg       RetentionConfig
	log       *slog.Logger
	runs      *prometheus.CounterVec
	afterLock func() // tests: runs once the lock is held
}

// NewRetention returns a Retention; Run runs it. It registers its metrics
// with cfg.Registerer and panics, as MustRegister does, if they are
// registered already.
func NewRetention(cfg RetentionConfig) *Retention {
	setD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	setD(&cfg.Retention, DefaultRetention)
	setD(&cfg.Interval, DefaultRetentionInterval)
	setD(&cfg.RetryInterval, DefaultRetentionRetry)
	setD(&cfg.LockTimeout, DefaultPartitionLockTimeout)
	if cfg.DaysAhead <= 0 {
		cfg.DaysAhead = DefaultDaysAhead
	}
	cfg.Clock = clock.Or(cfg.Clock)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ReplicaID != uuid.Nil {
		log = log.With("replica_id", cfg.ReplicaID.String())
	}
	r := &Retention{cfg: cfg, log: log, runs: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aigate_interceptions_retention_runs_total",
		Help: "Runs of the interceptions retention (partitions made ahead, old ones dropped) by result: worked, skipped (another replica held the lock), failed (in part or whole; retried sooner).",
	}, []string{"result"})}
	for _, result := range []string{"worked", "skipped", "failed"} {
		r.runs.WithLabelValues(result)
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(r.runs)
	}
	return r
}

// Run runs at once, then every Interval (RetryInterval after a failure),
// until ctx is done.
func (r *Retention) Run(ctx context.Context) { r.RunAfter(ctx, r.RunOnce(ctx)) }

// RunOnce runs now and returns the wait before the next run. The server
// runs it before the gateway serves, so today's partition exists before the
// first record: a write that lands in the default partition while the
// day's partition is being made fails (PostgreSQL rechecks the default's
// bounds after the attach) and waits for the recorder's retry.
func (r *Retention) RunOnce(ctx context.Context) time.Duration { return r.run(ctx) }

// RunAfter runs after wait, then as Run does, until ctx is done.
func (r *Retention) RunAfter(ctx context.Context, wait time.Duration) {
	// A timer re-armed after each run, not a ticker: the next run is an
	// interval after this one ended, and a test knows a run is over when
	// the timer is armed again.
	t := r.cfg.Clock.NewTimer(RetentionTimer, wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			t.Reset(r.run(ctx))
		}
	}
}

// run ticks once, logs what came of it and returns the wait until the next.
func (r *Retention) run(ctx context.Context) time.Duration {
	res, err := r.Tick(ctx)
	switch {
	case ctx.Err() != nil:
		return r.cfg.Interval
	case err != nil:
		r.runs.WithLabelValues("failed").Inc()
		r.log.Error("interceptions retention failed; retrying", "retry_in", r.cfg.RetryInterval,
			"created", res.Created, "dropped", res.Dropped, "error", err)
		return r.cfg.RetryInterval
	case res.Skipped:
		r.runs.WithLabelValues("skipped").Inc()
		r.log.Info("interceptions retention skipped: another replica holds the " + database.LockInterceptionsRetention.String() + " lock and is running it")
		return r.cfg.Interval
	}
	r.runs.WithLabelValues("worked").Inc()
	level := slog.LevelInfo
	if len(res.Created) == 0 && len(res.Dropped) == 0 && res.Moved == 0 && res.Pruned == 0 {
		level = slog.LevelDebug
	}
	r.log.Log(ctx, level, "interceptions retention ran", "created", res.Created, "dropped", res.Dropped,
		"moved_from_default", res.Moved, "pruned_from_default", res.Pruned, "retention", r.cfg.Retention)
	if res.LeftInDefault > 0 {
		r.log.Warn("interceptions left in the default partition: their start is beyond the days made ahead (a replica's clock may be wrong); they move to their day's partition when it is made",
			"rows", res.LeftInDefault, "days_ahead", r.cfg.DaysAhead)
	}
	return r.cfg.Interval
}

// TickResult is what one Tick did. Partitions are named by their day,
// interceptions_pYYYYMMDD (UTC).
type TickResult struct {
	// Skipped: another session held the lock; nothing was done.
	Skipped bool
	Created []string
	Dropped []string
	// Moved is how many rows moved from the default partition into the
	// partitions made; Pruned how many rows of the default partition older
	// than the retention were deleted; LeftInDefault how many rows the
	// default partition still holds.
	Moved, Pruned, LeftInDefault int64
}

// Tick runs once, now on the clock. The error joins the steps that failed;
// the result says what the others did, which is committed.
func (r *Retention) Tick(ctx context.Context) (TickResult, error) {
	now := r.cfg.Clock.Now().UTC()
	cutoff := now.Add(-r.cfg.Retention)
	// Truncate counts from the zero time, a UTC midnight: this is the UTC day.
	today := now.Truncate(day)
	var failed []error
	res, err := database.TryLockedTx(ctx, r.cfg.DB, database.LockInterceptionsRetention, func(ctx context.Context, tx pgx.Tx) (TickResult, error) {
		if r.afterLock != nil {
			r.afterLock()
		}
		var res TickResult
		q := dbsqlc.New(tx)
		if err := q.InterceptionRetentionLockTimeout(ctx, fmt.Sprintf("%dms", max(r.cfg.LockTimeout.Milliseconds(), 1))); err != nil {
			return res, fmt.Errorf("set lock_timeout: %w", err)
		}
		names, err := q.InterceptionPartitionList(ctx)
		if err != nil {
			return res, fmt.Errorf("list partitions: %w", err)
		}
		have := map[time.Time]bool{}
		for _, name := range names {
			if d, ok := partitionDay(name); ok {
				have[d] = true
			}
		}
		last := today.AddDate(0, 0, r.cfg.DaysAhead)
		want := map[time.Time]bool{}
		for d := today.AddDate(0, 0, -1); !d.After(last); d = d.AddDate(0, 0, 1) {
			if d.Add(day).After(cutoff) {
				want[d] = true
			}
		}
		// A stray of the default partition is at or after the cutoff, so
		// its day does not end before it either.
		strays, err := q.InterceptionDefaultPartitionDays(ctx, dbsqlc.InterceptionDefaultPartitionDaysParams{Since: cutoff, Until: last.Add(day)})
		if err != nil {
			return res, fmt.Errorf("list the days of the default partition: %w", err)
		}
		for _, d := range strays {
			want[d.UTC()] = true
		}

		for _, d := range slices.SortedFunc(maps.Keys(want), time.Time.Compare) {
			if have[d] {
				continue
			}
			var moved int64
			err := savepoint(ctx, tx, func(q *dbsqlc.Queries) (err error) {
				moved, err = q.InterceptionPartitionCreate(ctx, pgtype.Date{Time: d, Valid: true})
				return err
			})
			if err != nil {
				failed = append(failed, fmt.Errorf("create partition %s: %w", partitionName(d), err))
				continue
			}
			res.Created = append(res.Created, partitionName(d))
			res.Moved += moved
		}
		err = savepoint(ctx, tx, func(q *dbsqlc.Queries) (err error) {
			res.Pruned, err = q.InterceptionDefaultPartitionDeleteBefore(ctx, cutoff)
			return err
		})
		if err != nil {
			failed = append(failed, fmt.Errorf("delete old rows of the default partition: %w", err))
		}
		// Last, so the lock the drops take on the whole table is held for
		// the shortest time: from the first drop to the commit.
		for _, d := range slices.SortedFunc(maps.Keys(have), time.Time.Compare) {
			if d.Add(day).After(cutoff) {
				continue
			}
			var dropped bool
			err := savepoint(ctx, tx, func(q *dbsqlc.Queries) (err error) {
				dropped, err = q.InterceptionPartitionDrop(ctx, pgtype.Date{Time: d, Valid: true})
				return err
			})
			if err != nil {
				failed = append(failed, fmt.Errorf("drop partition %s: %w", partitionName(d), err))
				continue
			}
			if dropped {
				res.Dropped = append(res.Dropped, partitionName(d))
			}
		}
		if res.LeftInDefault, err = q.InterceptionDefaultPartitionCount(ctx); err != nil {
			return res, fmt.Errorf("count the rows of the default partition: %w", err)
		}
		return res, nil
	})
	if errors.Is(err, database.ErrLockNotAcquired) {
		return TickResult{Skipped: true}, nil
	}
	if err != nil {
		return TickResult{}, fmt.Errorf("interceptions retention: %w", err)
	}
	if len(failed) > 0 {
		return res, fmt.Errorf("interceptions retention: %w", errors.Join(failed...))
	}
	return res, nil
}

const day = 24 * time.Hour

// savepoint runs fn in a savepoint of tx: when fn fails, what it did is
// undone and the transaction goes on.
func savepoint(ctx context.Context, tx pgx.Tx, fn func(q *dbsqlc.Queries) error) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(dbsqlc.New(sp)); err != nil {
		if rbErr := sp.Rollback(ctx); rbErr != nil {
			return errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rbErr))
		}
		return err
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// partitionPrefix and the day as YYYYMMDD name a day's partition, as
// interceptions_partition_create (migration 0007) names it.
const partitionPrefix = "interceptions_p"

func partitionName(d time.Time) string { return partitionPrefix + d.Format("20060102") }

// partitionDay is the day a partition holds; false for a name that is not a
// day's partition (the default one, or one an operator made).
func partitionDay(name string) (time.Time, bool) {
	digits, ok := strings.CutPrefix(name, partitionPrefix)
	if !ok || len(digits) != 8 {
		return time.Time{}, false
	}
	d, err := time.Parse("20060102", digits)
	return d, err == nil
}
