package clock

import (
	"context"
	"sync"
	"time"
)

// Manual is a Clock for tests: time stands still until Advance moves it, and
// timers fire, in deadline order, only then. It counts the timers armed under
// each name (NewTimer, NewTicker, AfterFunc, Reset) so a test can wait for a
// loop to reach its next wait (WaitArmed).
//
// Firing follows the time package: a timer's C has room for one value and a
// value that finds it full is dropped (a ticker skips ticks for a slow
// reader); Stop and Reset discard a value not yet received. An AfterFunc
// function runs on the goroutine calling Advance, before Advance goes on, so
// its effects are visible when Advance returns. A timer armed with d <= 0 is
// due at once: a channel timer fires when armed, an AfterFunc at the next
// Advance.
type Manual struct {
	mu     sync.Mutex
	now    time.Time
	active []*fakeTimer   // guarded by mu
	armed  map[string]int // guarded by mu
	change chan struct{}  // guarded by mu; closed and replaced on every arm
}

// NewManual returns a Manual clock at start, rounded to microseconds so the
// times it gives round-trip through PostgreSQL unchanged (advance it by whole
// microseconds to keep that).
func NewManual(start time.Time) *Manual {
	return &Manual{now: start.Round(time.Microsecond), armed: map[string]int{}, change: make(chan struct{})}
}

type fakeTimer struct {
	m      *Manual
	name   string
	when   time.Time
	period time.Duration  // tickers only
	ch     chan time.Time // nil for AfterFunc
	fn     func()         // AfterFunc only
	on     bool           // in m.active; guarded by m.mu
}

// Now returns the clock's time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// NewTimer implements Clock.
func (m *Manual) NewTimer(name string, d time.Duration) *Timer {
	t := &fakeTimer{m: m, name: name, ch: make(chan time.Time, 1)}
	t.reset(d)
	return &Timer{C: t.ch, fake: t}
}

// NewTicker implements Clock. Like time.NewTicker, it panics if d <= 0.
func (m *Manual) NewTicker(name string, d time.Duration) *Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	t := &fakeTimer{m: m, name: name, period: d, ch: make(chan time.Time, 1)}
	t.reset(d)
	return &Ticker{C: t.ch, fake: t}
}

// AfterFunc implements Clock.
func (m *Manual) AfterFunc(name string, d time.Duration, f func()) *Timer {
	t := &fakeTimer{m: m, name: name, fn: f}
	t.reset(d)
	return &Timer{fake: t}
}

// Advance moves the clock forward by d, firing every timer that falls due on
// the way, in deadline order, each at its own deadline.
func (m *Manual) Advance(d time.Duration) { m.AdvanceTo(m.Now().Add(d)) }

// AdvanceTo moves the clock forward to t (never back), firing what falls due
// on the way.
func (m *Manual) AdvanceTo(t time.Time) {
	for {
		m.mu.Lock()
		next := m.dueLocked(t)
		if next == nil {
			if t.After(m.now) {
				m.now = t
			}
			m.mu.Unlock()
			return
		}
		if next.when.After(m.now) {
			m.now = next.when
		}
		if next.period > 0 {
			next.when = next.when.Add(next.period)
		} else {
			m.removeLocked(next)
		}
		if next.ch != nil {
			select {
			case next.ch <- m.now:
			default:
			}
		}
		fn := next.fn
		m.mu.Unlock()
		if fn != nil {
			fn()
		}
	}
}

// Next returns the deadline of the earliest active timer named name.
func (m *Manual) Next(name string) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var at time.Time
	found := false
	for _, t := range m.active {
		if t.name == name && (!found || t.when.Before(at)) {
			at, found = t.when, true
		}
	}
	return at, found
}

// Armed returns how many times a timer named name has been armed.
func (m *Manual) Armed(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.armed[name]
}

// WaitArmed waits until timers named name have been armed at least n times
// in all, or ctx is done.
func (m *Manual) WaitArmed(ctx context.Context, name string, n int) error {
	for {
		m.mu.Lock()
		if m.armed[name] >= n {
			m.mu.Unlock()
			return nil
		}
		change := m.change
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-change:
		}
	}
}

// dueLocked returns the active timer with the earliest deadline not after t.
// Ties go to the timer armed first.
func (m *Manual) dueLocked(t time.Time) *fakeTimer {
	var best *fakeTimer
	for _, ft := range m.active {
		if !ft.when.After(t) && (best == nil || ft.when.Before(best.when)) {
			best = ft
		}
	}
	return best
}

func (m *Manual) removeLocked(t *fakeTimer) {
	for i, ft := range m.active {
		if ft == t {
			m.active = append(m.active[:i], m.active[i+1:]...)
			break
		}
	}
	t.on = false
}

func (t *fakeTimer) stop() bool {
	m := t.m
	m.mu.Lock()
	defer m.mu.Unlock()
	was := t.on
	if was {
		m.removeLocked(t)
	}
	t.drain()
	return was
}

func (t *fakeTimer) reset(d time.Duration) bool {
	m := t.m
	m.mu.Lock()
	defer m.mu.Unlock()
	was := t.on
	if was {
		m.removeLocked(t)
	}
	t.drain()
	t.when = m.now.Add(d)
	m.armed[t.name]++
	close(m.change)
	m.change = make(chan struct{})
	if d <= 0 && t.ch != nil && t.period == 0 {
		t.ch <- m.now // room for it: just drained
		return was
	}
	t.on = true
	m.active = append(m.active, t)
	return was
}

func (t *fakeTimer) drain() {
	if t.ch == nil {
		return
	}
	select {
	case <-t.ch:
	default:
	}
}
