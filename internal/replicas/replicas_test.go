package replicas_test

import (
	"context"
	"testing"
	"time"

	"github.com/aigate/aigate/internal/testclock"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/replicas"
	"github.com/aigate/aigate/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

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
	clk := testclock.New(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	cfg := func(addr string) replicas.Config {
		return replicas.Config{ID: uuid.New(), Version: "v1", HTTPAddress: addr, Now: clk.Now,
			StaleAfter: time.Minute, DeleteAfter: time.Hour}
	}
	a, err := replicas.Register(ctx, db, cfg("a:1"))
	require.NoError(t, err)
	b, err := replicas.Register(ctx, db, cfg("b:1"))
	require.NoError(t, err)

	// b stops beating; a keeps going.
	clk.Add(2 * time.Minute)
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
	clk.Add(2 * time.Hour)
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

func TestRunStopsWithContext(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	r, err := replicas.Register(context.Background(), db, replicas.Config{ID: uuid.New(), Version: "v1", Interval: time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	cancel()
	<-done
}
