package llmwire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmwire"
)

func TestFormatString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format         llmwire.Format
		want           string
		inputHasCached bool
	}{
		{llmwire.OpenAIChat, "chat_completions", true},
		{llmwire.OpenAIResponses, "responses", true},
		{llmwire.AnthropicMessages, "messages", false},
		{llmwire.Format(0), "Format(0)", false},
		{llmwire.Format(9), "Format(9)", false},
	} {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.format.String())
			require.Equal(t, tc.inputHasCached, tc.format.InputIncludesCacheRead())
		})
	}
}

func TestParseRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		format llmwire.Format
		body   string
		want   llmwire.Request
		field  string // of the *RequestError; "" with errMsg means the body
		errMsg string // prefix of the error message; "" for success
	}{
		{
			name:   "chat streaming",
			format: llmwire.OpenAIChat,
			body:   `{"model":"gpt-4.1","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}`,
			want:   llmwire.Request{Model: "gpt-4.1", Stream: true},
		},
		{
			name:   "responses without stream",
			format: llmwire.OpenAIResponses,
			body:   `{"model":"gpt-5","input":"Tell me a joke","tools":[{"type":"web_search"}]}`,
			want:   llmwire.Request{Model: "gpt-5"},
		},
		{
			name:   "messages pretty-printed, model after a large prompt",
			format: llmwire.AnthropicMessages,
			body: "{\n  \"max_tokens\": 1024,\n  \"messages\": [{\"role\": \"user\", \"content\": \"" +
				strings.Repeat(`say \"model\": 1 `, 200) + "\"}],\n  \"stream\" : false,\n  \"model\" : \"claude-sonnet-4-5\"\n}\n",
			want: llmwire.Request{Model: "claude-sonnet-4-5", MaxTokens: 1024},
		},
		{
			name:   "stream null",
			format: llmwire.OpenAIChat,
			body:   `{"model":"gpt-4o","stream":null}`,
			want:   llmwire.Request{Model: "gpt-4o"},
		},
		{
			name:   "escaped model",
			format: llmwire.AnthropicMessages,
			body:   `{"model":"us.anthropic.claude-3-7-sonnet-20250219-v1:0\u00e9\/x","stream":true}`,
			want:   llmwire.Request{Model: "us.anthropic.claude-3-7-sonnet-20250219-v1:0é/x", Stream: true},
		},
		{
			name:   "duplicate model: the last wins, as upstream",
			format: llmwire.OpenAIChat,
			body:   `{"model":"gpt-4o","model":"gpt-4o-mini"}`,
			want:   llmwire.Request{Model: "gpt-4o-mini"},
		},
		{
			name:   "model in a nested object only",
			format: llmwire.OpenAIChat,
			body:   `{"metadata":{"model":"gpt-4o"},"stream":true}`,
			field:  "model", errMsg: `request body has no "model"`,
		},
		{name: "not JSON", format: llmwire.OpenAIChat, body: `model=gpt-4o`, errMsg: "request body is not valid JSON: invalid character 'm'"},
		{name: "truncated", format: llmwire.OpenAIChat, body: `{"model":"gpt-4o","messages":[`, errMsg: "request body is not valid JSON: unexpected end of JSON input"},
		{name: "empty body", format: llmwire.AnthropicMessages, body: ``, errMsg: "request body is not valid JSON: unexpected end of JSON input"},
		{name: "trailing garbage", format: llmwire.OpenAIChat, body: `{"model":"gpt-4o"} x`, errMsg: "request body is not valid JSON: invalid character 'x' after top-level value"},
		{name: "bad literal", format: llmwire.OpenAIChat, body: `{"model":"gpt-4o","stream":tru}`, errMsg: "request body is not valid JSON: invalid character '}'"},
		{name: "bad escape", format: llmwire.OpenAIChat, body: `{"model":"gpt\q"}`, errMsg: "request body is not valid JSON: invalid character 'q' in string escape code"},
		{name: "bad number", format: llmwire.OpenAIChat, body: `{"model":"gpt-4o","temperature":01}`, errMsg: "request body is not valid JSON: invalid character '1' after object key:value pair"},
		{name: "an array", format: llmwire.OpenAIChat, body: `[{"model":"gpt-4o"}]`, errMsg: "request body is not a JSON object"},
		{name: "missing model", format: llmwire.OpenAIResponses, body: `{"input":"hi"}`, field: "model", errMsg: `request body has no "model"`},
		{name: "empty model", format: llmwire.AnthropicMessages, body: `{"model":"","max_tokens":10}`, field: "model", errMsg: `request body has no "model"`},
		{name: "null model", format: llmwire.OpenAIChat, body: `{"model":null}`, field: "model", errMsg: `request body has no "model"`},
		{name: "numeric model", format: llmwire.OpenAIChat, body: `{"model":4}`, field: "model", errMsg: `request body's "model" is not a string`},
		{name: "object model", format: llmwire.OpenAIChat, body: `{"model":{"id":"gpt-4o"}}`, field: "model", errMsg: `request body's "model" is not a string`},
		{name: "model with NUL", format: llmwire.OpenAIChat, body: `{"model":"gpt\u0000"}`, field: "model", errMsg: `request body's "model" is not valid UTF-8 text`},
		{name: "model with invalid UTF-8", format: llmwire.OpenAIChat, body: "{\"model\":\"gpt\xff\"}", field: "model", errMsg: `request body's "model" is not valid UTF-8 text`},
		{name: "model too long", format: llmwire.OpenAIChat, body: `{"model":"` + strings.Repeat("m", 1025) + `"}`, field: "model", errMsg: `request body's "model" is longer than 1024 bytes`},
		{name: "string stream", format: llmwire.OpenAIChat, body: `{"model":"gpt-4o","stream":"true"}`, field: "stream", errMsg: `request body's "stream" is not a boolean`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := llmwire.ParseRequest(tc.format, []byte(tc.body))
			if tc.errMsg == "" {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
				return
			}
			var reqErr *llmwire.RequestError
			require.True(t, errors.As(err, &reqErr), "want a *RequestError, got %v", err)
			require.True(t, strings.HasPrefix(err.Error(), tc.errMsg), "got %q, want prefix %q", err.Error(), tc.errMsg)
			require.Equal(t, tc.field, reqErr.Field)
			require.Zero(t, got)
		})
	}
}

// FuzzParseRequest checks ParseRequest against encoding/json: valid JSON is
// never called invalid, what it accepts encoding/json accepts too (raw control
// characters in strings aside, the walker's one leniency), and the model is the
// one encoding/json decodes.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt-4o","stream":true}`,
		`{"model":"a\u00e9\ud83d\ude00","stream":false,"x":[1,2.5e-3,-0,{"y":null}]}`,
		`{"model":"\ud800"}`,
		`{"model":1}`,
		`[]`,
		`{"model":"x"`,
		` {"Model":"x","model":"y"} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := llmwire.ParseRequest(llmwire.OpenAIChat, body)
		valid := json.Valid(body)
		if valid && err != nil {
			require.False(t, strings.HasPrefix(err.Error(), "request body is not valid JSON"), "valid JSON refused: %v", err)
		}
		if err != nil {
			return
		}
		if !valid {
			require.True(t, hasControl(body), "accepted invalid JSON")
			return
		}
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(body, &m))
		var model string
		require.NoError(t, json.Unmarshal(m["model"], &model))
		require.Equal(t, model, req.Model)
		require.Equal(t, string(bytes.TrimSpace(m["stream"])) == "true", req.Stream)
	})
}

func hasControl(b []byte) bool {
	return bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 })
}

func TestParseError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, want string
	}{
		{
			name: "openai",
			body: `{"error":{"message":"Incorrect API key provided: sk-proj-****abcd. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			want: "invalid_request_error: Incorrect API key provided: sk-proj-****abcd. You can find your API key at https://platform.openai.com/account/api-keys.",
		},
		{
			name: "openai pretty-printed, code without type",
			body: "{\n    \"error\": {\n        \"message\": \"Rate limit reached for gpt-4o\",\n        \"type\": null,\n        \"param\": null,\n        \"code\": \"rate_limit_exceeded\"\n    }\n}\n",
			want: "rate_limit_exceeded: Rate limit reached for gpt-4o",
		},
		{
			name: "anthropic",
			body: `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}`,
			want: "overloaded_error: Overloaded",
		},
		{
			name: "anthropic with escapes",
			body: `{"type": "error", "error": {"type": "invalid_request_error", "message": "messages.0.content: \"text\" must not be empty \u2014 see docs"}}`,
			want: `invalid_request_error: messages.0.content: "text" must not be empty — see docs`,
		},
		{
			name: "responses stream error event",
			body: `{"type":"error","code":"server_error","message":"The server had an error processing your request.","param":null,"sequence_number":4}`,
			want: "server_error: The server had an error processing your request.",
		},
		{name: "string error", body: `{"error":"model \"llama3\" not found, try pulling it first"}`, want: `model "llama3" not found, try pulling it first`},
		{name: "numeric code", body: `{"error":{"code":429,"message":"Resource has been exhausted"}}`, want: "429: Resource has been exhausted"},
		{name: "aws", body: `{"message":"The security token included in the request is invalid."}`, want: "The security token included in the request is invalid."},
		{name: "chat completion is not an error", body: `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[]}`, want: ""},
		{name: "message is not an error", body: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[]}`, want: ""},
		{name: "null error", body: `{"id":"resp_1","object":"response","error":null}`, want: ""},
		{name: "html", body: `<html><body><h1>502 Bad Gateway</h1></body></html>`, want: ""},
		{name: "truncated", body: `{"error":{"message":"Overloaded","type":"overloaded_error"`, want: ""},
		{name: "empty", body: ``, want: ""},
		{name: "long message capped", body: `{"error":{"type":"x","message":"` + strings.Repeat("é", 2000) + `"}}`, want: "x: " + strings.Repeat("é", 512)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, llmwire.ParseError([]byte(tc.body)))
		})
	}
}

func TestParseRequestMaxTokens(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		f    llmwire.Format
		body string
		want int64
	}{
		{"anthropic", llmwire.AnthropicMessages, `{"model":"m","max_tokens":1024}`, 1024},
		{"chat legacy", llmwire.OpenAIChat, `{"model":"m","max_tokens":50}`, 50},
		{"chat newer wins", llmwire.OpenAIChat, `{"model":"m","max_tokens":50,"max_completion_tokens":70}`, 70},
		{"responses", llmwire.OpenAIResponses, `{"model":"m","max_output_tokens":300}`, 300},
		{"none", llmwire.OpenAIChat, `{"model":"m"}`, 0},
		{"not an integer", llmwire.OpenAIChat, `{"model":"m","max_tokens":1.5}`, 0},
		{"negative", llmwire.OpenAIChat, `{"model":"m","max_tokens":-5}`, 0},
		{"string", llmwire.OpenAIChat, `{"model":"m","max_tokens":"5"}`, 0},
		{"huge", llmwire.OpenAIChat, `{"model":"m","max_tokens":1000000000000000000000}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := llmwire.ParseRequest(tc.f, []byte(tc.body))
			require.NoError(t, err)
			require.Equal(t, tc.want, req.MaxTokens)
		})
	}
}
