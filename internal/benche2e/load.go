package benche2e

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aigate/aigate/internal/clock"
)

// TimerOpenLoop names the timer the open-loop generator waits on for its next
// slot; a test on a clock.Manual advances to it.
const TimerOpenLoop = "benche2e.openloop"

// Schedule returns the n send times of an open-loop run at rate per second
// from start: fixed intervals, whatever the answers take.
func Schedule(start time.Time, rate float64, n int) []time.Time {
	interval := time.Duration(float64(time.Second) / rate)
	out := make([]time.Time, n)
	for i := range out {
		out[i] = start.Add(time.Duration(i) * interval)
	}
	return out
}

// Sample is one request of a run: its latency (for an open-loop run, from the
// time it was scheduled, so a stall of the proxy counts for every request
// that should have been sent during it) and whether it failed.
type Sample struct {
	Latency time.Duration
	Err     error
}

// OpenLoop sends n requests at rate per second, each at its scheduled time
// in its own goroutine, and returns their samples in schedule order. do
// gets the request's index and returns the time its answer counts from
// (the end for a whole response, the first byte for a stream).
func OpenLoop(ctx context.Context, c clock.Clock, rate float64, n int, do func(ctx context.Context, i int) (time.Time, error)) []Sample {
	c = clock.Or(c)
	times := Schedule(c.Now(), rate, n)
	out := make([]Sample, n)
	var wg sync.WaitGroup
	for i, at := range times {
		if d := at.Sub(c.Now()); d > 0 {
			if err := clock.Sleep(ctx, c, TimerOpenLoop, d); err != nil {
				for j := i; j < n; j++ {
					out[j].Err = err
				}
				break
			}
		}
		wg.Go(func() {
			done, err := do(ctx, i)
			out[i] = Sample{Latency: done.Sub(at), Err: err}
		})
	}
	wg.Wait()
	return out
}

// ClosedLoop runs workers that each send one request after another until
// total requests have been sent (total > 0) or the clock reaches the
// deadline, and reports how many succeeded and failed and how long it took.
func ClosedLoop(ctx context.Context, c clock.Clock, workers, total int, d time.Duration, do func(ctx context.Context, i int) error) (ok, failed int, elapsed time.Duration) {
	c = clock.Or(c)
	start := c.Now()
	deadline := start.Add(d)
	var next, okN, failN atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if total > 0 && i >= total || total <= 0 && !c.Now().Before(deadline) {
					return
				}
				if err := do(ctx, i); err != nil {
					failN.Add(1)
					continue
				}
				okN.Add(1)
			}
		})
	}
	wg.Wait()
	return int(okN.Load()), int(failN.Load()), c.Now().Sub(start)
}

// Latencies are the successful samples' latencies, sorted, and the number
// that failed.
func Latencies(samples []Sample) (sorted []time.Duration, failed int) {
	for _, s := range samples {
		if s.Err != nil {
			failed++
			continue
		}
		sorted = append(sorted, s.Latency)
	}
	slices.Sort(sorted)
	return sorted, failed
}

// Percentile is the nearest-rank percentile p (0 < p <= 100) of sorted
// durations; 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}
