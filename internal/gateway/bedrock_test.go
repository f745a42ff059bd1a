package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/providers"
)

// The Bedrock model IDs of the test provider.
const (
	bedrockModelID     = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	bedrockSmallFastID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
)

// addBedrock creates a bedrock provider whose base URL is the mock and
// whose credentials are the given key pair, then reloads the snapshot.
func (r *replica) addBedrock(name, baseURL, accessKey, secret string) providers.Provider {
	r.t.Helper()
	p, err := r.providers.Create(context.Background(), actor, providers.Input{
		Name: name, Type: "bedrock", BaseURL: baseURL,
		Settings: &providers.SettingsInput{
			Region: new(llmmock.BedrockRegion), Model: new(bedrockModelID), SmallFastModel: new(bedrockSmallFastID),
			AccessKey: new(accessKey), AccessKeySecret: new(secret),
		},
	})
	require.NoError(r.t, err)
	require.Equal(r.t, providers.Bedrock, p.Type)
	return p
}

// setupBedrock is an env with provider "br" on a Bedrock mock with opts;
// secret is the secret stored on the provider ("" for the right one).
func setupBedrock(t *testing.T, opts llmmock.BedrockOptions, secret string) (*env, *llmmock.Bedrock) {
	t.Helper()
	e := setup(t, options{})
	mock := llmmock.NewBedrock(t, opts)
	if secret == "" {
		secret = llmmock.BedrockSecretKey
	}
	e.addBedrock("br", mock.URL, llmmock.BedrockAccessKey, secret)
	return e, mock
}

// providerTypes returns the provider_type of every interception, in start
// order (the harness's interception struct does not carry it).
func (r *replica) providerTypes() []string {
	r.t.Helper()
	rows, err := r.db.Pool.Query(context.Background(), `SELECT provider_type::text FROM interceptions ORDER BY started_at, id`)
	require.NoError(r.t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(r.t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(r.t, rows.Err())
	return out
}

// requireNoToken checks that the caller's aigate token reached the mock
// nowhere: no header, no body.
func requireNoToken(t *testing.T, token string, reqs []llmmock.BedrockSeen) {
	t.Helper()
	for _, r := range reqs {
		for k, vs := range r.Header {
			for _, v := range vs {
				require.NotContains(t, v, token, "header %s carries the aigate token", k)
			}
		}
		require.NotContains(t, string(r.Body), token)
		require.Empty(t, r.Header.Get("X-Api-Key"))
		require.True(t, strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 "), "SigV4, not a bearer token")
	}
}

// Messages through a bedrock provider with the official SDK, streaming and
// not: the SDK gets the text, the tool call and the usage; Bedrock gets the
// mapped model ID and a signed, rewritten body; one interception is recorded.
func TestBedrockSDK(t *testing.T) {
	t.Parallel()
	const events = 6
	u := llmmock.FixedUsage
	for _, tc := range []struct {
		name      string
		model     anthropic.Model
		streaming bool
		wantID    string
	}{
		{"messages", "claude-sonnet-4-5", false, bedrockModelID},
		{"messages streaming", "claude-sonnet-4-5", true, bedrockModelID},
		{"haiku maps to the small fast model", "claude-haiku-4-5", false, bedrockSmallFastID},
		{"haiku streaming", "claude-haiku-4-5", true, bedrockSmallFastID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, mock := setupBedrock(t, llmmock.BedrockOptions{Events: events}, "")
			c := e.anthropic(t, "br")
			params := anthropicParams()
			params.Model = tc.model

			var msg anthropic.Message
			if tc.streaming {
				s := c.Messages.NewStreaming(context.Background(), params)
				for s.Next() {
					require.NoError(t, msg.Accumulate(s.Current()))
				}
				require.NoError(t, s.Err())
				require.NoError(t, s.Close())
			} else {
				got, err := c.Messages.New(context.Background(), params)
				require.NoError(t, err)
				msg = *got
			}
			text, toolName, toolArgs := anthropicResult(&msg)
			require.Equal(t, expectedText(events), text)
			require.Equal(t, "get_weather", toolName)
			require.JSONEq(t, `{"city":"Paris"}`, toolArgs)
			require.Equal(t, anthropic.StopReasonToolUse, msg.StopReason)
			require.Equal(t, u.Input, msg.Usage.InputTokens)
			require.Equal(t, u.Output, msg.Usage.OutputTokens)
			require.Equal(t, u.CacheRead, msg.Usage.CacheReadInputTokens)
			require.Equal(t, u.CacheWrite, msg.Usage.CacheCreationInputTokens)

			reqs := mock.Requests()
			require.Len(t, reqs, 1)
			seen := reqs[0]
			require.Empty(t, seen.SignatureError)
			require.Equal(t, tc.wantID, seen.ModelID)
			require.Equal(t, tc.streaming, seen.Stream)
			require.Contains(t, string(seen.Body), `"anthropic_version":"bedrock-2023-05-31"`)
			requireNoToken(t, e.token, reqs)

			rows := e.waitInterceptions(1)
			got := rows[0]
			require.Equal(t, "ok", got.Status, "error: %v", got.Error)
			require.Equal(t, e.userID, got.UserID)
			require.Equal(t, "br", got.ProviderName)
			require.Equal(t, []string{"bedrock"}, e.providerTypes())
			require.Equal(t, tc.model, got.Model)
			require.Equal(t, "messages", got.Endpoint)
			require.Equal(t, tc.streaming, got.Streaming)
			require.NotNil(t, got.UpstreamStatus)
			require.EqualValues(t, http.StatusOK, *got.UpstreamStatus)
			require.NotNil(t, got.TTFBMs)
			require.Equal(t, u.Input, got.Input)
			require.Equal(t, u.Output, got.Output)
			require.Equal(t, u.CacheRead, got.CacheRead)
			require.Equal(t, u.CacheWrite, got.CacheWrite)
			require.Len(t, got.ToolCalls, 1)
			require.Equal(t, "get_weather", got.ToolCalls[0].Name)
			require.Equal(t, "toolu_0", got.ToolCalls[0].ID)
		})
	}
}

// A stream Bedrock ends early — a throttlingException frame, or a cut
// connection — must not look like a short answer: the SDK's stream fails
// after the text it got, and the interception is an upstream error.
func TestBedrockStreamFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		opts     llmmock.BedrockOptions
		wantType string // the Anthropic error type the SDK sees
		// wantError is the interception's error: Bedrock's own exception
		// as the client saw it, or "" for aigate's text about a cut stream.
		wantError string
	}{
		{"throttled", llmmock.BedrockOptions{Events: 6, ThrottleAfter: 2}, "rate_limit_error", "rate_limit_error: " + llmmock.ThrottleMessage},
		{"cut", llmmock.BedrockOptions{Events: 6, FailAfter: 2}, "api_error", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, mock := setupBedrock(t, tc.opts, "")
			c := e.anthropic(t, "br")
			s := c.Messages.NewStreaming(context.Background(), anthropicParams())
			var msg anthropic.Message
			for s.Next() {
				require.NoError(t, msg.Accumulate(s.Current()))
			}
			err := s.Err()
			require.Error(t, err, "the stream must fail")
			var apiErr *anthropic.Error
			require.ErrorAs(t, err, &apiErr)
			require.EqualValues(t, tc.wantType, apiErr.Type(), "error: %v", err)
			require.NoError(t, s.Close())
			text, _, _ := anthropicResult(&msg)
			require.Equal(t, expectedText(2), text, "the text before the failure arrived")

			rows := e.waitInterceptions(1)
			require.Equal(t, "upstream_error", rows[0].Status)
			require.True(t, rows[0].Streaming)
			require.NotNil(t, rows[0].Error)
			if tc.wantError != "" {
				require.Equal(t, tc.wantError, *rows[0].Error)
			} else {
				require.Contains(t, *rows[0].Error, "the provider")
			}
			require.Equal(t, []string{"bedrock"}, e.providerTypes())
			requireNoToken(t, e.token, mock.Requests())
		})
	}
}

// Bedrock rejecting a request: the SDK gets an Anthropic-shaped error with
// Bedrock's status, and the interception is an upstream error with it.
func TestBedrockUpstreamErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		opts       llmmock.BedrockOptions
		secret     string // stored on the provider; "" for the right one
		streaming  bool
		wantStatus int
		wantType   string
		wantMsg    string
	}{
		{
			name: "wrong secret", secret: "wrong-secret-0123456789abcdefghijklmnopq",
			wantStatus: http.StatusForbidden, wantType: "permission_error", wantMsg: "InvalidSignatureException",
		},
		{
			name: "wrong secret streaming", secret: "wrong-secret-0123456789abcdefghijklmnopq", streaming: true,
			wantStatus: http.StatusForbidden, wantType: "permission_error", wantMsg: "InvalidSignatureException",
		},
		{
			name: "access denied", opts: llmmock.BedrockOptions{Status: http.StatusForbidden},
			wantStatus: http.StatusForbidden, wantType: "permission_error", wantMsg: "AccessDeniedException",
		},
		{
			name: "throttled", opts: llmmock.BedrockOptions{Status: http.StatusTooManyRequests}, streaming: true,
			wantStatus: http.StatusTooManyRequests, wantType: "rate_limit_error", wantMsg: llmmock.ThrottleMessage,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, mock := setupBedrock(t, tc.opts, tc.secret)
			c := e.anthropic(t, "br")
			var err error
			if tc.streaming {
				s := c.Messages.NewStreaming(context.Background(), anthropicParams())
				for s.Next() {
				}
				err = s.Err()
				_ = s.Close()
			} else {
				_, err = c.Messages.New(context.Background(), anthropicParams())
			}
			var apiErr *anthropic.Error
			require.True(t, errors.As(err, &apiErr), "want an *anthropic.Error, got %v", err)
			require.Equal(t, tc.wantStatus, apiErr.StatusCode)
			require.EqualValues(t, tc.wantType, apiErr.Type(), "body: %s", apiErr.RawJSON())
			require.Contains(t, apiErr.RawJSON(), tc.wantMsg)
			require.NotEmpty(t, apiErr.Response.Header.Get("X-Amzn-Requestid"), "Bedrock's request ID comes back")

			reqs := mock.Requests()
			require.Len(t, reqs, 1)
			requireNoToken(t, e.token, reqs)

			rows := e.waitInterceptions(1)
			got := rows[0]
			require.Equal(t, "upstream_error", got.Status)
			require.NotNil(t, got.UpstreamStatus)
			require.EqualValues(t, tc.wantStatus, *got.UpstreamStatus)
			require.NotNil(t, got.Error)
			require.Contains(t, *got.Error, tc.wantMsg)
			require.Zero(t, got.Input)
			require.Zero(t, got.Output)
			require.Equal(t, []string{"bedrock"}, e.providerTypes())
		})
	}
}

// A client may name a Bedrock model ID itself; it is used unchanged.
func TestBedrockModelIDPassesThrough(t *testing.T) {
	t.Parallel()
	e, mock := setupBedrock(t, llmmock.BedrockOptions{}, "")
	const opus = "global.anthropic.claude-opus-4-1-20250805-v1:0"
	params := anthropicParams()
	params.Model = opus
	c := e.anthropic(t, "br")
	msg, err := c.Messages.New(context.Background(), params)
	require.NoError(t, err)
	assert.Equal(t, opus, msg.Model)
	reqs := mock.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, opus, reqs[0].ModelID)
	assert.Equal(t, "/model/global.anthropic.claude-opus-4-1-20250805-v1%3A0/invoke", reqs[0].Path)
	rows := e.waitInterceptions(1)
	assert.Equal(t, opus, rows[0].Model)
}

// The bytes a client gets from a bedrock stream: standard Anthropic SSE,
// each event named after its type, the JSON as Bedrock sent it (ping and
// the invocation metrics included), flushed as it comes. The anthropic-beta
// header moves into the body; a ?beta=true query does not reach Bedrock.
func TestBedrockStreamWire(t *testing.T) {
	t.Parallel()
	e, mock := setupBedrock(t, llmmock.BedrockOptions{Events: 2}, "")
	resp, got := post(t, e.url+"/ai/br/v1/messages?beta=true", e.token, "x-api-key", body(messagesBody, true),
		http.Header{"Anthropic-Beta": {"fine-grained-tool-streaming-2025-05-14"}, "Anthropic-Version": {"2023-06-01"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", got)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"), resp.Header.Get("Content-Type"))
	require.Empty(t, resp.Header.Get("Content-Length"))
	require.NotEmpty(t, resp.Header.Get("X-Amzn-Requestid"), "Bedrock's request ID comes back")

	var names []string
	var last string
	for _, block := range strings.Split(strings.TrimSuffix(got, "\n\n"), "\n\n") {
		name, data, ok := strings.Cut(block, "\ndata: ")
		require.True(t, ok, "event %q", block)
		name = strings.TrimPrefix(name, "event: ")
		require.Contains(t, data, `{"type":"`+name+`"`, "the event is named after its type")
		names = append(names, name)
		last = data
	}
	require.Equal(t, []string{
		"message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_stop",
		"content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
		"message_delta", "message_stop",
	}, names)
	require.Contains(t, last, `"amazon-bedrock-invocationMetrics"`, "Bedrock's JSON is passed on as is")

	seen := mock.Requests()[0]
	require.Empty(t, seen.RawQuery)
	require.Contains(t, string(seen.Body), `"anthropic_beta":["fine-grained-tool-streaming-2025-05-14"]`)
	require.NotContains(t, string(seen.Body), `"stream"`)
	require.NotContains(t, string(seen.Body), `"model"`)
	requireNoToken(t, e.token, mock.Requests())
	require.Equal(t, "ok", e.waitInterceptions(1)[0].Status)
}

// A client hanging up mid-stream cancels the Bedrock request and is
// recorded as client_cancelled.
func TestBedrockClientCancels(t *testing.T) {
	t.Parallel()
	e, mock := setupBedrock(t, llmmock.BedrockOptions{EventDelay: waitFor}, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/ai/br/v1/messages", strings.NewReader(body(messagesBody, true)))
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", e.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient(t).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	first := make([]byte, len("event: message_start"))
	_, err = io.ReadFull(resp.Body, first)
	require.NoError(t, err)
	require.Equal(t, "event: message_start", string(first))
	cancel()

	select {
	case fin := <-mock.Finished():
		require.True(t, fin.Cancelled, "the upstream request was cancelled")
	case <-time.After(waitFor):
		t.Fatal("the Bedrock request was not cancelled")
	}
	require.Equal(t, "client_cancelled", e.waitInterceptions(1)[0].Status)
}

// Fixing a provider's credentials takes effect on the next reload: the
// Bedrock client is rebuilt, not reused with the old secret.
func TestBedrockCredentialsChange(t *testing.T) {
	t.Parallel()
	e, mock := setupBedrock(t, llmmock.BedrockOptions{}, "wrong-secret-0123456789abcdefghijklmnopq")
	c := e.anthropic(t, "br")
	_, err := c.Messages.New(context.Background(), anthropicParams())
	var apiErr *anthropic.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusForbidden, apiErr.StatusCode)

	_, err = e.providers.Update(context.Background(), actor, "br", providers.Patch{Settings: &providers.SettingsInput{
		AccessKey: new(llmmock.BedrockAccessKey), AccessKeySecret: new(llmmock.BedrockSecretKey)}})
	require.NoError(t, err)
	_, err = c.Messages.New(context.Background(), anthropicParams())
	require.NoError(t, err)

	reqs := mock.Requests()
	require.Len(t, reqs, 2)
	require.NotEmpty(t, reqs[0].SignatureError)
	require.Empty(t, reqs[1].SignatureError)
}

// A body Bedrock's rewrite refuses is the client's mistake: 400 in
// Anthropic's shape, nothing sent upstream.
func TestBedrockInvalidBody(t *testing.T) {
	t.Parallel()
	e, mock := setupBedrock(t, llmmock.BedrockOptions{}, "")
	bad := strings.Replace(body(messagesBody, false), `"max_tokens":100`, `"max_tokens":100,"anthropic_beta":"not-a-list"`, 1)
	resp, got := post(t, e.url+"/ai/br/v1/messages", e.token, "x-api-key", bad, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "body: %s", got)
	require.Contains(t, got, `"invalid_request_error"`)
	require.Contains(t, got, "anthropic_beta")
	require.Empty(t, mock.Requests())
	require.Equal(t, "gateway_error", e.waitInterceptions(1)[0].Status)
}
