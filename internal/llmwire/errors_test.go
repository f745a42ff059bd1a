package llmwire_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmwire"
)

// The bytes are pinned exactly, not as JSON: clients have seen these bodies
// since the gateway first wrote them, HTML escaping included.
const tricky = `say "<&>" é`

func TestErrorTypes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status                  int
		anthropic, openAI, code string
	}{
		{400, "invalid_request_error", "invalid_request_error", ""},
		{401, "authentication_error", "invalid_request_error", "invalid_api_key"},
		{403, "permission_error", "invalid_request_error", "permission_denied"},
		{404, "not_found_error", "invalid_request_error", "not_found"},
		{413, "request_too_large", "invalid_request_error", ""},
		{429, "rate_limit_error", "rate_limit_error", "rate_limit_exceeded"},
		{500, "api_error", "server_error", ""},
		{502, "api_error", "server_error", ""},
		{503, "overloaded_error", "server_error", "provider_unavailable"},
		{529, "overloaded_error", "server_error", ""},
		{504, "timeout_error", "server_error", ""},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.anthropic, llmwire.AnthropicErrorType(tc.status))
			typ, code := llmwire.OpenAIErrorType(tc.status)
			require.Equal(t, tc.openAI, typ)
			require.Equal(t, tc.code, code)
		})
	}
}

func TestErrorBodies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		got       []byte
		want      string
		parsedMsg string
	}{
		{
			name: "anthropic with request id",
			got:  llmwire.AnthropicError("not_found_error", tricky, "req-1"),
			want: `{"type":"error","error":{"type":"not_found_error","message":"say \"\u003c\u0026\u003e\" é"},"request_id":"req-1"}`,
		},
		{
			name: "anthropic without request id",
			got:  llmwire.AnthropicError("api_error", tricky, ""),
			want: `{"type":"error","error":{"type":"api_error","message":"say \"\u003c\u0026\u003e\" é"}}`,
		},
		{
			name: "openai with a code",
			got:  llmwire.OpenAIError("invalid_request_error", "invalid_api_key", tricky),
			want: `{"error":{"message":"say \"\u003c\u0026\u003e\" é","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
		},
		{
			name: "openai with a null code",
			got:  llmwire.OpenAIError("server_error", "", tricky),
			want: `{"error":{"message":"say \"\u003c\u0026\u003e\" é","type":"server_error","param":null,"code":null}}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, string(tc.got))
		})
	}
}

func TestStreamErrorEvent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format    llmwire.Format
		want      string
		name      string // the SSE event name a parser sees
		wantError string // what the format's parser records from it
	}{
		{
			format:    llmwire.OpenAIChat,
			want:      "data: {\"error\":{\"message\":\"say \\\"\\u003c\\u0026\\u003e\\\" é\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n",
			wantError: "server_error: " + tricky,
		},
		{
			format:    llmwire.AnthropicMessages,
			want:      "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"say \\\"\\u003c\\u0026\\u003e\\\" é\"}}\n\n",
			name:      "error",
			wantError: "api_error: " + tricky,
		},
		{
			format:    llmwire.OpenAIResponses,
			want:      "event: error\ndata: {\"type\":\"error\",\"code\":\"upstream_error\",\"message\":\"say \\\"\\u003c\\u0026\\u003e\\\" é\"}\n\n",
			name:      "error",
			wantError: "upstream_error: " + tricky,
		},
	} {
		t.Run(tc.format.String(), func(t *testing.T) {
			t.Parallel()
			got := llmwire.StreamErrorEvent(tc.format, tricky)
			require.Equal(t, tc.want, string(got))
			// The client's SDK and aigate's own parser read the event as the
			// stream's end, with the message.
			events := sse(string(got))
			require.Len(t, events, 1)
			require.Equal(t, tc.name, events[0].name)
			p := llmwire.NewStreamParser(tc.format)
			p.Event([]byte(events[0].name), []byte(events[0].data))
			require.True(t, p.Result().Ended())
			require.Equal(t, tc.wantError, p.Result().Error)
		})
	}
	require.Nil(t, llmwire.StreamErrorEvent(0, tricky), "a pass-through stream has no format to speak")
}

func TestAppendEvent(t *testing.T) {
	t.Parallel()
	got := llmwire.AppendEvent([]byte("kept"), "message_stop", []byte(`{"type":"message_stop"}`))
	require.Equal(t, "keptevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", string(got))
}
