package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/gateway"
	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/usage"
)

// TestUsageCounted: the gateway counts a request refused by authentication
// (or for its token's scope) as denied, and a request it sent upstream as allowed, with the tokens its
// interception records; other refusals (an unknown provider) count as
// neither. The gateway here counts into Counters of the test's own, beside
// the replica's (which records the interceptions to compare with), so the
// feed is checked whatever the System wires.
func TestUsageCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{})
	oa := e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	an := e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)

	counters := usage.NewCounters()
	tr := gateway.NewTransport()
	t.Cleanup(tr.CloseIdleConnections)
	mux := http.NewServeMux()
	gateway.New(gateway.Config{
		Auth: auth.NewAuthenticator(auth.Config{DB: e.db, Logger: testdb.Logger(t)}), Snapshots: e.reloader, Usage: counters, Transport: tr,
	}).Mount(mux)
	counting := httptest.NewServer(mux)
	t.Cleanup(counting.Close)

	denied := []struct {
		name, token string
		status      int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"unknown token", "aig_notatoken", http.StatusUnauthorized},
		{"token without the gateway scope", e.apiToken, http.StatusForbidden},
	}
	for _, tc := range denied {
		resp, _ := post(t, counting.URL+"/ai/oa/v1/chat/completions", tc.token, "bearer", body(chatBody, false), nil)
		require.Equal(t, tc.status, resp.StatusCode, tc.name)
	}
	resp, _ := post(t, counting.URL+"/ai/nope/v1/chat/completions", e.token, "bearer", body(chatBody, false), nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	allowed := []struct{ provider, path, format, auth string }{
		{"oa", "v1/chat/completions", chatBody, "bearer"},
		{"an", "v1/messages", messagesBody, "x-api-key"},
	}
	for _, tc := range allowed {
		for _, stream := range []bool{false, true} {
			for _, url := range []string{counting.URL, e.url} { // counted here; recorded by the replica
				resp, got := post(t, url+"/ai/"+tc.provider+"/"+tc.path, e.token, tc.auth, body(tc.format, stream), nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, got)
			}
		}
	}

	flusher := usage.NewFlusher(usage.FlusherConfig{DB: e.db, Counters: counters, ReplicaID: e.ReplicaID()})
	require.NoError(t, flusher.Flush(ctx))
	got, err := usage.GetAndResetSummary(ctx, e.db)
	require.NoError(t, err)

	var want usage.Tokens
	for _, row := range e.waitInterceptions(4) {
		want.Input += row.Input
		want.Output += row.Output
		want.CacheRead += row.CacheRead
		want.CacheWrite += row.CacheWrite
		want.Reasoning += row.Rs
	}
	require.NotZero(t, want.Input)
	require.EqualValues(t, len(denied), got.RequestsDenied)
	require.EqualValues(t, 4, got.RequestsAllowed)
	require.Equal(t, want, got.Tokens, "the tokens the interceptions record")
	require.EqualValues(t, 1, got.DistinctUsers)
	require.EqualValues(t, 2, got.DistinctProviders, "%s and %s", oa.Name, an.Name)
}
