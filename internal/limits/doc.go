// Package limits enforces the policies (budgets, token and request rates,
// concurrency caps, model allow-lists) exactly across any number of
// replicas, with PostgreSQL as the only shared state and no database round
// trip on a request's path while a replica holds allowance.
//
// # Windows, leases and settlement
//
// A limited policy has one window per period and subject (policy_windows):
// its limit, what requests settled, and what is granted out on leases. Each
// replica leases allowance from a window (policy_leases) and admits requests
// against its lease in memory:
//
//	admit:   estimate e ──▶ lease balance − reserved ≥ e ? ──yes──▶ reserved += e  (a mutex, no I/O)
//	                                    │ no
//	                                    ▼
//	refill:  lock the window row ──▶ reclaim expired leases ──▶ grant min(want, limit − settled − granted)
//	         (UPDATE policy_windows SET granted += g; the lease gets g)          when it covers the need
//	done:    reserved −= e, balance −= used ──▶ the charge rides on the interception record
//	settle:  the recorder's transaction: COPY the records ──▶ lock their windows (key order)
//	         ──▶ granted −= used, settled += used, lease −= used ──▶ COMMIT (both or neither)
//
// A grant never lets settled + granted exceed the limit, and a settlement
// moves an amount from granted to settled, so while requests use no more
// than they reserved, settled never exceeds the limit, and no request is
// admitted once it is reached. A request that uses more than its estimate
// (the estimate is the request's size and max_tokens, never the context
// window) is settled in full: that excess is the only overshoot. A window's
// settled amount is the sum of its recorded requests' charges, because both
// commit in one transaction.
//
// A refill starts when a lease runs below half a chunk (a 32nd of the
// limit), so requests seldom wait for one; requests that do wait share it.
//
// # The last of the allowance: tight windows
//
// Leases spread the allowance over replicas, so near the limit one replica
// can run out while another holds some idle. A request is refused only once
// no replica holds any idle:
//
//	replica A                        PostgreSQL                       replica B
//	refill short ──▶ tight_since = now, NOTIFY aigate_policy_reclaim ──▶ hand back balance − reserved,
//	                                                                    acked_at = now,
//	     ◀───────────────────────────── NOTIFY aigate_policy_returned ◀── and lease per need from now on
//	refill again ──▶ granted? admit. No replica unacknowledged? refuse (429).
//	                 Still waiting after ReclaimWait? refuse.
//
// In a tight window replicas lease per need and hand back what is idle as
// each request ends, so every request there costs a database round trip:
// the price of exactness near the limit.
//
// # Replicas that die
//
// A lease lives LeaseTTL past its replica's last renewal (every third of the
// TTL, RenewTimer). The next refill of that window by another replica
// reclaims an expired lease: its balance returns to the window. Requests the
// dead replica had in flight were never recorded, so they settle nothing.
// A replica that stops cleanly releases its leases (Stop) after its
// requests drained and their records were written.
package limits
