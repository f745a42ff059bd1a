package llmmock_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmmock"
)

var weatherSchema = map[string]any{
	"type":       "object",
	"properties": map[string]any{"city": map[string]any{"type": "string"}},
	"required":   []string{"city"},
}

func chatParams(tools bool) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather in Paris?")},
	}
	if tools {
		p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:       llmmock.ToolName,
			Parameters: weatherSchema,
		})}
	}
	return p
}

func responsesParams(tools bool) responses.ResponseNewParams {
	p := responses.ResponseNewParams{
		Model: "gpt-4o-mini",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("weather in Paris?")},
	}
	if tools {
		p.Tools = []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{
			Name:       llmmock.ToolName,
			Parameters: weatherSchema,
			Strict:     openai.Bool(true),
		}}}
	}
	return p
}

func requireChatUsage(t *testing.T, u openai.CompletionUsage) {
	t.Helper()
	f := llmmock.FixedUsage
	assert.Equal(t, f.Input, u.PromptTokens)
	assert.Equal(t, f.Output, u.CompletionTokens)
	assert.Equal(t, f.Input+f.Output, u.TotalTokens)
	assert.Equal(t, f.CacheRead, u.PromptTokensDetails.CachedTokens)
	assert.Equal(t, f.Reasoning, u.CompletionTokensDetails.ReasoningTokens)
}

func requireResponsesUsage(t *testing.T, u responses.ResponseUsage) {
	t.Helper()
	f := llmmock.FixedUsage
	assert.Equal(t, f.Input, u.InputTokens)
	assert.Equal(t, f.Output, u.OutputTokens)
	assert.Equal(t, f.Input+f.Output, u.TotalTokens)
	assert.Equal(t, f.CacheRead, u.InputTokensDetails.CachedTokens)
	assert.Equal(t, f.Reasoning, u.OutputTokensDetails.ReasoningTokens)
}

func TestOpenAIChatCompletion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      llmmock.Options
		tools     bool
		wantText  string
		wantCalls int
	}{
		{name: "text", wantText: llmmock.Text(0)},
		{name: "tools", tools: true, wantText: llmmock.Text(0), wantCalls: 1},
		{name: "three events two calls", opts: llmmock.Options{Events: 3, ToolCalls: 2}, tools: true, wantText: "chunk 0 chunk 1 chunk 2 ", wantCalls: 2},
		{name: "tools only", opts: llmmock.Options{Events: -1}, tools: true, wantCalls: 1},
		{name: "tools offered, none called", opts: llmmock.Options{ToolCalls: -1}, tools: true, wantText: llmmock.Text(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := llmmock.New(t, tt.opts)
			c := openAIClient(t, s, "sk-test")
			res, err := c.Chat.Completions.New(t.Context(), chatParams(tt.tools))
			require.NoError(t, err)

			assert.Equal(t, llmmock.ChatCompletionID, res.ID)
			assert.Equal(t, "gpt-4o-mini", res.Model)
			require.Len(t, res.Choices, 1)
			msg := res.Choices[0].Message
			assert.Equal(t, tt.wantText, msg.Content)
			require.Len(t, msg.ToolCalls, tt.wantCalls)
			for k, call := range msg.ToolCalls {
				assert.Equal(t, fmt.Sprintf("call_%d", k), call.ID)
				assert.Equal(t, "function", call.Type)
				assert.Equal(t, llmmock.ToolName, call.Function.Name)
				assert.JSONEq(t, llmmock.ToolArguments, call.Function.Arguments)
			}
			wantFinish := "stop"
			if tt.wantCalls > 0 {
				wantFinish = "tool_calls"
			}
			assert.Equal(t, wantFinish, res.Choices[0].FinishReason)
			requireChatUsage(t, res.Usage)

			reqs := s.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodPost, reqs[0].Method)
			assert.Equal(t, "/v1/chat/completions", reqs[0].Path)
			assert.Equal(t, "Bearer sk-test", reqs[0].Header.Get("Authorization"))
			assert.Contains(t, string(reqs[0].Body), `"model":"gpt-4o-mini"`)
			assert.True(t, reqs[0].Completed)
			assert.False(t, reqs[0].Cancelled)
		})
	}
}

func TestOpenAIChatCompletionStream(t *testing.T) {
	t.Parallel()
	for _, includeUsage := range []bool{true, false} {
		t.Run(fmt.Sprintf("include_usage=%v", includeUsage), func(t *testing.T) {
			t.Parallel()
			s := llmmock.New(t, llmmock.Options{Events: 4, ToolCalls: 2})
			c := openAIClient(t, s, "sk-test")
			params := chatParams(true)
			if includeUsage {
				params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			}
			stream := c.Chat.Completions.NewStreaming(t.Context(), params)
			var acc openai.ChatCompletionAccumulator
			var finishedCalls []openai.FinishedChatCompletionToolCall
			var text strings.Builder
			chunks, usageChunks := 0, 0
			for stream.Next() {
				chunk := stream.Current()
				require.True(t, acc.AddChunk(chunk), "chunk %d accumulates", chunks)
				chunks++
				assert.Equal(t, llmmock.ChatCompletionID, chunk.ID)
				assert.Equal(t, "chat.completion.chunk", string(chunk.Object))
				if len(chunk.Choices) == 0 {
					usageChunks++
					requireChatUsage(t, chunk.Usage)
					continue
				}
				text.WriteString(chunk.Choices[0].Delta.Content)
				if tc, ok := acc.JustFinishedToolCall(); ok {
					finishedCalls = append(finishedCalls, tc)
				}
			}
			require.NoError(t, stream.Err())
			require.NoError(t, stream.Close())

			// role + 4 text + 2×(start + 2 fragments) + finish (+ usage).
			wantChunks := 1 + 4 + 2*3 + 1
			wantUsageChunks := 0
			if includeUsage {
				wantChunks++
				wantUsageChunks = 1
			}
			assert.Equal(t, wantChunks, chunks)
			assert.Equal(t, wantUsageChunks, usageChunks)
			assert.Equal(t, "chunk 0 chunk 1 chunk 2 chunk 3 ", text.String())

			require.Len(t, acc.Choices, 1)
			got := acc.Choices[0]
			assert.Equal(t, "chunk 0 chunk 1 chunk 2 chunk 3 ", got.Message.Content)
			assert.Equal(t, "tool_calls", got.FinishReason)
			require.Len(t, got.Message.ToolCalls, 2)
			for k, call := range got.Message.ToolCalls {
				assert.Equal(t, fmt.Sprintf("call_%d", k), call.ID)
				assert.Equal(t, llmmock.ToolName, call.Function.Name)
				assert.Equal(t, llmmock.ToolArguments, call.Function.Arguments)
			}
			require.NotEmpty(t, finishedCalls, "the accumulator saw a tool call finish")
			assert.Equal(t, llmmock.ToolName, finishedCalls[0].Name)
			assert.Equal(t, llmmock.ToolArguments, finishedCalls[0].Arguments)
			if includeUsage {
				requireChatUsage(t, acc.Usage)
			} else {
				assert.Zero(t, acc.Usage.TotalTokens)
			}
		})
	}
}

// TestOpenAIChatStreamWire checks the bytes: data-only events, the tool call
// delta shapes, and the [DONE] sentinel.
func TestOpenAIChatStreamWire(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{Events: 2})
	res, body, err := rawRequest(t, http.MethodPost, s.URL+"v1/chat/completions",
		`{"model":"m","stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function","function":{"name":"get_weather"}}]}`,
		map[string]string{"Authorization": "Bearer k"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.True(t, strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream"))
	assert.Equal(t, []string{"chunked"}, res.TransferEncoding)

	events := parseSSE(t, body)
	require.Len(t, events, 1+2+3+1+1+1)
	for _, e := range events {
		assert.Empty(t, e.name, "chat completion events have no name")
	}
	assert.Equal(t, "[DONE]", events[len(events)-1].data)

	type toolDelta struct {
		Index    *int    `json:"index"`
		ID       *string `json:"id"`
		Type     *string `json:"type"`
		Function struct {
			Name      *string `json:"name"`
			Arguments *string `json:"arguments"`
		} `json:"function"`
	}
	type chunk struct {
		Choices []struct {
			Delta struct {
				Role      *string     `json:"role"`
				Content   *string     `json:"content"`
				ToolCalls []toolDelta `json:"tool_calls"`
			} `json:"delta"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage json.RawMessage `json:"usage"`
	}
	decode := func(i int) chunk {
		var c chunk
		require.NoError(t, json.Unmarshal([]byte(events[i].data), &c), "event %d", i)
		return c
	}
	first := decode(0)
	require.NotNil(t, first.Choices[0].Delta.Role)
	assert.Equal(t, "assistant", *first.Choices[0].Delta.Role)
	assert.JSONEq(t, "null", string(first.Usage), "usage is null until the last chunk")

	start := decode(3).Choices[0].Delta.ToolCalls
	require.Len(t, start, 1)
	require.NotNil(t, start[0].ID)
	assert.Equal(t, "call_0", *start[0].ID)
	assert.Equal(t, "function", *start[0].Type)
	assert.Equal(t, llmmock.ToolName, *start[0].Function.Name)
	var args strings.Builder
	for i := 4; i <= 5; i++ {
		frag := decode(i).Choices[0].Delta.ToolCalls
		require.Len(t, frag, 1)
		assert.Equal(t, 0, *frag[0].Index)
		assert.Nil(t, frag[0].ID, "only the first delta of a call has an id")
		assert.Nil(t, frag[0].Function.Name)
		args.WriteString(*frag[0].Function.Arguments)
	}
	assert.Equal(t, llmmock.ToolArguments, args.String())

	finish := decode(6)
	require.NotNil(t, finish.Choices[0].FinishReason)
	assert.Equal(t, "tool_calls", *finish.Choices[0].FinishReason)
	usage := decode(7)
	assert.Empty(t, usage.Choices)
	assert.Contains(t, string(usage.Usage), `"prompt_tokens":21`)
}

func TestOpenAIResponses(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{ToolCalls: 2})
	c := openAIClient(t, s, "sk-test")
	res, err := c.Responses.New(t.Context(), responsesParams(true))
	require.NoError(t, err)

	assert.Equal(t, llmmock.ResponseID, res.ID)
	assert.Equal(t, "completed", string(res.Status))
	assert.Equal(t, "gpt-4o-mini", res.Model)
	assert.Equal(t, llmmock.Text(0), res.OutputText())
	require.Len(t, res.Output, 3)
	assert.Equal(t, "message", res.Output[0].Type)
	for k := range 2 {
		call := res.Output[1+k].AsFunctionCall()
		assert.Equal(t, "function_call", string(call.Type))
		assert.Equal(t, fmt.Sprintf("fc_%d", k), call.ID)
		assert.Equal(t, fmt.Sprintf("call_%d", k), call.CallID)
		assert.Equal(t, llmmock.ToolName, call.Name)
		assert.Equal(t, llmmock.ToolArguments, call.Arguments)
	}
	requireResponsesUsage(t, res.Usage)
	require.Len(t, s.Requests(), 1)
	assert.Equal(t, "/v1/responses", s.Requests()[0].Path)
}

func TestOpenAIResponsesStream(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{Events: 3})
	c := openAIClient(t, s, "sk-test")
	stream := c.Responses.NewStreaming(t.Context(), responsesParams(true))

	var types []string
	var text, args strings.Builder
	var completed responses.Response
	for stream.Next() {
		e := stream.Current()
		assert.Equal(t, int64(len(types)), e.SequenceNumber, "sequence numbers count from 0")
		types = append(types, e.Type)
		switch e.Type {
		case "response.output_text.delta":
			assert.Equal(t, llmmock.MessageID, e.ItemID)
			text.WriteString(e.AsResponseOutputTextDelta().Delta)
		case "response.output_text.done":
			assert.Equal(t, llmmock.Text(3), e.AsResponseOutputTextDone().Text)
		case "response.function_call_arguments.delta":
			assert.Equal(t, "fc_0", e.ItemID)
			assert.Equal(t, int64(1), e.OutputIndex)
			args.WriteString(e.AsResponseFunctionCallArgumentsDelta().Delta)
		case "response.function_call_arguments.done":
			assert.Equal(t, llmmock.ToolArguments, e.AsResponseFunctionCallArgumentsDone().Arguments)
		case "response.output_item.added":
			if e.OutputIndex == 1 {
				item := e.AsResponseOutputItemAdded().Item
				assert.Equal(t, "function_call", item.Type)
				assert.Equal(t, "call_0", item.CallID)
				assert.Equal(t, llmmock.ToolName, item.Name)
			}
		case "response.completed":
			completed = e.AsResponseCompleted().Response
		}
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())

	want := []string{
		"response.created", "response.in_progress",
		"response.output_item.added", "response.content_part.added",
		"response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
		"response.output_text.done", "response.content_part.done", "response.output_item.done",
		"response.output_item.added",
		"response.function_call_arguments.delta", "response.function_call_arguments.delta",
		"response.function_call_arguments.done", "response.output_item.done",
		"response.completed",
	}
	assert.Equal(t, want, types)
	assert.Equal(t, llmmock.Text(3), text.String())
	assert.Equal(t, llmmock.ToolArguments, args.String())
	assert.Equal(t, "completed", string(completed.Status))
	assert.Equal(t, llmmock.Text(3), completed.OutputText())
	requireResponsesUsage(t, completed.Usage)
	require.Len(t, completed.Output, 2)
	assert.Equal(t, "call_0", completed.Output[1].CallID)
}

// TestOpenAIResponsesStreamWire checks that every event is named after its
// "type".
func TestOpenAIResponsesStreamWire(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{Events: 1})
	res, body, err := rawRequest(t, http.MethodPost, s.URL+"v1/responses", `{"model":"m","stream":true}`,
		map[string]string{"Authorization": "Bearer k"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	events := parseSSE(t, body)
	require.Len(t, events, 9)
	for i, e := range events {
		var v struct {
			Type string `json:"type"`
			Seq  *int   `json:"sequence_number"`
		}
		require.NoError(t, json.Unmarshal([]byte(e.data), &v))
		assert.Equal(t, e.name, v.Type)
		require.NotNil(t, v.Seq)
		assert.Equal(t, i, *v.Seq)
	}
	assert.Equal(t, "response.completed", events[8].name)
}

func TestOpenAIPassThroughEndpoints(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{})
	c := openAIClient(t, s, "sk-test")

	models, err := c.Models.List(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, models.Data)
	assert.Equal(t, "model", string(models.Data[0].Object))

	model, err := c.Models.Get(t.Context(), "gpt-4o")
	require.NoError(t, err)
	assert.Equal(t, "gpt-4o", model.ID)

	for _, format := range []openai.EmbeddingNewParamsEncodingFormat{openai.EmbeddingNewParamsEncodingFormatFloat, openai.EmbeddingNewParamsEncodingFormatBase64} {
		emb, err := c.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
			Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
			Model:          openai.EmbeddingModelTextEmbedding3Small,
			EncodingFormat: format,
		})
		require.NoError(t, err, format)
		require.Len(t, emb.Data, 2, format)
		require.Len(t, emb.Data[1].Embedding, 8, format)
		assert.InDelta(t, 0.009, emb.Data[1].Embedding[0], 1e-6, format)
		assert.Equal(t, llmmock.FixedUsage.Input, emb.Usage.PromptTokens)
	}

	got, err := c.Responses.Get(t.Context(), "resp_123", responses.ResponseGetParams{})
	require.NoError(t, err)
	assert.Equal(t, "resp_123", got.ID)
	require.NoError(t, c.Responses.Delete(t.Context(), "resp_123"))

	var paths []string
	for _, r := range s.Requests() {
		paths = append(paths, r.Method+" "+r.Path)
	}
	assert.Equal(t, []string{
		"GET /v1/models", "GET /v1/models/gpt-4o",
		"POST /v1/embeddings", "POST /v1/embeddings",
		"GET /v1/responses/resp_123", "DELETE /v1/responses/resp_123",
	}, paths)
}
