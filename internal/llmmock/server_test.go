package llmmock_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmmock"
)

func TestURL(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{})
	assert.True(t, strings.HasPrefix(s.URL, "http://127.0.0.1:"), s.URL)
	assert.True(t, strings.HasSuffix(s.URL, "/"), s.URL)
	assert.Equal(t, s.URL+"v1", s.OpenAIBaseURL())
}

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{Keys: []string{"good"}})

	_, err := openAIClient(t, s, "bad").Chat.Completions.New(t.Context(), chatParams(false))
	var oerr *openai.Error
	require.ErrorAs(t, err, &oerr)
	assert.Equal(t, http.StatusUnauthorized, oerr.StatusCode)
	assert.Equal(t, "invalid_request_error", oerr.Type)
	assert.Equal(t, "invalid_api_key", oerr.Code)
	assert.NotEmpty(t, oerr.Message)

	_, err = anthropicClient(t, s, "bad").Messages.New(t.Context(), messageParams(false))
	var aerr *anthropic.Error
	require.ErrorAs(t, err, &aerr)
	assert.Equal(t, http.StatusUnauthorized, aerr.StatusCode)
	assert.Equal(t, "authentication_error", string(aerr.Type()))
	assert.Equal(t, "req_mock_2", aerr.RequestID)

	// The accepted key works.
	_, err = openAIClient(t, s, "good").Chat.Completions.New(t.Context(), chatParams(false))
	require.NoError(t, err)

	// Each format checks its own header: a Bearer token does not
	// authenticate an Anthropic request.
	res, body, err := rawRequest(t, http.MethodPost, s.URL+"v1/messages", `{}`, map[string]string{"Authorization": "Bearer good"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.JSONEq(t, `{"type":"error","error":{"type":"authentication_error","message":"x-api-key header is required"},"request_id":"req_mock_4"}`, body)

	res, body, err = rawRequest(t, http.MethodPost, s.URL+"v1/chat/completions", `{}`, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
	assert.Contains(t, body, `"code":"invalid_api_key"`)
	assert.Contains(t, body, `"param":null`)

	for _, r := range s.Requests() {
		assert.True(t, r.Completed, "an error answer is a complete response")
	}
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{Keys: []string{"good"}, RateLimitedKeys: []string{"hot"}})

	_, err := openAIClient(t, s, "hot").Chat.Completions.New(t.Context(), chatParams(false))
	var oerr *openai.Error
	require.ErrorAs(t, err, &oerr)
	assert.Equal(t, http.StatusTooManyRequests, oerr.StatusCode)
	assert.Equal(t, "rate_limit_exceeded", oerr.Code)
	assert.Equal(t, "1", oerr.Response.Header.Get("Retry-After"))
	assert.Equal(t, "0", oerr.Response.Header.Get("x-ratelimit-remaining-requests"))

	_, err = anthropicClient(t, s, "hot").Messages.New(t.Context(), messageParams(false))
	var aerr *anthropic.Error
	require.ErrorAs(t, err, &aerr)
	assert.Equal(t, http.StatusTooManyRequests, aerr.StatusCode)
	assert.Equal(t, "rate_limit_error", string(aerr.Type()))
	assert.Equal(t, "1", aerr.Response.Header.Get("Retry-After"))
	assert.Len(t, s.Requests(), 2, "the SDKs did not retry")
}

func TestStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status        int
		openAIType    string
		anthropicType string
	}{
		{status: 400, openAIType: "invalid_request_error", anthropicType: "invalid_request_error"},
		{status: 500, openAIType: "server_error", anthropicType: "api_error"},
		{status: 529, openAIType: "server_error", anthropicType: "overloaded_error"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			s := llmmock.New(t, llmmock.Options{Status: tt.status})
			oc := openAIClient(t, s, "k")
			ac := anthropicClient(t, s, "k")

			var oerr *openai.Error
			_, err := oc.Chat.Completions.New(t.Context(), chatParams(false))
			require.ErrorAs(t, err, &oerr)
			assert.Equal(t, tt.status, oerr.StatusCode)
			assert.Equal(t, tt.openAIType, oerr.Type)
			assert.NotEmpty(t, oerr.Message)

			stream := oc.Responses.NewStreaming(t.Context(), responsesParams(false))
			assert.False(t, stream.Next())
			require.ErrorAs(t, stream.Err(), &oerr)
			assert.Equal(t, tt.status, oerr.StatusCode)
			require.NoError(t, stream.Close())

			var aerr *anthropic.Error
			_, err = ac.Messages.New(t.Context(), messageParams(false))
			require.ErrorAs(t, err, &aerr)
			assert.Equal(t, tt.status, aerr.StatusCode)
			assert.Equal(t, tt.anthropicType, string(aerr.Type()))
			assert.NotEmpty(t, aerr.RequestID)

			astream := ac.Messages.NewStreaming(t.Context(), messageParams(false))
			assert.False(t, astream.Next())
			require.ErrorAs(t, astream.Err(), &aerr)
			assert.Equal(t, tt.status, aerr.StatusCode)
			require.NoError(t, astream.Close())

			// Only intercepted endpoints fail.
			_, err = oc.Models.List(t.Context())
			require.NoError(t, err)
		})
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{})
	res, _, err := rawRequest(t, http.MethodPost, s.URL+"v1/chat/completions", `{"model":"m"}`, map[string]string{"Authorization": "Bearer k"})
	require.NoError(t, err)
	assert.Equal(t, "req_mock_1", res.Header.Get("x-request-id"))
	assert.NotEmpty(t, res.Header.Get("x-ratelimit-remaining-requests"))
	assert.Empty(t, res.Header.Get("request-id"))

	res, _, err = rawRequest(t, http.MethodPost, s.URL+"v1/messages", `{"model":"m"}`, map[string]string{"x-api-key": "k"})
	require.NoError(t, err)
	assert.Equal(t, "req_mock_2", res.Header.Get("request-id"))
	assert.NotEmpty(t, res.Header.Get("anthropic-ratelimit-requests-remaining"))
	assert.Empty(t, res.Header.Get("x-request-id"))

	// GET /v1/models answers in the format the headers suggest.
	_, body, err := rawRequest(t, http.MethodGet, s.URL+"v1/models", "", map[string]string{"x-api-key": "k", "anthropic-version": "2023-06-01"})
	require.NoError(t, err)
	assert.Contains(t, body, `"has_more":false`)
	_, body, err = rawRequest(t, http.MethodGet, s.URL+"v1/models", "", map[string]string{"Authorization": "Bearer k"})
	require.NoError(t, err)
	assert.Contains(t, body, `"object":"list"`)

	seen := s.Requests()
	require.Len(t, seen, 4)
	assert.Equal(t, "req_mock_3", seen[2].RequestID)
}

func TestNotFoundAndBadJSON(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{})
	res, body, err := rawRequest(t, http.MethodPost, s.URL+"v1/completions", `{}`, map[string]string{"Authorization": "Bearer k"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.JSONEq(t, `{"error":{"message":"Invalid URL (POST /v1/completions)","type":"invalid_request_error","param":null,"code":null}}`, body)

	res, body, err = rawRequest(t, http.MethodGet, s.URL+"v1/files", ``, map[string]string{"x-api-key": "k"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Contains(t, body, `"type":"not_found_error"`)

	res, body, err = rawRequest(t, http.MethodPost, s.URL+"v1/messages", `{"model":`, map[string]string{"x-api-key": "k"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Contains(t, body, `"type":"invalid_request_error"`)
}

// The API is where the vendors put it, and nowhere else: a client or
// gateway that doubles or drops the version gets the vendor's 404.
func TestPathsAreTheVendors(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{})
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"v1/chat/completions", http.StatusOK},
		{"chat/completions", http.StatusNotFound},
		{"v1/v1/chat/completions", http.StatusNotFound},
		{"openai/v1/chat/completions", http.StatusNotFound},
	} {
		res, body, err := rawRequest(t, http.MethodPost, s.URL+tc.path, `{"model":"m"}`, map[string]string{"Authorization": "Bearer k"})
		require.NoError(t, err)
		assert.Equal(t, tc.status, res.StatusCode, tc.path)
		if tc.status == http.StatusNotFound {
			assert.Contains(t, body, "Invalid URL (POST /"+tc.path+")")
		}
	}
	res, _, err := rawRequest(t, http.MethodPost, s.URL+"messages", `{"model":"m","max_tokens":1}`, map[string]string{"x-api-key": "k"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	seen := s.Requests()
	require.Len(t, seen, 5)
	assert.Equal(t, "/v1/v1/chat/completions", seen[2].Path, "Seen keeps the path as received")

	// Behind a path prefix, as a corporate proxy serves it.
	p := llmmock.New(t, llmmock.Options{PathPrefix: "/openai"})
	assert.Equal(t, p.URL+"openai/v1", p.OpenAIBaseURL())
	assert.Equal(t, p.URL+"openai/", p.AnthropicBaseURL())
	res, _, err = rawRequest(t, http.MethodPost, p.OpenAIBaseURL()+"/chat/completions", `{"model":"m"}`, map[string]string{"Authorization": "Bearer k"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	res, _, err = rawRequest(t, http.MethodPost, p.URL+"v1/chat/completions", `{"model":"m"}`, map[string]string{"Authorization": "Bearer k"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
}

// ErrorAfter ends each format's stream with that provider's own error
// event and nothing after it; the response is complete.
func TestErrorAfterEndsWithTheProvidersErrorEvent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, path, body, auth string
		opts                   llmmock.Options
		last                   sseEvent
	}{
		{"chat", "v1/chat/completions", `{"model":"m","stream":true}`, "Authorization", llmmock.Options{ErrorAfter: 2},
			sseEvent{"", `{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}`}},
		{"responses failed", "v1/responses", `{"model":"m","stream":true}`, "Authorization", llmmock.Options{ErrorAfter: 2}, sseEvent{name: "response.failed"}},
		{"responses error", "v1/responses", `{"model":"m","stream":true}`, "Authorization", llmmock.Options{ErrorAfter: 2, ResponsesErrorEvent: true},
			sseEvent{"error", `{"type":"error","code":"server_error","message":"The server had an error while processing your request. Sorry about that!","param":null,"sequence_number":6}`}},
		{"messages", "v1/messages", `{"model":"m","max_tokens":1,"stream":true}`, "x-api-key", llmmock.Options{ErrorAfter: 2},
			sseEvent{"error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_mock_1"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := llmmock.New(t, tc.opts)
			key := "k"
			if tc.auth == "Authorization" {
				key = "Bearer k"
			}
			res, body, err := rawRequest(t, http.MethodPost, s.URL+tc.path, tc.body, map[string]string{tc.auth: key})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode)
			events := parseSSE(t, body)
			last := events[len(events)-1]
			assert.Equal(t, tc.last.name, last.name)
			if tc.last.data != "" {
				assert.JSONEq(t, tc.last.data, last.data)
			} else {
				assert.Contains(t, last.data, `"status":"failed"`)
				assert.Contains(t, last.data, `"error":{"code":"server_error"`)
			}
			assert.Equal(t, 2, strings.Count(body, "chunk "), "two text deltas before the error")
			assert.True(t, receive(t, s.Finished()).Completed)
		})
	}
}

// RejectStreamOptions refuses stream_options as an old Azure API version
// does; a body without it is served.
func TestRejectStreamOptions(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{RejectStreamOptions: true})
	res, body, err := rawRequest(t, http.MethodPost, s.URL+"v1/chat/completions",
		`{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, map[string]string{"Authorization": "Bearer k"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Contains(t, body, "Unrecognized request argument supplied: stream_options")
	res, _, err = rawRequest(t, http.MethodPost, s.URL+"v1/chat/completions", `{"model":"m","stream":true}`, map[string]string{"Authorization": "Bearer k"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.StatusCode)
}

func TestFailAfter(t *testing.T) {
	t.Parallel()
	const want = "chunk 0 chunk 1 "
	t.Run("chat completions", func(t *testing.T) {
		t.Parallel()
		s := llmmock.New(t, llmmock.Options{Events: 5, FailAfter: 2})
		stream := openAIClient(t, s, "k").Chat.Completions.NewStreaming(t.Context(), chatParams(true))
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		require.Error(t, stream.Err())
		assert.Equal(t, want, acc.Choices[0].Message.Content)
		fin := receive(t, s.Finished())
		assert.False(t, fin.Completed)
		assert.False(t, fin.Cancelled)
	})
	t.Run("responses", func(t *testing.T) {
		t.Parallel()
		s := llmmock.New(t, llmmock.Options{Events: 5, FailAfter: 2})
		stream := openAIClient(t, s, "k").Responses.NewStreaming(t.Context(), responsesParams(false))
		var text strings.Builder
		var last string
		for stream.Next() {
			last = stream.Current().Type
			text.WriteString(stream.Current().AsResponseOutputTextDelta().Delta)
		}
		require.Error(t, stream.Err())
		assert.Equal(t, want, text.String())
		assert.Equal(t, "response.output_text.delta", last)
	})
	t.Run("messages", func(t *testing.T) {
		t.Parallel()
		s := llmmock.New(t, llmmock.Options{Events: 5, FailAfter: 2})
		stream := anthropicClient(t, s, "k").Messages.NewStreaming(t.Context(), messageParams(true))
		var msg anthropic.Message
		for stream.Next() {
			require.NoError(t, msg.Accumulate(stream.Current()))
		}
		require.Error(t, stream.Err())
		assert.Equal(t, want, msg.Content[0].Text)
		assert.Empty(t, msg.StopReason)
	})
	t.Run("raw", func(t *testing.T) {
		t.Parallel()
		s := llmmock.New(t, llmmock.Options{Events: 5, FailAfter: 1})
		res, body, err := rawRequest(t, http.MethodPost, s.URL+"v1/chat/completions", `{"model":"m","stream":true}`,
			map[string]string{"Authorization": "Bearer k"})
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "no terminating chunk")
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Contains(t, body, `"content":"chunk 0 "`)
		assert.NotContains(t, body, "chunk 1")
		assert.NotContains(t, body, "[DONE]")
	})
	t.Run("above the number of deltas", func(t *testing.T) {
		t.Parallel()
		s := llmmock.New(t, llmmock.Options{Events: 2, FailAfter: 3})
		_, body, err := rawRequest(t, http.MethodPost, s.URL+"v1/chat/completions", `{"model":"m","stream":true}`,
			map[string]string{"Authorization": "Bearer k"})
		require.NoError(t, err)
		assert.True(t, strings.HasSuffix(body, "data: [DONE]\n\n"))
		assert.True(t, receive(t, s.Finished()).Completed)
	})
}

// TestCancel: the client going away while the server sleeps before a delta
// is noticed at once, and reported.
func TestCancel(t *testing.T) {
	t.Parallel()
	tests := map[string]func(ctx context.Context, t *testing.T, s *llmmock.Server) error{
		"chat completions": func(ctx context.Context, t *testing.T, s *llmmock.Server) error {
			stream := openAIClient(t, s, "k").Chat.Completions.NewStreaming(ctx, chatParams(false))
			defer stream.Close()
			for stream.Next() {
			}
			return stream.Err()
		},
		"responses": func(ctx context.Context, t *testing.T, s *llmmock.Server) error {
			stream := openAIClient(t, s, "k").Responses.NewStreaming(ctx, responsesParams(false))
			defer stream.Close()
			for stream.Next() {
			}
			return stream.Err()
		},
		"messages": func(ctx context.Context, t *testing.T, s *llmmock.Server) error {
			stream := anthropicClient(t, s, "k").Messages.NewStreaming(ctx, messageParams(false))
			defer stream.Close()
			for stream.Next() {
			}
			return stream.Err()
		},
	}
	for name, run := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := llmmock.New(t, llmmock.Options{EventDelay: time.Hour})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- run(ctx, t, s) }()

			receive(t, s.Started())
			cancel()
			fin := receive(t, s.Finished())
			assert.True(t, fin.Cancelled)
			assert.False(t, fin.Completed)
			require.ErrorIs(t, <-errc, context.Canceled)
			assert.True(t, s.Requests()[0].Cancelled)
		})
	}
}

// TestCloseCutsStreams: Close does not wait for a slow stream; the client
// sees the stream end abruptly.
func TestCloseCutsStreams(t *testing.T) {
	t.Parallel()
	s := llmmock.NewServer(llmmock.Options{EventDelay: time.Hour})
	stream := openAIClient(t, s, "k").Chat.Completions.NewStreaming(t.Context(), chatParams(false))
	require.True(t, stream.Next(), "the first chunk precedes the delay")
	s.Close()
	for stream.Next() {
	}
	require.Error(t, stream.Err())
	fin := receive(t, s.Finished())
	assert.False(t, fin.Completed)
	s.Close() // idempotent
}

func TestSetOptions(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{})
	c := anthropicClient(t, s, "k")
	_, err := c.Messages.New(t.Context(), messageParams(false))
	require.NoError(t, err)

	s.SetOptions(llmmock.Options{Status: 529})
	_, err = c.Messages.New(t.Context(), messageParams(false))
	var aerr *anthropic.Error
	require.ErrorAs(t, err, &aerr)
	assert.Equal(t, 529, aerr.StatusCode)

	s.SetOptions(llmmock.Options{Events: 1})
	msg, err := c.Messages.New(t.Context(), messageParams(false))
	require.NoError(t, err)
	assert.Equal(t, "chunk 0 ", msg.Content[0].Text)
}

func TestSetOptionsConcurrent(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			s.SetOptions(llmmock.Options{Events: i%3 + 1, Keys: []string{"k"}})
		}
	}()
	for range 10 {
		res, _, err := rawRequest(t, http.MethodPost, s.URL+"v1/chat/completions", `{"model":"m"}`, map[string]string{"Authorization": "Bearer k"})
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, res.StatusCode)
	}
	<-done
}

func TestRequestsAreCopies(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{})
	_, _, err := rawRequest(t, http.MethodPost, s.URL+"v1/chat/completions?x=1", `{"model":"m"}`,
		map[string]string{"Authorization": "Bearer k", "User-Agent": "test-agent"})
	require.NoError(t, err)

	started := receive(t, s.Started())
	assert.Equal(t, `{"model":"m"}`, string(started.Body), "Started carries the body")
	assert.False(t, started.Completed)

	first := s.Requests()
	require.Len(t, first, 1)
	assert.Equal(t, "x=1", first[0].RawQuery)
	assert.Equal(t, "test-agent", first[0].Header.Get("User-Agent"))
	first[0].Body[0] = 'X'
	first[0].Header.Set("User-Agent", "changed")

	again := s.Requests()
	assert.Equal(t, `{"model":"m"}`, string(again[0].Body))
	assert.Equal(t, "test-agent", again[0].Header.Get("User-Agent"))
}

// TestFixedText guards the documented delta text.
func TestFixedText(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "chunk 0 chunk 1 chunk 2 chunk 3 chunk 4 ", llmmock.Text(0))
	assert.Equal(t, "chunk 0 ", llmmock.Text(1))
	assert.Empty(t, llmmock.Text(-1))
}

// BenchmarkStream measures the mock alone streaming 100 deltas, the
// baseline for gateway overhead measurements.
func BenchmarkStream(b *testing.B) {
	s := llmmock.New(b, llmmock.Options{Events: 100})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	for _, tc := range []struct{ name, path, body, header, value string }{
		{"chat", "v1/chat/completions", `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, "Authorization", "Bearer k"},
		{"responses", "v1/responses", `{"model":"m","stream":true}`, "Authorization", "Bearer k"},
		{"messages", "v1/messages", `{"model":"m","stream":true}`, "x-api-key", "k"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, s.URL+tc.path, strings.NewReader(tc.body))
				require.NoError(b, err)
				req.Header.Set(tc.header, tc.value)
				res, err := client.Do(req)
				require.NoError(b, err)
				_, err = io.Copy(io.Discard, res.Body)
				require.NoError(b, err)
				require.NoError(b, res.Body.Close())
			}
		})
	}
}

// TestStallAfter: a stream falls silent after the deltas it was told to
// send, stays open, and ends when the client goes away.
func TestStallAfter(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ path, body, auth, last string }{
		"chat completions": {"v1/chat/completions", `{"model":"m","stream":true}`, "Authorization", `"content":"chunk 1 "`},
		"responses":        {"v1/responses", `{"model":"m","stream":true,"input":"hi"}`, "Authorization", `"delta":"chunk 1 "`},
		"messages":         {"v1/messages", `{"model":"m","max_tokens":9,"stream":true,"messages":[]}`, "X-Api-Key", `"text":"chunk 1 "`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := llmmock.New(t, llmmock.Options{Events: 5, StallAfter: 2})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			key := "k"
			if tc.auth == "Authorization" {
				key = "Bearer k"
			}
			req.Header.Set(tc.auth, key)
			res, err := httpClient(t).Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			rd := bufio.NewReader(res.Body)
			var got strings.Builder
			for !strings.Contains(got.String(), tc.last) {
				line, err := rd.ReadString('\n')
				require.NoError(t, err, "the stream stalls, it does not end: %q", got.String())
				got.WriteString(line)
			}
			require.NotContains(t, got.String(), "chunk 2")
			select {
			case fin := <-s.Finished():
				t.Fatalf("the handler returned while stalled: %+v", fin)
			default:
			}
			cancel()
			fin := receive(t, s.Finished())
			assert.True(t, fin.Cancelled)
			assert.False(t, fin.Completed)
		})
	}
}

// TestStallHeaders: a request gets no status line at all until the client
// gives up; Close ends the wait too.
func TestStallHeaders(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{StallHeaders: true})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"v1/models", nil)
		req.Header.Set("Authorization", "Bearer k")
		res, err := httpClient(t).Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	receive(t, s.Started())
	select {
	case err := <-errc:
		t.Fatalf("answered while stalled: %v", err)
	default:
	}
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	assert.True(t, receive(t, s.Finished()).Cancelled)

	closed := llmmock.NewServer(llmmock.Options{StallHeaders: true})
	go func() {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, closed.URL+"v1/models", nil)
		req.Header.Set("Authorization", "Bearer k")
		res, err := httpClient(t).Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	receive(t, closed.Started())
	closed.Close()
	require.Error(t, <-errc, "Close cuts the stalled request")
}

// TestLongDelta: the first streamed delta is as long as asked, in every
// format.
func TestLongDelta(t *testing.T) {
	t.Parallel()
	const n = 100_000
	s := llmmock.New(t, llmmock.Options{Events: 2, LongDelta: n})
	long := strings.Repeat("x", n)
	_, body, err := rawRequest(t, http.MethodPost, s.URL+"v1/chat/completions", `{"model":"m","stream":true}`, map[string]string{"Authorization": "Bearer k"})
	require.NoError(t, err)
	assert.Contains(t, body, `"content":"`+long+`"`)
	assert.Contains(t, body, `"content":"chunk 1 "`)
	_, body, err = rawRequest(t, http.MethodPost, s.URL+"v1/responses", `{"model":"m","stream":true,"input":"hi"}`, map[string]string{"Authorization": "Bearer k"})
	require.NoError(t, err)
	assert.Contains(t, body, `"delta":"`+long+`"`)
	_, body, err = rawRequest(t, http.MethodPost, s.URL+"v1/messages", `{"model":"m","max_tokens":9,"stream":true,"messages":[]}`, map[string]string{"X-Api-Key": "k"})
	require.NoError(t, err)
	assert.Contains(t, body, `"text":"`+long+`"`)
}

// TestModelNotFound: a model the list does not have is 404, in each
// vendor's error shape.
func TestModelNotFound(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{})
	res, body, err := rawRequest(t, http.MethodGet, s.URL+"v1/models/gpt-nope", "", map[string]string{"Authorization": "Bearer k"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.JSONEq(t, `{"error":{"message":"The model 'gpt-nope' does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}`, body)
	res, body, err = rawRequest(t, http.MethodGet, s.URL+"v1/models/claude-nope", "", map[string]string{"X-Api-Key": "k"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Contains(t, body, `"type":"not_found_error","message":"model: claude-nope"`)
}
