// Package clock owns aigate's time: the current time, timers, tickers and
// AfterFunc, through one interface that is the real clock in production and a
// Manual clock in tests. Every periodic or timed loop (reload backstop,
// heartbeat, recorder flush, lock-wait logging, rollups) takes a Clock, so a
// test moves time instead of waiting for it.
//
// Each timer is created with a name that says which loop it belongs to
// ("gateway.reload.backstop"). The real clock ignores it; a Manual clock
// counts the timers armed under each name, so a test can wait until a loop
// has armed its timer, move time past it, and wait until the loop has done
// its work and armed the next one:
//
//	test                                  loop
//	                                      t := c.NewTimer("x", d)   armed("x") = 1
//	m.WaitArmed(ctx, "x", 1)  ◀──────────┘
//	m.Advance(d)  ──── fires t ─────────▶ <-t.C: work, then t.Reset(d)
//	m.WaitArmed(ctx, "x", 2)  ◀─────────────────────────────────────┘ armed("x") = 2
//	assert the work's effect
//
// Loops that run every interval use a Timer they Reset after each run, not a
// Ticker: a re-armed timer tells a test the run has finished.
package clock

import (
	"context"
	"time"
)

// Clock is the source of time. Implementations are safe for concurrent use.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that sends the time on C once d has passed.
	NewTimer(name string, d time.Duration) *Timer
	// NewTicker returns a ticker that sends the time on C every d.
	NewTicker(name string, d time.Duration) *Ticker
	// AfterFunc calls f once d has passed; Stop cancels the call.
	AfterFunc(name string, d time.Duration, f func()) *Timer
}

// Timer is a time.Timer of a Clock.
type Timer struct {
	// C receives the time the timer fired; nil for an AfterFunc timer.
	C    <-chan time.Time
	real *time.Timer
	fake *fakeTimer
}

// Stop prevents the timer from firing and reports whether it stopped it. No
// stale value is received from C after Stop returns.
func (t *Timer) Stop() bool {
	if t.real != nil {
		return t.real.Stop()
	}
	return t.fake.stop()
}

// Reset makes the timer fire d from now, and reports whether it had been
// active. No stale value is received from C after Reset returns.
func (t *Timer) Reset(d time.Duration) bool {
	if t.real != nil {
		return t.real.Reset(d)
	}
	return t.fake.reset(d)
}

// Ticker is a time.Ticker of a Clock.
type Ticker struct {
	C    <-chan time.Time
	real *time.Ticker
	fake *fakeTimer
}

// Stop turns the ticker off.
func (t *Ticker) Stop() {
	if t.real != nil {
		t.real.Stop()
		return
	}
	t.fake.stop()
}

// Reset stops the ticker and restarts it with period d.
func (t *Ticker) Reset(d time.Duration) {
	if t.real != nil {
		t.real.Reset(d)
		return
	}
	t.fake.m.mu.Lock()
	t.fake.period = d
	t.fake.m.mu.Unlock()
	t.fake.reset(d)
}

// Real returns the system clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(_ string, d time.Duration) *Timer {
	t := time.NewTimer(d)
	return &Timer{C: t.C, real: t}
}

func (realClock) NewTicker(_ string, d time.Duration) *Ticker {
	t := time.NewTicker(d)
	return &Ticker{C: t.C, real: t}
}

func (realClock) AfterFunc(_ string, d time.Duration, f func()) *Timer {
	return &Timer{real: time.AfterFunc(d, f)}
}

// Or returns c, or the real clock when c is nil: the default of every
// component's Clock field.
func Or(c Clock) Clock {
	if c == nil {
		return Real()
	}
	return c
}

// Sleep waits d on c, or until ctx is done, and returns ctx's error then.
// name is the timer's name, as for NewTimer.
func Sleep(ctx context.Context, c Clock, name string, d time.Duration) error {
	t := c.NewTimer(name, d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
