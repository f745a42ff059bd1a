package dashboard_test

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/client"
)

// The overview counts the requests a policy refused apart from the errors:
// "Denied by policy" shows them, the error rate is of the requests that
// were admitted, and the tables have a Denied column; the numbers are the
// usage API's.
func TestOverviewCountsDenialsApart(t *testing.T) {
	t.Parallel()
	d := setup(t)
	ctx := context.Background()
	me, err := d.owner.GetUser(ctx, "me")
	require.NoError(t, err)
	started := testNow.Add(-time.Hour)
	for i, status := range []string{"ok", "ok", "ok", "upstream_error", "denied", "denied", "denied", "denied"} {
		_, err := d.DB().Pool.Exec(ctx, `
			INSERT INTO interceptions (id, replica_id, request_id, user_id, token_id, provider_id, provider_name, provider_type,
			                           model, endpoint, streaming, started_at, ended_at, status, client)
			VALUES ($1, $1, 'req', $2, 'tok', $1, 'openai', 'openai', 'gpt-4.1', 'chat_completions', true,
			        $3::timestamptz, $3::timestamptz + interval '1 second', $4, 'codex')`,
			uuid.New(), me.ID, started.Add(time.Duration(i)*time.Second), status)
		require.NoError(t, err)
	}
	d.settle(t, 8)

	b := newBrowser(t, d.URL)
	b.signIn("owner@example.com", d.ownerPwd)
	code, _ := b.get("/?range=24h")
	page := b.last
	require.Equal(t, http.StatusOK, code, page)
	stat := func(name string) string {
		m := regexp.MustCompile(`data-stat="` + name + `">([^<]*)<`).FindStringSubmatch(page)
		require.NotNil(t, m, name)
		return m[1]
	}
	from, to := dayWindow(d.clock.Now())
	usage, err := d.owner.GetUsage(ctx, client.UsageFilter{From: &from, To: &to})
	require.NoError(t, err)
	require.Equal(t, [3]int64{8, 1, 4}, [3]int64{usage.Total.Requests, usage.Total.Errors, usage.Total.Denied})
	require.Equal(t, "8", stat("requests"))
	require.Equal(t, "1", stat("errors"))
	require.Equal(t, "4", stat("denied"))
	require.Equal(t, "25.0%", stat("error-rate"), "one error of the four requests admitted")
	require.Regexp(t, `<td class="n" data-denied>4</td>`, page, "the tables' Denied column")
}
