package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmmock"
)

// expectedText is what the mock streams: "chunk 0 chunk 1 ... ".
func expectedText(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("chunk ")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(" ")
	}
	return b.String()
}

func httpClient(t testing.TB) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func (e *env) openAI(t *testing.T, provider string) openai.Client {
	return openai.NewClient(option.WithBaseURL(e.url+"/ai/"+provider+"/v1"), option.WithAPIKey(e.token),
		option.WithHTTPClient(httpClient(t)), option.WithMaxRetries(0))
}

func (e *env) anthropic(t *testing.T, provider string) anthropic.Client {
	return anthropic.NewClient(anthropicoption.WithBaseURL(e.url+"/ai/"+provider), anthropicoption.WithAPIKey(e.token),
		anthropicoption.WithHTTPClient(httpClient(t)), anthropicoption.WithMaxRetries(0))
}

var weatherTool = shared.FunctionDefinitionParam{
	Name:       "get_weather",
	Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
}

// Acceptance 1: each API, streaming and not, with tool calls, through the
// official SDKs: the content comes back unchanged and one interception row
// records the user, provider, model, tokens and tool calls. The providers'
// base URLs are written as users write them (OPENAI_BASE_URL style
// "http://HOST/v1", ANTHROPIC_BASE_URL style "http://HOST/"), and the mock
// serves each API only at its real path.
func TestSDKs(t *testing.T) {
	t.Parallel()
	const events = 6
	u := llmmock.FixedUsage
	for _, tc := range []struct {
		name       string
		endpoint   string
		streaming  bool
		run        func(t *testing.T, e *env) (text, toolName, toolArgs string)
		cacheWrite int64
		reasoning  int64
	}{
		{"chat completions", "chat_completions", false, func(t *testing.T, e *env) (string, string, string) {
			c := e.openAI(t, "openai-main")
			resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather?")},
				Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(weatherTool)},
			})
			require.NoError(t, err)
			tc := resp.Choices[0].Message.ToolCalls[0]
			return resp.Choices[0].Message.Content, tc.Function.Name, tc.Function.Arguments
		}, 0, u.Reasoning},
		{"chat completions streaming", "chat_completions", true, func(t *testing.T, e *env) (string, string, string) {
			c := e.openAI(t, "openai-main")
			s := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
				Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather?")},
				Tools:         []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(weatherTool)},
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			})
			var acc openai.ChatCompletionAccumulator
			for s.Next() {
				acc.AddChunk(s.Current())
			}
			require.NoError(t, s.Err())
			require.EqualValues(t, u.Input, acc.Usage.PromptTokens)
			tc := acc.Choices[0].Message.ToolCalls[0]
			return acc.Choices[0].Message.Content, tc.Function.Name, tc.Function.Arguments
		}, 0, u.Reasoning},
		// Most clients never ask for usage: they get none, as from OpenAI
		// directly, and the interception still has the counts.
		{"chat completions streaming without include_usage", "chat_completions", true, func(t *testing.T, e *env) (string, string, string) {
			c := e.openAI(t, "openai-main")
			s := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
				Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather?")},
				Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(weatherTool)},
			})
			var acc openai.ChatCompletionAccumulator
			for s.Next() {
				require.NotEmpty(t, s.Current().Choices, "no usage-only chunk reaches the client")
				acc.AddChunk(s.Current())
			}
			require.NoError(t, s.Err())
			require.Zero(t, acc.Usage.PromptTokens)
			tc := acc.Choices[0].Message.ToolCalls[0]
			return acc.Choices[0].Message.Content, tc.Function.Name, tc.Function.Arguments
		}, 0, u.Reasoning},
		{"responses", "responses", false, func(t *testing.T, e *env) (string, string, string) {
			c := e.openAI(t, "openai-main")
			resp, err := c.Responses.New(context.Background(), responses.ResponseNewParams{
				Model: "gpt-4o", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("weather?")},
				Tools: []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather", weatherTool.Parameters, false)},
			})
			require.NoError(t, err)
			var name, args string
			for _, item := range resp.Output {
				if item.Type == "function_call" {
					name, args = item.Name, item.Arguments.OfString
				}
			}
			return resp.OutputText(), name, args
		}, 0, u.Reasoning},
		{"responses streaming", "responses", true, func(t *testing.T, e *env) (string, string, string) {
			c := e.openAI(t, "openai-main")
			s := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
				Model: "gpt-4o", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("weather?")},
				Tools: []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather", weatherTool.Parameters, false)},
			})
			var text strings.Builder
			var name, args string
			for s.Next() {
				ev := s.Current()
				switch ev.Type {
				case "response.output_text.delta":
					text.WriteString(ev.Delta)
				case "response.output_item.done":
					if ev.Item.Type == "function_call" {
						name, args = ev.Item.Name, ev.Item.Arguments.OfString
					}
				}
			}
			require.NoError(t, s.Err())
			return text.String(), name, args
		}, 0, u.Reasoning},
		{"messages", "messages", false, func(t *testing.T, e *env) (string, string, string) {
			c := e.anthropic(t, "anthropic-main")
			msg, err := c.Messages.New(context.Background(), anthropicParams())
			require.NoError(t, err)
			return anthropicResult(msg)
		}, u.CacheWrite, 0},
		{"messages streaming", "messages", true, func(t *testing.T, e *env) (string, string, string) {
			c := e.anthropic(t, "anthropic-main")
			s := c.Messages.NewStreaming(context.Background(), anthropicParams())
			var msg anthropic.Message
			for s.Next() {
				require.NoError(t, msg.Accumulate(s.Current()))
			}
			require.NoError(t, s.Err())
			require.EqualValues(t, u.CacheRead, msg.Usage.CacheReadInputTokens)
			return anthropicResult(&msg)
		}, u.CacheWrite, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, options{})
			mock := llmmock.New(t, llmmock.Options{Events: events, Keys: []string{openAIKey, anthropicKey}})
			e.addProvider("openai-main", "openai", mock.OpenAIBaseURL(), openAIKey)
			e.addProvider("anthropic-main", "anthropic", mock.AnthropicBaseURL(), anthropicKey)

			text, toolName, toolArgs := tc.run(t, e)
			seen := mock.Requests()
			require.Len(t, seen, 1)
			require.Equal(t, map[string]string{"chat_completions": "/v1/chat/completions", "responses": "/v1/responses", "messages": "/v1/messages"}[tc.endpoint],
				seen[0].Path, "the path the provider received")
			require.Equal(t, expectedText(events), text)
			require.Equal(t, "get_weather", toolName)
			require.JSONEq(t, `{"city":"Paris"}`, toolArgs)

			rows := e.waitInterceptions(1)
			got := rows[0]
			require.Equal(t, e.userID, got.UserID)
			require.Equal(t, tc.endpoint, got.Endpoint)
			require.Equal(t, tc.streaming, got.Streaming)
			require.Equal(t, "ok", got.Status, "error: %v", got.Error)
			require.NotNil(t, got.UpstreamStatus)
			require.EqualValues(t, 200, *got.UpstreamStatus)
			require.NotNil(t, got.TTFBMs)
			require.EqualValues(t, u.Input, got.Input)
			require.EqualValues(t, u.Output, got.Output)
			require.EqualValues(t, u.CacheRead, got.CacheRead)
			require.EqualValues(t, tc.cacheWrite, got.CacheWrite)
			require.EqualValues(t, tc.reasoning, got.Rs)
			require.Len(t, got.ToolCalls, 1)
			require.Equal(t, "get_weather", got.ToolCalls[0].Name)
			require.NotEmpty(t, got.ToolCalls[0].ID)
			// The SDK's own User-Agent, as it sends it by default.
			if tc.endpoint == "messages" {
				require.Equal(t, "anthropic-main", got.ProviderName)
				require.Equal(t, "claude-sonnet-4-5", got.Model)
				require.Equal(t, "anthropic-sdk", got.Client, "User-Agent %q", seen[0].Header.Get("User-Agent"))
			} else {
				require.Equal(t, "openai-main", got.ProviderName)
				require.Equal(t, "gpt-4o", got.Model)
				require.Equal(t, "openai-sdk", got.Client, "User-Agent %q", seen[0].Header.Get("User-Agent"))
			}
			require.Nil(t, got.Session, "the SDKs send no session")
			require.Nil(t, got.Prompt, "prompts are not recorded by default")
		})
	}
}

func anthropicParams() anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model: "claude-sonnet-4-5", MaxTokens: 1024,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("weather?"))},
		Tools: []anthropic.ToolUnionParam{anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
			Properties: map[string]any{"city": map[string]any{"type": "string"}}}, "get_weather")},
	}
}

func anthropicResult(msg *anthropic.Message) (text, toolName, toolArgs string) {
	for _, b := range msg.Content {
		switch b.Type {
		case "text":
			text += b.Text
		case "tool_use":
			toolName, toolArgs = b.Name, string(b.Input)
		}
	}
	return text, toolName, toolArgs
}

// An upstream that fails mid-stream must not look like a short but
// successful answer: each SDK's stream ends with an error (an error event
// for Responses).
func TestSDKsSeeMidStreamFailure(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{Events: 6, FailAfter: 2})
	e.addProvider("openai-main", "openai", mock.OpenAIBaseURL(), openAIKey)
	e.addProvider("anthropic-main", "anthropic", mock.AnthropicBaseURL(), anthropicKey)
	ctx := context.Background()

	oa, an := e.openAI(t, "openai-main"), e.anthropic(t, "anthropic-main")
	chat := oa.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	for chat.Next() {
	}
	require.Error(t, chat.Err(), "chat completions stream")

	resp := oa.Responses.NewStreaming(ctx, responses.ResponseNewParams{
		Model: "gpt-4o", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	// The Responses format has an error event, which the SDK hands over as
	// an event rather than as a stream error.
	var last string
	for resp.Next() {
		last = resp.Current().Type
	}
	require.NoError(t, resp.Err())
	require.Equal(t, "error", last, "responses stream")

	msgs := an.Messages.NewStreaming(ctx, anthropicParams())
	for msgs.Next() {
	}
	require.Error(t, msgs.Err(), "messages stream")

	for _, r := range e.waitInterceptions(3) {
		require.Equal(t, "upstream_error", r.Status)
	}
}

// Claude Code and Codex as they call aigate: their User-Agent and the session
// header each sends (Codex's in lower case with an underscore, as it writes
// it) are recorded, the headers reach the provider unchanged, and a client
// aigate does not know is "other".
func TestClientAndSessionRecorded(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	mock := llmmock.New(t, llmmock.Options{Events: 3})
	e.addProvider("openai-main", "openai", mock.OpenAIBaseURL(), openAIKey)
	e.addProvider("anthropic-main", "anthropic", mock.AnthropicBaseURL(), anthropicKey)
	const claudeSession, codexSession = "9f10edbb-1407-47e1-9b85-fa634be33732", "019a9544-7ab1-73c1-837e-1fa681f4462b"

	for _, tc := range []struct {
		name, path, reqBody, auth string
		header                    http.Header
	}{
		{"claude code", "/ai/anthropic-main/v1/messages?beta=true", body(messagesBody, true), "x-api-key", http.Header{
			"User-Agent": {"claude-cli/2.0.76 (external, cli)"}, "X-Claude-Code-Session-Id": {claudeSession},
			"Anthropic-Version": {"2023-06-01"}, "X-App": {"cli"},
		}},
		{"codex", "/ai/openai-main/v1/responses", body(responsesBody, true), "bearer", http.Header{
			"User-Agent": {"codex_cli_rs/0.38.0 (Ubuntu 24.04.2 LTS; x86_64) WindowsTerminal"},
			"originator": {"codex_cli_rs"}, "session_id": {codexSession}, "version": {"0.38.0"},
		}},
		{"curl", "/ai/openai-main/v1/chat/completions", body(chatBody, false), "bearer", http.Header{
			"User-Agent": {"curl/8.5.0"},
		}},
		{"unknown", "/ai/openai-main/v1/chat/completions", body(chatBody, false), "bearer", http.Header{
			"User-Agent": {"my-agent/1.0"}, "X-Claude-Code-Session-Id": {"  "},
		}},
	} {
		resp, got := post(t, e.url+tc.path, e.token, tc.auth, tc.reqBody, tc.header)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", tc.name, got)
	}

	seen := mock.Requests()
	require.Len(t, seen, 4)
	require.Equal(t, "claude-cli/2.0.76 (external, cli)", seen[0].Header.Get("User-Agent"))
	require.Equal(t, claudeSession, seen[0].Header.Get("X-Claude-Code-Session-Id"))
	require.Equal(t, codexSession, seen[1].Header.Get("session_id"), "an underscore in a header name passes")
	require.Equal(t, "codex_cli_rs", seen[1].Header.Get("originator"))

	rows := e.waitInterceptions(4)
	str := func(s string) *string { return &s }
	for i, want := range []struct {
		client  string
		session *string
	}{
		{"claude-code", str(claudeSession)},
		{"codex", str(codexSession)},
		{"curl", nil},
		{"other", nil},
	} {
		require.Equal(t, want.client, rows[i].Client, "request %d", i)
		require.Equal(t, want.session, rows[i].Session, "request %d", i)
	}
}
