// Package pubsub delivers PostgreSQL NOTIFY messages to in-process subscribers
// over one dedicated LISTEN connection, with bounded per-subscriber queues,
// automatic reconnect, a watchdog that replaces a connection that stopped
// answering, and a "you may have missed messages" signal after a reconnect or
// an overflow.
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
// # Watchdog
//
// A connection can die without closing: a NAT entry or a firewall state
// dropped, a host that lost power. The listener would wait in
// WaitForNotification until TCP gave up, minutes or hours later, and every
// change made meanwhile would be missed. So every WatchdogInterval the
// listener sends a NOTIFY on a channel of its own (one per PubSub, so
// replicas never hear each other's) over its own connection, which LISTENs
// on it: the echo proves the way to the server and back.
//
//	WatchdogTimer fires ──▶ due; WatchdogTimeoutTimer armed; listener woken
//	listener ──NOTIFY own channel──▶ PostgreSQL ──echo──▶ listener
//	    echo in time:  timeout stopped; WatchdogTimer armed again
//	    timeout first: every wait on the connection is cancelled ──▶
//	                   aigate_pubsub_watchdog_timeouts_total +1 ──▶ reconnect
//	                   (above), so every subscriber gets Event{Missed: true}
//
// The timeout counts from the moment the check is due, whatever the listener
// is doing then: a LISTEN statement stuck on a dead connection is cut by it
// too, and so are the LISTEN statements of a new connection. Both timers are
// on the Clock.
//
// Publish sends with pg_notify, so inside a transaction the message goes out
// on commit and not at all on rollback.
package pubsub
