package rollup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/interceptions"
)

// Defaults for Config.
const (
	DefaultInterval = 5 * time.Minute
	// DefaultLookBack is the recorder's default write timeout, the longest a
	// row's COPY may take to commit after its recorded_at, plus a margin for
	// the cancellation of a COPY that overran it to reach the server.
	DefaultLookBack = interceptions.DefaultWriteTimeout + 30*time.Second
)

// TickTimer names the timer Run arms, on Config.Clock, for the next
// multiple of Interval after each tick (clock.Manual's WaitArmed and Next).
const TickTimer = "rollup.tick"

// Config configures a Service.
type Config struct {
	DB *database.DB
	// Interval between ticks, which fall on its wall-clock multiples (UTC).
	// It must divide 24 hours (CheckInterval); zero is DefaultInterval.
	Interval time.Duration
	// LookBack is how far before the watermark a tick looks for rows
	// recorded behind it. It must be longer than the recorder's
	// WriteTimeout; zero is DefaultLookBack.
	LookBack time.Duration
	// Clock schedules the ticks; nil is the real clock. It is never the
	// watermark's clock, which is the database's.
	Clock clock.Clock
	// Logger gets a line per tick; nil discards.
	Logger *slog.Logger
	// ReplicaID is this replica's, for the logs and the state row.
	ReplicaID uuid.UUID
}

// CheckInterval reports whether d can be a rollup Interval: positive, and
// dividing a day, so its multiples fall at the same times every day.
func CheckInterval(d time.Duration) error {
	if d <= 0 || (24*time.Hour)%d != 0 {
		return fmt.Errorf("rollup interval %s must be positive and divide 24h (such as 1m, 5m, 15m, 1h)", d)
	}
	return nil
}

// Service rolls interceptions up into usage_hourly.
type Service struct {
	cfg Config
	log *slog.Logger
	// Test hooks (export_test.go): afterLock runs in the transaction once
	// the lock is held, afterTick after each tick of Run.
	afterLock func(ctx context.Context)
	afterTick func(Result, error)
}

// New returns a Service; it starts nothing.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil {
		return nil, errors.New("rollup: no database")
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if err := CheckInterval(cfg.Interval); err != nil {
		return nil, err
	}
	if cfg.LookBack == 0 {
		cfg.LookBack = DefaultLookBack
	}
	if cfg.LookBack < 0 {
		return nil, fmt.Errorf("rollup look-back %s must not be negative", cfg.LookBack)
	}
	cfg.Clock = clock.Or(cfg.Clock)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, log: cfg.Logger}, nil
}

// Result is what one tick did.
type Result struct {
	// Skipped: another session held the usage_rollup lock, so this tick did
	// nothing.
	Skipped bool
	// Recorded is how many interceptions were recorded since Since: the
	// new ones and those of the look-back. Recomputed is how many buckets
	// they touched, all recomputed; Written how many of them changed
	// (inserted or updated).
	Recorded, Recomputed, Written int64
	// DaysRecomputed is how many daily sums (usage_daily: a day of one
	// key) the buckets this tick changed fall in, all recomputed, with
	// those of buckets that ticks of older replicas changed; DaysWritten
	// how many of them changed.
	DaysRecomputed, DaysWritten int64
	// Since is the watermark minus the look-back: the tick read
	// interceptions recorded after it. Nil on the first run, which read all.
	Since *time.Time
	// Watermark is the one the tick set, the database's now() at its start.
	Watermark time.Time
}

// NextTick returns the first multiple of interval (UTC) after t.
func NextTick(t time.Time, interval time.Duration) time.Time {
	// Truncate counts from the zero time, which starts a UTC day, so for
	// an interval dividing a day the multiples are the wall clock's.
	return t.Truncate(interval).Add(interval)
}

// Run ticks at every multiple of Interval until ctx ends. A failed tick is
// logged and the next one tries again: it recomputes from the same
// watermark, since the failed one did not move it.
func (s *Service) Run(ctx context.Context) {
	c := s.cfg.Clock
	now := c.Now()
	due := NextTick(now, s.cfg.Interval)
	// A timer re-armed after each tick, not a ticker: the next tick comes at
	// a multiple however long this one took, and a test knows the tick is
	// done when the timer is armed again.
	t := c.NewTimer(TickTimer, due.Sub(now))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			res, err := s.Tick(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("usage rollup failed; the next tick retries", "replica_id", s.cfg.ReplicaID, "error", err)
			}
			if s.afterTick != nil {
				s.afterTick(res, err)
			}
			// From the tick's own time as well as the clock's: a real timer
			// that fires a hair before the multiple (the wall clock slewed)
			// must not schedule a second tick for the same multiple.
			now := c.Now()
			due = NextTick(maxTime(now, due), s.cfg.Interval)
			t.Reset(due.Sub(now))
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Tick runs one rollup now: it does the work if it gets the usage_rollup
// lock, and returns a Skipped Result if another session holds it.
func (s *Service) Tick(ctx context.Context) (Result, error) {
	res, err := database.TryLockedTx(ctx, s.cfg.DB, database.LockUsageRollup, func(ctx context.Context, tx pgx.Tx) (Result, error) {
		if s.afterLock != nil {
			s.afterLock(ctx)
		}
		return s.rollUp(ctx, dbsqlc.New(tx))
	})
	if errors.Is(err, database.ErrLockNotAcquired) {
		s.log.Debug("usage rollup skipped: another replica holds the lock", "replica_id", s.cfg.ReplicaID)
		return Result{Skipped: true}, nil
	}
	if err != nil {
		return Result{}, err
	}
	s.log.Info("usage rollup done", "replica_id", s.cfg.ReplicaID, "interceptions", res.Recorded,
		"buckets_recomputed", res.Recomputed, "buckets_written", res.Written,
		"days_recomputed", res.DaysRecomputed, "days_written", res.DaysWritten, "watermark", res.Watermark)
	return res, nil
}

func (s *Service) rollUp(ctx context.Context, q *dbsqlc.Queries) (Result, error) {
	if err := q.UsageRollupPlanSettings(ctx); err != nil {
		return Result{}, fmt.Errorf("set rollup plan settings: %w", err)
	}
	st, err := q.UsageRollupStateGet(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("read rollup watermark: %w", err)
	}
	res := Result{Watermark: st.ScanStart}
	if st.Watermark != nil {
		since := st.Watermark.Add(-s.cfg.LookBack)
		res.Since = &since
	}
	span, err := q.UsageHourlyTouchedSpan(ctx, res.Since)
	if err != nil {
		return Result{}, fmt.Errorf("find touched usage buckets: %w", err)
	}
	res.Recorded = span.Recorded
	if span.Recorded > 0 {
		n, err := q.UsageHourlyRecompute(ctx, dbsqlc.UsageHourlyRecomputeParams{
			Since:    res.Since,
			FromHour: span.FirstStartedAt.UTC().Truncate(time.Hour),
			ToHour:   span.LastStartedAt.UTC().Truncate(time.Hour).Add(time.Hour),
		})
		if err != nil {
			return Result{}, fmt.Errorf("recompute usage buckets: %w", err)
		}
		res.Recomputed, res.Written = n.Recomputed, n.Written
	}
	// The days of the hours this run changed, and of those changed by runs
	// that did not sum their days: replicas of the version before
	// usage_daily, during a rolling upgrade, move the watermark and not the
	// daily one, so the two differ after them. Those hours are the ones
	// changed since the daily watermark, less the look-back for a run that
	// began before it and took the lock after (doc.go, "Days equal their
	// hours"). No daily watermark: every hour.
	daily := dbsqlc.UsageDailyRecomputeParams{
		CatchUp: st.DailyWatermark == nil || st.Watermark == nil || !st.Watermark.Equal(*st.DailyWatermark),
	}
	if st.DailyWatermark != nil {
		since := st.DailyWatermark.Add(-s.cfg.LookBack)
		daily.Since = &since
	}
	days, err := q.UsageDailyRecompute(ctx, daily)
	if err != nil {
		return Result{}, fmt.Errorf("recompute daily usage: %w", err)
	}
	res.DaysRecomputed, res.DaysWritten = days.Recomputed, days.Written
	if err := q.UsageRollupStateAdvance(ctx, s.cfg.ReplicaID); err != nil {
		return Result{}, fmt.Errorf("advance rollup watermark: %w", err)
	}
	return res, nil
}
