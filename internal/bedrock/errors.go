package bedrock

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aigate/aigate/internal/llmwire"
)

// ExceptionError is an exception Bedrock sent inside a response stream, such
// as throttlingException or modelStreamErrorException.
type ExceptionError struct {
	Type    string // as Bedrock names it, e.g. "throttlingException"
	Message string // Bedrock's message, meant for the caller
}

func (e *ExceptionError) Error() string {
	t := e.Type
	if t == "" {
		t = "exception"
	}
	if e.Message == "" {
		return "bedrock: " + t
	}
	return "bedrock: " + t + ": " + e.Message
}

// exceptionFromPayload builds the error for an exception frame, whose
// payload is {"message": "..."} (modelStreamErrorException adds the model's
// original status and message, which the message already summarises).
func exceptionFromPayload(exceptionType string, payload []byte) error {
	var body struct {
		Message string `json:"message"` // encoding/json also matches "Message"
	}
	// A payload that is not JSON still means the stream failed, and the type
	// says how; an empty message is better than hiding the exception.
	_ = json.Unmarshal(payload, &body)
	return &ExceptionError{Type: exceptionType, Message: body.Message}
}

// anthropicType maps the Bedrock error types with an Anthropic counterpart.
// Bedrock spells stream exceptions in lower camel case (throttlingException)
// and HTTP errors in upper (ThrottlingException), hence the folding.
func anthropicType(bedrockType string) (string, bool) {
	switch strings.ToLower(bedrockType) {
	case "throttlingexception":
		return "rate_limit_error", true
	case "serviceunavailableexception", "modelnotreadyexception":
		return "overloaded_error", true
	case "validationexception":
		return "invalid_request_error", true
	}
	return "api_error", false
}

// withType prefixes message with the Bedrock error type when the Anthropic
// type loses it ("api_error" says little; "AccessDeniedException" says what
// to fix).
func withType(bedrockType, message string, mapped bool) string {
	if mapped || bedrockType == "" {
		return message
	}
	return bedrockType + ": " + message
}

// ErrorEvent renders err, as returned by StreamDecoder.Next, as the data of
// an Anthropic SSE `error` event: {"type":"error","error":{...}}.
// throttlingException becomes rate_limit_error, serviceUnavailableException
// and modelNotReadyException overloaded_error, validationException
// invalid_request_error, anything else api_error. Errors that are not
// Bedrock's or the decoder's get a generic message: their text (network
// addresses, internal causes) is for the log, not the client.
func ErrorEvent(err error) []byte {
	var ex *ExceptionError
	switch {
	case errors.As(err, &ex):
		t, mapped := anthropicType(ex.Type)
		msg := ex.Message
		if msg == "" {
			msg = "Bedrock reported an error while streaming the response"
		}
		return llmwire.AnthropicError(t, withType(ex.Type, msg, mapped), "")
	case errors.Is(err, ErrCorruptStream), errors.Is(err, ErrTruncatedStream):
		return llmwire.AnthropicError("api_error", err.Error(), "")
	default:
		return llmwire.AnthropicError("api_error", "reading the response stream from Bedrock failed", "")
	}
}

// TranslateError converts a non-2xx Bedrock response into an Anthropic error
// body, for the gateway to send with the same status code. Bedrock puts the
// error type in the x-amzn-ErrorType header ("ValidationException:http://…")
// and the message in a JSON body ({"message": "..."}). Types map as in
// ErrorEvent; a type without an Anthropic counterpart (AccessDeniedException,
// ResourceNotFoundException, ...) maps by status code instead, the way
// Anthropic pairs them, and keeps its name in the message.
func TranslateError(status int, header http.Header, body []byte) []byte {
	var parsed struct {
		Message string `json:"message"` // encoding/json also matches "Message"
		Type    string `json:"__type"`  // JSON-protocol errors name the type here too
	}
	// A body that is not JSON (a proxy's HTML page) still gets a useful
	// error from the status code.
	_ = json.Unmarshal(body, &parsed)
	bedrockType := header.Get("X-Amzn-Errortype")
	if bedrockType == "" {
		bedrockType = parsed.Type
	}
	bedrockType = cleanErrorType(bedrockType)
	msg := parsed.Message
	if msg == "" {
		msg = fmt.Sprintf("Bedrock returned HTTP %d %s", status, http.StatusText(status))
	}
	t, mapped := anthropicType(bedrockType)
	if !mapped {
		// A 403 AccessDeniedException is a permission problem, not a
		// server fault, and clients that read the type should see that.
		t = llmwire.AnthropicErrorType(status)
	}
	return llmwire.AnthropicError(t, withType(bedrockType, msg, mapped), "")
}

// cleanErrorType reduces "ValidationException:http://internal.amazon.com/…"
// and "com.amazonaws.bedrock#ValidationException" to "ValidationException".
func cleanErrorType(t string) string {
	if i := strings.IndexByte(t, ':'); i >= 0 {
		t = t[:i]
	}
	if i := strings.LastIndexByte(t, '#'); i >= 0 {
		t = t[i+1:]
	}
	return strings.TrimSpace(t)
}
