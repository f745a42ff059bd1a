package replicas_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/replicas"
	"github.com/aigate/aigate/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// waitFor bounds every wait in these tests; things normally happen in
// milliseconds, the bound only keeps a broken test from hanging.
const waitFor = 30 * time.Second

func byID(t *testing.T, rows []dbsqlc.Replica) map[uuid.UUID]dbsqlc.Replica {
	t.Helper()
	out := map[uuid.UUID]dbsqlc.Replica{}
	for _, r := range rows {
		out[r.ID] = r
	}
	return out
}

func TestHeartbeatStaleAndDelete(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	cfg := func(addr string) replicas.Config {
		return replicas.Config{ID: uuid.New(), Version: "v1", HTTPAddress: addr, Clock: clk,
			StaleAfter: time.Minute, DeleteAfter: time.Hour}
	}
	a, err := replicas.Register(ctx, db, cfg("a:1"))
	require.NoError(t, err)
	b, err := replicas.Register(ctx, db, cfg("b:1"))
	require.NoError(t, err)

	// b stops beating; a keeps going.
	clk.Advance(2 * time.Minute)
	require.NoError(t, a.Beat(ctx))
	rows, err := dbsqlc.New(db.Pool).ReplicaList(ctx)
	require.NoError(t, err)
	m := byID(t, rows)
	require.False(t, m[a.ID()].Stale)
	require.Equal(t, clk.Now(), m[a.ID()].LastSeenAt.UTC())
	require.True(t, m[b.ID()].Stale, "a replica not seen for StaleAfter is marked stale")

	// b comes back: its own beat clears the mark.
	require.NoError(t, b.Beat(ctx))
	rows, err = dbsqlc.New(db.Pool).ReplicaList(ctx)
	require.NoError(t, err)
	require.False(t, byID(t, rows)[b.ID()].Stale)

	// b stops cleanly, then is gone long enough to be deleted.
	require.NoError(t, b.Deregister(ctx))
	clk.Advance(2 * time.Hour)
	require.NoError(t, a.Beat(ctx))
	rows, err = dbsqlc.New(db.Pool).ReplicaList(ctx)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, a.ID(), rows[0].ID)

	// A replica whose row was deleted puts it back on its next beat.
	_, err = db.Pool.Exec(ctx, "DELETE FROM replicas")
	require.NoError(t, err)
	require.NoError(t, a.Beat(ctx))
	rows, err = dbsqlc.New(db.Pool).ReplicaList(ctx)
	require.NoError(t, err)
	require.Len(t, rows, 1)
}

// Run beats every Interval on the clock: the row's last_seen_at moves with
// each beat, and a replica that stopped beating goes stale in the beat of
// one that did not.
func TestRunBeatsEveryInterval(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	start := clk.Now()
	r, err := replicas.Register(ctx, db, replicas.Config{ID: uuid.New(), Version: "v1", Clock: clk})
	require.NoError(t, err)
	silent, err := replicas.Register(ctx, db, replicas.Config{ID: uuid.New(), Version: "v1", Clock: clk})
	require.NoError(t, err)
	lastSeen := func(id uuid.UUID) dbsqlc.Replica {
		rows, err := dbsqlc.New(db.Pool).ReplicaList(ctx)
		require.NoError(t, err)
		return byID(t, rows)[id]
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.Run(runCtx); close(done) }()
	require.NoError(t, clk.WaitArmed(ctx, replicas.HeartbeatTimer, 1))
	next, ok := clk.Next(replicas.HeartbeatTimer)
	require.True(t, ok)
	require.Equal(t, start.Add(replicas.DefaultInterval), next, "the first beat is one Interval after Run starts")

	for beat := 1; beat <= 6; beat++ {
		clk.Advance(replicas.DefaultInterval)
		// Armed again once the beat is written.
		require.NoError(t, clk.WaitArmed(ctx, replicas.HeartbeatTimer, beat+1))
		require.Equal(t, start.Add(time.Duration(beat)*replicas.DefaultInterval), lastSeen(r.ID()).LastSeenAt.UTC())
	}
	// Six beats are a minute: the silent replica was last seen StaleAfter ago.
	require.False(t, lastSeen(silent.ID()).Stale)
	clk.Advance(replicas.DefaultInterval)
	require.NoError(t, clk.WaitArmed(ctx, replicas.HeartbeatTimer, 8))
	require.True(t, lastSeen(silent.ID()).Stale, "a replica not seen for more than StaleAfter is marked by another's beat")
	require.False(t, lastSeen(r.ID()).Stale)

	stop()
	<-done
}
