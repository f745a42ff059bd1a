package llmwire_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmwire"
)

func TestFilterModels(t *testing.T) {
	t.Parallel()
	sonnet := func(id string) bool { return strings.HasPrefix(id, "claude-sonnet") }
	// Anthropic's documented list shape.
	got, ok := llmwire.FilterModels([]byte(`{"data":[{"type":"model","id":"claude-opus-4-1","display_name":"Claude Opus 4.1","created_at":"2025-08-05T00:00:00Z"},
		{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"}],
		"has_more":false,"first_id":"claude-opus-4-1","last_id":"claude-sonnet-4-5"}`), sonnet)
	require.True(t, ok)
	require.JSONEq(t, `{"data":[{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"}],
		"has_more":false,"first_id":"claude-sonnet-4-5","last_id":"claude-sonnet-4-5"}`, string(got))
	// OpenAI's.
	got, ok = llmwire.FilterModels([]byte(`{"object":"list","data":[{"id":"gpt-4o","object":"model","created":1,"owned_by":"openai"}]}`), sonnet)
	require.True(t, ok)
	require.JSONEq(t, `{"object":"list","data":[]}`, string(got))
	for _, bad := range []string{`not json`, `{"data":"x"}`, `{"data":[1]}`, `[]`} {
		out, ok := llmwire.FilterModels([]byte(bad), sonnet)
		require.False(t, ok, bad)
		require.Equal(t, bad, string(out))
	}
}
