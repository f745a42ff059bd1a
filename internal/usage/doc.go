// Package usage owns the usage counters: what each replica counts in memory
// while the gateway serves (requests allowed and denied, tokens by kind,
// distinct users and providers), how those counts reach PostgreSQL, and the
// snapshot that sums and resets them across replicas once a period, stores
// the sum and, when a telemetry URL is set, posts it.
//
// # Who does what
//
//	gateway ── Allowed / Denied ──▶ Counters (memory; one mutex, a few additions)
//	Flusher      every Interval (60 s) and at shutdown:  Counters ──▶ usage_counters[replica]
//	Snapshotter  at each period end (on the hour), the replica that claims it:
//	             usage_counters (every row) ──▶ usage_snapshots[period] ──▶ telemetry POST
//
// Every replica runs a Flusher and a Snapshotter. Each replica writes only its
// own usage_counters row; the claim (usage_snapshots is unique on period_end)
// lets exactly one replica take each period's snapshot.
//
// # The cut-over: why nothing is lost or counted twice
//
// A flush and a snapshot are each one transaction that first takes
// pg_advisory_xact_lock(usage_counters), so they run one after the other,
// never interleaved:
//
//	replica A: Flusher                    usage_counters           replica B: Snapshotter
//	───────────────────                   ──────────────           ──────────────────────
//	take deltas d1 from Counters
//	BEGIN, lock ──────────────────────▶ granted
//	UPDATE A += d1 (row exists)          A = a + d1               BEGIN, lock ... waits
//	mark flush f1
//	COMMIT, lock released ─────────────────────────────────────▶ granted
//	                                                              claim period end E: INSERT
//	                                                                ... ON CONFLICT DO NOTHING
//	take deltas d2                                                  (lost it? do nothing)
//	BEGIN, lock ... waits                                         DELETE every row RETURNING,
//	                                     (no rows)                  summed in one statement:
//	                                                                snapshot E holds a + d1
//	                  granted ◀──────────────────────────────────  COMMIT, lock released
//	UPDATE A: no row, so INSERT A = d2   A = d2
//	  (a new period: distinct counts
//	  of what d2 saw, not the period's)
//	COMMIT
//
// Under the lock a flush commits either before the snapshot's DELETE begins
// (its deltas are in that snapshot) or begins after the snapshot committed
// (it finds no row and inserts: its deltas are in the next one); no flush is
// split between two periods. Each count lives in exactly one place at a time,
// moved under a lock: the Counters, one flush attempt, a replica's row, or
// one snapshot. take() moves it out of the Counters under their mutex;
// a flush that fails moves it back; a commit moves it into the row; a
// snapshot moves every row into its own.
//
// PostgreSQL's row locks alone would keep the request and token sums exact
// (a flush's UPDATE waits for the snapshot's DELETE, then finds no row and
// inserts); the advisory lock is what makes the period boundary one point
// for the whole flush, its distinct counts and its mark included, and what
// makes the check below sound.
//
// One case needs more: a flush whose COMMIT got no answer (the connection
// dropped) may or may not have landed. Written again it could count twice;
// dropped it could be lost. The flush therefore marks its random ID in
// usage_counter_flushes (a table the snapshot does not delete) in the same
// transaction, and the replica keeps the deltas aside. Its next flush, under
// the lock (so the earlier transaction has ended, one way or the other),
// reads the mark: its own ID there means it landed and the deltas are not
// written again; otherwise they are written with the new ones.
//
//	flush ──▶ committed ───────────────────────────────────────────▶ done
//	  │
//	  ├─ failed before COMMIT (connection, lock, a statement) ──▶ deltas back
//	  │                                                            into Counters
//	  └─ COMMIT unanswered ──▶ held aside as "in doubt" ──▶ next flush reads the
//	                           mark under the lock: landed? drop them : write them
//
// # Distinct users and providers
//
// A replica keeps the sets of user and provider IDs it saw since its last
// flush, and those of the period so far as its row knows them. A flush that
// updates the row replaces its distinct counts with the size of their union
// (a user seen in every interval is one user); a flush that inserts the row
// counts only what it carried. Each set holds at most MaxDistinct IDs
// (100,000, about 4 MB); beyond that new IDs are not added, the count stays
// at the bound (a lower bound, logged once a period). A snapshot sums the
// replicas' counts: exact with one replica, an upper bound with several,
// since a user served by two replicas is in both sets.
//
// # Memory while the database is down
//
// Failed flushes only merge their deltas back: the counts are a few int64s
// and the sets are bounded, so a replica's memory does not grow with the
// length of an outage. Nothing is dropped while the process lives; the
// final flush at shutdown is bounded by ShutdownTimeout, and what it could
// not write is logged as such.
//
// # Telemetry
//
// Only with a telemetry URL, and only the replica that took a snapshot, posts
// it as JSON (Report; schema_version 1):
//
//	{"schema_version": 1, "deployment_id": "…", "snapshot_id": 42,
//	 "period_start": "2026-12-01T10:00:00Z", "period_end": "2026-12-01T11:00:00Z",
//	 "counted_since": "2026-12-01T09:59:12Z", "taken_at": "2026-12-01T11:00:00.003Z",
//	 "replicas": 3, "requests": {"allowed": 1200, "denied": 4},
//	 "tokens": {"input": 81000, "output": 9000, "cache_read": 50000, "cache_write": 2000, "reasoning": 700},
//	 "distinct_users": 31, "distinct_providers": 2}
//
// Counts only: no user, token, provider name, model or prompt. The POST runs
// in a goroutine of the Snapshotter's own, so a slow endpoint delays neither
// the flushes nor the gateway; a failure is retried with backoff on the
// clock (TelemetryRetryTimer), up to TelemetryMaxAttempts, and each outcome
// is recorded on the snapshot's row (telemetry_sent_at, or the attempts and
// last error). A replica that stops before its report is accepted leaves
// the row unsent; no other replica sends it, so a report is never sent by
// two at once. The URL is a secret (it may carry a token): it is never
// logged nor stored with an error.
package usage
