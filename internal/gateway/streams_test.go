package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/gateway"
	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/testdb"
)

// chatEvents splits a chat completions stream into its events' data, each
// chunk decoded with a null "usage" member left out (upstream adds one to
// every chunk once usage is asked for; the API defines it, SDKs ignore it).
func chatEvents(t *testing.T, stream string) []any {
	t.Helper()
	require.True(t, strings.HasSuffix(stream, "\n\n"), "the stream ends on an event boundary")
	var out []any
	for block := range strings.SplitSeq(strings.TrimSuffix(stream, "\n\n"), "\n\n") {
		data, ok := strings.CutPrefix(block, "data: ")
		require.True(t, ok, "a chat event is one data line: %q", block)
		if data == "[DONE]" {
			out = append(out, data)
			continue
		}
		var chunk map[string]any
		require.NoError(t, json.Unmarshal([]byte(data), &chunk), data)
		if u, ok := chunk["usage"]; ok && u == nil {
			delete(chunk, "usage")
		}
		out = append(out, chunk)
	}
	return out
}

// Acceptance 3: a chat stream whose client did not ask for usage gets the
// events it would have got from the provider directly, and the interception
// still has the provider's token counts. A client that asked gets the usage
// chunk and the upstream gets its body unchanged.
func TestChatStreamUsageAskedOnTheClientsBehalf(t *testing.T) {
	t.Parallel()
	e := setup(t, options{recordPrompts: true})
	mock := llmmock.New(t, llmmock.Options{Events: 4})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	clientBody := body(chatBody, true)

	direct, want := post(t, mock.OpenAIBaseURL()+"/chat/completions", openAIKey, "bearer", clientBody, nil)
	require.Equal(t, http.StatusOK, direct.StatusCode)
	resp, got := post(t, e.url+"/ai/oa/v1/chat/completions", e.token, "bearer", clientBody, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, got)
	wantEvents, gotEvents := chatEvents(t, want), chatEvents(t, got)
	require.Len(t, gotEvents, len(wantEvents), "same number of events, no usage-only chunk")
	require.Equal(t, wantEvents, gotEvents)
	require.NotContains(t, got, `"choices":[]`)

	seen := mock.Requests()
	require.Len(t, seen, 2)
	require.Equal(t, "/v1/chat/completions", seen[1].Path)
	require.JSONEq(t, strings.Replace(clientBody, `{`, `{"stream_options":{"include_usage":true},`, 1), string(seen[1].Body),
		"the upstream was asked for usage, and the rest of the body is the client's")

	rows := e.waitInterceptions(1)
	u := llmmock.FixedUsage
	require.Equal(t, "ok", rows[0].Status, "error: %v", rows[0].Error)
	require.EqualValues(t, u.Input, rows[0].Input)
	require.EqualValues(t, u.Output, rows[0].Output)
	require.EqualValues(t, u.CacheRead, rows[0].CacheRead)
	require.EqualValues(t, u.Reasoning, rows[0].Rs)
	require.JSONEq(t, clientBody, string(rows[0].Prompt), "the recorded prompt is the client's body")

	// The client asks: nothing changes on the way, and it gets the chunk.
	asked := strings.Replace(clientBody, `"stream":true`, `"stream":true,"stream_options":{"include_usage":true}`, 1)
	resp, got = post(t, e.url+"/ai/oa/v1/chat/completions", e.token, "bearer", asked, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, got)
	events := chatEvents(t, got)
	usageChunk := events[len(events)-2].(map[string]any)
	require.Equal(t, []any{}, usageChunk["choices"])
	require.EqualValues(t, u.Input, usageChunk["usage"].(map[string]any)["prompt_tokens"])
	require.Equal(t, asked, string(mock.Requests()[2].Body), "a client that asked has its body sent as it is")
	rows = e.waitInterceptions(2)
	require.EqualValues(t, u.Input, rows[1].Input)
	require.EqualValues(t, u.Output, rows[1].Output)
}

// An upstream that does not know stream_options (older Azure API versions)
// still serves the client: the client's own body is sent again, once, and
// the stream is recorded without usage.
func TestChatStreamUsageRefusedByUpstream(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{RejectStreamOptions: true})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	clientBody := body(chatBody, true)
	resp, got := post(t, e.url+"/ai/oa/v1/chat/completions", e.token, "bearer", clientBody, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, got)
	require.True(t, strings.HasSuffix(got, "data: [DONE]\n\n"))
	seen := mock.Requests()
	require.Len(t, seen, 2)
	require.Contains(t, string(seen[0].Body), "stream_options")
	require.Equal(t, clientBody, string(seen[1].Body))
	rows := e.waitInterceptions(1)
	require.Equal(t, "ok", rows[0].Status)
	require.Zero(t, rows[0].Input)

	// A client that sent stream_options itself gets the upstream's answer to
	// its own body.
	asked := strings.Replace(clientBody, `"stream":true`, `"stream":true,"stream_options":{"include_usage":true}`, 1)
	resp, got = post(t, e.url+"/ai/oa/v1/chat/completions", e.token, "bearer", asked, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, got, "Unrecognized request argument supplied: stream_options")
	require.Len(t, mock.Requests(), 3)
}

// Acceptance 4: a stream the provider itself ends with an error reaches the
// client exactly as the provider sent it, with nothing added, and the
// interception records the provider's error type and message.
func TestProviderEndsStreamWithError(t *testing.T) {
	t.Parallel()
	const serverError = "The server had an error while processing your request. Sorry about that!"
	for _, tc := range []struct {
		name, provider, path, format, auth string
		opts                               llmmock.Options
		lastEvent                          string
		wantError                          string
	}{
		{"chat completions", "oa", "v1/chat/completions", chatBody, "bearer", llmmock.Options{ErrorAfter: 2},
			`data: {"error":`, "server_error: " + serverError},
		{"responses, response.failed", "oa", "v1/responses", responsesBody, "bearer", llmmock.Options{ErrorAfter: 2},
			"event: response.failed\n", "server_error: " + serverError},
		{"responses, error event", "oa", "v1/responses", responsesBody, "bearer", llmmock.Options{ErrorAfter: 2, ResponsesErrorEvent: true},
			"event: error\n", "server_error: " + serverError},
		{"messages", "an", "v1/messages", messagesBody, "x-api-key", llmmock.Options{ErrorAfter: 2},
			"event: error\n", "overloaded_error: Overloaded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, options{})
			mock := llmmock.New(t, tc.opts)
			e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
			e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)
			resp, got := post(t, e.url+"/ai/"+tc.provider+"/"+tc.path, e.token, tc.auth, body(tc.format, true), nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)

			// What the provider sends for the very body aigate sent it.
			sent := mock.Requests()[0]
			key, auth := openAIKey, "bearer"
			if tc.provider == "an" {
				key, auth = anthropicKey, "x-api-key"
			}
			_, want := post(t, strings.TrimSuffix(mock.URL, "/")+sent.Path, key, auth, string(sent.Body), nil)
			reqID := regexp.MustCompile(`req_mock_[0-9]+`)
			require.Equal(t, reqID.ReplaceAllString(want, "ID"), reqID.ReplaceAllString(got, "ID"), "the client's stream is the provider's, byte for byte")
			blocks := strings.Split(strings.TrimSuffix(got, "\n\n"), "\n\n")
			require.True(t, strings.HasPrefix(blocks[len(blocks)-1], tc.lastEvent), "the provider's error event is the last: %q", blocks[len(blocks)-1])
			require.NotContains(t, got, "the provider ended the stream", "no error event of aigate's")

			rows := e.waitInterceptions(1)
			require.Equal(t, "upstream_error", rows[0].Status)
			require.NotNil(t, rows[0].Error)
			require.Equal(t, tc.wantError, *rows[0].Error)
		})
	}
}

// A provider behind a path prefix (a corporate proxy) keeps its prefix, for
// both conventions.
func TestProviderBehindPathPrefix(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{PathPrefix: "/llm-proxy"})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)
	resp, got := post(t, e.url+"/ai/oa/v1/chat/completions", e.token, "bearer", body(chatBody, false), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, got)
	resp, got = post(t, e.url+"/ai/an/v1/messages?beta=true", e.token, "x-api-key", body(messagesBody, false), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, got)
	seen := mock.Requests()
	require.Len(t, seen, 2)
	require.Equal(t, "/llm-proxy/v1/chat/completions", seen[0].Path)
	require.Equal(t, "/llm-proxy/v1/messages", seen[1].Path)
	require.Equal(t, "beta=true", seen[1].RawQuery)
}

// Issue 12, acceptance 4: streams that outlast the shutdown timeout are cut,
// and each still has its interception: the HTTP shutdown waits for their
// handlers before the recorder makes its final flush. Repeated, because the
// loss it guards against was a race (about one run in eight).
func TestShutdownKeepsTheRecordsOfCutStreams(t *testing.T) {
	t.Parallel()
	const rounds, streams = 8, 16
	for round := range rounds {
		// A connection to the provider that takes a moment to tear down, as
		// a slow link does: the cut handlers finish that much after their
		// client connections are closed, when the recorder would already
		// have stopped.
		tr := gateway.NewTransport()
		t.Cleanup(tr.CloseIdleConnections)
		e := setup(t, options{transport: slowClose{tr}, shutdownTimeout: time.Nanosecond})
		mock := llmmock.New(t, llmmock.Options{Events: 10_000, EventDelay: 5 * time.Millisecond})
		e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
		e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)
		client := httpClient(t)
		var clients sync.WaitGroup
		for i := range streams {
			path, auth, reqBody := "/ai/oa/v1/chat/completions", "Authorization", body(chatBody, true)
			if i%2 == 1 {
				path, auth, reqBody = "/ai/an/v1/messages", "X-Api-Key", body(messagesBody, true)
			}
			clients.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(reqBody))
				token := e.token
				if auth == "Authorization" {
					token = "Bearer " + token
				}
				req.Header.Set(auth, token)
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
		for range streams {
			select {
			case <-mock.Started():
			case <-time.After(waitFor):
				t.Fatal("the streams never reached the upstream")
			}
		}
		// The shutdown timeout is over at once: every stream is cut.
		require.NoError(t, e.Stop(context.Background()))
		clients.Wait()

		// The replica has stopped, its pool with it; the recorder has
		// written what it will.
		rows := (&replica{t: t, db: testdb.Open(t, e.DatabaseURL)}).interceptions()
		require.Len(t, rows, streams, "round %d: every cut stream is recorded", round)
		for _, r := range rows {
			require.Contains(t, []string{"client_cancelled", "upstream_error"}, r.Status, "round %d", round)
		}
		require.Zero(t, metricValue(t, e.replica, "aigate_interceptions_dropped_total"), "round %d", round)
	}
}

// slowClose is a transport whose response bodies take 20 ms to close.
type slowClose struct{ http.RoundTripper }

func (s slowClose) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.RoundTripper.RoundTrip(req)
	if err == nil {
		resp.Body = slowBody{resp.Body}
	}
	return resp, err
}

type slowBody struct{ io.ReadCloser }

func (b slowBody) Close() error {
	time.Sleep(20 * time.Millisecond)
	return b.ReadCloser.Close()
}
