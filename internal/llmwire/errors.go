package llmwire

import (
	"encoding/json"
	"net/http"
)

// The error bodies and events below are what aigate itself says to a client
// in its provider's words: SDKs parse only their own vendor's error shape, and
// read the type (and OpenAI's code) to decide whether to retry. ParseError
// reads all of them back.

// AnthropicErrorType is the error type Anthropic's API sends with status, so
// that an error aigate makes reads like one of Anthropic's.
func AnthropicErrorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusServiceUnavailable, 529: // 529 is Anthropic's own "overloaded"
		return "overloaded_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	}
	return "api_error"
}

// OpenAIErrorType is the error type and code OpenAI's API sends with status;
// code is "" where OpenAI sends null.
func OpenAIErrorType(status int) (typ, code string) {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "invalid_request_error", ""
	case http.StatusUnauthorized:
		return "invalid_request_error", "invalid_api_key"
	case http.StatusForbidden:
		return "invalid_request_error", "permission_denied"
	case http.StatusNotFound:
		return "invalid_request_error", "not_found"
	case http.StatusTooManyRequests:
		return "rate_limit_error", "rate_limit_exceeded"
	case http.StatusServiceUnavailable:
		return "server_error", "provider_unavailable"
	}
	return "server_error", ""
}

type anthropicError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
	RequestID string `json:"request_id,omitempty"`
}

// AnthropicError is Anthropic's error body, also the data of its "error"
// stream event: {"type":"error","error":{"type":typ,"message":message},
// "request_id":requestID}, without request_id when requestID is "".
func AnthropicError(typ, message, requestID string) []byte {
	var e anthropicError
	e.Type = "error"
	e.Error.Type = typ
	e.Error.Message = message
	e.RequestID = requestID
	b, _ := json.Marshal(e) // strings always marshal
	return b
}

type openAIError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// OpenAIError is OpenAI's error body, also what a chat completions stream
// sends as a data line when it fails:
// {"error":{"message":message,"type":typ,"param":null,"code":code}}, with a
// null code when code is "".
func OpenAIError(typ, code, message string) []byte {
	var e openAIError
	e.Error.Message = message
	e.Error.Type = typ
	if code != "" {
		e.Error.Code = &code
	}
	b, _ := json.Marshal(e) // strings always marshal
	return b
}

// AppendEvent appends an SSE event named name with data on one data line, as
// Anthropic and the responses API frame their events (named by their JSON
// "type"). A Bedrock stream, once decoded, is written to the client this way.
func AppendEvent(dst []byte, name string, data []byte) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	dst = append(dst, "\ndata: "...)
	dst = append(dst, data...)
	return append(dst, "\n\n"...)
}

// StreamErrorEvent is the SSE event, blank line included, that tells a client
// of format f that its stream failed; nil for any other f. Ending the stream
// without one would look like success to the SDKs, which do not insist on a
// final event. Chat completions has no named error event; its clients treat a
// data line with a top-level "error" object as one.
func StreamErrorEvent(f Format, message string) []byte {
	switch f {
	case OpenAIChat:
		b := OpenAIError("server_error", "", message)
		return append(append([]byte("data: "), b...), "\n\n"...)
	case AnthropicMessages:
		return AppendEvent(nil, "error", AnthropicError("api_error", message, ""))
	case OpenAIResponses:
		b, _ := json.Marshal(struct {
			Type    string `json:"type"`
			Code    string `json:"code"`
			Message string `json:"message"`
		}{"error", "upstream_error", message})
		return AppendEvent(nil, "error", b)
	}
	return nil
}
