package benche2e_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/benche2e"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/servertest"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/users"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const waitFor = 30 * time.Second

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestSchedule(t *testing.T) {
	got := benche2e.Schedule(t0, 500, 4)
	want := []time.Time{t0, t0.Add(2 * time.Millisecond), t0.Add(4 * time.Millisecond), t0.Add(6 * time.Millisecond)}
	assert.Equal(t, want, got, "fixed 2 ms intervals at 500 req/s")
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	assert.Equal(t, 50*time.Millisecond, benche2e.Percentile(d, 50))
	assert.Equal(t, 99*time.Millisecond, benche2e.Percentile(d, 99))
	assert.Equal(t, 100*time.Millisecond, benche2e.Percentile(d, 100))
	assert.Equal(t, time.Duration(0), benche2e.Percentile(nil, 99))
	assert.Equal(t, 7*time.Millisecond, benche2e.Percentile([]time.Duration{7 * time.Millisecond}, 99))
}

// advanceOpenLoop moves m to each open-loop slot as the generator arms it.
func advanceOpenLoop(ctx context.Context, m *clock.Manual) {
	for k := 1; ; k++ {
		if m.WaitArmed(ctx, benche2e.TimerOpenLoop, k) != nil {
			return
		}
		if at, ok := m.Next(benche2e.TimerOpenLoop); ok {
			m.AdvanceTo(at)
		}
	}
}

// TestOpenLoop: requests go out at their slots whatever the answers take,
// and latency counts from the slot, so a slow answer does not delay the
// next request nor hide its own wait.
func TestOpenLoop(t *testing.T) {
	m := clock.NewManual(t0)
	ctx, cancel := context.WithCancel(context.Background())
	// The clock moves to the next slot only once the request before it has
	// read the time, so each request sees its own slot.
	sent := make(chan struct{}, 5)
	var driver sync.WaitGroup
	driver.Go(func() {
		for k := 1; k < 5; k++ {
			select {
			case <-sent:
			case <-ctx.Done():
				return
			}
			if m.WaitArmed(ctx, benche2e.TimerOpenLoop, k) != nil {
				return
			}
			if at, ok := m.Next(benche2e.TimerOpenLoop); ok {
				m.AdvanceTo(at)
			}
		}
	})
	t.Cleanup(func() { cancel(); driver.Wait() })

	var mu sync.Mutex
	sentAt := map[int]time.Time{}
	boom := errors.New("boom")
	samples := benche2e.OpenLoop(ctx, m, 100, 5, func(_ context.Context, i int) (time.Time, error) {
		now := m.Now()
		mu.Lock()
		sentAt[i] = now
		mu.Unlock()
		sent <- struct{}{}
		if i == 3 {
			return now, boom
		}
		// The answer takes 7 ms, plus 40 ms for the second request: longer
		// than the 10 ms interval.
		d := 7 * time.Millisecond
		if i == 1 {
			d += 40 * time.Millisecond
		}
		return now.Add(d), nil
	})
	require.Len(t, samples, 5)
	for i := range 5 {
		assert.Equal(t, t0.Add(time.Duration(i)*10*time.Millisecond), sentAt[i], "request %d at its slot", i)
	}
	assert.Equal(t, 47*time.Millisecond, samples[1].Latency)
	assert.ErrorIs(t, samples[3].Err, boom)
	lat, failed := benche2e.Latencies(samples)
	assert.Equal(t, 1, failed)
	assert.Equal(t, []time.Duration{7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond, 47 * time.Millisecond}, lat)
}

func TestClosedLoopCount(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]bool{}
	ok, failed, _ := benche2e.ClosedLoop(context.Background(), clock.NewManual(t0), 3, 10, 0, func(_ context.Context, i int) error {
		mu.Lock()
		defer mu.Unlock()
		seen[i] = true
		if i%5 == 0 {
			return errors.New("refused")
		}
		return nil
	})
	assert.Equal(t, 8, ok)
	assert.Equal(t, 2, failed)
	assert.Len(t, seen, 10, "each index once")
}

func TestFormat(t *testing.T) {
	got := benche2e.Format([]string{"bare proxy", "aigate"}, []benche2e.Row{
		{Measure: "latency p50", Unit: "ms", Values: []float64{0.5, 0.55}},
		{Measure: "throughput", Unit: "req/s", Values: []float64{4000, 4400}},
		{Measure: "round trips", Values: []float64{math.NaN(), 12.5}},
		{Measure: "failed", Values: []float64{0, 0}},
	})
	want := "" +
		"| measure     | bare proxy |     aigate |     × |\n" +
		"| ---         |       ---: |       ---: |  ---: |\n" +
		"| latency p50 |    0.50 ms |    0.55 ms | ×1.10 |\n" +
		"| throughput  | 4000 req/s | 4400 req/s | ×1.10 |\n" +
		"| round trips |          — |       12.5 |     — |\n" +
		"| failed      |          0 |          0 |     — |\n"
	assert.Equal(t, want, got)
}

// TestRunEndToEnd runs every measurement with a handful of requests through
// a real replica (on PostgreSQL, recording on) and the bare proxy, so the
// harness that `make bench-e2e` runs at full size cannot rot.
func TestRunEndToEnd(t *testing.T) {
	mock := llmmock.New(t, llmmock.Options{Events: 20})
	up, err := url.Parse(mock.URL)
	require.NoError(t, err)
	h, tr := benche2e.NewProxy(up, "sk-bench-key")
	px := httptest.NewServer(h)
	t.Cleanup(func() { px.Close(); tr.CloseIdleConnections() })

	r := servertest.Start(t, servertest.Options{})
	ctx := context.Background()
	u, _, err := r.Users().CreateFirst(ctx, users.Input{Email: "bench@example.com", Name: "Bench", Password: "correct horse battery"})
	require.NoError(t, err)
	me := audit.Actor{ID: u.ID.String(), Email: u.Email}
	gw := &benche2e.Target{Name: "aigate", URL: r.URL, PID: os.Getpid(), SlowStreams: true}
	for i := range 3 {
		_, token, err := r.Users().CreateToken(ctx, me, u.ID.String(), users.TokenInput{Name: fmt.Sprintf("agent-%d", i)})
		require.NoError(t, err)
		gw.Tokens = append(gw.Tokens, token)
	}
	key := "sk-bench-key"
	_, err = r.Providers().Create(ctx, audit.Actor{ID: uuid.NewString(), Email: "owner@example.com"},
		providers.Input{Name: "openai", Type: "openai", BaseURL: mock.OpenAIBaseURL(), APIKeys: []providers.KeyInput{{APIKey: &key}}})
	require.NoError(t, err)
	gw.PoolAcquires = func(ctx context.Context) (float64, error) {
		return benche2e.Scrape(ctx, r.MetricsURL+"/metrics", benche2e.PoolAcquiresMetric)
	}
	gw.Transactions = func(ctx context.Context) (int64, error) {
		var n int64
		err := r.DB().Pool.QueryRow(ctx, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()").Scan(&n)
		return n, err
	}
	proxy := &benche2e.Target{Name: "bare proxy", URL: px.URL, PID: os.Getpid(), SlowStreams: true}

	m := clock.NewManual(t0)
	dctx, cancel := context.WithCancel(ctx)
	var driver sync.WaitGroup
	driver.Go(func() { advanceOpenLoop(dctx, m) })
	t.Cleanup(func() { cancel(); driver.Wait() })
	var slowSet []bool
	var log strings.Builder
	cfg := benche2e.Config{
		Clock: m, Rounds: 2, Warmup: 2,
		Rate: 100, RateRequests: 3,
		Workers: 2, ThroughputRequests: 4,
		StreamRate: 100, Streams: 2,
		SlowStreams: []int{3},
		Upstream: func(slow bool) {
			slowSet = append(slowSet, slow)
			if slow {
				mock.SetOptions(llmmock.Options{Events: 3})
			} else {
				mock.SetOptions(llmmock.Options{Events: 20})
			}
		},
		Log: &log,
	}
	results, err := benche2e.Run(ctx, cfg, []*benche2e.Target{proxy, gw})
	require.NoError(t, err, log.String())
	assert.Equal(t, []bool{false, true, false}, slowSet, "slow upstream only for the slow streams")

	const perTarget = 2 + 2*(3+4+2) + 3
	const measured = 2 * (3 + 4 + 2)
	for _, res := range results {
		assert.Equal(t, 6, res.LatencyCount, res.Target.Name)
		assert.Len(t, res.Latency, 6, res.Target.Name)
		assert.Zero(t, res.LatencyFail+res.ThroughputFail+res.StreamFail, res.Target.Name)
		assert.Equal(t, 8, res.ThroughputOK, res.Target.Name)
		assert.Len(t, res.TTFB, 4, res.Target.Name)
		assert.Equal(t, int64(measured), res.Requests, res.Target.Name)
		require.Len(t, res.Slow, 1, res.Target.Name)
		assert.Zero(t, res.Slow[0].Truncated, res.Target.Name)
		assert.Positive(t, res.Slow[0].RSS, res.Target.Name)
	}
	assert.Equal(t, float64(-1), results[0].Acquires, "the bare proxy has no database")
	assert.Positive(t, results[1].Acquires, "the replica's token checks and recording use the pool")
	// PostgreSQL publishes a connection's statistics up to 10 s late (the
	// benchmark's Settle), so a run this short may see none yet; the
	// counter was read, though.
	assert.GreaterOrEqual(t, results[1].Transactions, int64(0))

	// Every gateway request went through aigate and was recorded.
	require.Eventually(t, func() bool {
		var n int
		err := r.DB().Pool.QueryRow(ctx, "SELECT count(*) FROM interceptions").Scan(&n)
		return err == nil && n == perTarget
	}, waitFor, 10*time.Millisecond)
	assert.Len(t, mock.Requests(), 2*perTarget, "both proxies reached the upstream for every request")

	table := benche2e.Format([]string{"bare proxy", "aigate"}, benche2e.Rows(cfg, results))
	for _, want := range []string{"latency p99 at 100 req/s", "max throughput at c=2", "RSS with 3 slow streams", "PG transactions per 1,000 requests"} {
		assert.Contains(t, table, want)
	}
}
