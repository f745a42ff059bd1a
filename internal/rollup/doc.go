// Package rollup owns the hourly usage buckets (usage_hourly) and their
// daily sums (usage_daily): the service that rolls interceptions up into
// them every Interval, one replica per tick, and Totals, which sums them for
// the usage API.
//
// # Schedule
//
// Every replica runs the service. Ticks fall on wall-clock multiples of
// Interval in UTC (with the default 5m: :00, :05, :10, ...), so all replicas
// tick at the same instants, and after each tick the timer TickTimer is
// armed for the next multiple: a tick that ends at 12:03:17 is followed by
// one at 12:05:00. A tick that overruns a multiple skips it rather than run
// twice in a row.
//
// # One tick
//
//	replica A                  PostgreSQL                      replica B
//	   │ BEGIN                     │                     BEGIN │
//	   │ pg_try_advisory_xact_lock(usage_rollup) ──▶ true      │
//	   │                           │ ◀── pg_try_advisory_xact_lock: false
//	   │                           │     ROLLBACK, log "skipped" (debug)
//	   │ read watermark W; now() = N, the transaction's start
//	   │ new = interceptions with recorded_at > W - LookBack
//	   │ span = the hours new's rows started in (first to last)
//	   │ touched = the (hour, key) buckets of new's rows
//	   │ recompute each touched bucket from ALL its interceptions
//	   │ upsert; a bucket whose values are unchanged is not written
//	   │ days = the (day, key) of the buckets this run changed, and if
//	   │   watermark ≠ daily watermark D, of those updated after D - LookBack
//	   │ recompute each from its hourly buckets, upsert likewise
//	   │ watermark := N, daily watermark D := N
//	   │ COMMIT (releases the lock)
//
// A bucket is (hour, user, provider id/name/type, model, client), the hour
// being the UTC hour the request started in. The watermark and recorded_at
// are both the database's clock, never a replica's, so the replicas' clocks
// need not agree. The first run (no watermark yet) reads every interception.
//
// # Why it is exact
//
//   - Late rows. A record is written seconds to minutes after its request
//     started (batched, retried), so buckets are found by recorded_at, when
//     the row was written, and the bucket they fall in is their started_at
//     hour, however old.
//   - Rows committed behind the watermark. recorded_at is the now() of the
//     COPY that wrote the row, which may commit up to the recorder's
//     WriteTimeout later, after a tick's scan has begun with a newer
//     watermark. The next tick looks back LookBack (more than the write
//     timeout) before the watermark, so it finds them.
//   - Recompute, not increment. A touched bucket is recomputed from all its
//     interceptions, not increased by the new ones, so a row seen twice
//     (look-back, a re-run after a failed commit, two ticks overlapping)
//     counts once, and percentiles are true percentiles of the bucket.
//   - Two snapshots. The span is read by one statement and the buckets found
//     and recomputed by the next, which may see rows committed in between.
//     Those inside the span are counted; one outside it was committed after
//     N, so recorded at most a write timeout before N, and the next tick's
//     look-back finds it. A bucket is always found and recomputed in one
//     statement, from one snapshot.
//   - No-op upserts. Upserting a bucket with the values it has writes
//     nothing (ON CONFLICT ... DO UPDATE ... WHERE values are distinct), so a
//     re-run changes no row and its updated_at.
//   - Days equal their hours. A daily row is recomputed from its hourly
//     buckets in the transaction that changed them, found by the buckets'
//     updated_at, which is that transaction's N. The days have their own
//     watermark, which every tick of this version sets with the other:
//     during a rolling upgrade a replica of a version without usage_daily
//     may tick, changing hours and moving the watermark but not the daily
//     one. The next tick of this version sees the two differ and also sums
//     the days of every hour updated after the daily watermark, however
//     many such ticks came between; less the look-back, for such a tick
//     whose transaction began (its N) before the last one of this version
//     and took the lock after it committed.
//
// # Cost
//
// A tick reads the interceptions recorded since the watermark (a probe of
// each partition's recorded_at index) and the other rows of the buckets they
// touch (the partitions of the span only: the span is passed to the second
// statement as values, so its plan leaves the other days out), at most an
// hour of those keys' traffic: it grows with the new rows, not with the
// table. The days' step reads the buckets changed since the daily watermark
// (an index on updated_at) and the other hours of their days.
// docs/performance.md has the numbers. The transaction plans each
// statement for its values (a generic plan, estimated without the watermark,
// would scan the table) and without JIT.
//
// # Reading
//
// Totals sums the buckets whose hour starts in [From, To): the whole UTC
// days of the window from usage_daily and the hours before and after them
// from usage_hourly, so a 30-day window reads about 30 rows per key rather
// than 720. A day is a UTC day, and Today is the UTC day that is running:
// its current hour's bucket is rolled up every tick, so today's totals lag
// the requests by at most an Interval plus the recorder's flush delay and
// the tick's own duration.
package rollup
