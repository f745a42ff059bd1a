package usage_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
	"github.com/aigate/aigate/internal/usage"
)

// TestSnapshotClaim: two replicas' Snapshotters fire at the same period end
// on one manual clock; exactly one takes the snapshot, holding what both
// replicas had flushed, and the other does nothing.
func TestSnapshotClaim(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	url := testdb.URL(t)
	m := clock.NewManual(start)
	a, b := newReplica(t, url, m, nil), newReplica(t, url, m, nil)
	a.counters.Allowed(uuid.New(), uuid.New(), tok)
	b.counters.Allowed(uuid.New(), uuid.New(), tok)
	b.counters.Denied()
	require.NoError(t, a.flusher.Flush(ctx))
	require.NoError(t, b.flusher.Flush(ctx))

	for _, r := range []*replica{a, b} {
		s := usage.NewSnapshotter(usage.SnapshotterConfig{DB: r.db, ReplicaID: r.id, Clock: m, Logger: testdb.Logger(t)})
		runLoop(t, s.Run)
	}
	require.NoError(t, m.WaitArmed(ctx, usage.SnapshotTimer, 2))
	end := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	next, ok := m.Next(usage.SnapshotTimer)
	require.True(t, ok)
	require.Equal(t, end, next, "periods end on the hour")
	m.AdvanceTo(end)
	require.NoError(t, m.WaitArmed(ctx, usage.SnapshotTimer, 4), "both fired and re-armed")
	next, _ = m.Next(usage.SnapshotTimer)
	require.Equal(t, end.Add(time.Hour), next)

	snaps, err := usage.Snapshots(ctx, a.db)
	require.NoError(t, err)
	require.Len(t, snaps, 1, "one row for the period")
	s := snaps[0]
	require.Contains(t, []uuid.UUID{a.id, b.id}, s.TakenBy)
	require.Equal(t, end.Add(-time.Hour), s.PeriodStart)
	require.Equal(t, end, s.PeriodEnd)
	require.Equal(t, end, s.TakenAt)
	require.Equal(t, 2, s.Replicas)
	require.EqualValues(t, 2, s.RequestsAllowed)
	require.EqualValues(t, 1, s.RequestsDenied)
	require.Equal(t, usage.Tokens{Input: 200, Output: 40, CacheRead: 14, CacheWrite: 6, Reasoning: 10}, s.Tokens)
	require.EqualValues(t, 2, s.DistinctUsers, "one user on each replica")
	require.Equal(t, start, *s.CountedSince)
	require.Nil(t, s.TelemetrySentAt)
	require.Zero(t, s.TelemetryAttempts, "no telemetry URL: nothing sent")
	_, has := a.row(t)
	require.False(t, has, "the rows were taken")

	// The claim is what decides, not the timing: a late claim of a taken
	// period does nothing and takes nothing.
	a.counters.Allowed(uuid.New(), uuid.New(), tok)
	require.NoError(t, a.flusher.Flush(ctx))
	late := usage.NewSnapshotter(usage.SnapshotterConfig{DB: a.db, ReplicaID: uuid.New(), Clock: m})
	_, taken, err := late.Take(ctx, end)
	require.NoError(t, err)
	require.False(t, taken)
	_, has = a.row(t)
	require.True(t, has, "left for the next period")
}

// telemetryServer is a loopback endpoint that answers the first fails
// requests with 503, then 204, and keeps every body.
type telemetryServer struct {
	*httptest.Server
	mu     sync.Mutex
	fails  int
	bodies []string
	paths  []string
}

func newTelemetryServer(t *testing.T, fails int) *telemetryServer {
	ts := &telemetryServer{fails: fails}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts.mu.Lock()
		defer ts.mu.Unlock()
		ts.bodies = append(ts.bodies, string(body))
		ts.paths = append(ts.paths, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Content-Type"))
		if len(ts.bodies) <= ts.fails {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *telemetryServer) requests() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.bodies...)
}

// TestTelemetry: with a URL, the replica that took a snapshot posts it;
// failures are retried with backoff on the clock, a bounded number of times,
// and each outcome is recorded on the row. The URL never reaches the logs or
// the row.
func TestTelemetry(t *testing.T) {
	t.Parallel()
	const secret = "tok3n-IN-THE-URL"
	end := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)

	setup := func(t *testing.T, fails, maxAttempts int) (*replica, *clock.Manual, *telemetryServer, *testlog.Buffer, chan int64, uuid.UUID) {
		m := clock.NewManual(start)
		r := newReplica(t, testdb.URL(t), m, nil)
		ts := newTelemetryServer(t, fails)
		logs := &testlog.Buffer{}
		deployment := uuid.New()
		s := usage.NewSnapshotter(usage.SnapshotterConfig{
			DB: r.db, ReplicaID: r.id, Clock: m, Logger: slogTo(logs),
			TelemetryURL: ts.URL + "/ingest?key=" + secret, HTTPClient: ts.Client(), DeploymentID: deployment,
			TelemetryMaxAttempts: maxAttempts, TelemetryBackoff: 10 * time.Second,
		})
		done := make(chan int64, 4)
		s.OnSendDone(func(id int64) { done <- id })
		runLoop(t, s.Run)
		return r, m, ts, logs, done, deployment
	}

	t.Run("fails twice, then accepted", func(t *testing.T) {
		t.Parallel()
		ctx := ctxFor(t)
		r, m, ts, logs, done, deployment := setup(t, 2, 5)
		user, provider := uuid.New(), uuid.New()
		r.counters.Allowed(user, provider, tok)
		r.counters.Denied()
		require.NoError(t, r.flusher.Flush(ctx))

		require.NoError(t, m.WaitArmed(ctx, usage.SnapshotTimer, 1))
		m.AdvanceTo(end)
		require.NoError(t, m.WaitArmed(ctx, usage.TelemetryRetryTimer, 1), "first POST failed: backing off")
		require.Len(t, ts.requests(), 1)
		next, _ := m.Next(usage.TelemetryRetryTimer)
		require.Equal(t, end.Add(10*time.Second), next)
		m.Advance(10 * time.Second)
		require.NoError(t, m.WaitArmed(ctx, usage.TelemetryRetryTimer, 2), "second failed")
		next, _ = m.Next(usage.TelemetryRetryTimer)
		require.Equal(t, end.Add(30*time.Second), next, "the backoff doubles")
		m.Advance(20 * time.Second)
		var id int64
		select {
		case id = <-done:
		case <-ctx.Done():
			t.Fatal("the snapshot was never sent")
		}

		bodies := ts.requests()
		require.Len(t, bodies, 3)
		require.Equal(t, bodies[0], bodies[2], "the same report each time")
		require.JSONEq(t, `{"schema_version": 1, "deployment_id": "`+deployment.String()+`", "snapshot_id": `+jsonInt(id)+`,
			"period_start": "2026-12-01T10:00:00Z", "period_end": "2026-12-01T11:00:00Z",
			"counted_since": "2026-12-01T10:17:23Z", "taken_at": "2026-12-01T11:00:00Z", "replicas": 1,
			"requests": {"allowed": 1, "denied": 1},
			"tokens": {"input": 100, "output": 20, "cache_read": 7, "cache_write": 3, "reasoning": 5},
			"distinct_users": 1, "distinct_providers": 1}`, bodies[2])
		require.NotContains(t, bodies[2], user.String())
		require.NotContains(t, bodies[2], provider.String())
		ts.mu.Lock()
		require.Equal(t, "POST /ingest?key="+secret+" application/json", ts.paths[0])
		ts.mu.Unlock()

		snaps, err := usage.Snapshots(ctx, r.db)
		require.NoError(t, err)
		require.Len(t, snaps, 1)
		require.NotNil(t, snaps[0].TelemetrySentAt)
		require.Equal(t, end.Add(30*time.Second), *snaps[0].TelemetrySentAt)
		require.Equal(t, 3, snaps[0].TelemetryAttempts)
		require.Empty(t, snaps[0].TelemetryLastError)
		require.Contains(t, logs.String(), "usage snapshot not sent to telemetry; retrying")
		require.Contains(t, logs.String(), "503")
		require.NotContains(t, logs.String(), secret)
	})

	t.Run("gives up after the attempts", func(t *testing.T) {
		t.Parallel()
		ctx := ctxFor(t)
		r, m, ts, logs, done, _ := setup(t, 100, 3)
		require.NoError(t, m.WaitArmed(ctx, usage.SnapshotTimer, 1))
		m.AdvanceTo(end)
		require.NoError(t, m.WaitArmed(ctx, usage.TelemetryRetryTimer, 1))
		m.Advance(10 * time.Second)
		require.NoError(t, m.WaitArmed(ctx, usage.TelemetryRetryTimer, 2))
		m.Advance(20 * time.Second)
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatal("the sender never gave up")
		}
		require.Len(t, ts.requests(), 3)
		require.Equal(t, 2, m.Armed(usage.TelemetryRetryTimer), "no wait after the last attempt")
		snaps, err := usage.Snapshots(ctx, r.db)
		require.NoError(t, err)
		require.Nil(t, snaps[0].TelemetrySentAt)
		require.Equal(t, 3, snaps[0].TelemetryAttempts)
		require.Equal(t, "telemetry endpoint answered 503 Service Unavailable", snaps[0].TelemetryLastError)
		require.Contains(t, logs.String(), "giving up")
		require.NotContains(t, logs.String(), secret)

		// The next snapshot is sent on its own; the one given up on is not
		// tried again.
		m.AdvanceTo(end.Add(time.Hour))
		require.NoError(t, m.WaitArmed(ctx, usage.TelemetryRetryTimer, 3))
		require.Len(t, ts.requests(), 4)
	})

	t.Run("an unreachable endpoint", func(t *testing.T) {
		t.Parallel()
		ctx := ctxFor(t)
		r, m, ts, logs, done, _ := setup(t, 0, 1)
		ts.Close() // nothing listens any more
		require.NoError(t, m.WaitArmed(ctx, usage.SnapshotTimer, 1))
		m.AdvanceTo(end)
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatal("the sender never gave up")
		}
		snaps, err := usage.Snapshots(ctx, r.db)
		require.NoError(t, err)
		require.Contains(t, snaps[0].TelemetryLastError, "post usage report")
		require.NotContains(t, snaps[0].TelemetryLastError, secret)
		require.NotContains(t, logs.String(), secret)
	})
}

// TestNoTelemetryWithoutURL: without a URL a snapshot is stored and nothing
// is posted: no sender, no attempt recorded.
func TestNoTelemetryWithoutURL(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	m := clock.NewManual(start)
	r := newReplica(t, testdb.URL(t), m, nil)
	ts := newTelemetryServer(t, 0)
	s := usage.NewSnapshotter(usage.SnapshotterConfig{DB: r.db, ReplicaID: r.id, Clock: m, HTTPClient: ts.Client()})
	s.OnSendDone(func(int64) { t.Error("nothing is sent") })
	r.counters.Denied()
	require.NoError(t, r.flusher.Flush(ctx))
	runLoop(t, s.Run)
	require.NoError(t, m.WaitArmed(ctx, usage.SnapshotTimer, 1))
	m.AdvanceTo(time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC))
	require.NoError(t, m.WaitArmed(ctx, usage.SnapshotTimer, 2))
	snaps, err := usage.Snapshots(ctx, r.db)
	require.NoError(t, err)
	require.Len(t, snaps, 1)
	require.EqualValues(t, 1, snaps[0].RequestsDenied)
	require.Zero(t, snaps[0].TelemetryAttempts)
	require.Empty(t, ts.requests())
	require.Zero(t, m.Armed(usage.TelemetryRetryTimer))
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func slogTo(b *testlog.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
