// Package llmmock provides stand-in OpenAI, Anthropic and AWS Bedrock API servers on
// loopback that speak the real wire formats (JSON bodies, SSE event sequences,
// error bodies, usage, tool calls), for tests and benchmarks.
//
// # Base URLs
//
// One Server answers both providers, each where its real API is: every
// endpoint is under "/v1/", as at https://api.openai.com/v1/ and
// https://api.anthropic.com/v1/, and nowhere else ("/chat/completions" and
// "/v1/v1/chat/completions" are 404, as upstream). Configure clients and
// aigate providers the way users configure the vendors: the OpenAI SDK and
// an openai provider with [Server.OpenAIBaseURL] (URL + "v1", like
// OPENAI_BASE_URL; the SDK appends "chat/completions"), the Anthropic SDK
// and an anthropic provider with [Server.AnthropicBaseURL] (URL, like
// ANTHROPIC_BASE_URL; the SDK appends "v1/messages"). With
// Options.PathPrefix the API sits under a prefix instead, as behind a
// corporate proxy ("/openai" → "/openai/v1/chat/completions").
//
// # Which format answers
//
// /chat/completions, /responses and /embeddings speak OpenAI; /messages and
// /messages/count_tokens speak Anthropic. /models and unknown paths speak
// Anthropic when the request carries an x-api-key or anthropic-version header,
// OpenAI otherwise. GET /models/{id} answers 404, in the vendor's words, for
// an ID the list does not have. The format decides the auth header that is
// checked (OpenAI "Authorization: Bearer K", Anthropic "x-api-key: K"), the
// error body shape and the response headers.
//
// # Order of checks
//
// Every request: missing key → 401; a key in RateLimitedKeys → 429 (such keys
// count as known even when Keys is set); a key not in a non-empty Keys → 401;
// then, for the intercepted endpoints only (POST chat/completions, responses,
// messages), a non-zero Options.Status → that status with the provider's
// error body; then the endpoint's answer.
//
// # Token usage
//
// Every response reports [FixedUsage] (or Options.Usage), each format
// carrying what its provider reports, verbatim:
//
//	chat completions  prompt_tokens=Input  completion_tokens=Output  total_tokens=Input+Output
//	                  prompt_tokens_details.cached_tokens=CacheRead
//	                  completion_tokens_details.reasoning_tokens=Reasoning   (no cache write)
//	responses         input_tokens=Input  output_tokens=Output  total_tokens=Input+Output
//	                  input_tokens_details.cached_tokens=CacheRead
//	                  output_tokens_details.reasoning_tokens=Reasoning       (no cache write)
//	messages          input_tokens=Input  output_tokens=Output
//	                  cache_read_input_tokens=CacheRead
//	                  cache_creation_input_tokens=CacheWrite                 (no reasoning)
//	                  cache_creation.ephemeral_5m_input_tokens=CacheWrite-CacheWrite1h
//	                  cache_creation.ephemeral_1h_input_tokens=CacheWrite1h
//
// OpenAI's input count already includes the cached tokens; Anthropic's does
// not (its total input is Input+CacheRead+CacheWrite). A streamed message
// reports input and cache counts in message_start (with output_tokens 1) and
// again, as cumulative totals, in message_delta together with the final
// output_tokens, as the current Anthropic API does.
package llmmock

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configures a Server's behaviour. The zero value streams five text
// deltas without delay, accepts any non-empty key and makes one tool call
// when the request offers tools.
type Options struct {
	// Events is the number of text deltas per response (default 5; negative
	// means none). Delta i is "chunk i ", so the whole text is Text(Events).
	// Non-streamed responses carry the same text in one piece.
	Events int
	// EventDelay is slept before each streamed text delta (a slow upstream).
	// The sleep ends early when the client goes away or the server closes.
	EventDelay time.Duration
	// ToolCalls is the number of tool calls the model makes when the request
	// has "tools" (default 1; negative means none). Call k is named ToolName
	// with ID "call_k" (OpenAI; the responses item ID is "fc_k") or "toolu_k"
	// (Anthropic) and arguments ToolArguments, streamed in two fragments.
	ToolCalls int
	// Keys are the accepted provider keys; empty accepts any non-empty key.
	Keys []string
	// RateLimitedKeys get 429 with "Retry-After: 1" and the provider's error
	// body.
	RateLimitedKeys []string
	// FailAfter, when positive, cuts a streamed response after that many text
	// deltas: the connection is closed with no final events and, for a
	// chunked body, no terminating chunk. A value above the number of deltas
	// has no effect.
	FailAfter int
	// ErrorAfter, when positive, ends a streamed response after that many
	// text deltas with the provider's own error event, and nothing after it:
	// chat completions a data line {"error": {...}} (server_error), responses
	// a response.failed event (or, with ResponsesErrorEvent, an error event),
	// Anthropic an error event (overloaded_error, "Overloaded"). The HTTP
	// response ends cleanly and is Completed.
	ErrorAfter int
	// StallAfter, when positive, makes a streamed response fall silent after
	// that many text deltas: nothing more is sent and the connection stays
	// open until the client goes away or the server closes, as a provider
	// whose stream hangs. A value above the number of deltas has no effect.
	StallAfter int
	// StallHeaders makes every request wait, with nothing written, not even
	// the status line, until the client goes away or the server closes: a
	// provider that accepted the connection and never answers.
	StallHeaders bool
	// LongDelta, when positive, makes streamed text delta 0 that many bytes
	// of "x" instead of "chunk 0 ", so its event is larger than a proxy may
	// hold. Text does not account for it.
	LongDelta int
	// ResponsesErrorEvent makes ErrorAfter end a responses stream with an
	// "error" event instead of "response.failed".
	ResponsesErrorEvent bool
	// RejectStreamOptions answers a chat completions request that has a
	// stream_options member with 400, as servers that do not know it do
	// (older Azure OpenAI API versions).
	RejectStreamOptions bool
	// PathPrefix, such as "/openai", puts the whole API under that path: a
	// request must then start with PathPrefix + "/v1/". Set it at New; the
	// base URL methods include it.
	PathPrefix string
	// Status, when non-zero, is the status of every intercepted request
	// (chat/completions, responses, messages), with the provider's error
	// body: e.g. 400, 500, 529.
	Status int
	// Usage, when set, is what every response reports instead of
	// FixedUsage: the usage shape a test prices.
	Usage *Usage
	// StartUsage, when set, is what a streamed message's message_start
	// reports (output_tokens 1 as ever); the closing message_delta reports
	// the final Usage, cache counts and their 5m/1h split included, as
	// servers whose early counts are preliminary do.
	StartUsage *Usage
}

// usage is what the server's responses report.
func (o Options) usage() Usage {
	if o.Usage != nil {
		return *o.Usage
	}
	return FixedUsage
}

// Usage is the token usage a response reports. CacheWrite is the total of
// the cache writes; CacheWrite1h its part written for an hour (Anthropic's
// cache_creation.ephemeral_1h_input_tokens; the rest are 5-minute writes).
type Usage struct{ Input, Output, CacheRead, CacheWrite, CacheWrite1h, Reasoning int64 }

// FixedUsage is the usage every response reports; see the package doc for
// which fields each format carries. Treat it as a constant.
var FixedUsage = Usage{Input: 21, Output: 34, CacheRead: 5, CacheWrite: 8, Reasoning: 13}

// Fixed values of the responses, for assertions.
const (
	// ToolName is the name of every tool call.
	ToolName = "get_weather"
	// ToolArguments is the arguments of every tool call.
	ToolArguments = `{"city":"Paris"}`
	// ChatCompletionID is the id of every chat completion and chunk.
	ChatCompletionID = "chatcmpl-mock"
	// ResponseID is the id of every responses-API response.
	ResponseID = "resp_mock"
	// MessageID is the id of every Anthropic message (and of the message
	// item in a responses-API output).
	MessageID = "msg_mock"
	// Created is the creation time (Unix seconds) every object reports.
	Created int64 = 1735689600
)

// toolArgumentFragments is ToolArguments split as it is streamed.
var toolArgumentFragments = [2]string{`{"city":`, `"Paris"}`}

// Text returns the text a response carries when Options.Events is events
// (after defaulting: pass 0 for the default).
func Text(events int) string { return joinDeltas(textDeltaCount(events)) }

func joinDeltas(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(textDelta(i))
	}
	return b.String()
}

func textDelta(i int) string { return fmt.Sprintf("chunk %d ", i) }

func textDeltaCount(events int) int {
	switch {
	case events == 0:
		return 5
	case events < 0:
		return 0
	}
	return events
}

// Seen is one request the server received.
type Seen struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
	// RequestID is the value of the x-request-id (OpenAI) or request-id
	// (Anthropic) response header: "req_mock_N", N counting from 1.
	RequestID string
	// Cancelled: the client went away before the response was complete.
	Cancelled bool
	// Completed: the whole response (whatever its status) was written.
	// Neither is set for a response cut by FailAfter; a stream cut by Close
	// is not Completed and may be Cancelled (Close drops the connections).
	Completed bool
}

func (s Seen) clone() Seen {
	s.Header = s.Header.Clone()
	s.Body = slices.Clone(s.Body)
	return s
}

// channelCap is the buffer of Started and Finished.
const channelCap = 1024

// Server is a stand-in OpenAI and Anthropic API on 127.0.0.1.
type Server struct {
	// URL is the base URL with a trailing slash: "http://127.0.0.1:PORT/".
	URL string

	srv       *httptest.Server
	closing   chan struct{} // closed by Close: in-flight handlers stop
	closeOnce sync.Once
	started   chan Seen
	finished  chan Seen

	mu   sync.Mutex
	opts Options // guarded by mu
	seen []*Seen // guarded by mu
}

// New starts a Server closed by t.Cleanup.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a Server; the caller must Close it.
func NewServer(opts Options) *Server {
	s := &Server{
		closing:  make(chan struct{}),
		started:  make(chan Seen, channelCap),
		finished: make(chan Seen, channelCap),
		opts:     cloneOptions(opts),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/"
	return s
}

// Close stops the server. In-flight streams are cut (the client sees an
// abrupt end) and Close waits for their handlers to return.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// OpenAIBaseURL is the base URL in the OPENAI_BASE_URL convention, for the
// OpenAI SDK and openai providers: URL + "v1" (after the path prefix).
func (s *Server) OpenAIBaseURL() string { return s.AnthropicBaseURL() + "v1" }

// AnthropicBaseURL is the base URL in the ANTHROPIC_BASE_URL convention, for
// the Anthropic SDK and anthropic providers: URL (after the path prefix; the
// SDK adds "v1/").
func (s *Server) AnthropicBaseURL() string {
	s.mu.Lock()
	prefix := strings.Trim(s.opts.PathPrefix, "/")
	s.mu.Unlock()
	if prefix == "" {
		return s.URL
	}
	return s.URL + prefix + "/"
}

// Requests returns copies of the requests received so far, in arrival
// order. Cancelled and Completed are filled once a request's handler has
// returned.
func (s *Server) Requests() []Seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Seen, len(s.seen))
	for i, r := range s.seen {
		out[i] = r.clone()
	}
	return out
}

// Started receives a value when a request's handler begins, after the
// request body has been read and before anything is written. The channel is
// buffered (1024); values that do not fit are dropped, never blocking the
// server.
func (s *Server) Started() <-chan Seen { return s.started }

// Finished receives a value when a request's handler returns, with
// Cancelled and Completed set. Buffered and dropping like Started.
func (s *Server) Finished() <-chan Seen { return s.finished }

// SetOptions replaces the options; requests that already started keep the
// options they started with. Safe for concurrent use.
func (s *Server) SetOptions(o Options) {
	o = cloneOptions(o)
	s.mu.Lock()
	s.opts = o
	s.mu.Unlock()
}

func cloneOptions(o Options) Options {
	o.Keys = slices.Clone(o.Keys)
	o.RateLimitedKeys = slices.Clone(o.RateLimitedKeys)
	return o
}

// serve is the handler of every request: it records the request, checks the
// key and the configured failures, then hands over to the endpoint.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body) // a short body is recorded as received

	s.mu.Lock()
	opts := s.opts
	seen := &Seen{
		Method:    r.Method,
		Path:      r.URL.Path,
		RawQuery:  r.URL.RawQuery,
		Header:    r.Header.Clone(),
		Body:      body,
		RequestID: fmt.Sprintf("req_mock_%d", len(s.seen)+1),
	}
	s.seen = append(s.seen, seen)
	startedCopy := seen.clone()
	s.mu.Unlock()
	send(s.started, startedCopy)

	x := &exchange{
		w:         w,
		r:         r,
		rc:        http.NewResponseController(w),
		closing:   s.closing,
		opts:      opts,
		body:      body,
		requestID: seen.RequestID,
	}
	defer func() {
		s.mu.Lock()
		seen.Cancelled = x.cancelled
		seen.Completed = x.completed
		finishedCopy := seen.clone()
		s.mu.Unlock()
		send(s.finished, finishedCopy)
	}()
	x.route()
}

func send(ch chan Seen, v Seen) {
	select {
	case ch <- v:
	default:
	}
}
