package usage_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/usage"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// waitFor bounds every wait on another goroutine; things happen in
// milliseconds, the bound only keeps a broken test from hanging.
const waitFor = 30 * time.Second

// start is where manual clocks begin: 10:17:23 UTC, so the hour's period
// ends at 11:00.
var start = time.Date(2026, 12, 1, 10, 17, 23, 0, time.UTC)

// replica is one replica's counting side: its Counters and its Flusher, on a
// pool of its own.
type replica struct {
	id       uuid.UUID
	db       *database.DB
	counters *usage.Counters
	flusher  *usage.Flusher
}

// newReplica opens a pool of its own on the database at url, as another
// replica would.
func newReplica(t testing.TB, url string, c clock.Clock, counters *usage.Counters) *replica {
	t.Helper()
	if counters == nil {
		counters = usage.NewCounters()
	}
	r := &replica{id: uuid.New(), db: testdb.Open(t, url), counters: counters}
	r.flusher = usage.NewFlusher(usage.FlusherConfig{
		DB: r.db, Counters: counters, ReplicaID: r.id, Clock: c, Logger: testdb.Logger(t),
	})
	return r
}

func ctxFor(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// row returns the replica's usage_counters row; ok is false when it has none.
func (r *replica) row(t testing.TB) (dbsqlc.UsageCounter, bool) {
	t.Helper()
	rows, err := dbsqlc.New(r.db.Pool).UsageCountersList(context.Background())
	require.NoError(t, err)
	for _, row := range rows {
		if row.ReplicaID == r.id {
			return row, true
		}
	}
	return dbsqlc.UsageCounter{}, false
}

// runLoop runs run until the test ends or the returned stop is called, and
// waits for it to return.
func runLoop(t testing.TB, run func(context.Context)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(ctx)
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

func ids(n int) []uuid.UUID {
	out := make([]uuid.UUID, n)
	for i := range out {
		out[i] = uuid.New()
	}
	return out
}
