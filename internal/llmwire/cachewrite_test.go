package llmwire_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmwire"
)

// TestAnthropicCacheWriteSplit: the cache writes' 5-minute/1-hour split, in
// the usage shapes Anthropic documents (prompt caching, "1-hour cache
// duration": usage.cache_creation with ephemeral_5m_input_tokens and
// ephemeral_1h_input_tokens beside cache_creation_input_tokens, their total).
func TestAnthropicCacheWriteSplit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		want       llmwire.Usage
	}{
		{"split", `{"type":"message","model":"claude-sonnet-4-5","content":[],"stop_reason":"end_turn","usage":{
			"input_tokens":2048,"cache_read_input_tokens":1800,"cache_creation_input_tokens":248,
			"cache_creation":{"ephemeral_5m_input_tokens":48,"ephemeral_1h_input_tokens":200},"output_tokens":503}}`,
			llmwire.Usage{Input: 2048, CacheRead: 1800, CacheWrite: 248, CacheWrite1h: 200, Output: 503}},
		{"total only: all 5-minute writes", `{"type":"message","content":[],"stop_reason":"end_turn","usage":{
			"input_tokens":10,"cache_creation_input_tokens":300,"output_tokens":5}}`,
			llmwire.Usage{Input: 10, CacheWrite: 300, Output: 5}},
		{"split without the total", `{"type":"message","content":[],"stop_reason":"end_turn","usage":{
			"input_tokens":10,"cache_creation":{"ephemeral_5m_input_tokens":7,"ephemeral_1h_input_tokens":3},"output_tokens":5}}`,
			llmwire.Usage{Input: 10, CacheWrite: 10, CacheWrite1h: 3, Output: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, llmwire.ParseResponse(llmwire.AnthropicMessages, []byte(tc.body)).Usage)
		})
	}
}

// TestAnthropicStreamLateUsage: the closing message_delta's cumulative
// usage wins where it is newer, input and cache counts included, and keeps
// message_start's 5m/1h split when it sends the total alone.
func TestAnthropicStreamLateUsage(t *testing.T) {
	t.Parallel()
	const start = `event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":1000,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":1000},"output_tokens":1}}}

`
	for _, tc := range []struct {
		name, delta string
		want        llmwire.Usage
	}{
		{"output only (older API versions)",
			`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":321}}`,
			llmwire.Usage{Input: 12, CacheWrite: 1000, CacheWrite1h: 1000, Output: 321}},
		{"cumulative counts, total without split",
			`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":12,"cache_creation_input_tokens":1000,"cache_read_input_tokens":0,"output_tokens":321}}`,
			llmwire.Usage{Input: 12, CacheWrite: 1000, CacheWrite1h: 1000, Output: 321}},
		{"newer counts with their split",
			`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":15,"cache_creation_input_tokens":1200,"cache_read_input_tokens":64,"cache_creation":{"ephemeral_5m_input_tokens":200,"ephemeral_1h_input_tokens":1000},"output_tokens":321}}`,
			llmwire.Usage{Input: 15, CacheRead: 64, CacheWrite: 1200, CacheWrite1h: 1000, Output: 321}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := llmwire.NewStreamParser(llmwire.AnthropicMessages)
			for _, e := range sse(start + "event: message_delta\ndata: " + tc.delta + "\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n") {
				p.Event([]byte(e.name), []byte(e.data))
			}
			require.Equal(t, tc.want, p.Result().Usage)
		})
	}
}
