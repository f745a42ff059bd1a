// Package testclock is a settable clock for tests of code that takes a
// `func() time.Time`: heartbeats, caches, rollups. Tests move time instead of
// sleeping.
package testclock

import (
	"sync"
	"time"
)

// Clock is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock at t, rounded to microseconds so values round-trip
// through PostgreSQL unchanged.
func New(t time.Time) *Clock { return &Clock{now: t.Round(time.Microsecond)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
