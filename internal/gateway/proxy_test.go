package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/providers"
)

const (
	chatBody      = `{"model":"gpt-4o","stream":%s,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}`
	responsesBody = `{"model":"gpt-4o","stream":%s,"input":"hi","tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]}`
	messagesBody  = `{"model":"claude-sonnet-4-5","max_tokens":100,"stream":%s,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"get_weather","input_schema":{"type":"object"}}]}`
)

func body(format string, stream bool) string {
	s := "false"
	if stream {
		s = "true"
	}
	return strings.Replace(format, "%s", s, 1)
}

// post sends a request with plain net/http and returns the response with
// its body read.
func post(t *testing.T, url, token, authHeader, reqBody string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(reqBody))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		if authHeader == "x-api-key" {
			req.Header.Set("X-Api-Key", token)
		} else {
			req.Header.Set("Authorization", "Bearer "+token)
		}
	}
	resp, err := httpClient(t).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// The gateway does not re-encode: the bytes the client gets are the bytes
// the upstream sent, for every intercepted endpoint, streaming or not. (A
// chat stream whose client did not ask for usage is the one exception; see
// TestChatStreamUsageAskedOnTheClientsBehalf.)
func TestBodiesPassUnchanged(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{Events: 4})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)
	for _, tc := range []struct{ provider, path, format, auth string }{
		{"oa", "v1/chat/completions", chatBody, "bearer"},
		{"oa", "v1/responses", responsesBody, "bearer"},
		{"an", "v1/messages", messagesBody, "x-api-key"},
	} {
		for _, stream := range []bool{false, true} {
			key := openAIKey
			if tc.provider == "an" {
				key = anthropicKey
			}
			reqBody := body(tc.format, stream)
			if tc.format == chatBody && stream {
				reqBody = strings.Replace(reqBody, `"stream":true`, `"stream":true,"stream_options":{"include_usage":true}`, 1)
			}
			direct, want := post(t, mock.URL+tc.path, key, tc.auth, reqBody, nil)
			require.Equal(t, http.StatusOK, direct.StatusCode)
			resp, got := post(t, e.url+"/ai/"+tc.provider+"/"+tc.path, e.token, tc.auth, reqBody, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, got)
			require.Equal(t, want, got, "%s stream=%v", tc.path, stream)
			require.Equal(t, direct.Header.Get("Content-Type"), resp.Header.Get("Content-Type"))
		}
	}
}

// Acceptance 2: the upstream sees the provider key, never the caller's
// token; no token or a bad one gets 401 in the provider's own error shape
// and nothing reaches the upstream.
func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{Keys: []string{openAIKey, anthropicKey}})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)

	resp, _ := post(t, e.url+"/ai/oa/v1/chat/completions", e.token, "bearer", body(chatBody, false), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = post(t, e.url+"/ai/an/v1/messages", e.token, "x-api-key", body(messagesBody, false), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// Claude Code with ANTHROPIC_AUTH_TOKEN sends a bearer token instead.
	resp, _ = post(t, e.url+"/ai/an/v1/messages", e.token, "bearer", body(messagesBody, false), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	seen := mock.Requests()
	require.Len(t, seen, 3)
	require.Equal(t, "Bearer "+openAIKey, seen[0].Header.Get("Authorization"))
	require.Equal(t, anthropicKey, seen[1].Header.Get("X-Api-Key"))
	require.Empty(t, seen[1].Header.Get("Authorization"))
	require.Equal(t, anthropicKey, seen[2].Header.Get("X-Api-Key"))
	require.Empty(t, seen[2].Header.Get("Authorization"))
	for _, s := range seen {
		for k, vs := range s.Header {
			for _, v := range vs {
				require.NotContains(t, v, e.token, "header %s carried the aigate token upstream", k)
			}
		}
		require.NotContains(t, string(s.Body), e.token)
	}

	for _, tc := range []struct {
		name, provider, path, auth, token, reqBody string
	}{
		{"openai no token", "oa", "v1/chat/completions", "bearer", "", body(chatBody, false)},
		{"openai bad token", "oa", "v1/chat/completions", "bearer", "aig_notatoken", body(chatBody, false)},
		{"openai revoked-looking token", "oa", "v1/chat/completions", "bearer", e.token[:len(e.token)-4] + "AAAA", body(chatBody, false)},
		{"anthropic no token", "an", "v1/messages", "x-api-key", "", body(messagesBody, false)},
		{"anthropic bad token", "an", "v1/messages", "x-api-key", "aig_bad", body(messagesBody, false)},
		{"provider key is not an aigate token", "oa", "v1/chat/completions", "bearer", openAIKey, body(chatBody, false)},
		// Bytes PostgreSQL would refuse as text: unknown, not an error.
		{"token with a byte outside its alphabet", "oa", "v1/chat/completions", "bearer", e.token[:6] + "\xff" + e.token[7:], body(chatBody, false)},
		{"anthropic token with a byte outside its alphabet", "an", "v1/messages", "x-api-key", e.token[:6] + "\xc3\xa9" + e.token[8:], body(messagesBody, false)},
	} {
		resp, got := post(t, e.url+"/ai/"+tc.provider+"/"+tc.path, tc.token, tc.auth, tc.reqBody, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, tc.name)
		requireErrorShape(t, tc.provider == "an", got, tc.name)
	}
	require.Len(t, mock.Requests(), 3, "rejected requests never reach the upstream")
	require.Empty(t, e.interceptionsAfter(3))
}

// Issue 15, acceptance 2: a token without the gateway scope (the owner's
// login token here) gets 403 on /ai/, in the shape of the provider's own
// errors, saying which scope it lacks, and nothing reaches the upstream;
// the same user's gateway token is served. Sent over real HTTP, through
// both headers clients use.
func TestAPITokenRefusedOnGateway(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{Keys: []string{openAIKey, anthropicKey}})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)

	for _, tc := range []struct {
		name, provider, path, auth, reqBody string
		anthropicShape                      bool
	}{
		{"openai", "oa", "v1/chat/completions", "bearer", body(chatBody, false), false},
		{"openai stream", "oa", "v1/chat/completions", "bearer", body(chatBody, true), false},
		{"anthropic", "an", "v1/messages", "x-api-key", body(messagesBody, false), true},
		{"anthropic bearer", "an", "v1/messages", "bearer", body(messagesBody, true), true},
		// Before the provider is looked up: an api token does not learn
		// which providers exist either.
		{"unknown provider", "nope", "v1/messages", "x-api-key", body(messagesBody, false), true},
	} {
		resp, got := post(t, e.url+"/ai/"+tc.provider+"/"+tc.path, e.apiToken, tc.auth, tc.reqBody, nil)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s: %s", tc.name, got)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"), tc.name)
		requireErrorShape(t, tc.anthropicShape, got, tc.name)
		var m struct {
			Type  string `json:"type"`
			Error struct {
				Type    string  `json:"type"`
				Code    *string `json:"code"`
				Message string  `json:"message"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal([]byte(got), &m))
		if tc.anthropicShape {
			require.Equal(t, "permission_error", m.Error.Type, tc.name)
		} else {
			require.Equal(t, "invalid_request_error", m.Error.Type, tc.name)
			require.NotNil(t, m.Error.Code, tc.name)
			require.Equal(t, "permission_denied", *m.Error.Code, tc.name)
		}
		require.Contains(t, m.Error.Message, "lacks the gateway scope", tc.name)
		require.Contains(t, m.Error.Message, "its scopes: api", tc.name)
		require.Contains(t, m.Error.Message, "aigate tokens create", tc.name, "says how to fix it")
		require.NotContains(t, got, e.apiToken, tc.name)
	}
	require.Empty(t, mock.Requests(), "refused requests never reach the upstream")

	resp, got := post(t, e.url+"/ai/oa/v1/chat/completions", e.token, "bearer", body(chatBody, false), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, got)
	resp, got = post(t, e.url+"/ai/an/v1/messages", e.token, "x-api-key", body(messagesBody, false), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, got)
	rows := e.waitInterceptions(2)
	require.Len(t, mock.Requests(), 2)
	for _, row := range rows {
		require.Equal(t, e.userID, row.UserID, "the gateway token's requests are recorded, the refused ones are not")
	}
}

// interceptionsAfter returns rows beyond the first n (waiting briefly would
// prove nothing: records of rejected requests are never queued at all).
func (r *replica) interceptionsAfter(n int) []interception {
	all := r.waitInterceptions(n)
	return all[n:]
}

func requireErrorShape(t *testing.T, anthropicShape bool, body, msg string) {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m), "%s: %s", msg, body)
	errObj, ok := m["error"].(map[string]any)
	require.True(t, ok, "%s: no error object in %s", msg, body)
	require.NotEmpty(t, errObj["message"], msg)
	require.NotEmpty(t, errObj["type"], msg)
	if anthropicShape {
		require.Equal(t, "error", m["type"], "%s: anthropic errors have type error: %s", msg, body)
	} else {
		require.NotContains(t, m, "type", "%s: openai errors have only the error object: %s", msg, body)
	}
}

// Acceptance 3: with a slow upstream, the client has the first event while
// the upstream is still sending, and a client that goes away cancels the
// upstream request.
func TestStreamingIsNotBuffered(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	const events, delay = 20, 50 * time.Millisecond
	mock := llmmock.New(t, llmmock.Options{Events: events, EventDelay: delay})
	e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/ai/an/v1/messages", strings.NewReader(body(messagesBody, true)))
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", e.token)
	resp, err := httpClient(t).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	var deltas int
	for deltas < 2 {
		line, err := rd.ReadString('\n')
		require.NoError(t, err)
		if strings.HasPrefix(line, "event: content_block_delta") {
			deltas++
		}
	}
	// The upstream needs events×delay = 1 s to finish. It has not: its
	// handler is still running, so what the client read was relayed as it
	// came, not buffered until the end.
	select {
	case s := <-mock.Finished():
		t.Fatalf("the upstream finished (%+v) before the client read its second event: the stream was buffered", s)
	default:
	}

	// Going away cancels the upstream.
	cancel()
	select {
	case s := <-mock.Finished():
		require.True(t, s.Cancelled, "the upstream was not cancelled")
		require.False(t, s.Completed)
	case <-time.After(waitFor):
		t.Fatal("the upstream request was never cancelled")
	}
	rows := e.waitInterceptions(1)
	require.Equal(t, "client_cancelled", rows[0].Status)
	require.True(t, rows[0].Streaming)
}

// A 429 puts the key on a cooldown and the request goes out again with the
// next key; the following requests use the next key straight away.
func TestKeyFailover(t *testing.T) {
	t.Parallel()
	// The first key's cooldown (the mock's Retry-After: 1) is on the
	// injected clock: frozen here, so a slow run cannot see it end.
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	e := setup(t, options{clock: clk})
	mock := llmmock.New(t, llmmock.Options{Keys: []string{openAIKey, openAIKey2}, RateLimitedKeys: []string{openAIKey}})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey, openAIKey2)
	for range 3 {
		resp, got := post(t, e.url+"/ai/oa/v1/chat/completions", e.token, "bearer", body(chatBody, false), nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, got)
	}
	var keys []string
	for _, s := range mock.Requests() {
		keys = append(keys, strings.TrimPrefix(s.Header.Get("Authorization"), "Bearer "))
	}
	require.Equal(t, []string{openAIKey, openAIKey2, openAIKey2, openAIKey2}, keys)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, clk.WaitArmed(ctx, interceptions.FlushTimer, 1))
	clk.Advance(interceptions.DefaultFlushInterval)
	require.Len(t, e.waitInterceptions(3), 3, "one interception per client request, not per attempt")

	// With every key rate-limited the client gets the upstream's 429 as it is.
	mock.SetOptions(llmmock.Options{Keys: []string{openAIKey, openAIKey2}, RateLimitedKeys: []string{openAIKey, openAIKey2}})
	resp, got := post(t, e.url+"/ai/oa/v1/chat/completions", e.token, "bearer", body(chatBody, false), nil)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	requireErrorShape(t, false, got, "429")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
}

// The upstream failing mid-stream ends the client's stream with an error
// event and records the interception as an upstream error.
func TestUpstreamFailsMidStream(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{Events: 10, FailAfter: 3})
	e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)

	resp, got := post(t, e.url+"/ai/an/v1/messages", e.token, "x-api-key", body(messagesBody, true), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 3, strings.Count(got, "event: content_block_delta"))
	require.Contains(t, got, "event: error\ndata: {\"type\":\"error\"")
	require.True(t, strings.HasSuffix(got, "\n\n"), "the stream ends on an event boundary")

	resp, got = post(t, e.url+"/ai/oa/v1/responses", e.token, "bearer", body(responsesBody, true), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, got, "event: error\n")
	require.NotContains(t, got, "response.completed")

	rows := e.waitInterceptions(2)
	for _, r := range rows {
		require.Equal(t, "upstream_error", r.Status)
		require.NotNil(t, r.Error)
	}
}

// Errors before the stream starts come back with the upstream's status and
// body.
func TestUpstreamErrorsPassThrough(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{Status: 529})
	e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)
	direct, want := post(t, mock.URL+"v1/messages", anthropicKey, "x-api-key", body(messagesBody, true), nil)
	resp, got := post(t, e.url+"/ai/an/v1/messages", e.token, "x-api-key", body(messagesBody, true), nil)
	require.Equal(t, direct.StatusCode, resp.StatusCode)
	// The mock numbers its request IDs; everything else is the same bytes.
	reqID := regexp.MustCompile(`req_mock_[0-9]+`)
	require.Equal(t, reqID.ReplaceAllString(want, "ID"), reqID.ReplaceAllString(got, "ID"))
	require.Contains(t, got, `"request_id":"req_mock_2"`, "the upstream's own body, not one the gateway made")
	rows := e.waitInterceptions(1)
	require.Equal(t, "upstream_error", rows[0].Status)
	require.EqualValues(t, 529, *rows[0].UpstreamStatus)
}

func TestGatewayAnswers(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	an := e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)
	e.addProvider("secret-team", "openai", mock.OpenAIBaseURL(), openAIKey)
	enabled := false
	_, err := e.providers.Update(context.Background(), actor, an.Name, providers.Patch{Enabled: &enabled})
	require.NoError(t, err)

	for _, tc := range []struct {
		name, method, path, auth string
		status                   int
		anthropic                bool
		contains                 string
	}{
		{"unknown provider", "POST", "/ai/nope/v1/chat/completions", "bearer", 404, false, `unknown provider \"nope\"`},
		{"unknown provider, anthropic client", "POST", "/ai/nope/v1/messages", "x-api-key", 404, true, "unknown provider"},
		{"path not on the allow-list", "POST", "/ai/oa/v1/files", "bearer", 404, false, "not served"},
		{"anthropic path on an openai provider", "POST", "/ai/oa/v1/messages", "bearer", 404, false, "not served"},
		{"wrong method", "GET", "/ai/oa/v1/chat/completions", "bearer", 404, false, "not served"},
		{"id with a slash", "GET", "/ai/oa/v1/models/a%2Fb", "bearer", 404, false, "not served"},
		{"disabled provider", "POST", "/ai/an/v1/messages", "x-api-key", 503, true, "provider an is disabled"},
		{"invalid JSON", "POST", "/ai/oa/v1/chat/completions", "bearer", 400, false, "JSON"},
	} {
		reqBody := body(chatBody, false)
		if tc.name == "invalid JSON" {
			reqBody = "{not json"
		}
		req, err := http.NewRequest(tc.method, e.url+tc.path, strings.NewReader(reqBody))
		require.NoError(t, err)
		if tc.auth == "x-api-key" {
			req.Header.Set("X-Api-Key", e.token)
		} else {
			req.Header.Set("Authorization", "Bearer "+e.token)
		}
		resp, err := httpClient(t).Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, tc.status, resp.StatusCode, "%s: %s", tc.name, b)
		requireErrorShape(t, tc.anthropic, string(b), tc.name)
		require.Contains(t, string(b), tc.contains, tc.name)
		require.NotContains(t, string(b), "secret-team", "%s: an error never lists the providers", tc.name)
	}
	require.Empty(t, mock.Requests())

	// Pass-through endpoints on the allow-list reach the upstream.
	req, _ := http.NewRequest(http.MethodGet, e.url+"/ai/oa/v1/models/gpt-4o", nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := httpClient(t).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/v1/models/gpt-4o", mock.Requests()[0].Path)
}

// A provider whose key no longer decrypts is out of service; the others
// are not affected.
func TestBrokenProviderIsIsolated(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{})
	e.addProvider("good", "openai", mock.OpenAIBaseURL(), openAIKey)
	bad := e.addProvider("bad", "openai", mock.OpenAIBaseURL(), openAIKey2)
	_, err := e.db.Pool.Exec(context.Background(), `UPDATE ai_provider_keys SET api_key = set_byte(api_key, 40, get_byte(api_key, 40) # 1) WHERE provider_id = $1`, bad.ID)
	require.NoError(t, err)
	require.NoError(t, e.reloader.Reload(context.Background()))
	require.True(t, e.logs.WaitFor("provider cannot be served", waitFor, nil))
	require.NotContains(t, e.logs.String(), openAIKey2)

	resp, got := post(t, e.url+"/ai/bad/v1/chat/completions", e.token, "bearer", body(chatBody, false), nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, got)
	require.Contains(t, got, "provider bad is unavailable")
	resp, _ = post(t, e.url+"/ai/good/v1/chat/completions", e.token, "bearer", body(chatBody, false), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// Client headers the providers need pass through; aigate's and hop-by-hop
// ones do not. The upstream's request ID and rate-limit headers come back.
func TestHeaders(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{})
	e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)
	h := http.Header{}
	h.Set("Anthropic-Version", "2023-06-01")
	h.Set("Anthropic-Beta", "prompt-caching-2024-07-31")
	h.Set("User-Agent", "claude-cli/2.0.0")
	h.Set("X-Claude-Code-Session-Id", "session-1")
	h.Set("Cookie", "session=secret")
	h.Set("X-Aigate-Debug", "1")
	h.Set("Connection", "X-Hop")
	h.Set("X-Hop", "1")
	resp, _ := post(t, e.url+"/ai/an/v1/messages?beta=true", e.token, "x-api-key", body(messagesBody, false), h)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	seen := mock.Requests()[0]
	require.Equal(t, "beta=true", seen.RawQuery)
	for _, k := range []string{"Anthropic-Version", "Anthropic-Beta", "User-Agent", "X-Claude-Code-Session-Id"} {
		require.Equal(t, h.Get(k), seen.Header.Get(k), k)
	}
	for _, k := range []string{"Cookie", "X-Aigate-Debug", "X-Hop"} {
		require.Empty(t, seen.Header.Get(k), k)
	}
	require.NotEmpty(t, resp.Header.Get("Request-Id"))
	require.NotEmpty(t, resp.Header.Get("Anthropic-Ratelimit-Requests-Remaining"))
	require.NotEmpty(t, resp.Header.Get("X-Aigate-Request-Id"))
}

func TestRecordPrompts(t *testing.T) {
	t.Parallel()
	e := setup(t, options{recordPrompts: true})
	mock := llmmock.New(t, llmmock.Options{})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	resp, _ := post(t, e.url+"/ai/oa/v1/chat/completions", e.token, "bearer", body(chatBody, false), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rows := e.waitInterceptions(1)
	require.JSONEq(t, body(chatBody, false), string(rows[0].Prompt))
}

// Acceptance 5: many streams, none truncated. httputil.ReverseProxy loses a
// small fraction of streams to a request-body race (golang/go#40747); the
// gateway must lose none.
func TestManyStreamsNoneTruncated(t *testing.T) {
	t.Parallel()
	const streams, workers = 10_000, 32
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{Events: 3})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)
	client := httpClient(t)
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = workers

	var next, truncated atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > streams {
					return
				}
				url, auth, reqBody, end := e.url+"/ai/oa/v1/chat/completions", "Authorization", body(chatBody, true), "data: [DONE]\n\n"
				if i%2 == 0 {
					url, auth, reqBody, end = e.url+"/ai/an/v1/messages", "X-Api-Key", body(messagesBody, true), "message_stop\"}\n\n"
				}
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(reqBody))
				token := e.token
				if auth == "Authorization" {
					token = "Bearer " + token
				}
				req.Header.Set(auth, token)
				resp, err := client.Do(req)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					truncated.Add(1)
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !strings.HasSuffix(string(b), end) {
					truncated.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Nil(t, firstErr.Load())
	require.Zero(t, truncated.Load(), "truncated streams")
	require.Len(t, e.waitInterceptions(streams), streams)
}
