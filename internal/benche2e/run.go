package benche2e

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aigate/aigate/internal/clock"
)

// Config is what one run measures, and how long each measurement lasts.
type Config struct {
	// Clock times everything: clock.Real for a measurement, a clock.Manual
	// in tests (the open-loop generator waits on TimerOpenLoop).
	Clock clock.Clock
	// Rounds is how often each measurement is repeated, the targets taking
	// turns (A B A B), so drift of the machine hits them alike.
	Rounds int
	// Warmup requests go to each target first and are not measured.
	Warmup int
	// Rate is the fixed request rate (per second) of the latency
	// measurement and RateRequests how many it sends per round.
	Rate         float64
	RateRequests int
	// Workers is the concurrency of the throughput measurement, which runs
	// for ThroughputTime, or sends ThroughputRequests when that is set.
	Workers            int
	ThroughputTime     time.Duration
	ThroughputRequests int
	// StreamRate is the rate (per second) of the streaming measurement and
	// Streams how many streams it opens per round.
	StreamRate float64
	Streams    int
	// SlowStreams are the numbers of concurrent slow streams whose memory
	// is measured, SlowDelay the upstream's delay between their events.
	SlowStreams []int
	SlowDelay   time.Duration
	// Upstream switches the mock upstream between the normal answers
	// (slow false) and the slow streams.
	Upstream func(slow bool)
	// Settle is waited after the rounds, before the database counters are
	// read again: PostgreSQL publishes an idle connection's statistics only
	// after 10 s.
	Settle time.Duration
	// Log receives a line per measurement as it ends; nil discards them.
	Log io.Writer
}

// Result is what a run measured on one target.
type Result struct {
	Target *Target

	Latency      []time.Duration // at Rate, sorted, every round
	LatencyFail  int
	LatencyCPU   time.Duration
	LatencyCount int

	ThroughputOK, ThroughputFail int
	ThroughputTime               time.Duration

	TTFB       []time.Duration // sorted, every round
	StreamFail int
	StreamCPU  time.Duration

	// Requests is the gateway requests of the measured rounds (not the
	// warm-up or the slow streams), the denominator of the database
	// figures, which count over the same span (and the Settle after it).
	Requests     int64
	Acquires     float64 // pool acquires; -1 if not measured
	Transactions int64   // committed and rolled back; -1 if not measured

	IdleRSS int64 // before the slow streams
	Slow    []SlowResult
}

// SlowResult is one slow-stream measurement.
type SlowResult struct {
	Streams   int
	RSS       int64 // once every stream has its first event
	Truncated int
	// GapP99 is the 99th percentile of the time between two events of a
	// stream beyond the upstream's delay: what the proxy adds.
	GapP99 time.Duration
}

// Run measures every target, the first being the baseline of the ratios.
func Run(ctx context.Context, cfg Config, targets []*Target) ([]*Result, error) {
	c := clock.Or(cfg.Clock)
	hc := NewClient()
	defer hc.CloseIdleConnections()
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			_, _ = fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	results := make([]*Result, len(targets))
	var sent = make([]atomic.Int64, len(targets))
	for k, t := range targets {
		results[k] = &Result{Target: t, Acquires: -1, Transactions: -1}
	}
	complete := func(k int) func(ctx context.Context, i int) (time.Time, error) {
		return func(ctx context.Context, i int) (time.Time, error) {
			sent[k].Add(1)
			return targets[k].complete(ctx, hc, c, i)
		}
	}
	cpu := func(t *Target, f func()) (time.Duration, error) {
		before, err := CPUTime(t.PID)
		if err != nil {
			return 0, err
		}
		f()
		after, err := CPUTime(t.PID)
		return after - before, err
	}

	if cfg.Upstream != nil {
		cfg.Upstream(false)
	}
	for k := range targets {
		_, failed, _ := ClosedLoop(ctx, c, min(cfg.Workers, max(cfg.Warmup, 1)), cfg.Warmup, 0, func(ctx context.Context, i int) error {
			_, err := complete(k)(ctx, i)
			return err
		})
		if failed > 0 {
			_, err := complete(k)(ctx, 0)
			return nil, fmt.Errorf("%s: %d of %d warm-up requests failed: %w", targets[k].Name, failed, cfg.Warmup, err)
		}
	}

	if err := readCounters(ctx, results, -1); err != nil {
		return nil, err
	}
	for k := range sent {
		sent[k].Store(0)
	}
	for round := range cfg.Rounds {
		for k, t := range targets {
			var samples []Sample
			d, err := cpu(t, func() { samples = OpenLoop(ctx, c, cfg.Rate, cfg.RateRequests, complete(k)) })
			if err != nil {
				return nil, err
			}
			r := results[k]
			lat, failed := Latencies(samples)
			r.Latency = append(r.Latency, lat...)
			r.LatencyFail += failed
			r.LatencyCPU += d
			r.LatencyCount += len(samples)
			logf("round %d  %-22s %g req/s: p50 %v p99 %v, %d failed, CPU %v", round+1, t.Name, cfg.Rate,
				Percentile(lat, 50), Percentile(lat, 99), failed, d)
		}
		for k, t := range targets {
			ok, failed, elapsed := ClosedLoop(ctx, c, cfg.Workers, cfg.ThroughputRequests, cfg.ThroughputTime, func(ctx context.Context, i int) error {
				_, err := complete(k)(ctx, i)
				return err
			})
			r := results[k]
			r.ThroughputOK += ok
			r.ThroughputFail += failed
			r.ThroughputTime += elapsed
			logf("round %d  %-22s c=%d: %d requests in %v, %d failed", round+1, t.Name, cfg.Workers, ok, elapsed, failed)
		}
		for k, t := range targets {
			var samples []Sample
			d, err := cpu(t, func() {
				samples = OpenLoop(ctx, c, cfg.StreamRate, cfg.Streams, func(ctx context.Context, i int) (time.Time, error) {
					sent[k].Add(1)
					return t.stream(ctx, hc, c, i, nil)
				})
			})
			if err != nil {
				return nil, err
			}
			r := results[k]
			ttfb, failed := Latencies(samples)
			r.TTFB = append(r.TTFB, ttfb...)
			r.StreamFail += failed
			r.StreamCPU += d
			logf("round %d  %-22s streams at %g/s: TTFB p50 %v p99 %v, %d failed, CPU %v", round+1, t.Name, cfg.StreamRate,
				Percentile(ttfb, 50), Percentile(ttfb, 99), failed, d)
		}
	}
	for _, r := range results {
		slices.Sort(r.Latency)
		slices.Sort(r.TTFB)
	}

	if cfg.Settle > 0 {
		logf("waiting %v for PostgreSQL's statistics", cfg.Settle)
		if err := clock.Sleep(ctx, c, "benche2e.settle", cfg.Settle); err != nil {
			return nil, err
		}
	}
	for k := range results {
		results[k].Requests = sent[k].Load()
	}
	if err := readCounters(ctx, results, 1); err != nil {
		return nil, err
	}

	if len(cfg.SlowStreams) > 0 {
		if cfg.Upstream != nil {
			cfg.Upstream(true)
		}
		for k, t := range targets {
			if !t.SlowStreams {
				continue
			}
			rss, err := RSS(t.PID)
			if err != nil {
				return nil, err
			}
			results[k].IdleRSS = rss
		}
		for _, n := range cfg.SlowStreams {
			for k, t := range targets {
				if !t.SlowStreams {
					continue
				}
				s, err := slowStreams(ctx, hc, c, t, n, cfg.SlowDelay, &sent[k])
				if err != nil {
					return nil, err
				}
				results[k].Slow = append(results[k].Slow, s)
				logf("%-22s %d slow streams: RSS %.0f MB, %d truncated, gap p99 +%v", t.Name, n, mb(s.RSS), s.Truncated, s.GapP99)
			}
		}
		if cfg.Upstream != nil {
			cfg.Upstream(false)
		}
	}

	return results, nil
}

// readCounters adds sign times the targets' database counters to their
// results (which start at -1, "not measured").
func readCounters(ctx context.Context, results []*Result, sign int64) error {
	for _, r := range results {
		t := r.Target
		if t.PoolAcquires != nil {
			v, err := t.PoolAcquires(ctx)
			if err != nil {
				return fmt.Errorf("%s: read the pool counters: %w", t.Name, err)
			}
			if sign < 0 {
				r.Acquires = 0
			}
			r.Acquires += float64(sign) * v
		}
		if t.Transactions != nil {
			v, err := t.Transactions(ctx)
			if err != nil {
				return fmt.Errorf("%s: read the transaction count: %w", t.Name, err)
			}
			if sign < 0 {
				r.Transactions = 0
			}
			r.Transactions += sign * v
		}
	}
	return nil
}

// slowStreams holds n streams open at once and measures the target's memory
// once every one of them has its first event.
func slowStreams(ctx context.Context, hc *http.Client, c clock.Clock, t *Target, n int, delay time.Duration, sent *atomic.Int64) (SlowResult, error) {
	res := SlowResult{Streams: n}
	var opened sync.WaitGroup
	opened.Add(n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var gaps []time.Duration
	var truncated, failed atomic.Int64
	var firstErr error
	for i := range n {
		wg.Go(func() {
			once := sync.OnceFunc(opened.Done)
			defer once()
			var last time.Time
			var mine []time.Duration
			sent.Add(1)
			_, err := t.stream(ctx, hc, c, i, func(at time.Time) {
				// Only the gaps the upstream waited before count; the
				// closing events follow the last delta at once.
				if gap := at.Sub(last); !last.IsZero() && gap >= delay/2 {
					mine = append(mine, gap-delay)
				}
				last = at
				once()
			})
			if errors.Is(err, errTruncated) {
				truncated.Add(1)
			}
			mu.Lock()
			if err != nil && !errors.Is(err, errTruncated) {
				failed.Add(1)
				firstErr = cmp.Or(firstErr, err)
			}
			gaps = append(gaps, mine...)
			mu.Unlock()
		})
	}
	opened.Wait()
	rss, rssErr := RSS(t.PID)
	wg.Wait()
	if rssErr != nil {
		return res, rssErr
	}
	if f := failed.Load(); f > 0 {
		return res, fmt.Errorf("%s: %d of %d slow streams failed: %w", t.Name, f, n, firstErr)
	}
	slices.Sort(gaps)
	res.RSS = rss
	res.Truncated = int(truncated.Load())
	res.GapP99 = max(0, Percentile(gaps, 99))
	return res, nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
