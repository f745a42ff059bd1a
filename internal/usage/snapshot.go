package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// Defaults for SnapshotterConfig.
const (
	DefaultPeriod               = time.Hour
	DefaultTelemetryMaxAttempts = 5
	DefaultTelemetryBackoff     = 10 * time.Second
	DefaultTelemetryMaxBackoff  = 5 * time.Minute
	DefaultTelemetryTimeout     = 30 * time.Second
)

// flushMarkRetention is how long a replica's last flush mark is kept. A mark
// is read only by its own replica's next flush, an Interval later; a week
// covers any outage a replica lives through with a flush in doubt.
const flushMarkRetention = 7 * 24 * time.Hour

// The names of the Snapshotter's timers on its Clock.
const (
	// SnapshotTimer is armed until the next period end, at start and after
	// each snapshot.
	SnapshotTimer = "usage.snapshot"
	// TelemetryRetryTimer is armed for the backoff after a failed POST.
	TelemetryRetryTimer = "usage.telemetry.retry"
)

// SnapshotterConfig configures a Snapshotter.
type SnapshotterConfig struct {
	DB *database.DB
	// ReplicaID is this replica's ID, recorded as the snapshot's taker.
	ReplicaID uuid.UUID
	// Period is the snapshot period; 0 is DefaultPeriod. Periods end at
	// multiples of Period on the clock (UTC), so an hour ends on the hour.
	Period time.Duration
	// Clock times the snapshots (SnapshotTimer) and the telemetry retries
	// (TelemetryRetryTimer); nil is the real clock.
	Clock  clock.Clock
	Logger *slog.Logger

	// TelemetryURL, when set, receives each snapshot this replica takes as
	// a JSON POST (see Report). Empty: snapshots stay in the database. It is
	// never logged: it may carry a token.
	TelemetryURL string
	// HTTPClient posts the reports; nil is a client with
	// DefaultTelemetryTimeout on the default transport.
	HTTPClient *http.Client
	// DeploymentID goes into each report so a receiver can tell
	// deployments apart; uuid.Nil leaves it out.
	DeploymentID uuid.UUID
	// TelemetryMaxAttempts is how many times a report is tried; 0 is
	// DefaultTelemetryMaxAttempts.
	TelemetryMaxAttempts int
	// TelemetryBackoff is the wait after the first failure; it doubles up
	// to TelemetryMaxBackoff. 0 takes the defaults (10 s doubling to 5 min:
	// five attempts over about two and a half minutes).
	TelemetryBackoff    time.Duration
	TelemetryMaxBackoff time.Duration
}

// Snapshotter takes the usage snapshot at each period end, on whichever
// replica claims it first, and posts it to the telemetry URL.
type Snapshotter struct {
	cfg   SnapshotterConfig
	clock clock.Clock
	log   *slog.Logger
	// wake tells the sender there is a snapshot to send; it holds one, so
	// a snapshot never waits on the sender.
	wake chan struct{}

	// sendDone, in tests, hears of each snapshot the sender is done with
	// (sent, given up on), after its row says so.
	sendDone func(id int64)
}

// Snapshot is one row of usage_snapshots.
type Snapshot struct {
	ID          int64
	PeriodStart time.Time
	PeriodEnd   time.Time
	TakenAt     time.Time
	TakenBy     uuid.UUID
	Summary
	TelemetrySentAt    *time.Time
	TelemetryAttempts  int
	TelemetryLastError string
}

// NewSnapshotter returns a Snapshotter. It takes nothing until Run or Take.
func NewSnapshotter(cfg SnapshotterConfig) *Snapshotter {
	if cfg.Period <= 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.TelemetryMaxAttempts <= 0 {
		cfg.TelemetryMaxAttempts = DefaultTelemetryMaxAttempts
	}
	if cfg.TelemetryBackoff <= 0 {
		cfg.TelemetryBackoff = DefaultTelemetryBackoff
	}
	if cfg.TelemetryMaxBackoff <= 0 {
		cfg.TelemetryMaxBackoff = DefaultTelemetryMaxBackoff
	}
	cfg.TelemetryMaxBackoff = max(cfg.TelemetryMaxBackoff, cfg.TelemetryBackoff)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTelemetryTimeout}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Snapshotter{cfg: cfg, clock: clock.Or(cfg.Clock), log: log, wake: make(chan struct{}, 1)}
}

// PeriodEnd is the end of the period that t falls in: the first multiple of
// the period after t.
func (s *Snapshotter) PeriodEnd(t time.Time) time.Time {
	return t.UTC().Truncate(s.cfg.Period).Add(s.cfg.Period)
}

// Run takes a snapshot at every period end until ctx ends, and, with a
// telemetry URL, posts each one it took from a goroutine of its own, so a
// slow endpoint delays nothing else. A snapshot that fails is logged and
// not retried: its counts stay in usage_counters and go into the next
// period's snapshot (its counted_since says so).
func (s *Snapshotter) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if s.cfg.TelemetryURL != "" {
		wg.Go(func() { s.sendLoop(ctx) })
	}
	now := s.clock.Now()
	end := s.PeriodEnd(now)
	t := s.clock.NewTimer(SnapshotTimer, end.Sub(now))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, _, err := s.Take(ctx, end); err != nil && ctx.Err() == nil {
				s.log.Warn("usage snapshot failed; its counts go into the next one", "period_end", end, "error", err)
			}
			// From now, not from end: after a pause (a suspended VM) the
			// periods missed are not taken one by one; the next snapshot
			// holds their counts.
			now = s.clock.Now()
			end = s.PeriodEnd(now)
			t.Reset(end.Sub(now))
		}
	}
}

// Take claims the period ending at end and, when this replica is the first
// to claim it, takes the summary and stores it, all in one transaction under
// the usage_counters lock. It reports whether this replica took it; a
// replica that lost the claim returns false and no error.
func (s *Snapshotter) Take(ctx context.Context, end time.Time) (Snapshot, bool, error) {
	end = end.UTC()
	now := s.clock.Now().UTC()
	snap := Snapshot{PeriodStart: end.Add(-s.cfg.Period), PeriodEnd: end, TakenAt: now, TakenBy: s.cfg.ReplicaID}
	taken, err := database.LockedTx(ctx, s.cfg.DB, database.LockUsageCounters, func(ctx context.Context, tx pgx.Tx) (bool, error) {
		q := dbsqlc.New(tx)
		id, err := q.UsageSnapshotClaim(ctx, dbsqlc.UsageSnapshotClaimParams{
			PeriodStart: snap.PeriodStart, PeriodEnd: end, Now: now, TakenBy: s.cfg.ReplicaID,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("claim usage snapshot: %w", err)
		}
		snap.ID = id
		if snap.Summary, err = TakeSummary(ctx, tx); err != nil {
			return false, err
		}
		if err := q.UsageSnapshotSetSummary(ctx, dbsqlc.UsageSnapshotSetSummaryParams{
			ID:                id,
			CountedSince:      snap.CountedSince,
			Replicas:          int32(snap.Replicas),
			RequestsAllowed:   snap.RequestsAllowed,
			RequestsDenied:    snap.RequestsDenied,
			InputTokens:       snap.Tokens.Input,
			OutputTokens:      snap.Tokens.Output,
			CacheReadTokens:   snap.Tokens.CacheRead,
			CacheWriteTokens:  snap.Tokens.CacheWrite,
			ReasoningTokens:   snap.Tokens.Reasoning,
			DistinctUsers:     snap.DistinctUsers,
			DistinctProviders: snap.DistinctProviders,
		}); err != nil {
			return false, fmt.Errorf("store usage snapshot: %w", err)
		}
		if _, err := q.UsageCounterFlushDeleteOld(ctx, now.Add(-flushMarkRetention)); err != nil {
			return false, fmt.Errorf("prune usage flush marks: %w", err)
		}
		return true, nil
	})
	if err != nil {
		return Snapshot{}, false, err
	}
	if !taken {
		s.log.Debug("usage snapshot taken by another replica", "period_end", end)
		return Snapshot{}, false, nil
	}
	s.log.Info("usage snapshot taken", "period_end", end, "replicas", snap.Replicas,
		"requests_allowed", snap.RequestsAllowed, "requests_denied", snap.RequestsDenied)
	if s.cfg.TelemetryURL != "" {
		select {
		case s.wake <- struct{}{}:
		default: // the sender has a wake-up pending; it lists every unsent snapshot
		}
	}
	return snap, true, nil
}

// Snapshots lists every stored snapshot, oldest first.
func Snapshots(ctx context.Context, db *database.DB) ([]Snapshot, error) {
	rows, err := dbsqlc.New(db.Pool).UsageSnapshotList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list usage snapshots: %w", err)
	}
	out := make([]Snapshot, len(rows))
	for i, r := range rows {
		out[i] = snapshotFromRow(r)
	}
	return out, nil
}

func snapshotFromRow(r dbsqlc.UsageSnapshot) Snapshot {
	s := Snapshot{
		ID: r.ID, PeriodStart: r.PeriodStart.UTC(), PeriodEnd: r.PeriodEnd.UTC(), TakenAt: r.TakenAt.UTC(), TakenBy: r.TakenBy,
		Summary: Summary{
			Replicas: int(r.Replicas), CountedSince: utc(r.CountedSince),
			RequestsAllowed: r.RequestsAllowed, RequestsDenied: r.RequestsDenied,
			Tokens: Tokens{Input: r.InputTokens, Output: r.OutputTokens, CacheRead: r.CacheReadTokens,
				CacheWrite: r.CacheWriteTokens, Reasoning: r.ReasoningTokens},
			DistinctUsers: r.DistinctUsers, DistinctProviders: r.DistinctProviders,
		},
		TelemetrySentAt: utc(r.TelemetrySentAt), TelemetryAttempts: int(r.TelemetryAttempts),
	}
	if r.TelemetryLastError != nil {
		s.TelemetryLastError = *r.TelemetryLastError
	}
	return s
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
