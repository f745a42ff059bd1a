package limits

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/pubsub"
)

// Settle applies what requests used to their windows, in tx: the
// interceptions recorder calls it in the transaction that writes the
// requests' records, so a window's settled amount is always the sum of its
// recorded requests' charges.
func (e *Engine) Settle(ctx context.Context, tx pgx.Tx, charges []interceptions.Charge) error {
	return e.store.settle(ctx, tx, charges)
}

// onReclaim hands back this replica's idle allowance in a window that became
// tight, and from then on leases per need in it.
func (e *Engine) onReclaim(ev pubsub.Event) {
	if ev.Missed {
		// A missed reclaim would leave a requester waiting its ReclaimWait:
		// hand back what every window holds idle.
		e.mu.Lock()
		ws := make([]*window, 0, len(e.windows))
		for _, w := range e.windows {
			ws = append(ws, w)
		}
		e.mu.Unlock()
		for _, w := range ws {
			w.mu.Lock()
			tight := w.tight
			w.mu.Unlock()
			if tight {
				w.handBackIdle(true)
			}
		}
		return
	}
	k, err := parseWindowKey(ev.Payload)
	if err != nil {
		e.log.Warn("ignored a malformed policy reclaim notification", "error", err)
		return
	}
	e.mu.Lock()
	w := e.windows[k]
	e.mu.Unlock()
	if w == nil {
		return
	}
	w.mu.Lock()
	w.tight = true
	w.mu.Unlock()
	w.handBackIdle(true)
}

// renewLoop renews the leases every third of their TTL, and drops windows
// that ended (their leases released) and old window rows.
func (e *Engine) renewLoop() {
	defer e.wg.Done()
	every := e.cfg.LeaseTTL / 3
	t := e.clock.NewTimer(RenewTimer, every)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		e.renew(e.ctx)
		t.Reset(every)
	}
}

func (e *Engine) renew(ctx context.Context) {
	now := e.clock.Now()
	held, err := e.store.renew(ctx, now.Add(e.cfg.LeaseTTL))
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("could not renew policy leases; they expire if this goes on", "error", err, "ttl", e.cfg.LeaseTTL)
		}
		return
	}
	e.mu.Lock()
	var ended []*window
	for k, w := range e.windows {
		w.mu.Lock()
		if !held[k] && w.balance != 0 && w.refill == nil {
			// The lease expired (this replica could not renew it in time)
			// and another replica reclaimed it: what it held is gone.
			e.log.Warn("a policy lease of this replica expired and was reclaimed", "policy", k.policy)
			w.balance = 0
		}
		if !w.end.After(now) && w.reserved == 0 && w.refill == nil {
			delete(e.windows, k)
			if held[k] {
				ended = append(ended, w)
			}
		}
		w.mu.Unlock()
	}
	e.mu.Unlock()
	for _, w := range ended {
		if err := e.store.release(ctx, w.key); err != nil && ctx.Err() == nil {
			e.log.Warn("could not release an ended policy lease", "policy", w.key.policy, "error", err)
		}
	}
	if _, err := e.store.deleteEnded(ctx, now.Add(-windowsKeptFor)); err != nil && ctx.Err() == nil {
		e.log.Warn("could not delete old policy windows", "error", err)
	}
}

// Windows reports this replica's view of the windows it holds: for tests
// and the status of in-flight reservations.
func (e *Engine) Windows() []WindowState {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]WindowState, 0, len(e.windows))
	for k, w := range e.windows {
		w.mu.Lock()
		out = append(out, WindowState{PolicyID: k.policy, Subject: k.subject, Start: w.start, End: w.end,
			Balance: w.balance, Reserved: w.reserved, Tight: w.tight})
		w.mu.Unlock()
	}
	return out
}

// WindowState is one window as this replica holds it.
type WindowState struct {
	PolicyID          uuid.UUID
	Subject           string
	Start, End        time.Time
	Balance, Reserved int64
	Tight             bool
}

// isForeignKey reports a foreign-key violation (the policy is gone).
func isForeignKey(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}
