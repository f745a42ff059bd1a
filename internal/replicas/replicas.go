// Package replicas registers each running aigate process in the replicas
// table and keeps its row fresh, so operators (and later, replica-aware jobs)
// can see which replicas are alive.
//
// Every replica heartbeats its own row and, in the same beat, marks rows not
// seen for StaleAfter as stale and deletes rows not seen for DeleteAfter.
// Those sweeps are idempotent, so every replica may run them; no lock needed.
package replicas

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// Defaults for Config.
const (
	DefaultInterval    = 10 * time.Second
	DefaultStaleAfter  = time.Minute
	DefaultDeleteAfter = 7 * 24 * time.Hour
)

// HeartbeatTimer names the timer Run arms, for Interval, before each beat.
const HeartbeatTimer = "replicas.heartbeat"

// Config describes this replica.
type Config struct {
	ID          uuid.UUID
	Version     string
	HTTPAddress string
	Interval    time.Duration
	StaleAfter  time.Duration
	DeleteAfter time.Duration
	// Clock times the heartbeat (a timer named HeartbeatTimer) and gives
	// the time rows are stamped with; nil is the real clock.
	Clock clock.Clock
	// Now overrides Clock's time for the rows; kept for callers that
	// predate Clock.
	Now    func() time.Time
	Logger *slog.Logger
}

// Replica is this process's row in the replicas table.
type Replica struct {
	db  *database.DB
	cfg Config
}

// Register inserts this replica's row.
func Register(ctx context.Context, db *database.DB, cfg Config) (*Replica, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	if cfg.DeleteAfter <= 0 {
		cfg.DeleteAfter = DefaultDeleteAfter
	}
	cfg.Clock = clock.Or(cfg.Clock)
	if cfg.Now == nil {
		cfg.Now = cfg.Clock.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	err = dbsqlc.New(db.Pool).ReplicaInsert(ctx, dbsqlc.ReplicaInsertParams{
		ID: cfg.ID, Hostname: host, Version: cfg.Version, HttpAddress: cfg.HTTPAddress, Now: cfg.Now().UTC(),
	})
	if err != nil {
		return nil, fmt.Errorf("register replica: %w", err)
	}
	return &Replica{db: db, cfg: cfg}, nil
}

// ID is the replica's ID.
func (r *Replica) ID() uuid.UUID { return r.cfg.ID }

// Beat refreshes this replica's row and sweeps stale and long-gone rows.
func (r *Replica) Beat(ctx context.Context) error {
	now := r.cfg.Now().UTC()
	q := dbsqlc.New(r.db.Pool)
	n, err := q.ReplicaHeartbeat(ctx, dbsqlc.ReplicaHeartbeatParams{Now: now, HttpAddress: r.cfg.HTTPAddress, ID: r.cfg.ID})
	if err != nil {
		return fmt.Errorf("heartbeat replica: %w", err)
	}
	if n == 0 {
		// Someone deleted our row (an operator cleaning up, or a sweep
		// after a very long pause): put it back rather than vanish.
		host, _ := os.Hostname()
		if err := q.ReplicaInsert(ctx, dbsqlc.ReplicaInsertParams{ID: r.cfg.ID, Hostname: host, Version: r.cfg.Version, HttpAddress: r.cfg.HTTPAddress, Now: now}); err != nil {
			return fmt.Errorf("re-register replica: %w", err)
		}
	}
	if n, err := q.ReplicaMarkStale(ctx, now.Add(-r.cfg.StaleAfter)); err != nil {
		return fmt.Errorf("mark stale replicas: %w", err)
	} else if n > 0 {
		r.cfg.Logger.Info("marked replicas stale", "count", n, "not_seen_for", r.cfg.StaleAfter)
	}
	if _, err := q.ReplicaDeleteOld(ctx, now.Add(-r.cfg.DeleteAfter)); err != nil {
		return fmt.Errorf("delete old replicas: %w", err)
	}
	return nil
}

// Run heartbeats every Interval until ctx ends. A failed beat is logged and
// retried at the next one: a database blip must not stop the replica.
func (r *Replica) Run(ctx context.Context) {
	// Re-armed after each beat rather than a ticker, so a test sees the
	// beat done when the timer is armed again.
	t := r.cfg.Clock.NewTimer(HeartbeatTimer, r.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Beat(ctx); err != nil && ctx.Err() == nil {
				r.cfg.Logger.Warn("replica heartbeat failed", "error", err)
			}
			t.Reset(r.cfg.Interval)
		}
	}
}

// Deregister marks the replica stopped, on clean shutdown.
func (r *Replica) Deregister(ctx context.Context) error {
	if err := dbsqlc.New(r.db.Pool).ReplicaStop(ctx, dbsqlc.ReplicaStopParams{Now: r.cfg.Now().UTC(), ID: r.cfg.ID}); err != nil {
		return fmt.Errorf("deregister replica: %w", err)
	}
	return nil
}
