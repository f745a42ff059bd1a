package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/pubsub"
)

// changeDeadline is the contract: a change made on any replica is live on
// every replica within a second.
const changeDeadline = time.Second

// Acceptance 4 (in process; cmd/aigate tests it with two server processes):
// a base URL edit or a disable made through one replica is in effect on the
// other within a second, and a stream in flight during the change finishes.
func TestChangesReachOtherReplica(t *testing.T) {
	t.Parallel()
	a := setup(t, options{})
	b := startReplica(t, a.DatabaseURL, options{})
	oldUp := llmmock.New(t, llmmock.Options{Events: 10, EventDelay: 30 * time.Millisecond})
	newUp := llmmock.New(t, llmmock.Options{})
	a.addProvider("oa", "openai", oldUp.OpenAIBaseURL(), openAIKey)
	waitServed(t, b.url, a.token, "oa", http.StatusOK)

	// A slow stream through replica b, in flight during the change.
	streamDone := make(chan string, 1)
	go func() {
		_, got := post(t, b.url+"/ai/oa/v1/chat/completions", a.token, "bearer", body(chatBody, true), nil)
		streamDone <- got
	}()
	<-oldUp.Started()

	newURL := newUp.OpenAIBaseURL()
	changed := time.Now()
	_, err := a.providers.Update(context.Background(), actor, "oa", providers.Patch{BaseURL: &newURL})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		resp, _ := post(t, b.url+"/ai/oa/v1/chat/completions", a.token, "bearer", body(chatBody, false), nil)
		return resp.StatusCode == http.StatusOK && len(newUp.Requests()) > 0
	}, waitFor, 5*time.Millisecond)
	took := time.Since(changed)
	t.Logf("base URL change live on the other replica after %v", took)
	require.Less(t, took, changeDeadline)

	got := <-streamDone
	require.True(t, strings.HasSuffix(got, "data: [DONE]\n\n"), "the stream in flight finished: %q", got)

	disabled := false
	changed = time.Now()
	_, err = a.providers.Update(context.Background(), actor, "oa", providers.Patch{Enabled: &disabled})
	require.NoError(t, err)
	waitServed(t, b.url, a.token, "oa", http.StatusServiceUnavailable)
	took = time.Since(changed)
	t.Logf("disable live on the other replica after %v", took)
	require.Less(t, took, changeDeadline)
}

func waitServed(t *testing.T, url, token, provider string, status int) {
	t.Helper()
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest(http.MethodGet, url+"/ai/"+provider+"/v1/models", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpClient(t).Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == status
	}, waitFor, 5*time.Millisecond)
}

// After the listener's connection is killed, the reconnect triggers a full
// reload, so a change made while it was down is not lost.
func TestReloadAfterListenerReconnect(t *testing.T) {
	t.Parallel()
	a := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{})
	a.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	before := metricValue(t, a.replica, "aigate_gateway_snapshot_reloads_total")
	_, err := a.db.Pool.Exec(context.Background(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()", pubsub.ApplicationName)
	require.NoError(t, err)
	require.True(t, a.logs.WaitFor("reloading everything", waitFor, nil), "the subscriber was not told it may have missed messages")
	require.Eventually(t, func() bool { return metricValue(t, a.replica, "aigate_gateway_snapshot_reloads_total") > before }, waitFor, 5*time.Millisecond)
}

// Without notifications, the periodic reload still picks changes up.
func TestPeriodicReloadIsABackstop(t *testing.T) {
	t.Parallel()
	a := setup(t, options{reloadInterval: 50 * time.Millisecond})
	mock := llmmock.New(t, llmmock.Options{})
	// A second provider created behind the replica's back: no Reload call,
	// no pubsub. Only the backstop can find it.
	a.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	k := openAIKey
	_, err := a.providers.Create(context.Background(), actor, providers.Input{Name: "late", Type: "openai", BaseURL: mock.OpenAIBaseURL(), APIKeys: []providers.KeyInput{{APIKey: &k}}})
	require.NoError(t, err)
	waitServed(t, a.url, a.token, "late", http.StatusOK)
}

// A reload that fails keeps the previous snapshot in service, is counted,
// and a later reload recovers.
func TestFailedReloadKeepsServing(t *testing.T) {
	t.Parallel()
	a := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{})
	a.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	ctx := context.Background()
	_, err := a.db.Pool.Exec(ctx, "ALTER TABLE ai_provider_keys RENAME TO ai_provider_keys_away")
	require.NoError(t, err)
	// (A reload that the provider's creation notified may fail here too.)
	failed := metricValue(t, a.replica, "aigate_gateway_snapshot_reload_failures_total")
	require.Error(t, a.reloader.Reload(ctx))
	require.Greater(t, metricValue(t, a.replica, "aigate_gateway_snapshot_reload_failures_total"), failed)
	resp, _ := post(t, a.url+"/ai/oa/v1/chat/completions", a.token, "bearer", body(chatBody, false), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the previous snapshot still serves")

	_, err = a.db.Pool.Exec(ctx, "ALTER TABLE ai_provider_keys_away RENAME TO ai_provider_keys")
	require.NoError(t, err)
	require.NoError(t, a.reloader.Reload(ctx))
}

// The gateway's metrics count what happened, with no per-user labels.
func TestMetrics(t *testing.T) {
	t.Parallel()
	a := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{})
	a.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	resp, _ := post(t, a.url+"/ai/oa/v1/chat/completions", a.token, "bearer", body(chatBody, false), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = post(t, a.url+"/ai/oa/v1/chat/completions", "", "bearer", body(chatBody, false), nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.EqualValues(t, 1, metricValue(t, a.replica, "aigate_gateway_requests_total"))
	require.EqualValues(t, 1, metricValue(t, a.replica, "aigate_gateway_rejected_total"))
	u := llmmock.FixedUsage
	require.EqualValues(t, u.Input+u.Output+u.CacheRead+u.Reasoning, metricValue(t, a.replica, "aigate_gateway_tokens_total"))
	require.EqualValues(t, 1, metricValue(t, a.replica, "aigate_gateway_providers"))
	families, err := a.reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				require.NotContains(t, []string{"user", "user_id", "token", "token_id", "email"}, l.GetName(), f.GetName())
			}
		}
	}
}
