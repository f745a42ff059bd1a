package interceptionstest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The same Options make the same history, so benchmark runs compare; another
// seed makes another.
func TestGeneratorRepeats(t *testing.T) {
	t.Parallel()
	o := Options{Interceptions: 5_000, End: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), Days: 3, Users: 10, Password: "x"}
	require.NoError(t, o.defaults())
	rows := func(o Options) []row {
		g := newGenerator(o)
		var out []row
		var r row
		for g.next(&r) {
			r.user = nil // compared by the rows' fields, not the generator's users
			out = append(out, r)
		}
		return out
	}
	a, b := rows(o), rows(o)
	require.Len(t, a, o.Interceptions)
	require.Equal(t, a, b)
	for i := 1; i < len(a); i++ {
		require.False(t, a[i].started.Before(a[i-1].started), "in started_at order")
	}
	o.RandSeed = 1
	require.NotEqual(t, a, rows(o))
}
