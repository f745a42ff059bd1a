package llmwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Format is one of the wire formats the gateway intercepts.
type Format uint8

// The formats, one per intercepted endpoint.
const (
	OpenAIChat        Format = iota + 1 // POST /v1/chat/completions
	OpenAIResponses                     // POST /v1/responses
	AnthropicMessages                   // POST /v1/messages (also what Bedrock streams, once decoded)
)

// String returns the name stored as an interception's endpoint.
func (f Format) String() string {
	switch f {
	case OpenAIChat:
		return "chat_completions"
	case OpenAIResponses:
		return "responses"
	case AnthropicMessages:
		return "messages"
	default:
		return "Format(" + strconv.Itoa(int(f)) + ")"
	}
}

// InputIncludesCacheRead reports whether the format's Usage.Input already
// counts the CacheRead tokens (OpenAI), or leaves them, and CacheWrite, out
// (Anthropic). See the package documentation.
func (f Format) InputIncludesCacheRead() bool { return f == OpenAIChat || f == OpenAIResponses }

// Request is what the gateway needs from a request body.
type Request struct {
	Model  string
	Stream bool
	// MaxTokens is the most output tokens the request allows (chat's
	// max_completion_tokens or max_tokens, responses' max_output_tokens,
	// Anthropic's max_tokens); 0 when it sets none or not as a positive
	// integer, which the upstream then judges.
	MaxTokens int64
}

// RequestError is a request body the gateway refuses before going upstream.
// Its message is written for the client and can be shown as is.
type RequestError struct {
	// Field is the member at fault ("model", "stream"), or "" when the body as
	// a whole is.
	Field   string
	Message string
}

func (e *RequestError) Error() string { return e.Message }

// maxModelLen bounds a requested model name: far above any real one (Bedrock
// inference-profile ARNs are the longest, near 100 bytes), and small enough to
// store.
const maxModelLen = 1024

// ParseRequest reads what the gateway needs from a request body; f's three
// formats share these members. The body must be a JSON object with a non-empty
// string "model"; "stream", when present and not null, must be a boolean.
// Any other failure is a *RequestError.
func ParseRequest(f Format, body []byte) (Request, error) {
	_ = f // The formats agree on model and stream; f is there for when they do not.
	var model, stream, maxTokens, maxCompletion []byte
	ok := members(body, func(key, value []byte) {
		// Later duplicates win, as in encoding/json and the upstreams' parsers.
		switch string(key) {
		case "model":
			model = value
		case "stream":
			stream = value
		case "max_tokens", "max_output_tokens":
			maxTokens = value
		case "max_completion_tokens":
			maxCompletion = value
		}
	})
	if !ok {
		return Request{}, bodyError(body)
	}
	switch {
	case model == nil || string(model) == "null" || string(model) == `""`:
		return Request{}, &RequestError{Field: "model", Message: `request body has no "model"`}
	case !isString(model):
		return Request{}, &RequestError{Field: "model", Message: `request body's "model" is not a string`}
	}
	// Decoded exactly, not cleaned like the strings of a Result: a model name
	// the gateway would have to change is one it would route or record wrongly.
	name := rawString(model)
	if bytes.IndexByte(name, '\\') >= 0 {
		name = unescape(name, maxModelLen)
	}
	switch {
	case len(name) > maxModelLen:
		return Request{}, &RequestError{Field: "model", Message: fmt.Sprintf(`request body's "model" is longer than %d bytes`, maxModelLen)}
	case !clean(name):
		return Request{}, &RequestError{Field: "model", Message: `request body's "model" is not valid UTF-8 text`}
	}
	req := Request{Model: string(name)}
	// max_completion_tokens replaced max_tokens in chat; a body with both
	// is bounded by the newer.
	if n, ok := positiveInt(maxCompletion); ok {
		req.MaxTokens = n
	} else if n, ok := positiveInt(maxTokens); ok {
		req.MaxTokens = n
	}
	switch string(stream) {
	case "", "null", "false":
	case "true":
		req.Stream = true
	default:
		return Request{}, &RequestError{Field: "stream", Message: `request body's "stream" is not a boolean`}
	}
	return req, nil
}

// positiveInt reads a JSON number that is a positive integer of at most 18
// digits.
func positiveInt(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil && n > 0
}

// bodyError explains why body is not a JSON object. It runs only on the
// failure path, where encoding/json's wording and offset are worth the cost.
func bodyError(body []byte) error {
	if validJSON(body) {
		return &RequestError{Message: "request body is not a JSON object"}
	}
	var v json.RawMessage
	err := json.Unmarshal(body, &v)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return &RequestError{Message: fmt.Sprintf("request body is not valid JSON: %s (at byte %d)", syntax.Error(), syntax.Offset)}
	case err != nil:
		return &RequestError{Message: "request body is not valid JSON: " + err.Error()}
	default:
		// Not expected: the walker refuses nothing encoding/json accepts
		// (FuzzParseRequest holds it to that).
		return &RequestError{Message: "request body is not valid JSON"}
	}
}

// Usage is a response's token counts; see the package documentation for what
// each format's counts cover.
type Usage struct {
	Input, Output, CacheRead, CacheWrite, Reasoning int64
	// CacheWrite1h is the part of CacheWrite written for an hour (Anthropic's
	// usage.cache_creation.ephemeral_1h_input_tokens), billed at 2x input
	// rather than the 5-minute writes' 1.25x.
	CacheWrite1h int64
}

// ToolCall is one tool call the model made.
type ToolCall struct{ ID, Name string }

// Result is what a response says that the gateway records.
type Result struct {
	Model     string     // as reported by the upstream response (may differ from the request's)
	Usage     Usage      // zero when the upstream reported none
	ToolCalls []ToolCall // in the order the model made them, each once
	Error     string     // the first error event or body message from the upstream ("overloaded_error: Overloaded")
	// Completed reports that the response reached its normal end: for a stream,
	// chat's "data: [DONE]" or a choice's finish_reason, responses'
	// response.completed or response.incomplete, Anthropic's message_stop; for a
	// JSON body, a finish_reason, a status of completed or incomplete, a
	// stop_reason.
	Completed bool
}

// Ended reports whether a stream reached an end its provider gave it: its
// normal end (Completed) or the provider's own error event (Anthropic's
// "error", a responses "error" or "response.failed", a chat data line with
// an "error" object), after which a provider sends nothing more. A stream
// that stops without either was cut.
func (r Result) Ended() bool { return r.Completed || r.Error != "" }

// StreamParser observes one SSE stream. It is not safe for concurrent use.
type StreamParser interface {
	// Event observes one event: event is its "event:" field (empty when it has
	// none, as in chat completions), data its "data:" payload with multi-line
	// data joined by "\n". The slices are only read during the call. Malformed
	// JSON in an event is ignored.
	Event(event, data []byte)
	// Result returns what the events so far said; it may be called at any
	// time, and later events do not change a Result already returned.
	Result() Result
}

// NewStreamParser returns a parser for a stream of format f. It panics when f
// is not one of the formats, which is a programming error.
func NewStreamParser(f Format) StreamParser {
	switch f {
	case OpenAIChat:
		return &chatParser{}
	case OpenAIResponses:
		return &responsesParser{}
	case AnthropicMessages:
		return &messagesParser{}
	default:
		panic("llmwire: NewStreamParser with unknown " + f.String())
	}
}

// ParseResponse reads a complete non-streaming JSON response body (status
// 200). A body that is not a JSON object gives a zero Result. It panics when f
// is not one of the formats, which is a programming error.
func ParseResponse(f Format, body []byte) Result {
	var r recorder
	switch f {
	case OpenAIChat:
		r.chatBody(body)
	case OpenAIResponses:
		if status, ok := r.response(body); ok {
			r.res.Completed = stringIs(status, "completed") || stringIs(status, "incomplete")
		}
	case AnthropicMessages:
		r.message(body, true)
	default:
		panic("llmwire: ParseResponse with unknown " + f.String())
	}
	if r.res.Error == "" {
		r.res.Error = ParseError(body)
	}
	return r.result()
}

// ParseError extracts the message from an upstream error body and returns ""
// when the body is not one. It reads OpenAI's
// {"error":{"message":...,"type":...,"code":...}}, Anthropic's
// {"type":"error","error":{"type":...,"message":...}}, the responses stream's
// error event {"type":"error","code":...,"message":...}, a bare
// {"error":"..."} and AWS's {"message":"..."}, and gives "type: message"
// (OpenAI's code when it has no type).
func ParseError(body []byte) string {
	var errv, message, code []byte
	ok := members(body, func(key, value []byte) {
		switch string(key) {
		case "error":
			errv = value
		case "message", "Message":
			message = value
		case "code":
			code = value
		}
	})
	if !ok {
		return ""
	}
	switch {
	case isObject(errv):
		return errorObject(errv)
	case isString(errv):
		return text(errv, maxErrorLen)
	default:
		return errorText("", codeText(code), text(message, maxErrorLen))
	}
}

// errorObject reads an {"type":...,"code":...,"message":...} error object.
func errorObject(v []byte) string {
	var typ, code, message []byte
	members(v, func(key, value []byte) {
		switch string(key) {
		case "type":
			typ = value
		case "code":
			code = value
		case "message":
			message = value
		}
	})
	return errorText(text(typ, maxIdentLen), codeText(code), text(message, maxErrorLen))
}

// codeText reads an error code, which some OpenAI-compatible servers send as
// a number.
func codeText(v []byte) string {
	if len(v) > 0 && isDigit(v[0]) && len(v) <= maxIdentLen {
		return string(v)
	}
	return text(v, maxIdentLen)
}

func errorText(typ, code, message string) string {
	prefix := typ
	if prefix == "" {
		prefix = code
	}
	switch {
	case prefix == "":
		return message
	case message == "":
		return prefix
	default:
		return prefix + ": " + message
	}
}

// recorder accumulates a Result; each format's parser embeds one.
type recorder struct {
	res Result
	// keys[i] is how res.ToolCalls[i] was identified on the wire, for matching
	// the later events that mention the same call.
	keys []callKey
}

// callKey names a tool call's place in the response: chat's (choice, tool
// index), responses' output item ID and index, Anthropic's block index.
type callKey struct {
	choice, index int64
	item          string
}

func (r *recorder) result() Result {
	res := r.res
	res.ToolCalls = slices.Clone(r.res.ToolCalls)
	return res
}

func (r *recorder) setError(msg string) {
	if r.res.Error == "" {
		r.res.Error = msg
	}
}

// unnamedError is the Error of a stream that ended with the provider's error
// event when the event says nothing readable: the stream still ended there.
const unnamedError = "the provider ended the stream with an error event"

// addCall records a tool call, or completes one already recorded. A call
// with an ID is the call with that ID; a call without one (a chat argument
// delta) is the call at the same key. A new ID at a key already taken is a new
// call: OpenAI-compatible servers that omit the tool index send several calls
// at index 0.
func (r *recorder) addCall(key callKey, id, name string) {
	calls := r.res.ToolCalls
	// Backwards: the call an event continues is almost always the latest.
	for i := len(calls) - 1; i >= 0; i-- {
		c := &calls[i]
		if (id != "" && c.ID == id) || (r.keys[i] == key && (id == "" || c.ID == "")) {
			if c.ID == "" {
				c.ID = id
			}
			if c.Name == "" {
				c.Name = name
			}
			return
		}
	}
	if id == "" && name == "" {
		return
	}
	r.res.ToolCalls = append(r.res.ToolCalls, ToolCall{ID: id, Name: name})
	r.keys = append(r.keys, key)
}
