package pubsub

import "sync"

// Event is what a subscriber's callback receives.
type Event struct {
	// Payload is the NOTIFY payload; empty when Missed is true.
	Payload string
	// Missed is true when messages may have been lost (after a reconnect, or
	// when this subscriber's queue overflowed); the subscriber must then
	// reload its state from the database. Payload is empty for such events.
	Missed bool
}

// subscriber is one callback with its bounded queue. The dispatcher pushes
// into the queue without blocking; the subscriber's own goroutine pops and
// calls fn.
type subscriber struct {
	channel string
	fn      func(Event)
	size    int

	// signal has room for one token: whoever changes the state below sends
	// one without blocking, and run re-reads the state before waiting again,
	// so no wake-up is lost.
	signal chan struct{}

	mu      sync.Mutex
	queue   []string // guarded by mu; payloads waiting, at most size
	missed  bool     // guarded by mu; deliver Event{Missed: true} next
	stopped bool     // guarded by mu; no callback may start any more
}

func newSubscriber(channel string, fn func(Event), size int) *subscriber {
	return &subscriber{channel: channel, fn: fn, size: size, signal: make(chan struct{}, 1)}
}

// push queues a payload. When the queue is full the payload is dropped
// together with everything queued (the reload that Missed asks for covers
// them) and the subscriber is marked. It reports whether this push started an
// overflow, so the caller logs once per overflow rather than once per drop.
func (s *subscriber) push(payload string) (overflowed bool) {
	s.mu.Lock()
	if len(s.queue) < s.size {
		s.queue = append(s.queue, payload)
	} else {
		overflowed = !s.missed
		clear(s.queue)
		s.queue = s.queue[:0]
		s.missed = true
	}
	s.mu.Unlock()
	s.wake()
	return overflowed
}

// pushMissed tells the subscriber that messages may have been lost. What is
// still queued is dropped: the subscriber reloads everything anyway.
func (s *subscriber) pushMissed() {
	s.mu.Lock()
	clear(s.queue)
	s.queue = s.queue[:0]
	s.missed = true
	s.mu.Unlock()
	s.wake()
}

// stop ends delivery: no callback starts after stop returns, although one that
// is already running finishes.
func (s *subscriber) stop() {
	s.mu.Lock()
	s.stopped = true
	s.queue = nil
	s.mu.Unlock()
	s.wake()
}

func (s *subscriber) wake() {
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// next waits for the next event; ok is false once the subscriber is stopped.
func (s *subscriber) next() (ev Event, ok bool) {
	for {
		s.mu.Lock()
		switch {
		case s.stopped:
			s.mu.Unlock()
			return Event{}, false
		case s.missed:
			s.missed = false
			s.mu.Unlock()
			return Event{Missed: true}, true
		case len(s.queue) > 0:
			ev = Event{Payload: s.queue[0]}
			s.queue[0] = ""
			s.queue = s.queue[1:]
			s.mu.Unlock()
			return ev, true
		}
		s.mu.Unlock()
		<-s.signal
	}
}

// run calls fn for each event, in order, until the subscriber is stopped.
func (s *subscriber) run() {
	for {
		ev, ok := s.next()
		if !ok {
			return
		}
		s.fn(ev)
	}
}
