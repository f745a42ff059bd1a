package llmmock_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmmock"
)

func messageParams(tools bool) anthropic.MessageNewParams {
	p := anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 1024,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("weather in Paris?"))},
	}
	if tools {
		p.Tools = []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
			Name:        llmmock.ToolName,
			InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}},
		}}}
	}
	return p
}

func requireAnthropicUsage(t *testing.T, u anthropic.Usage) {
	t.Helper()
	f := llmmock.FixedUsage
	assert.Equal(t, f.Input, u.InputTokens)
	assert.Equal(t, f.Output, u.OutputTokens)
	assert.Equal(t, f.CacheRead, u.CacheReadInputTokens)
	assert.Equal(t, f.CacheWrite, u.CacheCreationInputTokens)
}

// requireAnthropicContent checks a message's text block (when text is not
// empty) followed by calls tool_use blocks.
func requireAnthropicContent(t *testing.T, content []anthropic.ContentBlockUnion, text string, calls int) {
	t.Helper()
	if text != "" {
		require.NotEmpty(t, content)
		assert.Equal(t, "text", content[0].Type)
		assert.Equal(t, text, content[0].Text)
		content = content[1:]
	}
	require.Len(t, content, calls)
	for k, b := range content {
		assert.Equal(t, "tool_use", b.Type)
		assert.Equal(t, fmt.Sprintf("toolu_%d", k), b.ID)
		assert.Equal(t, llmmock.ToolName, b.Name)
		assert.JSONEq(t, llmmock.ToolArguments, string(b.Input))
	}
}

func TestAnthropicMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      llmmock.Options
		tools     bool
		wantText  string
		wantCalls int
	}{
		{name: "text", wantText: llmmock.Text(0)},
		{name: "tools", opts: llmmock.Options{ToolCalls: 2}, tools: true, wantText: llmmock.Text(0), wantCalls: 2},
		{name: "tools only", opts: llmmock.Options{Events: -1}, tools: true, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := llmmock.New(t, tt.opts)
			c := anthropicClient(t, s, "sk-ant-test")
			msg, err := c.Messages.New(t.Context(), messageParams(tt.tools))
			require.NoError(t, err)

			assert.Equal(t, llmmock.MessageID, msg.ID)
			assert.Equal(t, "assistant", string(msg.Role))
			assert.Equal(t, "claude-sonnet-4-5", msg.Model)
			requireAnthropicContent(t, msg.Content, tt.wantText, tt.wantCalls)
			wantStop := anthropic.StopReasonEndTurn
			if tt.wantCalls > 0 {
				wantStop = anthropic.StopReasonToolUse
			}
			assert.Equal(t, wantStop, msg.StopReason)
			requireAnthropicUsage(t, msg.Usage)

			reqs := s.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, "/v1/messages", reqs[0].Path)
			assert.Equal(t, "sk-ant-test", reqs[0].Header.Get("X-Api-Key"))
			assert.NotEmpty(t, reqs[0].Header.Get("Anthropic-Version"))
		})
	}
}

func TestAnthropicMessagesStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      llmmock.Options
		tools     bool
		wantTypes []string
		wantText  string
		wantCalls int
	}{
		{
			name: "text and tools", opts: llmmock.Options{Events: 2, ToolCalls: 2}, tools: true,
			wantTypes: []string{
				"message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
				"content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
				"content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
				"message_delta", "message_stop",
			},
			wantText: "chunk 0 chunk 1 ", wantCalls: 2,
		},
		{
			name: "text", opts: llmmock.Options{Events: 3},
			wantTypes: []string{
				"message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta",
				"content_block_stop", "message_delta", "message_stop",
			},
			wantText: llmmock.Text(3),
		},
		{
			name: "tools only", opts: llmmock.Options{Events: -1}, tools: true,
			wantTypes: []string{
				"message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
				"message_delta", "message_stop",
			},
			wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := llmmock.New(t, tt.opts)
			c := anthropicClient(t, s, "sk-ant-test")
			stream := c.Messages.NewStreaming(t.Context(), messageParams(tt.tools))
			var msg anthropic.Message
			var types []string
			for stream.Next() {
				e := stream.Current()
				types = append(types, e.Type)
				require.NoError(t, msg.Accumulate(e))
				if e.Type == "message_start" {
					assert.Equal(t, int64(1), e.Message.Usage.OutputTokens)
					assert.Equal(t, llmmock.FixedUsage.CacheRead, e.Message.Usage.CacheReadInputTokens)
				}
			}
			require.NoError(t, stream.Err())
			require.NoError(t, stream.Close())

			assert.Equal(t, tt.wantTypes, types, "ping is skipped by the SDK")
			assert.Equal(t, llmmock.MessageID, msg.ID)
			requireAnthropicContent(t, msg.Content, tt.wantText, tt.wantCalls)
			wantStop := anthropic.StopReasonEndTurn
			if tt.wantCalls > 0 {
				wantStop = anthropic.StopReasonToolUse
			}
			assert.Equal(t, wantStop, msg.StopReason)
			requireAnthropicUsage(t, msg.Usage)
		})
	}
}

// TestAnthropicStreamWire checks the bytes: every event named after its
// "type", and the ping the SDK hides.
func TestAnthropicStreamWire(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{Events: 1})
	res, body, err := rawRequest(t, http.MethodPost, s.URL+"v1/messages?beta=true",
		`{"model":"m","max_tokens":5,"stream":true,"tools":[{"name":"get_weather","input_schema":{"type":"object"}}]}`,
		map[string]string{"x-api-key": "k", "anthropic-version": "2023-06-01"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "req_mock_1", res.Header.Get("request-id"))
	var names []string
	for _, e := range parseSSE(t, body) {
		var v struct {
			Type string `json:"type"`
		}
		require.NoError(t, json.Unmarshal([]byte(e.data), &v))
		assert.Equal(t, e.name, v.Type)
		names = append(names, e.name)
	}
	assert.Equal(t, []string{
		"message_start", "content_block_start", "ping", "content_block_delta", "content_block_stop",
		"content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
		"message_delta", "message_stop",
	}, names)
	assert.Equal(t, "beta=true", s.Requests()[0].RawQuery)
}

func TestAnthropicBetaMessages(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{})
	c := anthropicClient(t, s, "sk-ant-test")
	msg, err := c.Beta.Messages.New(t.Context(), anthropic.BetaMessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 1024,
		Messages:  []anthropic.BetaMessageParam{anthropic.NewBetaUserMessage(anthropic.NewBetaTextBlock("hi"))},
		Betas:     []anthropic.AnthropicBeta{"interleaved-thinking-2025-05-14"},
	})
	require.NoError(t, err)
	require.Len(t, msg.Content, 1)
	assert.Equal(t, llmmock.Text(0), msg.Content[0].Text)
	assert.Equal(t, llmmock.FixedUsage.CacheWrite, msg.Usage.CacheCreationInputTokens)

	reqs := s.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/v1/messages", reqs[0].Path)
	assert.Equal(t, "beta=true", reqs[0].RawQuery)
	assert.Equal(t, "interleaved-thinking-2025-05-14", reqs[0].Header.Get("Anthropic-Beta"))
}

func TestAnthropicPassThroughEndpoints(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{})
	c := anthropicClient(t, s, "sk-ant-test")

	count, err := c.Messages.CountTokens(t.Context(), anthropic.MessageCountTokensParams{
		Model:    "claude-sonnet-4-5",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	require.NoError(t, err)
	assert.Equal(t, llmmock.FixedUsage.Input, count.InputTokens)

	models, err := c.Models.List(t.Context(), anthropic.ModelListParams{})
	require.NoError(t, err)
	require.NotEmpty(t, models.Data)
	assert.Equal(t, "model", string(models.Data[0].Type))
	assert.False(t, models.HasMore)

	model, err := c.Models.Get(t.Context(), "claude-haiku-4-5", anthropic.ModelGetParams{})
	require.NoError(t, err)
	assert.Equal(t, "claude-haiku-4-5", model.ID)

	var paths []string
	for _, r := range s.Requests() {
		paths = append(paths, r.Method+" "+r.Path)
	}
	assert.Equal(t, []string{"POST /v1/messages/count_tokens", "GET /v1/models", "GET /v1/models/claude-haiku-4-5"}, paths)
}
