package gateway

import (
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

// writeError writes a gateway-made error (not an upstream one, which is
// passed through as it came) in the provider's shape.
func writeError(w http.ResponseWriter, r *http.Request, sh shape, status int, message string) {
	var body []byte
	switch sh {
	case shapeAnthropic:
		body = llmwire.AnthropicError(llmwire.AnthropicErrorType(status), message, httpserver.RequestID(r.Context()))
	default:
		typ, code := llmwire.OpenAIErrorType(status)
		body = llmwire.OpenAIError(typ, code, message)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
