package dashboard_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/rollup"
)

// waitFor bounds every wait; things happen in milliseconds, the bound only
// keeps a broken test from hanging.
const waitFor = 30 * time.Second

// gatewayToken makes a gateway token for user, as the user would for an
// agent.
func (d *deployment) gatewayToken(t *testing.T, user string) string {
	t.Helper()
	nt, err := d.owner.CreateToken(context.Background(), user, "agent", nil, []string{"gateway"})
	require.NoError(t, err)
	return nt.Token
}

// chat sends n chat completions for model through the gateway with the
// official OpenAI SDK, configured as a user configures it: base URL
// baseURL (what Connect your tools shows), the aigate token as the key.
func chat(t *testing.T, baseURL, token, model string, n int) {
	t.Helper()
	chatWith(t, openAI(t, baseURL, token), model, n)
}

// settle waits until the replica has recorded want interceptions in all,
// moving its clock past the recorder's flush wait, and then runs a rollup
// tick, so the usage API (and the overview) counts them.
func (d *deployment) settle(t *testing.T, want int) {
	t.Helper()
	ctx := context.Background()
	require.Eventually(t, func() bool {
		if d.clock.Armed(interceptions.FlushTimer) > 0 {
			d.clock.Advance(interceptions.DefaultFlushInterval)
		}
		var n int
		require.NoError(t, d.DB().Pool.QueryRow(ctx, "SELECT count(*) FROM interceptions").Scan(&n))
		return n >= want
	}, waitFor, time.Millisecond)
	wctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	armed := d.clock.Armed(rollup.TickTimer)
	require.NoError(t, d.clock.WaitArmed(wctx, rollup.TickTimer, max(armed, 1)))
	next, ok := d.clock.Next(rollup.TickTimer)
	require.True(t, ok)
	d.clock.AdvanceTo(next)
	require.NoError(t, d.clock.WaitArmed(wctx, rollup.TickTimer, max(armed, 1)+1), "the tick ran and armed the next")
}
