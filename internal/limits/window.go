package limits

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// windowKey names a window: a policy's period (its start) for one subject.
type windowKey struct {
	policy  uuid.UUID
	subject string
	start   int64 // unix microseconds
}

// String is the key as the tight-window notifications carry it.
func (k windowKey) String() string {
	return k.policy.String() + "/" + strconv.FormatInt(k.start, 10) + "/" + k.subject
}

func parseWindowKey(s string) (windowKey, error) {
	id, rest, ok := strings.Cut(s, "/")
	if !ok {
		return windowKey{}, fmt.Errorf("window key %q has no start", s)
	}
	start, subject, ok := strings.Cut(rest, "/")
	if !ok {
		return windowKey{}, fmt.Errorf("window key %q has no subject", s)
	}
	pid, err := uuid.Parse(id)
	if err != nil {
		return windowKey{}, fmt.Errorf("window key %q: %w", s, err)
	}
	us, err := strconv.ParseInt(start, 10, 64)
	if err != nil {
		return windowKey{}, fmt.Errorf("window key %q: %w", s, err)
	}
	return windowKey{policy: pid, subject: subject, start: us}, nil
}

// errShort: the window has less allowance left than the request needs,
// after every replica handed back what it held idle.
var errShort = errors.New("limits: allowance used up")

// window is this replica's part of one window: the allowance its lease
// holds (balance), how much of it requests in flight reserved, and the
// refill that tops the lease up.
type window struct {
	e          *Engine
	key        windowKey
	start, end time.Time

	mu sync.Mutex
	// limit is the rule's, for sizing grants. Guarded by mu.
	limit int64
	// balance is what the lease holds: granted to this replica, less what
	// its requests used. It goes negative when requests cost more than
	// they reserved. Guarded by mu.
	balance int64
	// reserved is what requests in flight set aside of balance. Guarded by mu.
	reserved int64
	// waiting is what each request waiting for a refill needs. Guarded by mu.
	waiting []int64
	// tight: some replica could not get what a request needed, so leases
	// are made per need and idle allowance is handed back. Guarded by mu.
	tight bool
	// refill is closed when the running refill ends; nil while none runs.
	// Guarded by mu.
	refill chan struct{}
	// short: the last refill could not get what the waiting requests
	// needed, after the tight-window protocol; err: it failed. Both are
	// read by the requests that waited on it. Guarded by mu.
	short bool
	err   error
	// handingBack is set while a hand-back of idle allowance runs. Guarded by mu.
	handingBack bool
}

// chunkLocked is what a refill asks for beyond the need of the waiting
// requests: a 32nd of the limit, so four replicas hold at most an eighth of
// it idle between them, and a refill serves many requests.
func (w *window) chunkLocked(need int64) int64 {
	if w.tight {
		return need
	}
	return max(need, w.limit/32, 1)
}

// reserve sets need aside for a request, refilling the lease from the
// database when the balance does not cover it.
func (w *window) reserve(ctx context.Context, need int64) error {
	for attempt := 0; ; attempt++ {
		w.mu.Lock()
		if w.balance-w.reserved >= need {
			w.reserved += need
			w.prefetchLocked()
			w.mu.Unlock()
			return nil
		}
		if attempt > 0 {
			if w.err != nil {
				err := w.err
				w.mu.Unlock()
				return err
			}
			if w.short {
				w.mu.Unlock()
				return errShort
			}
		}
		w.waiting = append(w.waiting, need)
		ch := w.startRefillLocked()
		w.mu.Unlock()
		var err error
		select {
		case <-ch:
		case <-ctx.Done():
			err = ctx.Err()
		}
		w.mu.Lock()
		w.waiting = slices.Delete(w.waiting, slices.Index(w.waiting, need), slices.Index(w.waiting, need)+1)
		w.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// prefetchLocked starts a refill when the lease runs low, so requests seldom
// wait for one.
func (w *window) prefetchLocked() {
	if w.tight || w.refill != nil {
		return
	}
	if w.balance-w.reserved < w.chunkLocked(1)/2 {
		w.startRefillLocked()
	}
}

func (w *window) startRefillLocked() chan struct{} {
	if w.refill == nil {
		w.refill = make(chan struct{})
		w.e.goTracked(w.runRefill)
	}
	return w.refill
}

// release ends a request's hold: need goes back, used is gone. In a tight
// window what is left idle is handed back before it returns, so a request
// that comes after this one ended, on any replica, can have it.
func (w *window) release(need, used int64) {
	w.mu.Lock()
	w.reserved -= need
	w.balance -= used
	handBack := w.tight && !w.handingBack && w.balance-w.reserved > 0
	if handBack {
		w.handingBack = true
	}
	w.mu.Unlock()
	if handBack {
		w.handBackIdle(false)
	}
}

// needsLocked is what the waiting requests need in all, and the least one
// of them needs: a grant smaller than that serves none of them.
func (w *window) needsLocked() (sum, least int64) {
	for i, n := range w.waiting {
		sum += n
		if i == 0 || n < least {
			least = n
		}
	}
	return sum, least
}

// runRefill tops the lease up from the database. When the window has less
// left than the waiting requests need, it runs the tight-window protocol:
// it marks the window tight (the replicas are told to hand back their idle
// allowance) and asks again each time some comes back, until the need is
// met, every other replica has handed back, or ReclaimWait passes.
func (w *window) runRefill() {
	e := w.e
	ctx := e.ctx
	var deadline <-chan time.Time
	var stopTimer func() bool
	defer func() {
		if stopTimer != nil {
			stopTimer()
		}
	}()
	var short bool
	var failed error
	for {
		returned := e.returnedChan()
		w.mu.Lock()
		sum, least := w.needsLocked()
		avail := w.balance - w.reserved
		need := max(sum-avail, 0)
		// The least a grant may be: enough for the smallest waiting request
		// with what is on hand.
		atLeast := max(least-avail, 1)
		want := w.chunkLocked(max(need, 1))
		if need > 0 && !w.tight {
			want += w.chunkLocked(1)
		}
		w.mu.Unlock()
		if need == 0 && deadline != nil {
			break
		}
		e.refills.Add(1)
		e.refillsTotal.Inc()
		res, err := e.store.acquire(ctx, w, want, min(atLeast, max(need, 1)), e.clock.Now(), e.cfg.LeaseTTL)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("could not lease policy allowance from the database", "policy", w.key.policy, "error", err)
			}
			failed = fmt.Errorf("%w: %w", ErrUnavailable, err)
			break
		}
		w.mu.Lock()
		w.balance += res.granted
		if res.tight {
			w.tight = true
		}
		w.mu.Unlock()
		if res.granted >= need || need == 0 {
			break
		}
		if res.granted > 0 {
			// Part of the need: the waiting requests that fit go ahead; the
			// others try again.
			break
		}
		if !res.tight || res.unacked == 0 {
			// Nothing left to wait for: every replica that held any of it
			// has handed back what it did not need.
			short = true
			break
		}
		if deadline == nil {
			t := e.clock.NewTimer(ReclaimTimer, e.cfg.ReclaimWait)
			deadline, stopTimer = t.C, t.Stop
		}
		select {
		case <-returned:
		case <-deadline:
			e.log.Warn("gave up waiting for other replicas to hand back policy allowance", "policy", w.key.policy,
				"replicas_waited_for", res.unacked, "waited", e.cfg.ReclaimWait)
			short = true
		case <-ctx.Done():
			failed = ErrUnavailable
		}
		if short || failed != nil {
			break
		}
	}
	w.mu.Lock()
	w.short, w.err = short, failed
	ch := w.refill
	w.refill = nil
	w.mu.Unlock()
	close(ch)
}

// handBackIdle returns what the lease holds beyond the requests in flight.
// ack records it even when there is nothing to hand back, which a replica
// waiting on a tight window counts on.
func (w *window) handBackIdle(ack bool) {
	e := w.e
	for {
		w.mu.Lock()
		idle := max(w.balance-w.reserved, 0)
		if idle == 0 && !ack {
			w.handingBack = false
			w.mu.Unlock()
			return
		}
		w.balance -= idle
		w.mu.Unlock()
		err := e.store.handBack(e.ctx, w.key, idle, e.clock.Now())
		if err != nil {
			w.mu.Lock()
			w.balance += idle
			w.handingBack = false
			w.mu.Unlock()
			if e.ctx.Err() == nil {
				e.log.Warn("could not hand back idle policy allowance", "policy", w.key.policy, "error", err)
			}
			return
		}
		ack = false
	}
}
