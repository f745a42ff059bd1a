package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// Defaults for FlusherConfig.
const (
	DefaultFlushInterval   = 60 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
)

// The names of the Flusher's timers on its Clock.
const (
	// FlushTimer is armed for Interval at start and again after each flush.
	FlushTimer = "usage.flush"
	// FlushShutdownTimer is armed for ShutdownTimeout when Run's context
	// ends; it bounds the final flush.
	FlushShutdownTimer = "usage.flush.shutdown"
)

// FlusherConfig configures a Flusher.
type FlusherConfig struct {
	DB       *database.DB
	Counters *Counters
	// ReplicaID is this replica's ID: the key of its usage_counters row.
	// Two processes must never share one.
	ReplicaID uuid.UUID
	// Interval is the time between flushes; 0 is DefaultFlushInterval.
	Interval time.Duration
	// ShutdownTimeout bounds the final flush; 0 is DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Clock times the flushes (FlushTimer, FlushShutdownTimer) and stamps
	// the rows; nil is the real clock.
	Clock  clock.Clock
	Logger *slog.Logger
}

// Flusher writes a replica's Counters to its usage_counters row.
type Flusher struct {
	cfg     FlusherConfig
	clock   clock.Clock
	log     *slog.Logger
	created time.Time

	// mu serialises flushes (Run's, and a caller's Flush at shutdown or in
	// a test), and guards what follows.
	mu sync.Mutex
	// periodUsers and periodProviders are what this replica's row counts
	// as distinct in the current period: what its flushes since the row was
	// inserted carried.
	periodUsers, periodProviders idSet
	// inDoubt is the last flush if its COMMIT failed: it may or may not
	// have landed; the next flush finds out under the lock.
	inDoubt *attempt
	// cappedLogged: the distinct bound was reported for this period.
	cappedLogged bool

	// loseCommitAnswer, in tests, turns a committed flush into one whose
	// COMMIT seemed to fail (the connection dropped before the answer).
	loseCommitAnswer func() bool
}

// written is what a flush's transaction did to the replica's row.
type written struct{ row, inserted bool }

// attempt is a flush whose outcome is unknown.
type attempt struct {
	id uuid.UUID
	t  tally
}

// NewFlusher returns a Flusher. It writes nothing until Run or Flush.
func NewFlusher(cfg FlusherConfig) *Flusher {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultFlushInterval
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.Counters == nil {
		cfg.Counters = NewCounters()
	}
	c := clock.Or(cfg.Clock)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Flusher{cfg: cfg, clock: c, log: log, created: c.Now()}
}

// Run flushes every Interval until ctx ends, then once more (bounded by
// ShutdownTimeout) so what was counted last is not lost: cancel it after the
// gateway has stopped serving. A failed flush is logged and its counts are
// kept for the next one.
func (f *Flusher) Run(ctx context.Context) {
	// Re-armed after each flush rather than a ticker: a slow flush is not
	// followed by one right away, and a test sees a flush done when the
	// timer is armed again.
	t := f.clock.NewTimer(FlushTimer, f.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			f.finalFlush(ctx)
			return
		case <-t.C:
			if err := f.Flush(ctx); err != nil && ctx.Err() == nil {
				f.log.Warn("usage flush failed; its counts are kept for the next flush", "error", err)
			}
			t.Reset(f.cfg.Interval)
		}
	}
}

func (f *Flusher) finalFlush(ctx context.Context) {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	bound := f.clock.AfterFunc(FlushShutdownTimer, f.cfg.ShutdownTimeout, cancel)
	defer bound.Stop()
	if err := f.Flush(fctx); err != nil {
		// The process is going away: say how much was not written, so a
		// gap in the snapshots is explained.
		pending := f.cfg.Counters.peek()
		attrs := []any{"error", err, "requests_allowed", pending.allowed, "requests_denied", pending.denied,
			"input_tokens", pending.tokens.Input, "output_tokens", pending.tokens.Output}
		f.mu.Lock()
		if d := f.inDoubt; d != nil {
			attrs = append(attrs, "in_doubt_requests_allowed", d.t.allowed, "in_doubt_requests_denied", d.t.denied)
		}
		f.mu.Unlock()
		f.log.Error("final usage flush failed; these counts are not written (the in-doubt ones may have been)", attrs...)
		return
	}
	f.log.Debug("usage counters flushed at shutdown")
}

// Flush writes what the Counters hold to this replica's row now, in one
// transaction under the usage_counters lock. On failure nothing is lost:
// the counts go back to the Counters, merged with what came meanwhile, or,
// when the COMMIT itself failed, are kept aside until the next flush finds
// out whether it landed.
func (f *Flusher) Flush(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	limit := f.cfg.Counters.bound()
	now := f.clock.Now().UTC()
	// Sized like the sets of the period so far, a guess at the next
	// interval's, allocated here rather than on the request path.
	batch := f.cfg.Counters.take(now, newIDSet(min(len(f.periodUsers.m), limit)), newIDSet(min(len(f.periodProviders.m), limit)))
	if batch.since.IsZero() {
		batch.since = f.created.UTC()
	}
	if batch.empty() && f.inDoubt == nil {
		// The row already says all there is; an idle replica costs no
		// transaction.
		return nil
	}

	id := newID()
	// committing: the transaction reached its COMMIT, so a failure from
	// here on may have landed anyway.
	committing := false
	res, err := database.LockedTx(ctx, f.cfg.DB, database.LockUsageCounters, func(ctx context.Context, tx pgx.Tx) (written, error) {
		q := dbsqlc.New(tx)
		if f.inDoubt != nil {
			if err := f.resolveLocked(ctx, q, &batch, limit); err != nil {
				return written{}, err
			}
			if batch.empty() {
				return written{}, nil
			}
		}
		inserted, err := q.UsageCountersUpsert(ctx, dbsqlc.UsageCountersUpsertParams{
			ReplicaID:        f.cfg.ReplicaID,
			PeriodStart:      batch.since,
			RequestsAllowed:  batch.allowed,
			RequestsDenied:   batch.denied,
			InputTokens:      batch.tokens.Input,
			OutputTokens:     batch.tokens.Output,
			CacheReadTokens:  batch.tokens.CacheRead,
			CacheWriteTokens: batch.tokens.CacheWrite,
			ReasoningTokens:  batch.tokens.Reasoning,
			NewUsers:         int32(len(batch.users.m)),
			NewProviders:     int32(len(batch.providers.m)),
			PeriodUsers:      int32(f.periodUsers.unionLen(batch.users, limit)),
			PeriodProviders:  int32(f.periodProviders.unionLen(batch.providers, limit)),
			Now:              now,
		})
		if err != nil {
			return written{}, fmt.Errorf("upsert usage counters: %w", err)
		}
		if err := q.UsageCounterFlushMark(ctx, dbsqlc.UsageCounterFlushMarkParams{
			ReplicaID: f.cfg.ReplicaID, FlushID: id, Inserted: inserted, Now: now,
		}); err != nil {
			return written{}, fmt.Errorf("mark usage flush: %w", err)
		}
		committing = true
		return written{row: true, inserted: inserted}, nil
	})
	if err == nil && res.row && f.loseCommitAnswer != nil && f.loseCommitAnswer() {
		err = errors.New("commit transaction: connection lost (test)")
	}
	switch {
	case err == nil:
		if res.row {
			f.applyLocked(batch, res.inserted, limit)
		}
		return nil
	case committing:
		f.inDoubt = &attempt{id: id, t: batch}
		return fmt.Errorf("flush usage counters (outcome unknown, checked at the next flush): %w", err)
	default:
		f.cfg.Counters.restore(batch)
		return fmt.Errorf("flush usage counters: %w", err)
	}
}

// resolveLocked settles the flush in doubt. It runs under the
// usage_counters lock, which that flush's transaction held until it ended,
// so its mark, if it committed, is visible now. Either way the answer is
// final, whatever becomes of the present transaction: a flush that landed
// is folded into the period's sets and not written again; one that did not
// joins batch.
func (f *Flusher) resolveLocked(ctx context.Context, q *dbsqlc.Queries, batch *tally, limit int) error {
	mark, err := q.UsageCounterFlushGet(ctx, f.cfg.ReplicaID)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("read the last usage flush: %w", err)
	}
	d := f.inDoubt
	f.inDoubt = nil
	if err == nil && mark.FlushID == d.id {
		f.log.Info("an earlier usage flush whose commit went unanswered did land; not writing it again")
		f.applyLocked(d.t, mark.Inserted, limit)
		return nil
	}
	d.t.merge(*batch, limit)
	*batch = d.t
	return nil
}

// applyLocked updates the period's sets after a flush of t landed.
func (f *Flusher) applyLocked(t tally, inserted bool, limit int) {
	if inserted {
		// A new period: the row counts only what this flush carried.
		f.periodUsers, f.periodProviders = t.users, t.providers
		f.cappedLogged = false
	} else {
		f.periodUsers.union(t.users, limit)
		f.periodProviders.union(t.providers, limit)
	}
	if (f.periodUsers.capped || f.periodProviders.capped) && !f.cappedLogged {
		f.cappedLogged = true
		f.log.Warn("distinct users or providers this period exceed what a replica tracks; its distinct counts stop at the bound",
			"bound", limit, "users", len(f.periodUsers.m), "providers", len(f.periodProviders.m))
	}
}

// peek returns a copy of the counts (not the sets) held now.
func (c *Counters) peek() tally {
	c.mu.Lock()
	defer c.mu.Unlock()
	return tally{allowed: c.cur.allowed, denied: c.cur.denied, tokens: c.cur.tokens}
}

func newID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New()
	}
	return id
}
