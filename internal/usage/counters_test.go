package usage_test

import (
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/aigate/aigate/internal/usage"
)

// TestNilCountersCountNothing: the gateway calls a nil *Counters when usage
// is not counted.
func TestNilCountersCountNothing(t *testing.T) {
	t.Parallel()
	var c *usage.Counters
	c.Allowed(uuid.New(), uuid.New(), tok)
	c.Denied()
}

// BenchmarkCountersAllowed is the gateway's hot path under parallel load:
// 1,000 users on 10 providers, each already seen (the steady state between
// two flushes), so no allocation is expected.
func BenchmarkCountersAllowed(b *testing.B) {
	c := usage.NewCounters()
	users, providers := ids(1000), ids(10)
	var seed atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			i++
			c.Allowed(users[i%len(users)], providers[i%len(providers)], tok)
		}
	})
}
