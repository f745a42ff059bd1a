// Package interceptions owns the record of every request the gateway
// intercepted, and getting it into PostgreSQL off the request path.
//
// The gateway calls Recorder.Record when a request ends. Record only puts the
// record on a bounded in-memory queue; one writer goroutine (Recorder.Run)
// takes records off it in batches and writes each batch with one COPY:
//
//	request goroutines        Recorder                         PostgreSQL
//	──────────────────        ───────────────────────────      ──────────
//	Record(rec) ──► queue (QueueSize, counted with the batch
//	   │            being written) ──► batch of up to BatchSize,
//	   │                               or what came within
//	   │                               FlushInterval
//	   │                                  │
//	   ▼                                  ▼
//	full or stopped:                   COPY ─────────────────────► interceptions
//	dropped and counted                  │ failed?
//	(metric + rate-limited log)          ├─ the database refused a row (SQLSTATE
//	                                     │  class 22 or 23): split the batch in
//	                                     │  halves until the bad record is alone;
//	                                     │  it is retried once without its prompt,
//	                                     │  then dropped and counted; the others
//	                                     │  are written
//	                                     ├─ its id is already there (an earlier
//	                                     │  attempt committed but its answer was
//	                                     │  lost): counted as written, not again
//	                                     └─ anything else (connection, lock
//	                                        timeout, ...): retried with backoff
//	                                        up to MaxAttempts, then dropped and
//	                                        counted
//
// Memory is bounded: a batch being retried still counts against QueueSize, so
// while the database is away new records are dropped, never queued without
// limit. Nothing is dropped silently: every drop is in Dropped, in the
// aigate_interceptions_dropped_total metric (by reason) and in the log.
//
// Cancelling Run's context stops accepting records and writes what is queued,
// for at most ShutdownTimeout; cancel it after the HTTP server has stopped, or
// the last requests' records are dropped.
package interceptions
