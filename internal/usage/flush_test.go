package usage_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
	"github.com/aigate/aigate/internal/usage"
)

var tok = usage.Tokens{Input: 100, Output: 20, CacheRead: 7, CacheWrite: 3, Reasoning: 5}

// requireRow checks the replica's row holds want.
func requireRow(t *testing.T, r *replica, allowed, denied int64, tokensTimes int64) dbsqlc.UsageCounter {
	t.Helper()
	row, ok := r.row(t)
	require.True(t, ok, "the replica has a row")
	require.Equal(t, allowed, row.RequestsAllowed)
	require.Equal(t, denied, row.RequestsDenied)
	require.Equal(t, []int64{tok.Input * tokensTimes, tok.Output * tokensTimes, tok.CacheRead * tokensTimes, tok.CacheWrite * tokensTimes, tok.Reasoning * tokensTimes},
		[]int64{row.InputTokens, row.OutputTokens, row.CacheReadTokens, row.CacheWriteTokens, row.ReasoningTokens})
	return row
}

// TestFailedFlushKeepsItsCounts: a flush that fails before its COMMIT (the
// table gone, a cancelled context) gives its counts back, and the next flush
// writes them together with what came meanwhile.
func TestFailedFlushKeepsItsCounts(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	r := newReplica(t, testdb.URL(t), nil, nil)
	user, provider := uuid.New(), uuid.New()

	r.counters.Allowed(user, provider, tok)
	r.counters.Denied()
	require.NoError(t, r.flusher.Flush(ctx))
	requireRow(t, r, 1, 1, 1)

	t.Run("table renamed away", func(t *testing.T) {
		r.counters.Allowed(user, provider, tok)
		_, err := r.db.Pool.Exec(ctx, "ALTER TABLE usage_counters RENAME TO usage_counters_away")
		require.NoError(t, err)
		require.ErrorContains(t, r.flusher.Flush(ctx), "usage_counters")
		r.counters.Allowed(user, provider, tok) // counted while the database is away
		require.Error(t, r.flusher.Flush(ctx), "still away: the counts are given back again")
		_, err = r.db.Pool.Exec(ctx, "ALTER TABLE usage_counters_away RENAME TO usage_counters")
		require.NoError(t, err)
		r.counters.Denied()
		require.NoError(t, r.flusher.Flush(ctx))
		requireRow(t, r, 3, 2, 3)
	})

	t.Run("cancelled context", func(t *testing.T) {
		r.counters.Allowed(user, provider, tok)
		gone, cancel := context.WithCancel(ctx)
		cancel()
		require.ErrorIs(t, r.flusher.Flush(gone), context.Canceled)
		requireRow(t, r, 3, 2, 3)
		require.NoError(t, r.flusher.Flush(ctx))
		requireRow(t, r, 4, 2, 4)
	})
}

// TestFlushInDoubt: a flush whose COMMIT's answer is lost is kept aside; the
// next flush, under the lock, reads the flush mark and writes its counts
// again only if it did not land.
func TestFlushInDoubt(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	user, provider := uuid.New(), uuid.New()

	t.Run("it landed: not written twice", func(t *testing.T) {
		t.Parallel()
		r := newReplica(t, testdb.URL(t), nil, nil)
		lose := true
		r.flusher.LoseCommitAnswer(func() bool { l := lose; lose = false; return l })
		r.counters.Allowed(user, provider, tok)
		require.ErrorContains(t, r.flusher.Flush(ctx), "outcome unknown")
		requireRow(t, r, 1, 0, 1) // it did land
		r.counters.Allowed(user, provider, tok)
		require.NoError(t, r.flusher.Flush(ctx))
		requireRow(t, r, 2, 0, 2)
	})

	t.Run("it landed and a snapshot took it: not written again", func(t *testing.T) {
		t.Parallel()
		r := newReplica(t, testdb.URL(t), nil, nil)
		lose := true
		r.flusher.LoseCommitAnswer(func() bool { l := lose; lose = false; return l })
		r.counters.Allowed(user, provider, tok)
		require.Error(t, r.flusher.Flush(ctx))
		s, err := usage.GetAndResetSummary(ctx, r.db)
		require.NoError(t, err)
		require.EqualValues(t, 1, s.RequestsAllowed)
		require.NoError(t, r.flusher.Flush(ctx))
		_, ok := r.row(t)
		require.False(t, ok, "nothing new to write; the landed flush is not written into the new period")
	})

	t.Run("it did not land: written by the next flush", func(t *testing.T) {
		t.Parallel()
		r := newReplica(t, testdb.URL(t), nil, nil)
		// A deferred constraint trigger fails the COMMIT itself, after
		// every statement of the flush succeeded: the flush cannot tell
		// this from a COMMIT whose answer was lost.
		_, err := r.db.Pool.Exec(ctx, `
CREATE FUNCTION fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'commit refused'; END $$;
CREATE CONSTRAINT TRIGGER fail_commit AFTER INSERT OR UPDATE ON usage_counter_flushes
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_commit();`)
		require.NoError(t, err)
		r.counters.Allowed(user, provider, tok)
		require.ErrorContains(t, r.flusher.Flush(ctx), "outcome unknown")
		_, ok := r.row(t)
		require.False(t, ok, "the COMMIT failed: nothing landed")
		_, err = r.db.Pool.Exec(ctx, "DROP TRIGGER fail_commit ON usage_counter_flushes")
		require.NoError(t, err)
		r.counters.Denied()
		require.NoError(t, r.flusher.Flush(ctx))
		requireRow(t, r, 1, 1, 1)
	})
}

// TestDistinctCounts: a flush that finds its row replaces the distinct
// counts with the period's (a user seen in two intervals is one); a flush
// that inserts the row (a snapshot took the last one) counts only what it
// carried.
func TestDistinctCounts(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	r := newReplica(t, testdb.URL(t), nil, nil)
	u := ids(4)
	p := ids(2)
	distinct := func() (int32, int32) {
		row, ok := r.row(t)
		require.True(t, ok)
		return row.DistinctUsers, row.DistinctProviders
	}

	r.counters.Allowed(u[0], p[0], tok)
	r.counters.Allowed(u[1], p[0], tok)
	r.counters.Allowed(u[1], p[0], tok)
	require.NoError(t, r.flusher.Flush(ctx))
	users, providers := distinct()
	require.Equal(t, [2]int32{2, 1}, [2]int32{users, providers}, "inserted: what this flush saw")

	r.counters.Allowed(u[1], p[1], tok)
	r.counters.Allowed(u[2], p[0], tok)
	require.NoError(t, r.flusher.Flush(ctx))
	users, providers = distinct()
	require.Equal(t, [2]int32{3, 2}, [2]int32{users, providers}, "updated: the period's sets, {u0,u1,u2} and {p0,p1}, not 2+2")
	requireRow(t, r, 5, 0, 5)

	_, err := usage.GetAndResetSummary(ctx, r.db)
	require.NoError(t, err)

	r.counters.Allowed(u[2], p[1], tok)
	require.NoError(t, r.flusher.Flush(ctx))
	users, providers = distinct()
	require.Equal(t, [2]int32{1, 1}, [2]int32{users, providers}, "a new period: only what this flush saw")
	requireRow(t, r, 1, 0, 1)

	r.counters.Allowed(u[3], p[1], tok)
	r.counters.Denied()
	require.NoError(t, r.flusher.Flush(ctx))
	users, providers = distinct()
	require.Equal(t, [2]int32{2, 1}, [2]int32{users, providers}, "{u2,u3} and {p1}")
}

// TestDistinctBound: the sets stop at their bound, the counts with them,
// and the replica says so once a period; requests and tokens stay exact.
func TestDistinctBound(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	logs := &testlog.Buffer{}
	counters := usage.NewCountersWithLimit(3)
	r := newReplica(t, testdb.URL(t), nil, counters)
	r.flusher = usage.NewFlusher(usage.FlusherConfig{DB: r.db, Counters: counters, ReplicaID: r.id, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	p := uuid.New()
	for _, u := range ids(5) {
		counters.Allowed(u, p, tok)
	}
	require.NoError(t, r.flusher.Flush(ctx))
	row := requireRow(t, r, 5, 0, 5)
	require.EqualValues(t, 3, row.DistinctUsers)
	for _, u := range ids(2) {
		counters.Allowed(u, p, tok)
	}
	require.NoError(t, r.flusher.Flush(ctx))
	row = requireRow(t, r, 7, 0, 7)
	require.EqualValues(t, 3, row.DistinctUsers, "still the bound")
	require.Equal(t, 1, strings.Count(logs.String(), "distinct counts stop at the bound"), "said once a period")
}

// TestFlusherRun: on its clock, Run flushes every Interval (re-arming its
// timer after each flush) and once more when its context ends.
func TestFlusherRun(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	m := clock.NewManual(start)
	r := newReplica(t, testdb.URL(t), m, nil)
	r.flusher = usage.NewFlusher(usage.FlusherConfig{
		DB: r.db, Counters: r.counters, ReplicaID: r.id, Clock: m, Interval: 30 * time.Second, Logger: testdb.Logger(t),
	})
	user, provider := uuid.New(), uuid.New()
	stop := runLoop(t, r.flusher.Run)

	require.NoError(t, m.WaitArmed(ctx, usage.FlushTimer, 1))
	r.counters.Allowed(user, provider, tok)
	m.Advance(29 * time.Second)
	_, ok := r.row(t)
	require.False(t, ok, "not yet")
	m.Advance(time.Second)
	require.NoError(t, m.WaitArmed(ctx, usage.FlushTimer, 2))
	row := requireRow(t, r, 1, 0, 1)
	require.Equal(t, start, row.PeriodStart.UTC(), "counted since the Flusher began")
	require.Equal(t, start.Add(30*time.Second), row.UpdatedAt.UTC())

	r.counters.Allowed(user, provider, tok)
	r.counters.Denied()
	stop()
	requireRow(t, r, 2, 1, 2)
	require.Equal(t, 1, m.Armed(usage.FlushShutdownTimer), "the final flush was bounded")
}
