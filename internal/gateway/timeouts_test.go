package gateway_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/gateway"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/llmmock"
)

// start is where every manual clock of these tests begins.
var start = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// flushRecords makes the replica's recorder write the record it has queued,
// the first on clk, by moving clk to its flush.
func flushRecords(t *testing.T, clk *clock.Manual) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, clk.WaitArmed(ctx, interceptions.FlushTimer, 1))
	next, ok := clk.Next(interceptions.FlushTimer)
	require.True(t, ok)
	clk.AdvanceTo(next)
}

// finished waits for the mock to report a request's end.
func finished(t *testing.T, mock *llmmock.Server) llmmock.Seen {
	t.Helper()
	select {
	case s := <-mock.Finished():
		return s
	case <-time.After(waitFor):
		t.Fatal("the upstream request never ended")
		return llmmock.Seen{}
	}
}

// metricWith is a counter's value for the series with exactly these labels
// (0 when there is none).
func metricWith(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// Issue 15, acceptance 5: a stream whose provider falls silent ends once it
// has been silent for the idle timeout (5 minutes by default, on the
// replica's clock: the timer is re-armed on every read from the provider),
// with the format's own error event, and the interception says
// upstream_error. No wall-clock wait: the test moves the clock.
func TestSilentStreamEndsAfterIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = gateway.DefaultIdleTimeout
	for _, tc := range []struct {
		name, provider, path, format, auth string
		lastDelta                          string
		errorEvent                         string // how the error event starts
	}{
		{"chat completions", "oa", "v1/chat/completions", chatBody, "bearer", `"content":"chunk 1 "`,
			`data: {"error":{"message":"the provider sent nothing for 5m0s`},
		{"responses", "oa", "v1/responses", responsesBody, "bearer", `"delta":"chunk 1 "`,
			`event: error` + "\n" + `data: {"type":"error","code":"upstream_error","message":"the provider sent nothing for 5m0s`},
		{"messages", "an", "v1/messages", messagesBody, "x-api-key", `"text":"chunk 1 "`,
			`event: error` + "\n" + `data: {"type":"error","error":{"type":"api_error","message":"the provider sent nothing for 5m0s`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewManual(start)
			e := setup(t, options{clock: clk})
			mock := llmmock.New(t, llmmock.Options{Events: 5, StallAfter: 2})
			e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
			e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)

			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/ai/"+tc.provider+"/"+tc.path, strings.NewReader(body(tc.format, true)))
			require.NoError(t, err)
			if tc.auth == "x-api-key" {
				req.Header.Set("X-Api-Key", e.token)
			} else {
				req.Header.Set("Authorization", "Bearer "+e.token)
			}
			resp, err := httpClient(t).Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)

			// Read up to the last event the provider sends before it falls
			// silent. The gateway read it, re-arming the idle timer, before
			// it wrote it: from here the clock alone decides.
			rd := bufio.NewReader(resp.Body)
			var got strings.Builder
			for !strings.Contains(got.String(), tc.lastDelta) {
				line, err := rd.ReadString('\n')
				require.NoError(t, err, "the stream ended before the provider fell silent: %q", got.String())
				got.WriteString(line)
			}
			next, ok := clk.Next(gateway.IdleTimer)
			require.True(t, ok, "the idle timer is armed while the stream is open")
			require.Equal(t, clk.Now().Add(idle), next, "the idle timeout counts from the last bytes received")
			require.Greater(t, clk.Armed(gateway.IdleTimer), 1, "re-armed as the stream's bytes came in")
			rest := make(chan string, 1)
			go func() {
				b, _ := io.ReadAll(rd)
				rest <- string(b)
			}()

			clk.Advance(idle - time.Microsecond)
			select {
			case r := <-rest:
				t.Fatalf("the stream ended before the idle timeout: %q", r)
			default:
			}
			clk.Advance(time.Microsecond)
			var tail string
			select {
			case tail = <-rest:
			case <-time.After(waitFor):
				t.Fatal("the stream did not end after the idle timeout")
			}
			require.True(t, strings.HasPrefix(strings.TrimLeft(tail, "\n"), tc.errorEvent), "the format's error event ends the stream: %q", tail)
			require.True(t, strings.HasSuffix(tail, "\n\n"), "the error event is whole: %q", tail)
			require.Equal(t, 1, strings.Count(tail, "\n\n"), "nothing but the error event after the silence: %q", tail)
			require.True(t, finished(t, mock).Cancelled, "the upstream request was cancelled")

			flushRecords(t, clk)
			rows := e.waitInterceptions(1)
			require.Equal(t, "upstream_error", rows[0].Status)
			require.NotNil(t, rows[0].Error)
			require.Equal(t, "the provider sent nothing for 5m0s, so aigate ended the response (--upstream-idle-timeout)", *rows[0].Error)
			require.NotNil(t, rows[0].UpstreamStatus)
			require.EqualValues(t, http.StatusOK, *rows[0].UpstreamStatus)
			require.EqualValues(t, 1, metricWith(t, e.reg, "aigate_gateway_upstream_errors_total", map[string]string{"provider": tc.provider, "kind": "timeout"}))
		})
	}
}

// A provider that never answers (no response headers) is given up on after
// the response header timeout, on the replica's clock: the client gets a 504
// in its provider's error shape, and the interception is an upstream_error
// without an upstream status.
func TestNoResponseHeadersIs504(t *testing.T) {
	t.Parallel()
	const wait = gateway.DefaultResponseHeaderTimeout
	for _, tc := range []struct {
		name, provider, path, format, auth string
		anthropic                          bool
	}{
		{"openai", "oa", "v1/chat/completions", chatBody, "bearer", false},
		{"anthropic", "an", "v1/messages", messagesBody, "x-api-key", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewManual(start)
			e := setup(t, options{clock: clk})
			mock := llmmock.New(t, llmmock.Options{StallHeaders: true})
			e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
			e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)

			type answer struct {
				status int
				body   string
			}
			answered := make(chan answer, 1)
			go func() {
				resp, b := post(t, e.url+"/ai/"+tc.provider+"/"+tc.path, e.token, tc.auth, body(tc.format, false), nil)
				answered <- answer{resp.StatusCode, b}
			}()
			select {
			case <-mock.Started():
			case <-time.After(waitFor):
				t.Fatal("the request never reached the provider")
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			require.NoError(t, clk.WaitArmed(ctx, gateway.HeaderTimer, 1))
			next, ok := clk.Next(gateway.HeaderTimer)
			require.True(t, ok)
			require.Equal(t, clk.Now().Add(wait), next)

			clk.Advance(wait - time.Microsecond)
			select {
			case a := <-answered:
				t.Fatalf("answered before the timeout: %d %s", a.status, a.body)
			default:
			}
			clk.Advance(time.Microsecond)
			var a answer
			select {
			case a = <-answered:
			case <-time.After(waitFor):
				t.Fatal("no answer after the header timeout")
			}
			require.Equal(t, http.StatusGatewayTimeout, a.status, a.body)
			requireErrorShape(t, tc.anthropic, a.body, tc.name)
			require.Contains(t, a.body, "provider "+tc.provider+" did not answer within 10m0s, so aigate gave up (--upstream-response-header-timeout)")
			if tc.anthropic {
				require.Contains(t, a.body, `"type":"timeout_error"`)
			}
			require.True(t, finished(t, mock).Cancelled, "the upstream request was cancelled")

			flushRecords(t, clk)
			rows := e.waitInterceptions(1)
			require.Equal(t, "upstream_error", rows[0].Status)
			require.Nil(t, rows[0].UpstreamStatus, "no response, so no upstream status")
			require.NotNil(t, rows[0].Error)
			require.Equal(t, "the provider sent no response within 10m0s", *rows[0].Error)
			require.EqualValues(t, 1, metricWith(t, e.reg, "aigate_gateway_upstream_errors_total", map[string]string{"provider": tc.provider, "kind": "timeout"}))
			require.EqualValues(t, 1, metricWith(t, e.reg, "aigate_gateway_requests_total", map[string]string{
				"provider": tc.provider, "endpoint": strings.ReplaceAll(strings.TrimPrefix(tc.path, "v1/"), "/", "_"), "model": modelOf(tc.format),
				"status": "upstream_error", "code": "none",
			}))
		})
	}
}

// modelOf is the model a test body asks for.
func modelOf(format string) string {
	if format == messagesBody {
		return "claude-sonnet-4-5"
	}
	return "gpt-4o"
}

// An upstream event larger than the maximum (16 MiB by default) ends the
// stream with the format's error event instead of being buffered whole; one
// just under it passes unchanged.
func TestOversizeEventEndsStream(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	over := llmmock.New(t, llmmock.Options{Events: 3, LongDelta: gateway.DefaultMaxEventBytes})
	under := llmmock.New(t, llmmock.Options{Events: 3, LongDelta: gateway.DefaultMaxEventBytes - 1024})
	e.addProvider("over", "openai", over.OpenAIBaseURL(), openAIKey)
	e.addProvider("under", "openai", under.OpenAIBaseURL(), openAIKey)
	e.addProvider("over-an", "anthropic", over.AnthropicBaseURL(), anthropicKey)

	const msg = "the provider sent an event larger than 16 MiB, more than aigate holds (--max-sse-event-size)"
	resp, got := post(t, e.url+"/ai/over/v1/chat/completions", e.token, "bearer", body(chatBody, true), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	events := strings.Split(strings.TrimSuffix(got, "\n\n"), "\n\n")
	require.Len(t, events, 2, "the first chunk, then the error: %.300q", got)
	require.Contains(t, events[0], `"role":"assistant"`)
	require.JSONEq(t, `{"error":{"message":"`+msg+`","type":"server_error","param":null,"code":null}}`, strings.TrimPrefix(events[1], "data: "))

	resp, got = post(t, e.url+"/ai/over-an/v1/messages", e.token, "x-api-key", body(messagesBody, true), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, got, "xxxx")
	require.True(t, strings.HasSuffix(got, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\""+msg+"\"}}\n\n"), "%.300q", got)

	resp, got = post(t, e.url+"/ai/under/v1/chat/completions", e.token, "bearer", body(chatBody, true), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, got, strings.Repeat("x", gateway.DefaultMaxEventBytes-1024))
	require.True(t, strings.HasSuffix(got, "data: [DONE]\n\n"))

	rows := e.waitInterceptions(3)
	for i, want := range []string{"upstream_error", "upstream_error", "ok"} {
		require.Equal(t, want, rows[i].Status, "request %d", i)
	}
	require.Equal(t, msg, *rows[0].Error)
	require.Equal(t, msg, *rows[1].Error)
}

// A pass-through answer that is not a success (an unknown model's 404) is
// relayed as it came and counted as the provider's error, by its status
// code: never status="ok".
func TestRelayedErrorsAreLabelledByTheirCode(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	get := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		resp, err := httpClient(t).Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, got := get("/ai/oa/v1/models/gpt-nope")
	require.Equal(t, http.StatusNotFound, status)
	require.Contains(t, got, "model_not_found", "the provider's own body")
	status, _ = get("/ai/oa/v1/models/gpt-4o")
	require.Equal(t, http.StatusOK, status)

	labels := func(status, code string) map[string]string {
		return map[string]string{"provider": "oa", "endpoint": "passthrough", "model": "none", "status": status, "code": code}
	}
	// The client has its answer a moment before the handler counts it.
	require.Eventually(t, func() bool {
		return metricWith(t, e.reg, "aigate_gateway_upstream_errors_total", map[string]string{"provider": "oa", "kind": "status"}) == 1 &&
			metricWith(t, e.reg, "aigate_gateway_requests_total", labels("ok", "200")) == 1
	}, waitFor, 5*time.Millisecond)
	require.EqualValues(t, 1, metricWith(t, e.reg, "aigate_gateway_requests_total", labels("upstream_error", "404")))
	require.Zero(t, metricWith(t, e.reg, "aigate_gateway_requests_total", labels("ok", "404")))
}
