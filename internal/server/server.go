// Package server is aigate's composition root: New builds a System, one
// replica of `aigate server` (database, migrations, deployment setup, replica
// registration, provider seed, gateway snapshot, recorder, admin API and
// gateway on one HTTP listener), from a validated configuration and the few
// dependencies tests replace. The CLI, the API and gateway test harnesses
// and the end-to-end tests all build it here; there is no second wiring.
//
// # Start and stop
//
// Start runs the steps in the order the multi-replica contract requires and
// Stop takes the System down in a fixed order on every path, a failed Start
// included, skipping what never started:
//
//	Start                                        Stop
//	 1 listen (/healthz answers; /readyz 503;     1 http: /readyz 503, stop accepting, drain
//	   the private metrics listener too)            requests and streams (--shutdown-timeout),
//	 2 database (embedded PostgreSQL first)         cut the rest, wait for their handlers
//	 3 keyring                                    2 metrics listener
//	 4 migrations (under their lock)              3 reloader
//	 5 keys check                                 4 prices (the price book's reload loop)
//	 6 deployment setup                           5 pubsub (the LISTEN connection)
//	 7 replica row and heartbeat                  6 recorder (final flush of the records,
//	 8 provider seed (under its lock)               settling their policy charges)
//	 9 pubsub: LISTEN ai_providers_changed        7 policies (this replica's leases released)
//	10 providers: first snapshot, reload loop     8 usage (last counter flush; snapshots,
//	11 prices: the default book (under its          rollups, retention)
//	   lock), LISTEN aigate_prices_changed,       9 heartbeat, replica row marked stopped
//	   the first book, reload loop               10 database: the pool, then the embedded
//	12 policies: the engine, its renewal loop       PostgreSQL
//	13 recorder (settles policy charges)         11 upstream connections
//	14 usage: counters, flush, snapshots,
//	   rollups, retention (its first run now:
//	   today's partitions before any record)
//	15 routes: admin API and gateway
//	16 ready: /readyz 200
//
// HTTP stops first because its handlers still use everything below it: a
// stream cut at the shutdown timeout records its interception on its way
// out, and the recorder must still be running to take it.
package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/aigate/aigate/internal/config"
)

// Run builds a System, starts it, serves until ctx is cancelled (SIGINT or
// SIGTERM) or the System fails on its own, and stops it. It returns nil
// after a clean shutdown, also when ctx is cancelled during startup.
func Run(ctx context.Context, cfg config.Server, deps Deps) error {
	sys, err := New(cfg, deps)
	if err != nil {
		return err
	}
	if err := sys.Start(ctx); err != nil {
		if errors.Is(err, errStartCancelled) {
			return nil
		}
		return err
	}
	var failure error
	select {
	case <-ctx.Done():
		sys.logger.Info("shutting down")
	case failure = <-sys.Failed():
		sys.logger.Error("shutting down after a failure", "error", failure)
	}
	return errors.Join(failure, sys.Stop(context.WithoutCancel(ctx)))
}

// errStartCancelled ends a Start whose context was cancelled between steps:
// the operator asked to stop, which is not a failure.
var errStartCancelled = errors.New("startup cancelled")

// step is one startup step.
type step struct {
	name string
	run  func(ctx context.Context) error
}

// Start brings the System up (see the package doc). When a step fails it
// stops what has started, in Stop's order, and returns the step's error.
func (s *System) Start(ctx context.Context) error {
	for _, st := range s.steps() {
		var err error
		if s.deps.failAt == st.name {
			err = fmt.Errorf("%s: injected failure", st.name)
		} else {
			err = st.run(ctx)
		}
		if err == nil && ctx.Err() != nil {
			err = errStartCancelled
		}
		if err != nil {
			if !errors.Is(err, errStartCancelled) {
				// The error itself is the caller's to report (the CLI
				// prints it once, whole).
				s.logger.Warn("startup failed; stopping what has started", "step", st.name)
			}
			return errors.Join(err, s.Stop(context.WithoutCancel(ctx)))
		}
	}
	s.logger.Info("aigate ready", "address", s.addr.String())
	s.watch()
	return nil
}
