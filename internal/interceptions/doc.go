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
// limit; and the queued prompts, up to 32 MiB each, count against QueueBytes,
// beyond which a record is queued without its prompt (its usage kept). Nothing is dropped silently: every drop is in Dropped, in the
// aigate_interceptions_dropped_total metric (by reason) and in the log.
//
// Cancelling Run's context stops accepting records and writes what is queued,
// for at most ShutdownTimeout; cancel it after the HTTP server has stopped, or
// the last requests' records are dropped.
//
// List reads records back for the API, newest first, a page at a time (a
// cursor, not an offset); Get reads one with its prompt.
//
// The table is partitioned by the UTC day of started_at (migration 0007), and
// Retention keeps the partitions: every replica runs one, and each run, under
// the interceptions_retention try-lock, is done by one replica:
//
//	days (UTC), R = Retention in days, D = today:
//
//	  ... D-R-1 │ D-R ... D-1  D │ D+1 ... D+7 (DaysAhead)
//	  dropped   │ kept; COPY     │ made ahead, empty
//	  whole     │ routes each    │ until their day
//	  (DROP     │ row by its     │
//	  TABLE)    │ started_at     │
//
//	interceptions_default holds a row whose day has no partition. The run
//	that makes the day's partition moves the day's rows into it; rows older
//	than Retention are deleted from it; the rest wait for their day.
//
// So nothing is deleted row by row but those few strays, the table is locked
// only for a run's few DDL statements (each wait for the lock bounded by
// LockTimeout), and the space of a dropped day is free at once.
package interceptions
