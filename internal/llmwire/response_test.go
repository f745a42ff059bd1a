package llmwire_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmwire"
)

func TestParseResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		format llmwire.Format
		body   string
		want   llmwire.Result
	}{
		{
			name:   "chat with tool calls, cache and reasoning",
			format: llmwire.OpenAIChat,
			body: `{
  "id": "chatcmpl-C4tR0kq",
  "object": "chat.completion",
  "created": 1754550100,
  "model": "o4-mini-2025-04-16",
  "choices": [
    {
      "index": 0,
      "message": {
        "role": "assistant",
        "content": null,
        "tool_calls": [
          {"id": "call_9sYk", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
          {"id": "call_3dPq", "type": "function", "function": {"name": "get_time", "arguments": "{\"tz\":\"CET\"}"}}
        ],
        "refusal": null,
        "annotations": []
      },
      "logprobs": null,
      "finish_reason": "tool_calls"
    }
  ],
  "usage": {
    "prompt_tokens": 4096,
    "completion_tokens": 700,
    "total_tokens": 4796,
    "prompt_tokens_details": {"cached_tokens": 3968, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 640, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
  },
  "service_tier": "default",
  "system_fingerprint": null
}`,
			want: llmwire.Result{
				Model:     "o4-mini-2025-04-16",
				Usage:     llmwire.Usage{Input: 4096, Output: 700, CacheRead: 3968, Reasoning: 640},
				ToolCalls: []llmwire.ToolCall{{"call_9sYk", "get_weather"}, {"call_3dPq", "get_time"}},
				Completed: true,
			},
		},
		{
			name:   "chat text",
			format: llmwire.OpenAIChat,
			body:   `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`,
			want:   llmwire.Result{Model: "gpt-4o-mini-2024-07-18", Usage: llmwire.Usage{Input: 9, Output: 3}, Completed: true},
		},
		{
			name:   "responses with reasoning and function calls",
			format: llmwire.OpenAIResponses,
			body: `{"id":"resp_67cc","object":"response","created_at":1741294021,"status":"completed","error":null,"incomplete_details":null,` +
				`"instructions":null,"model":"gpt-5-mini-2025-08-07","output":[` +
				`{"id":"rs_1","type":"reasoning","summary":[]},` +
				`{"type":"function_call","id":"fc_1","call_id":"call_Uv12","name":"get_weather","arguments":"{\"location\":\"Boston, MA\"}","status":"completed"},` +
				`{"type":"function_call","id":"fc_2","call_id":"call_Wx34","name":"send_email","arguments":"{}","status":"completed"},` +
				`{"type":"function_call_output","id":"fco_1","call_id":"call_Uv12","output":"sunny"}],` +
				`"parallel_tool_calls":true,"tools":[],"usage":{"input_tokens":291,"input_tokens_details":{"cached_tokens":128},` +
				`"output_tokens":23,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":314},"user":null,"metadata":{}}`,
			want: llmwire.Result{
				Model:     "gpt-5-mini-2025-08-07",
				Usage:     llmwire.Usage{Input: 291, Output: 23, CacheRead: 128},
				ToolCalls: []llmwire.ToolCall{{"call_Uv12", "get_weather"}, {"call_Wx34", "send_email"}},
				Completed: true,
			},
		},
		{
			name:   "responses failed",
			format: llmwire.OpenAIResponses,
			body:   `{"id":"resp_2","object":"response","status":"failed","error":{"code":"server_error","message":"The model failed to generate a response."},"model":"gpt-5","output":[],"usage":null}`,
			want:   llmwire.Result{Model: "gpt-5", Error: "server_error: The model failed to generate a response."},
		},
		{
			name:   "responses queued in the background",
			format: llmwire.OpenAIResponses,
			body:   `{"id":"resp_3","object":"response","status":"queued","background":true,"error":null,"model":"o3-deep-research","output":[],"usage":null}`,
			want:   llmwire.Result{Model: "o3-deep-research"},
		},
		{
			name:   "messages with tool_use and cache tokens",
			format: llmwire.AnthropicMessages,
			body: `{"id":"msg_01Aq9w938a90dw8q","type":"message","role":"assistant","model":"claude-opus-4-1-20250805",` +
				`"content":[{"type":"thinking","thinking":"The user wants the weather.","signature":"EqQB"},` +
				`{"type":"text","text":"I'll check."},` +
				`{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"location":"San Francisco, CA"}},` +
				`{"type":"mcp_tool_use","id":"mcptoolu_014Q35RayjACSWkSj4X2yov1","name":"echo","server_name":"example","input":{"message":"hi"}}],` +
				`"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":21,"cache_creation_input_tokens":188086,"cache_read_input_tokens":0,"output_tokens":393,"service_tier":"standard"}}`,
			want: llmwire.Result{
				Model:     "claude-opus-4-1-20250805",
				Usage:     llmwire.Usage{Input: 21, Output: 393, CacheWrite: 188086},
				ToolCalls: []llmwire.ToolCall{{"toolu_01A09q90qw90lq917835lq9", "get_weather"}, {"mcptoolu_014Q35RayjACSWkSj4X2yov1", "echo"}},
				Completed: true,
			},
		},
		{
			name:   "an error body",
			format: llmwire.AnthropicMessages,
			body:   `{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`,
			want:   llmwire.Result{Error: "api_error: Internal server error"},
		},
		{
			name:   "not JSON",
			format: llmwire.OpenAIChat,
			body:   `{"id":"chatcmpl-1","model":"gpt-4o","choices":[{"message":{"tool_calls":[{"id":"call_1","function":{"name":"f"}}]}}]`,
			want:   llmwire.Result{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, llmwire.ParseResponse(tc.format, []byte(tc.body)))
		})
	}
}
