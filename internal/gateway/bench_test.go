package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/policies"
	"github.com/aigate/aigate/internal/providers"
)

// BenchmarkStream compares a 20-event streamed chat completion through the
// gateway (authentication, routing, key injection, SSE relay with usage
// parsing, recording) with the same stream through a bare
// httputil.ReverseProxy that only injects the key. The difference is what
// the gateway costs per stream.
func BenchmarkStream(b *testing.B) {
	mock := llmmock.New(b, llmmock.Options{Events: 20})
	reqBody := body(chatBody, true)

	run := func(b *testing.B, target, token string) {
		client := httpClient(b)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(reqBody))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				raw, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !strings.HasSuffix(string(raw), "data: [DONE]\n\n") {
					b.Errorf("bad stream: %d %v", resp.StatusCode, err)
					return
				}
			}
		})
	}

	b.Run("reverseproxy", func(b *testing.B) {
		u, err := url.Parse(mock.URL)
		require.NoError(b, err)
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(u)
				pr.Out.Header.Set("Authorization", "Bearer "+openAIKey)
			},
			FlushInterval: -1,
		}
		srv := httptest.NewServer(http.StripPrefix("/ai/oa", rp))
		b.Cleanup(srv.Close)
		run(b, srv.URL+"/ai/oa/v1/chat/completions", "unused")
	})
	b.Run("gateway", func(b *testing.B) {
		e := setup(b, options{})
		e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
		run(b, e.url+"/ai/oa/v1/chat/completions", e.token)
	})
	// The same with policies in force: a daily token limit for the user
	// and a concurrency cap for everyone, both far from reached, so every
	// request is admitted from the leases in memory and settled with its
	// interception. The bound: within 5 % of "gateway".
	b.Run("gateway with policies", func(b *testing.B) {
		e := setup(b, options{})
		e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
		e.addPolicy(b, policies.Input{Name: "tokens", Scope: policies.ScopeUser, User: "dev@example.com",
			Kind: policies.KindTokens, Period: policies.PeriodDay, Limit: limit(1 << 50)})
		e.addPolicy(b, policies.Input{Name: "in-flight", Scope: policies.ScopeEveryone, Kind: policies.KindConcurrency,
			Limit: limit(100_000)})
		run(b, e.url+"/ai/oa/v1/chat/completions", e.token)
	})
}

// BenchmarkReloadLatency measures how long a provider change made on one
// replica takes to be live on another: from the change's Update call (its
// commit included) to the other replica's new snapshot. Nothing else
// reloads it (the backstop is an hour), so that snapshot is the one the
// change's notification asked for. The bound the tests used to assert
// (under a second) is read here, as p50 and p99.
func BenchmarkReloadLatency(b *testing.B) {
	a := setup(b, options{})
	other := startReplica(b, a.DatabaseURL, options{})
	urls := [2]string{"http://127.0.0.1:1/v1/", "http://127.0.0.1:2/v1/"}
	a.addProvider("oa", "openai", urls[1], openAIKey)
	ctx := context.Background()
	var latencies []time.Duration
	for i := 0; b.Loop(); i++ {
		prev := other.reloader.Snapshot()
		start := time.Now()
		_, err := a.providers.Update(ctx, actor, "oa", providers.Patch{BaseURL: &urls[i%2]})
		require.NoError(b, err)
		for other.reloader.Snapshot() == prev {
			runtime.Gosched()
		}
		latencies = append(latencies, time.Since(start))
	}
	slices.Sort(latencies)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(latencies[len(latencies)/2]), "p50-ms")
	b.ReportMetric(ms(latencies[len(latencies)*99/100]), "p99-ms")
}
