package llmmock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// format is the provider whose wire format a request is answered in.
type format int

const (
	formatOpenAI format = iota
	formatAnthropic
)

// exchange is one request being answered.
type exchange struct {
	w         http.ResponseWriter
	r         *http.Request
	rc        *http.ResponseController
	closing   <-chan struct{}
	opts      Options
	body      []byte
	requestID string
	format    format
	// errorEvent writes the provider's error event that ends the stream,
	// for ErrorAfter; set by each streaming endpoint.
	errorEvent func() bool

	completed bool // the whole response was written
	cancelled bool // the client went away first
	cut       bool // the connection was closed on purpose
}

// route checks the key and the configured failures, then answers.
func (x *exchange) route() {
	// The API's own path after "/v1", or "" (404) when the request is not
	// where the real API is.
	root := "/v1/"
	if prefix := strings.Trim(x.opts.PathPrefix, "/"); prefix != "" {
		root = "/" + prefix + root
	}
	path := ""
	if rest, ok := strings.CutPrefix(x.r.URL.Path, root); ok {
		path = "/" + rest
	}
	method := x.r.Method

	x.format = formatOpenAI
	switch {
	case path == "/messages" || path == "/messages/count_tokens":
		x.format = formatAnthropic
	case path == "/chat/completions" || path == "/embeddings" || path == "/responses" ||
		strings.HasPrefix(path, "/responses/"):
	default:
		if x.r.Header.Get("x-api-key") != "" || x.r.Header.Get("anthropic-version") != "" {
			x.format = formatAnthropic
		}
	}
	x.setHeaders(false)

	if x.opts.StallHeaders {
		x.hold()
		return
	}
	if !x.authorize() {
		return
	}

	intercepted := method == http.MethodPost &&
		(path == "/chat/completions" || path == "/responses" || path == "/messages")
	if intercepted && x.opts.Status != 0 {
		x.writeError(x.opts.Status, "")
		return
	}

	switch {
	case method == http.MethodPost && path == "/chat/completions":
		x.chatCompletions()
	case method == http.MethodPost && path == "/responses":
		x.responses()
	case method == http.MethodGet && strings.HasPrefix(path, "/responses/") && validID(path[len("/responses/"):]):
		x.responseGet(path[len("/responses/"):])
	case method == http.MethodDelete && strings.HasPrefix(path, "/responses/") && validID(path[len("/responses/"):]):
		x.responseDelete(path[len("/responses/"):])
	case method == http.MethodPost && path == "/embeddings":
		x.embeddings()
	case method == http.MethodPost && path == "/messages":
		x.messages()
	case method == http.MethodPost && path == "/messages/count_tokens":
		x.countTokens()
	case method == http.MethodGet && path == "/models":
		x.modelList()
	case method == http.MethodGet && strings.HasPrefix(path, "/models/") && validID(path[len("/models/"):]):
		x.modelGet(path[len("/models/"):])
	default:
		x.writeError(http.StatusNotFound, fmt.Sprintf("Invalid URL (%s %s)", method, x.r.URL.Path))
	}
}

func validID(id string) bool { return id != "" && !strings.Contains(id, "/") }

// authorize answers 401 or 429 and returns false when the key is missing,
// unknown or rate limited.
func (x *exchange) authorize() bool {
	var key string
	if x.format == formatAnthropic {
		key = x.r.Header.Get("x-api-key")
	} else if k, ok := strings.CutPrefix(x.r.Header.Get("Authorization"), "Bearer "); ok {
		key = strings.TrimSpace(k)
	}
	switch {
	case key == "":
		x.writeError(http.StatusUnauthorized, x.missingKeyMessage())
		return false
	case slices.Contains(x.opts.RateLimitedKeys, key):
		x.setHeaders(true)
		x.w.Header().Set("Retry-After", "1")
		x.writeError(http.StatusTooManyRequests, "")
		return false
	case len(x.opts.Keys) > 0 && !slices.Contains(x.opts.Keys, key):
		x.writeError(http.StatusUnauthorized, x.badKeyMessage())
		return false
	}
	return true
}

func (x *exchange) missingKeyMessage() string {
	if x.format == formatAnthropic {
		return "x-api-key header is required"
	}
	return "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
}

func (x *exchange) badKeyMessage() string {
	if x.format == formatAnthropic {
		return "invalid x-api-key"
	}
	return "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
}

// setHeaders sets the request-id and rate-limit headers of the format.
func (x *exchange) setHeaders(limited bool) {
	h := x.w.Header()
	remaining := "9999"
	if limited {
		remaining = "0"
	}
	if x.format == formatAnthropic {
		h.Set("request-id", x.requestID)
		h.Set("anthropic-ratelimit-requests-limit", "10000")
		h.Set("anthropic-ratelimit-requests-remaining", remaining)
		h.Set("anthropic-ratelimit-requests-reset", time.Unix(Created, 0).UTC().Format(time.RFC3339))
		return
	}
	h.Set("x-request-id", x.requestID)
	h.Set("openai-processing-ms", "1")
	h.Set("x-ratelimit-limit-requests", "10000")
	h.Set("x-ratelimit-remaining-requests", remaining)
	h.Set("x-ratelimit-reset-requests", "6ms")
}

// writeError answers status with the format's error body; message "" picks
// the provider's usual message for the status.
func (x *exchange) writeError(status int, message string) {
	if x.format == formatAnthropic {
		typ, msg := anthropicErrorFor(status)
		if message != "" {
			msg = message
		}
		x.writeJSON(status, obj{
			{"type", "error"},
			{"error", obj{{"type", typ}, {"message", msg}}},
			{"request_id", x.requestID},
		})
		return
	}
	typ, code, msg := openAIErrorFor(status)
	if message != "" {
		msg = message
	}
	x.writeJSON(status, obj{{"error", obj{
		{"message", msg},
		{"type", typ},
		{"param", nil},
		{"code", code},
	}}})
}

// openAIErrorFor returns the error type, code (nil for none) and message
// OpenAI sends with status.
func openAIErrorFor(status int) (typ string, code any, msg string) {
	switch status {
	case http.StatusUnauthorized:
		return "invalid_request_error", "invalid_api_key", "Incorrect API key provided."
	case http.StatusForbidden:
		return "invalid_request_error", "unsupported_country_region_territory", "Country, region, or territory not supported"
	case http.StatusNotFound:
		return "invalid_request_error", nil, "The requested resource does not exist."
	case http.StatusTooManyRequests:
		return "requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in 1s."
	}
	if status >= 500 {
		return "server_error", nil, "The server had an error while processing your request. Sorry about that!"
	}
	return "invalid_request_error", nil, "The request is invalid."
}

// anthropicErrorFor returns the error type and message Anthropic sends with
// status.
func anthropicErrorFor(status int) (typ, msg string) {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error", "invalid x-api-key"
	case http.StatusPaymentRequired:
		return "billing_error", "Your credit balance is too low to access the Anthropic API."
	case http.StatusForbidden:
		return "permission_error", "Your API key does not have permission to use the specified resource."
	case http.StatusNotFound:
		return "not_found_error", "Not found"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large", "Request exceeds the maximum allowed number of bytes."
	case http.StatusTooManyRequests:
		return "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."
	case http.StatusGatewayTimeout:
		return "timeout_error", "Request timed out."
	case 529:
		return "overloaded_error", "Overloaded"
	}
	if status >= 500 {
		return "api_error", "Internal server error"
	}
	return "invalid_request_error", "The request is invalid."
}

// parseBody decodes the JSON request body into v, answering 400 and
// returning false when it is not valid JSON.
func (x *exchange) parseBody(v any) bool {
	if err := json.Unmarshal(x.body, v); err != nil {
		msg := "We could not parse the JSON body of your request."
		if x.format == formatAnthropic {
			msg = "Invalid JSON body: " + err.Error()
		}
		x.writeError(http.StatusBadRequest, msg)
		return false
	}
	return true
}

// writeJSON answers a whole JSON body.
func (x *exchange) writeJSON(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("llmmock: encode response: %v", err)) // our own values: a bug
	}
	x.w.Header().Set("Content-Type", "application/json")
	x.w.WriteHeader(status)
	if _, err := x.w.Write(b); err != nil {
		x.cancelled = true
		return
	}
	x.completed = true
}

// startStream sends the headers of an SSE response.
func (x *exchange) startStream() {
	h := x.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	x.w.WriteHeader(http.StatusOK)
}

// rawData is SSE data written as is, not JSON-encoded: "[DONE]".
type rawData string

// event writes and flushes one SSE event ("event:" line only when name is
// not empty) and returns whether the stream goes on.
func (x *exchange) event(name string, data any) bool {
	if !x.alive() {
		return false
	}
	var b []byte
	if raw, ok := data.(rawData); ok {
		b = []byte(raw)
	} else {
		var err error
		b, err = json.Marshal(data)
		if err != nil {
			panic(fmt.Sprintf("llmmock: encode event: %v", err)) // our own values: a bug
		}
	}
	var buf bytes.Buffer
	buf.Grow(len(b) + len(name) + 16)
	if name != "" {
		buf.WriteString("event: ")
		buf.WriteString(name)
		buf.WriteByte('\n')
	}
	buf.WriteString("data: ")
	buf.Write(b)
	buf.WriteString("\n\n")
	if _, err := x.w.Write(buf.Bytes()); err != nil {
		x.cancelled = true
		return false
	}
	if err := x.rc.Flush(); err != nil {
		x.cancelled = true
		return false
	}
	return true
}

// textDelta waits EventDelay, writes text delta i with event, and cuts the
// stream when FailAfter deltas have been written. It returns whether the
// stream goes on.
func (x *exchange) textDelta(i int, event func() bool) bool {
	if !x.wait(x.opts.EventDelay) {
		return false
	}
	if !event() {
		return false
	}
	if x.opts.FailAfter > 0 && i+1 == x.opts.FailAfter {
		x.abort()
		return false
	}
	if x.opts.StallAfter > 0 && i+1 == x.opts.StallAfter {
		x.hold()
		return false
	}
	if x.opts.ErrorAfter > 0 && i+1 == x.opts.ErrorAfter && x.errorEvent != nil {
		if x.errorEvent() {
			x.completed = true
		}
		return false
	}
	return true
}

// streamedDelta is the text of streamed delta i: textDelta(i), but for
// Options.LongDelta.
func (x *exchange) streamedDelta(i int) string {
	if i == 0 && x.opts.LongDelta > 0 {
		return strings.Repeat("x", x.opts.LongDelta)
	}
	return textDelta(i)
}

// alive returns whether the stream goes on: false when the client went away
// (Cancelled) or the server is closing (the stream is cut).
func (x *exchange) alive() bool {
	select {
	case <-x.r.Context().Done():
		x.cancelled = true
		return false
	case <-x.closing:
		x.abort()
		return false
	default:
		return true
	}
}

// wait sleeps d unless the client goes away or the server closes first.
func (x *exchange) wait(d time.Duration) bool {
	if d <= 0 {
		return x.alive()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return x.alive()
	case <-x.r.Context().Done():
		x.cancelled = true
		return false
	case <-x.closing:
		x.abort()
		return false
	}
}

// hold sends nothing more until the client goes away (Cancelled) or the
// server closes (the stream is cut).
func (x *exchange) hold() {
	select {
	case <-x.r.Context().Done():
		x.cancelled = true
	case <-x.closing:
		x.abort()
	}
}

// abort closes the connection without ending the response, so the client
// sees the body stop mid-stream: for a chunked body, no terminating chunk.
func (x *exchange) abort() {
	if x.cut {
		return
	}
	x.cut = true
	conn, _, err := x.rc.Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): the server resets the stream.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
