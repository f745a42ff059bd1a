package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/llmwire"
)

// shape is which provider's JSON error format a response uses: clients and
// SDKs only understand their own provider's.
type shape uint8

const (
	shapeOpenAI shape = iota
	shapeAnthropic
)

// guessShape picks the error shape for a request whose provider is unknown
// (or not yet looked up): Anthropic clients send anthropic-version or
// x-api-key, everything else is treated as OpenAI.
func guessShape(r *http.Request) shape {
	if r.Header.Get("Anthropic-Version") != "" || r.Header.Get("X-Api-Key") != "" {
		return shapeAnthropic
	}
	return shapeOpenAI
}

type openAIError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

type anthropicError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
	RequestID string `json:"request_id,omitempty"`
}

// writeError writes a gateway-made error (not an upstream one, which is
// passed through as it came) in the provider's shape.
func writeError(w http.ResponseWriter, r *http.Request, sh shape, status int, message string) {
	var body []byte
	switch sh {
	case shapeAnthropic:
		var e anthropicError
		e.Type = "error"
		e.Error.Type = anthropicErrorType(status)
		e.Error.Message = message
		e.RequestID = httpserver.RequestID(r.Context())
		body, _ = json.Marshal(e)
	default:
		var e openAIError
		e.Error.Message = message
		e.Error.Type, e.Error.Code = openAIErrorType(status)
		body, _ = json.Marshal(e)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func anthropicErrorType(status int) string {
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
	case http.StatusServiceUnavailable:
		return "overloaded_error"
	}
	return "api_error"
}

func openAIErrorType(status int) (typ string, code *string) {
	c := func(s string) *string { return &s }
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "invalid_request_error", nil
	case http.StatusUnauthorized:
		return "invalid_request_error", c("invalid_api_key")
	case http.StatusForbidden:
		return "invalid_request_error", c("permission_denied")
	case http.StatusNotFound:
		return "invalid_request_error", c("not_found")
	case http.StatusTooManyRequests:
		return "rate_limit_error", c("rate_limit_exceeded")
	case http.StatusServiceUnavailable:
		return "server_error", c("provider_unavailable")
	}
	return "server_error", nil
}

// streamErrorEvent is the SSE event that tells a client its stream failed.
// Ending the stream without one would look like success to the SDKs, which
// do not insist on a final event. Chat completions has no named error event;
// its clients treat a data line with a top-level "error" object as one.
func streamErrorEvent(f endpoint, message string) []byte {
	switch f.format {
	case llmwire.OpenAIChat:
		var e openAIError
		e.Error.Message = message
		e.Error.Type = "server_error"
		b, _ := json.Marshal(e)
		return append(append([]byte("data: "), b...), "\n\n"...)
	case llmwire.AnthropicMessages:
		var e anthropicError
		e.Type = "error"
		e.Error.Type = "api_error"
		e.Error.Message = message
		b, _ := json.Marshal(e)
		return append(append([]byte("event: error\ndata: "), b...), "\n\n"...)
	case llmwire.OpenAIResponses:
		b, _ := json.Marshal(struct {
			Type    string `json:"type"`
			Code    string `json:"code"`
			Message string `json:"message"`
		}{"error", "upstream_error", message})
		return append(append([]byte("event: error\ndata: "), b...), "\n\n"...)
	}
	return nil
}
