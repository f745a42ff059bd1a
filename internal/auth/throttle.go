package auth

import (
	"sync"
	"time"
)

// LoginThrottle slows down password guessing: after FreeFailures failed
// logins for one email, each further attempt must wait a delay that doubles
// per failure up to MaxDelay. It answers "retry after" instead of sleeping,
// so a flood of guesses cannot tie up the server's goroutines. State is per
// replica and forgotten after a success or Window of quiet.
type LoginThrottle struct {
	FreeFailures int
	BaseDelay    time.Duration
	MaxDelay     time.Duration
	Window       time.Duration

	mu       sync.Mutex
	failures map[string]failureRecord
}

type failureRecord struct {
	count int
	last  time.Time
}

// NewLoginThrottle returns a throttle with production settings.
func NewLoginThrottle() *LoginThrottle {
	return &LoginThrottle{FreeFailures: 5, BaseDelay: time.Second, MaxDelay: time.Minute, Window: 15 * time.Minute,
		failures: map[string]failureRecord{}}
}

// Wait returns how long the caller must still wait before trying key again;
// zero means go ahead.
func (t *LoginThrottle) Wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.failures[key]
	if !ok || now.Sub(f.last) > t.Window {
		return 0
	}
	if f.count < t.FreeFailures {
		return 0
	}
	delay := t.BaseDelay << min(f.count-t.FreeFailures, 16)
	delay = min(delay, t.MaxDelay)
	if wait := f.last.Add(delay).Sub(now); wait > 0 {
		return wait
	}
	return 0
}

// Failed records a failed attempt.
func (t *LoginThrottle) Failed(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.failures[key]
	if now.Sub(f.last) > t.Window {
		f.count = 0
	}
	f.count++
	f.last = now
	t.failures[key] = f
	if len(t.failures) > maxCached {
		for k, v := range t.failures {
			if now.Sub(v.last) > t.Window {
				delete(t.failures, k)
			}
		}
	}
}

// Succeeded forgets the failures of key.
func (t *LoginThrottle) Succeeded(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, key)
}
