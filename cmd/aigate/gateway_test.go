package main_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/testdb"
)

// gatewayToken has the caller of the api token apiToken (a login token, api
// scope only) make themself a gateway token, as a user does for their agent.
func gatewayToken(t *testing.T, base, apiToken string) string {
	t.Helper()
	code, body := api(t, "POST", base+"/api/v1/users/me/tokens", apiToken, map[string]any{"name": "agent"})
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, []any{"gateway"}, body["api_token"].(map[string]any)["scopes"])
	return body["token"].(string)
}

// Acceptance 4 with two server processes on one database: a base URL edit
// and a disable made through one are in effect on the other with no restart
// and no backstop reload (an hour away), so through the change notification;
// a stream in flight through the other finishes. Shutdown writes the
// interception of every stream served.
func TestGatewayChangesReachOtherProcess(t *testing.T) {
	t.Parallel()
	url := testdb.EmptyURL(t)
	serve := func() (*proc, string) {
		p := start(t, nil, nil, "server", "--postgres-url", url, "--http-address", "127.0.0.1:0", "--log-format", "json",
			"--provider-reload-interval", "1h")
		return p, "http://" + p.waitFor("aigate ready")["address"].(string)
	}
	oldUp := llmmock.New(t, llmmock.Options{Events: 10, EventDelay: 30 * time.Millisecond})
	newUp := llmmock.New(t, llmmock.Options{})

	pa, a := serve()
	pb, b := serve()
	code, body := api(t, "POST", a+"/api/v1/users/first", "", map[string]any{"email": "o@example.com", "name": "O", "password": "correct horse battery"})
	require.Equal(t, http.StatusCreated, code, body)
	token := body["token"].(string)
	code, body = api(t, "POST", a+"/api/v1/providers", token, map[string]any{"name": "oa", "type": "openai", "base_url": oldUp.OpenAIBaseURL(),
		"api_keys": []any{map[string]any{"api_key": "sk-e2e-0123456789abcdefghij"}}})
	require.Equal(t, http.StatusCreated, code, body)
	agent := gatewayToken(t, a, token)

	chat := func(base string, stream bool) (int, string) {
		s := "false"
		if stream {
			s = "true"
		}
		req, err := http.NewRequest(http.MethodPost, base+"/ai/oa/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o","stream":`+s+`,"messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+agent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	require.Eventually(t, func() bool { c, _ := chat(b, false); return c == http.StatusOK }, readyTimeout, 5*time.Millisecond)

	inFlight := make(chan string, 1)
	go func() { _, got := chat(b, true); inFlight <- got }()
	<-oldUp.Started()
	<-oldUp.Started() // the non-streaming request above came first

	code, body = api(t, "PATCH", a+"/api/v1/providers/oa", token, map[string]any{"base_url": newUp.OpenAIBaseURL()})
	require.Equal(t, http.StatusOK, code, body)
	require.Eventually(t, func() bool {
		c, _ := chat(b, false)
		return c == http.StatusOK && len(newUp.Requests()) > 0
	}, readyTimeout, 5*time.Millisecond)
	// How fast is BenchmarkReloadLatency's business (internal/gateway).
	require.True(t, strings.HasSuffix(<-inFlight, "data: [DONE]\n\n"), "the stream in flight was cut by the change")

	code, body = api(t, "PATCH", a+"/api/v1/providers/oa", token, map[string]any{"enabled": false})
	require.Equal(t, http.StatusOK, code, body)
	require.Eventually(t, func() bool { c, _ := chat(b, false); return c == http.StatusServiceUnavailable }, readyTimeout, 5*time.Millisecond)

	// Every request that reached an upstream is recorded once the servers
	// have stopped (the recorder flushes on shutdown).
	pa.stop(syscall.SIGTERM)
	pb.stop(syscall.SIGTERM)
	db := testdb.Open(t, url)
	upstream := len(oldUp.Requests()) + len(newUp.Requests())
	require.Equal(t, upstream, countRows(t, db, "SELECT count(*) FROM interceptions"))
	require.Zero(t, countRows(t, db, "SELECT count(*) FROM interceptions WHERE status <> 'ok'"))
}

// Acceptance 5 (issue 11): the providers a new user gets from the
// environment, with base URLs written as the vendors' SDKs take them
// (OPENAI_BASE_URL ends in /v1/, ANTHROPIC_BASE_URL at the root), serve the
// official SDKs end to end, and the provider sees its real paths.
func TestSeededDefaultProvidersServe(t *testing.T) {
	t.Parallel()
	const anthropicKey = "sk-ant-e2e-seed-0123456789abcdef"
	mock := llmmock.New(t, llmmock.Options{Keys: []string{seedOpenAIKey, anthropicKey}})
	url := testdb.EmptyURL(t)
	p := start(t, nil, []string{
		"AIGATE_OPENAI_KEY=" + seedOpenAIKey, "AIGATE_OPENAI_BASE_URL=" + mock.OpenAIBaseURL() + "/",
		"AIGATE_ANTHROPIC_KEY=" + anthropicKey, "AIGATE_ANTHROPIC_BASE_URL=" + mock.AnthropicBaseURL(),
	}, "server", "--postgres-url", url, "--http-address", "127.0.0.1:0", "--log-format", "json")
	base := "http://" + p.waitFor("aigate ready")["address"].(string)
	code, body := api(t, "POST", base+"/api/v1/users/first", "", map[string]any{"email": "o@example.com", "name": "O", "password": "correct horse battery"})
	require.Equal(t, http.StatusCreated, code, body)
	token := gatewayToken(t, base, body["token"].(string))

	oa := openai.NewClient(option.WithBaseURL(base+"/ai/openai/v1"), option.WithAPIKey(token), option.WithMaxRetries(0))
	s := oa.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var acc openai.ChatCompletionAccumulator
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	require.NoError(t, s.Err())
	require.Equal(t, llmmock.Text(0), acc.Choices[0].Message.Content)

	an := anthropic.NewClient(anthropicoption.WithBaseURL(base+"/ai/anthropic"), anthropicoption.WithAPIKey(token), anthropicoption.WithMaxRetries(0))
	msg, err := an.Messages.New(context.Background(), anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 16,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	require.NoError(t, err)
	require.Equal(t, llmmock.Text(0), msg.Content[0].Text)

	seen := mock.Requests()
	require.Len(t, seen, 2)
	require.Equal(t, "/v1/chat/completions", seen[0].Path)
	require.Equal(t, "Bearer "+seedOpenAIKey, seen[0].Header.Get("Authorization"))
	require.Equal(t, "/v1/messages", seen[1].Path)
	require.Equal(t, anthropicKey, seen[1].Header.Get("X-Api-Key"))

	p.stop(syscall.SIGTERM)
	db := testdb.Open(t, url)
	require.Equal(t, 2, countRows(t, db, "SELECT count(*) FROM interceptions WHERE status = 'ok'"))
	require.Equal(t, 2, countRows(t, db, fmt.Sprintf("SELECT count(*) FROM interceptions WHERE input_tokens = %d AND output_tokens = %d",
		llmmock.FixedUsage.Input, llmmock.FixedUsage.Output)), "exact tokens, the chat stream's included")
}
