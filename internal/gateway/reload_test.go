package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/gateway"
	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/pubsub"
)

// Acceptance 4 (in process; cmd/aigate tests it with two server processes):
// a base URL edit or a disable made through one replica is in effect on the
// other with no backstop reload (its clock never moves, so only the change
// notification can deliver it), and a stream in flight during the change
// finishes. How fast is BenchmarkReloadLatency's business.
func TestChangesReachOtherReplica(t *testing.T) {
	t.Parallel()
	a := setup(t, options{})
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	b := startReplica(t, a.DatabaseURL, options{clock: clk})
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
	_, err := a.providers.Update(context.Background(), actor, "oa", providers.Patch{BaseURL: &newURL})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		resp, _ := post(t, b.url+"/ai/oa/v1/chat/completions", a.token, "bearer", body(chatBody, false), nil)
		return resp.StatusCode == http.StatusOK && len(newUp.Requests()) > 0
	}, waitFor, 5*time.Millisecond)

	got := <-streamDone
	require.True(t, strings.HasSuffix(got, "data: [DONE]\n\n"), "the stream in flight finished: %q", got)

	disabled := false
	_, err = a.providers.Update(context.Background(), actor, "oa", providers.Patch{Enabled: &disabled})
	require.NoError(t, err)
	waitServed(t, b.url, a.token, "oa", http.StatusServiceUnavailable)

	require.Equal(t, 1, clk.Armed(gateway.BackstopTimer), "the backstop never fired: the notifications did it")
	require.Zero(t, clk.Armed(gateway.RetryTimer))
}

// Read your writes: a script that creates, disables, deletes and restores a
// provider through one replica's API and calls it through the same replica
// at once gets what it just did, never the snapshot before it. The backstop
// never fires (a manual clock that never moves) and no notification is
// waited for: the replica reloads before the API answers.
func TestReplicaServesItsOwnChangesAtOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, options{clock: clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))})
	mock := llmmock.New(t, llmmock.Options{})
	admin := func(method, path string, in string) int {
		req, err := http.NewRequest(method, e.url+path, strings.NewReader(in))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+e.apiToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient(t).Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusCreated, admin("POST", "/api/v1/providers",
		`{"name":"fresh","type":"openai","base_url":"`+mock.OpenAIBaseURL()+`","api_keys":[{"api_key":"`+openAIKey+`"}]}`))
	require.Equal(t, http.StatusOK, served(t, e.url, e.token, "fresh"), "created, then served")
	require.Equal(t, http.StatusOK, admin("PATCH", "/api/v1/providers/fresh", `{"enabled":false}`))
	require.Equal(t, http.StatusServiceUnavailable, served(t, e.url, e.token, "fresh"), "disabled, then refused")
	require.Equal(t, http.StatusNoContent, admin("DELETE", "/api/v1/providers/fresh", ""))
	require.Equal(t, http.StatusNotFound, served(t, e.url, e.token, "fresh"), "deleted, then unknown")
	require.Equal(t, http.StatusOK, admin("POST", "/api/v1/providers/fresh/restore", ""))
	require.Equal(t, http.StatusOK, served(t, e.url, e.token, "fresh"), "restored, then served")
}

// settled waits for the reload the last provider change's notification
// triggers on r (after the first load and the one on its own commit), so a later
// change is not picked up by it.
func settled(t *testing.T, r *replica) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Count(r.logs.String(), "provider snapshot loaded") == 3 }, waitFor, time.Millisecond)
}

func waitServed(t *testing.T, url, token, provider string, status int) {
	t.Helper()
	require.Eventually(t, func() bool { return served(t, url, token, provider) == status }, waitFor, 5*time.Millisecond)
}

// served is the status a request to provider gets now.
func served(t *testing.T, url, token, provider string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/ai/"+provider+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient(t).Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// A change made elsewhere while the listener's connection is down reaches the
// replica when it reconnects: the reconnect triggers a full reload.
func TestReloadAfterListenerReconnect(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	a := setup(t, options{clock: clk})
	mock := llmmock.New(t, llmmock.Options{})
	a.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	settled(t, a.replica)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := a.db.Pool.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()", pubsub.ApplicationName)
	require.NoError(t, err)
	// The listener waits to reconnect; nobody hears this change's
	// notification. It is made through another replica, since a replica
	// reloads on its own commits.
	require.NoError(t, clk.WaitArmed(ctx, pubsub.ReconnectTimer, 1))
	b := startReplica(t, a.DatabaseURL, options{clock: clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))})
	disabled := false
	_, err = b.providers.Update(ctx, actor, "oa", providers.Patch{Enabled: &disabled})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, served(t, a.url, a.token, "oa"), "not live while the listener is down")

	next, ok := clk.Next(pubsub.ReconnectTimer)
	require.True(t, ok)
	clk.AdvanceTo(next)
	require.True(t, a.logs.WaitFor("reloading everything", waitFor, nil), "the subscriber was not told it may have missed messages")
	waitServed(t, a.url, a.token, "oa", http.StatusServiceUnavailable)
	require.Equal(t, 1, clk.Armed(gateway.BackstopTimer), "the reconnect did it, not the backstop")
}

// Without notifications, the backstop reload picks changes up once an
// interval has passed.
func TestPeriodicReloadIsABackstop(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	const interval = 10 * time.Minute
	a := setup(t, options{clock: clk, reloadInterval: interval})
	mock := llmmock.New(t, llmmock.Options{})
	a.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	settled(t, a.replica)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, clk.WaitArmed(ctx, gateway.BackstopTimer, 1))
	next, ok := clk.Next(gateway.BackstopTimer)
	require.True(t, ok)
	// A change behind the replica's back: no Reload call, no notification.
	// Only the backstop can find it.
	_, err := a.db.Pool.Exec(ctx, "UPDATE ai_providers SET enabled = false WHERE name = 'oa'")
	require.NoError(t, err)
	clk.AdvanceTo(next.Add(-time.Microsecond))
	require.Equal(t, http.StatusOK, served(t, a.url, a.token, "oa"), "not live before the interval")

	clk.Advance(time.Microsecond)
	// Armed again once the backstop reload is done.
	require.NoError(t, clk.WaitArmed(ctx, gateway.BackstopTimer, 2))
	require.Equal(t, http.StatusServiceUnavailable, served(t, a.url, a.token, "oa"))
	next2, _ := clk.Next(gateway.BackstopTimer)
	require.Equal(t, next.Add(interval), next2, "the backstop runs every interval")
}

// A reload that fails is retried after 100 ms, doubling, until one succeeds.
func TestFailedReloadIsRetried(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	a := setup(t, options{clock: clk})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := a.db.Pool.Exec(ctx, "ALTER TABLE ai_provider_keys RENAME TO ai_provider_keys_away")
	require.NoError(t, err)
	a.reloader.Trigger()
	for i, wait := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
		require.NoError(t, clk.WaitArmed(ctx, gateway.RetryTimer, i+1))
		next, ok := clk.Next(gateway.RetryTimer)
		require.True(t, ok)
		require.Equal(t, clk.Now().Add(wait), next, "wait after failure %d", i+1)
		if i == 1 {
			_, err = a.db.Pool.Exec(ctx, "ALTER TABLE ai_provider_keys_away RENAME TO ai_provider_keys")
			require.NoError(t, err)
		}
		clk.Advance(wait)
	}
	loaded := float64(clk.Now().UnixNano()) / 1e9
	require.Eventually(t, func() bool {
		return metricValue(t, a.replica, "aigate_gateway_snapshot_last_success_timestamp_seconds") == loaded
	}, waitFor, 5*time.Millisecond, "the third attempt succeeded")
	require.EqualValues(t, 2, metricValue(t, a.replica, "aigate_gateway_snapshot_reload_failures_total"))
	require.Equal(t, 2, clk.Armed(gateway.RetryTimer), "no retry after a success")
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
