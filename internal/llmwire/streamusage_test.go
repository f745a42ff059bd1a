package llmwire_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmwire"
)

func TestAskStreamUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, want string // want "" means unchanged
	}{
		{"absent", `{"model":"gpt-4o","stream":true}`, `{"stream_options":{"include_usage":true},"model":"gpt-4o","stream":true}`},
		{"absent, spaced", ` { "model" : "m", "stream" : true } `, ` {"stream_options":{"include_usage":true}, "model" : "m", "stream" : true } `},
		{"null", `{"model":"m","stream":true,"stream_options":null}`, `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`},
		{"empty object", `{"model":"m","stream":true,"stream_options":{ }}`, `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`},
		{"other option kept", `{"model":"m","stream":true,"stream_options":{"include_obfuscation":false}}`,
			`{"model":"m","stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false}}`},
		{"false", `{"model":"m","stream":true,"stream_options":{"include_usage":false,"include_obfuscation":false}}`,
			`{"model":"m","stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false}}`},
		{"include_usage null", `{"model":"m","stream":true,"stream_options":{"include_usage": null}}`, `{"model":"m","stream":true,"stream_options":{"include_usage": true}}`},
		{"client asked", `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, ""},
		{"stream_options twice", `{"model":"m","stream":true,"stream_options":null,"stream_options":{}}`, ""},
		{"include_usage twice", `{"model":"m","stream":true,"stream_options":{"include_usage":false,"include_usage":false}}`, ""},
		{"not an object", `{"model":"m","stream":true,"stream_options":"yes"}`, ""},
		{"include_usage not a boolean", `{"model":"m","stream":true,"stream_options":{"include_usage":1}}`, ""},
		{"nested stream_options is not the member", `{"model":"m","stream":true,"metadata":{"stream_options":null}}`,
			`{"stream_options":{"include_usage":true},"model":"m","stream":true,"metadata":{"stream_options":null}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := []byte(tc.body)
			got, changed := llmwire.AskStreamUsage(in)
			require.Equal(t, tc.body, string(in), "the client's body is not modified")
			if tc.want == "" {
				require.False(t, changed)
				require.Equal(t, tc.body, string(got))
				return
			}
			require.True(t, changed)
			require.Equal(t, tc.want, string(got))
			require.True(t, json.Valid(got))
		})
	}
}

func TestIsUsageOnlyChunk(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, data string
		want       bool
	}{
		{"usage chunk", `{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}`, true},
		{"usage chunk, spaced", `{"choices": [ ], "usage": {"prompt_tokens":1}}`, true},
		{"text delta with usage null", `{"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}`, false},
		{"usage in a chunk with choices (vLLM continuous usage)", `{"choices":[{"index":0,"delta":{"content":"x"}}],"usage":{"prompt_tokens":1}}`, false},
		{"Azure's prompt filter chunk", `{"choices":[],"prompt_filter_results":[{"prompt_index":0}]}`, false},
		{"empty choices, usage null", `{"choices":[],"usage":null}`, false},
		{"text mentioning usage", `{"choices":[{"delta":{"content":"\"usage\":{\"choices\":[]}"}}]}`, false},
		{"truncated", `{"choices":[],"usage":{"prompt_tokens":1}`, false},
		{"done", `[DONE]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, llmwire.IsUsageOnlyChunk([]byte(tc.data)))
		})
	}
}

// Whatever a client sends, the edited body is valid JSON that says the same
// as the client's, but for stream_options.include_usage, now true.
func FuzzAskStreamUsage(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt-4o","stream":true}`,
		`{"model":"m","stream":true,"stream_options":null}`,
		`{"model":"m","stream":true,"stream_options":{"include_usage":false,"x":[1,{"y":2}]}}`,
		`{"model":"m","stream":true,"stream_options":{}}`,
		` {"model":"m" , "stream":true , "stream_options" : { "include_usage" : null } } `,
		`{"model":"m","stream":true,"stream_options":{"include_usage":true}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := llmwire.ParseRequest(llmwire.OpenAIChat, body)
		if err != nil || !req.Stream || !json.Valid(body) {
			return
		}
		orig := string(body)
		got, changed := llmwire.AskStreamUsage(body)
		require.Equal(t, orig, string(body), "the client's body is not modified")
		if !changed {
			require.Equal(t, orig, string(got))
			return
		}
		require.True(t, json.Valid(got), "edited body is not JSON: %s", got)
		var before, after map[string]any
		require.NoError(t, json.Unmarshal(body, &before))
		require.NoError(t, json.Unmarshal(got, &after))
		opts, ok := after["stream_options"].(map[string]any)
		require.True(t, ok, "stream_options is an object: %s", got)
		require.Equal(t, true, opts["include_usage"], "%s", got)
		// Everything else is as the client sent it.
		if prev, ok := before["stream_options"].(map[string]any); ok {
			delete(prev, "include_usage")
			delete(opts, "include_usage")
			require.Equal(t, prev, opts)
		} else {
			require.Nil(t, before["stream_options"])
		}
		delete(before, "stream_options")
		delete(after, "stream_options")
		require.Equal(t, before, after)
	})
}
