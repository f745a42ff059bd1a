package limits_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/limits"
)

// BenchmarkAdmit times admission and its release (Admit + Done) with the
// policy's lease in memory, from parallel goroutines as a busy replica
// would: the target is a p99 under 100 µs. Each request reserves
// 1,000 µ$ of a $100,000 budget and uses 900. Refills are reported per
// second: they are rare (one serves a 32nd of the limit) and happen off
// the request path, started when a lease runs below half a chunk.
func BenchmarkAdmit(b *testing.B) {
	for _, tc := range []struct {
		name  string
		rules int
	}{{"1 policy", 1}, {"3 policies", 3}} {
		b.Run(tc.name, func(b *testing.B) {
			var rules []limits.Rule
			for i := range tc.rules {
				r := rule(limits.KindBudget, 100_000_000_000)
				r.Name = r.Name + string(rune('a'+i))
				r.Window = forever
				rules = append(rules, r)
			}
			f := newBenchFleet(b, rules...)
			e := f.engines[0]
			ctx := context.Background()
			// Warm: the first lease.
			tk, err := e.Admit(ctx, &limits.Request{Cost: 1000, Priced: true})
			require.NoError(b, err)
			tk.Done(limits.Usage{Cost: 1000, Priced: true})
			refills0 := e.Refills()
			samples := make(chan []time.Duration, 64)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var d []time.Duration
				for pb.Next() {
					t0 := time.Now()
					tk, err := e.Admit(ctx, &limits.Request{UserID: uuid.Nil, Cost: 1000, Priced: true})
					if err != nil {
						b.Error(err)
						return
					}
					tk.Done(limits.Usage{Cost: 900, Priced: true})
					d = append(d, time.Since(t0))
				}
				samples <- d
			})
			elapsed := time.Since(start)
			b.StopTimer()
			close(samples)
			var all []time.Duration
			for d := range samples {
				all = append(all, d...)
			}
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)*50/100].Nanoseconds()), "p50-ns")
				b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds()), "p99-ns")
			}
			b.ReportMetric(float64(e.Refills()-refills0)/elapsed.Seconds(), "refills/s")
		})
	}
}
