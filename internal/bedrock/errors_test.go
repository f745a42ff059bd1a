package bedrock_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/bedrock"
)

func TestErrorEvent(t *testing.T) {
	t.Parallel()
	_, _, truncated := bedrock.NewStreamDecoder(bytes.NewReader(chunkFrame(toolUseMessage[0])[:20])).Next()
	require.Error(t, truncated)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{
			name: "throttling",
			err:  &bedrock.ExceptionError{Type: "throttlingException", Message: "Too many requests"},
			want: `{"type":"error","error":{"type":"rate_limit_error","message":"Too many requests"}}`,
		},
		{
			name: "service unavailable",
			err:  &bedrock.ExceptionError{Type: "serviceUnavailableException", Message: "Bedrock is unable to process your request."},
			want: `{"type":"error","error":{"type":"overloaded_error","message":"Bedrock is unable to process your request."}}`,
		},
		{
			name: "model not ready",
			err:  &bedrock.ExceptionError{Type: "modelNotReadyException", Message: "Model is not ready"},
			want: `{"type":"error","error":{"type":"overloaded_error","message":"Model is not ready"}}`,
		},
		{
			name: "validation",
			err:  &bedrock.ExceptionError{Type: "validationException", Message: "Input is too long for requested model."},
			want: `{"type":"error","error":{"type":"invalid_request_error","message":"Input is too long for requested model."}}`,
		},
		{
			name: "model stream error keeps its name",
			err:  &bedrock.ExceptionError{Type: "modelStreamErrorException", Message: "Model stream failed"},
			want: `{"type":"error","error":{"type":"api_error","message":"modelStreamErrorException: Model stream failed"}}`,
		},
		{
			name: "wrapped exception without message",
			err:  fmt.Errorf("gateway: %w", &bedrock.ExceptionError{Type: "internalServerException"}),
			want: `{"type":"error","error":{"type":"api_error","message":"internalServerException: Bedrock reported an error while streaming the response"}}`,
		},
		{
			name: "truncated stream",
			err:  truncated,
			want: `{"type":"error","error":{"type":"api_error","message":"bedrock: truncated event stream: the stream ended inside a frame (20 of ` +
				fmt.Sprint(len(chunkFrame(toolUseMessage[0]))) + ` bytes)"}}`,
		},
		{
			name: "anything else stays in the log",
			err:  errors.New("read tcp 10.0.3.7:51234->52.94.0.1:443: connection reset by peer"),
			want: `{"type":"error","error":{"type":"api_error","message":"reading the response stream from Bedrock failed"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.JSONEq(t, tt.want, string(bedrock.ErrorEvent(tt.err)))
		})
	}
}

func TestTranslateError(t *testing.T) {
	t.Parallel()
	const coral = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   string
	}{
		{
			name:   "throttling",
			status: http.StatusTooManyRequests,
			header: http.Header{"X-Amzn-Errortype": {"ThrottlingException" + coral}},
			body:   `{"message":"Too many tokens, please wait before trying again."}`,
			want:   `{"type":"error","error":{"type":"rate_limit_error","message":"Too many tokens, please wait before trying again."}}`,
		},
		{
			name:   "validation",
			status: http.StatusBadRequest,
			header: http.Header{"X-Amzn-Errortype": {"ValidationException" + coral}},
			body:   `{"message":"messages: at least one message is required"}`,
			want:   `{"type":"error","error":{"type":"invalid_request_error","message":"messages: at least one message is required"}}`,
		},
		{
			name:   "service unavailable",
			status: http.StatusServiceUnavailable,
			header: http.Header{"X-Amzn-Errortype": {"ServiceUnavailableException" + coral}},
			body:   `{"Message":"Service unavailable"}`,
			want:   `{"type":"error","error":{"type":"overloaded_error","message":"Service unavailable"}}`,
		},
		{
			name:   "model not ready",
			status: http.StatusTooManyRequests,
			header: http.Header{"X-Amzn-Errortype": {"ModelNotReadyException"}},
			body:   `{"message":"Model is not ready to serve inference requests."}`,
			want:   `{"type":"error","error":{"type":"overloaded_error","message":"Model is not ready to serve inference requests."}}`,
		},
		{
			name:   "access denied maps by status and keeps its name",
			status: http.StatusForbidden,
			header: http.Header{"X-Amzn-Errortype": {"AccessDeniedException" + coral}},
			body:   `{"message":"You don't have access to the model with the specified model ID."}`,
			want: `{"type":"error","error":{"type":"permission_error",` +
				`"message":"AccessDeniedException: You don't have access to the model with the specified model ID."}}`,
		},
		{
			name:   "not found",
			status: http.StatusNotFound,
			header: http.Header{"X-Amzn-Errortype": {"ResourceNotFoundException" + coral}},
			body:   `{"message":"Model not found."}`,
			want:   `{"type":"error","error":{"type":"not_found_error","message":"ResourceNotFoundException: Model not found."}}`,
		},
		{
			name:   "unknown access key",
			status: http.StatusUnauthorized,
			header: http.Header{"X-Amzn-Errortype": {"UnrecognizedClientException" + coral}},
			body:   `{"message":"The security token included in the request is invalid."}`,
			want: `{"type":"error","error":{"type":"authentication_error",` +
				`"message":"UnrecognizedClientException: The security token included in the request is invalid."}}`,
		},
		{
			name:   "too large, from a proxy",
			status: http.StatusRequestEntityTooLarge,
			body:   `{"message":"Request body too large"}`,
			want:   `{"type":"error","error":{"type":"request_too_large","message":"Request body too large"}}`,
		},
		{
			name:   "internal server error",
			status: http.StatusInternalServerError,
			header: http.Header{"X-Amzn-Errortype": {"InternalServerException" + coral}},
			body:   `{"message":"Internal server error"}`,
			want:   `{"type":"error","error":{"type":"api_error","message":"InternalServerException: Internal server error"}}`,
		},
		{
			name:   "type only in the body",
			status: http.StatusBadRequest,
			header: http.Header{},
			body:   `{"__type":"com.amazon.coral.validate#ValidationException","message":"bad"}`,
			want:   `{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}`,
		},
		{
			name:   "not JSON, no type",
			status: http.StatusBadGateway,
			header: http.Header{"Content-Type": {"text/html"}},
			body:   `<html>502 Bad Gateway</html>`,
			want:   `{"type":"error","error":{"type":"api_error","message":"Bedrock returned HTTP 502 Bad Gateway"}}`,
		},
		{
			name:   "empty body, throttled",
			status: http.StatusTooManyRequests,
			header: nil,
			body:   ``,
			want:   `{"type":"error","error":{"type":"rate_limit_error","message":"Bedrock returned HTTP 429 Too Many Requests"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.JSONEq(t, tt.want, string(bedrock.TranslateError(tt.status, tt.header, []byte(tt.body))))
		})
	}
}

func TestExceptionErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  bedrock.ExceptionError
		want string
	}{
		{err: bedrock.ExceptionError{Type: "throttlingException", Message: "slow down"}, want: "bedrock: throttlingException: slow down"},
		{err: bedrock.ExceptionError{Type: "internalServerException"}, want: "bedrock: internalServerException"},
		{err: bedrock.ExceptionError{}, want: "bedrock: exception"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.err.Error())
		})
	}
}
