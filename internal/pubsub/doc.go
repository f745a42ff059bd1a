// Package pubsub delivers PostgreSQL NOTIFY messages to in-process subscribers
// over one dedicated LISTEN connection, with bounded per-subscriber queues,
// automatic reconnect, and a "you may have missed messages" signal after a
// reconnect or an overflow.
//
// # Flow
//
// One listener goroutine owns the LISTEN connection; nothing else touches it.
// It hands each notification to the subscribers of its channel without ever
// waiting for them: each subscriber has a bounded queue and a goroutine of its
// own that runs the callback.
//
//	PostgreSQL ──NOTIFY──▶ listener conn ──▶ dispatcher (listener goroutine)
//	                                              │ never blocks
//	                         ┌────────────────────┼────────────────────┐
//	                         ▼                    ▼                    ▼
//	                   queue (≤ QueueSize)  queue (≤ QueueSize)       ...
//	                         │                    │
//	                         ▼                    ▼
//	                 subscriber goroutine  subscriber goroutine
//	                   fn(ev), in order      fn(ev), in order
//
// When a subscriber's queue is full, the dispatcher drops what it holds and
// marks the subscriber; its next event is Event{Missed: true}, after which
// delivery goes on normally. Several drops in a row give one Missed event.
//
// # Subscribing
//
// The listener spends its time blocked in WaitForNotification. Subscribe and
// cancel record the change under the mutex and cancel that wait; the listener
// wakes up, issues the LISTEN and UNLISTEN statements that bring the
// connection in line with the subscriptions, and only then answers the
// waiting Subscribe calls. So a NOTIFY committed after Subscribe returns is
// delivered.
//
//	Subscribe ──register, mark dirty, cancel wait──▶ listener
//	Subscribe ◀──────────── reply ───────────────── listener: LISTEN "ch"
//
// # Reconnecting
//
//	connected ──WaitForNotification/LISTEN fails──▶ disconnected
//	    ▲                                               │ log warning
//	    │                                               ▼
//	    │                    wait backoff (ReconnectBackoff, doubling to 5s)
//	    │                                               │
//	    │                                               ▼
//	    │                    connect; LISTEN every subscribed channel;
//	    │                    repeat while subscriptions changed meanwhile
//	    │                                               │ (failure: back off again)
//	    │                                               ▼
//	    └──── log "pubsub reconnected"; Event{Missed: true} to every subscriber
//
// Notifications sent while no connection listened are lost, so every
// subscriber is told to reload its state from the database. While
// disconnected, Subscribe returns at once instead of waiting for its LISTEN:
// the new subscriber is covered by the Missed event that follows the
// reconnect.
//
// Publish sends with pg_notify, so inside a transaction the message goes out
// on commit and not at all on rollback.
package pubsub
