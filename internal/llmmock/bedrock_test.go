package llmmock_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/bedrock"
	"github.com/aigate/aigate/internal/llmmock"
)

const (
	bedrockModel     = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	bedrockSmallFast = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
	// bedrockRequestBody is a Messages API request as a client sends it;
	// bedrock.Client rewrites it for Bedrock.
	bedrockRequestBody = `{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"weather in Paris?"}]}`
	bedrockToolsBody   = `{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"weather in Paris?"}],` +
		`"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]}`
)

// bedrockClient builds the production request builder for the mock, with
// the mock's default credentials unless cfg overrides them.
func bedrockClient(t *testing.T, b *llmmock.Bedrock, cfg bedrock.Config) *bedrock.Client {
	t.Helper()
	cfg.BaseURL = b.URL
	if cfg.Region == "" {
		cfg.Region = llmmock.BedrockRegion
	}
	if cfg.Model == "" {
		cfg.Model, cfg.SmallFastModel = bedrockModel, bedrockSmallFast
	}
	if cfg.Credentials == nil {
		cfg.Credentials = []bedrock.Credential{{AccessKey: llmmock.BedrockAccessKey, SecretKey: llmmock.BedrockSecretKey}}
	}
	c, err := bedrock.New(cfg)
	require.NoError(t, err)
	return c
}

// bedrockDo builds a signed request for body with c and sends it; the
// caller closes the response body.
func bedrockDo(t *testing.T, ctx context.Context, c *bedrock.Client, body string, stream bool) *http.Response {
	t.Helper()
	req, _, err := c.NewRequest(ctx, []byte(body), http.Header{}, stream)
	require.NoError(t, err)
	res, err := httpClient(t).Do(req)
	require.NoError(t, err)
	return res
}

// signedRaw signs body as is (no rewriting) for path on the mock with the
// mock's default credentials, so tests can send bodies bedrock.Client
// would never produce.
func signedRaw(t *testing.T, b *llmmock.Bedrock, method, path, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, strings.TrimSuffix(b.URL, "/")+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: llmmock.BedrockAccessKey, SecretAccessKey: llmmock.BedrockSecretKey}
	require.NoError(t, v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "bedrock", llmmock.BedrockRegion, time.Now()))
	return req
}

// readResponse reads and closes res's body.
func readResponse(t *testing.T, res *http.Response) []byte {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return b
}

// decodeBedrock drains a stream with the production decoder, returning the
// event types, their JSON and the error that ended it (io.EOF when whole).
func decodeBedrock(r io.Reader) (types, events []string, err error) {
	d := bedrock.NewStreamDecoder(r)
	for {
		typ, data, err := d.Next()
		if err != nil {
			return types, events, err
		}
		types = append(types, typ)
		events = append(events, string(data))
	}
}

// accumulate builds the message the SDK would from decoded events.
func accumulate(t *testing.T, events []string) anthropic.Message {
	t.Helper()
	var msg anthropic.Message
	for _, e := range events {
		var ev anthropic.MessageStreamEventUnion
		require.NoError(t, json.Unmarshal([]byte(e), &ev))
		require.NoError(t, msg.Accumulate(ev))
	}
	return msg
}

func receiveBedrock(t *testing.T, ch <-chan llmmock.BedrockSeen) llmmock.BedrockSeen {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for the Bedrock mock")
		return llmmock.BedrockSeen{}
	}
}

// requireBedrockError checks a Bedrock error answer: status, the type in
// x-amzn-ErrorType, and a {"message"} body containing msg.
func requireBedrockError(t *testing.T, res *http.Response, body []byte, status int, typ, msg string) {
	t.Helper()
	require.Equal(t, status, res.StatusCode, "body: %s", body)
	assert.True(t, strings.HasPrefix(res.Header.Get("X-Amzn-Errortype"), typ+":"), "x-amzn-ErrorType %q, want %s", res.Header.Get("X-Amzn-Errortype"), typ)
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
	var e struct {
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(body, &e), "body: %s", body)
	assert.Contains(t, e.Message, msg)
}

func TestBedrockInvoke(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      llmmock.BedrockOptions
		body      string
		wantText  string
		wantCalls int
	}{
		{name: "text", body: bedrockRequestBody, wantText: llmmock.Text(0)},
		{name: "tools", opts: llmmock.BedrockOptions{ToolCalls: 2}, body: bedrockToolsBody, wantText: llmmock.Text(0), wantCalls: 2},
		{name: "tools only", opts: llmmock.BedrockOptions{Events: -1}, body: bedrockToolsBody, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := llmmock.NewBedrock(t, tt.opts)
			res := bedrockDo(t, t.Context(), bedrockClient(t, b, bedrock.Config{}), tt.body, false)
			body := readResponse(t, res)
			require.Equal(t, http.StatusOK, res.StatusCode, "body: %s", body)
			assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
			assert.Equal(t, "00000000-0000-4000-8000-000000000001", res.Header.Get("X-Amzn-Requestid"))
			assert.Equal(t, "21", res.Header.Get("X-Amzn-Bedrock-Input-Token-Count"))
			assert.Equal(t, "34", res.Header.Get("X-Amzn-Bedrock-Output-Token-Count"))

			var msg anthropic.Message
			require.NoError(t, json.Unmarshal(body, &msg))
			assert.Equal(t, llmmock.MessageID, msg.ID)
			assert.Equal(t, bedrockModel, msg.Model, "the model is the one invoked")
			requireAnthropicContent(t, msg.Content, tt.wantText, tt.wantCalls)
			wantStop := anthropic.StopReasonEndTurn
			if tt.wantCalls > 0 {
				wantStop = anthropic.StopReasonToolUse
			}
			assert.Equal(t, wantStop, msg.StopReason)
			requireAnthropicUsage(t, msg.Usage)

			reqs := b.Requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assert.Equal(t, http.MethodPost, r.Method)
			assert.Equal(t, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke", r.Path, "':' escaped as the AWS SDKs do")
			assert.Equal(t, bedrockModel, r.ModelID)
			assert.False(t, r.Stream)
			assert.Empty(t, r.SignatureError)
			assert.True(t, r.Completed)
			assert.False(t, r.Cancelled)
			assert.Equal(t, res.Header.Get("X-Amzn-Requestid"), r.RequestID)
			assert.NotEmpty(t, r.Header.Get("Authorization"))
			var sent map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(r.Body, &sent))
			assert.JSONEq(t, `"bedrock-2023-05-31"`, string(sent["anthropic_version"]))
			assert.NotContains(t, sent, "model")
		})
	}
}

func TestBedrockStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      llmmock.BedrockOptions
		body      string
		wantTypes []string
		wantText  string
		wantCalls int
	}{
		{
			name: "text and tools", opts: llmmock.BedrockOptions{Events: 2, ToolCalls: 2}, body: bedrockToolsBody,
			wantTypes: []string{
				"message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_stop",
				"content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
				"content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
				"message_delta", "message_stop",
			},
			wantText: "chunk 0 chunk 1 ", wantCalls: 2,
		},
		{
			name: "text", opts: llmmock.BedrockOptions{Events: 3}, body: bedrockRequestBody,
			wantTypes: []string{
				"message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_delta",
				"content_block_stop", "message_delta", "message_stop",
			},
			wantText: llmmock.Text(3),
		},
		{
			name: "tools only", opts: llmmock.BedrockOptions{Events: -1}, body: bedrockToolsBody,
			wantTypes: []string{
				"message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_stop",
				"message_delta", "message_stop",
			},
			wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := llmmock.NewBedrock(t, tt.opts)
			res := bedrockDo(t, t.Context(), bedrockClient(t, b, bedrock.Config{}), tt.body, true)
			defer res.Body.Close()
			require.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, "application/vnd.amazon.eventstream", res.Header.Get("Content-Type"))
			assert.NotEmpty(t, res.Header.Get("X-Amzn-Requestid"))

			types, events, err := decodeBedrock(res.Body)
			require.ErrorIs(t, err, io.EOF, "the stream is whole")
			assert.Equal(t, tt.wantTypes, types)

			msg := accumulate(t, events)
			assert.Equal(t, llmmock.MessageID, msg.ID)
			assert.Equal(t, bedrockModel, msg.Model)
			requireAnthropicContent(t, msg.Content, tt.wantText, tt.wantCalls)
			requireAnthropicUsage(t, msg.Usage)

			var stop struct {
				Metrics struct {
					Input  int64 `json:"inputTokenCount"`
					Output int64 `json:"outputTokenCount"`
				} `json:"amazon-bedrock-invocationMetrics"`
			}
			require.NoError(t, json.Unmarshal([]byte(events[len(events)-1]), &stop))
			assert.Equal(t, llmmock.FixedUsage.Input, stop.Metrics.Input)
			assert.Equal(t, llmmock.FixedUsage.Output, stop.Metrics.Output)

			fin := receiveBedrock(t, b.Finished())
			assert.True(t, fin.Completed)
			assert.True(t, fin.Stream)
			assert.Equal(t, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream", fin.Path)
			assert.Equal(t, bedrockModel, fin.ModelID)
			assert.NotContains(t, string(fin.Body), `"stream"`)
		})
	}
}

// TestBedrockStreamMatchesAnthropic checks that the Bedrock stream carries
// the Anthropic mock's events byte for byte, but for the metrics Bedrock
// adds to message_stop.
func TestBedrockStreamMatchesAnthropic(t *testing.T) {
	t.Parallel()
	s := llmmock.New(t, llmmock.Options{Events: 3, ToolCalls: 2})
	b := llmmock.NewBedrock(t, llmmock.BedrockOptions{Events: 3, ToolCalls: 2})

	anthropicBody := strings.Replace(bedrockToolsBody, `"model":"claude-sonnet-4-5"`, `"model":"`+bedrockModel+`","stream":true`, 1)
	res, sse, err := rawRequest(t, http.MethodPost, s.URL+"v1/messages", anthropicBody,
		map[string]string{"x-api-key": "k", "anthropic-version": "2023-06-01"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	var want []string
	for _, e := range parseSSE(t, sse) {
		want = append(want, e.data)
	}

	bres := bedrockDo(t, t.Context(), bedrockClient(t, b, bedrock.Config{}), bedrockToolsBody, true)
	defer bres.Body.Close()
	_, got, err := decodeBedrock(bres.Body)
	require.ErrorIs(t, err, io.EOF)

	require.Len(t, got, len(want))
	last := len(got) - 1
	assert.Equal(t, want[:last], got[:last])
	var stop map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(got[last]), &stop))
	assert.Contains(t, stop, "amazon-bedrock-invocationMetrics")
	delete(stop, "amazon-bedrock-invocationMetrics")
	stripped, err := json.Marshal(stop)
	require.NoError(t, err)
	assert.JSONEq(t, want[last], string(stripped))
}

func TestBedrockModelIDs(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	tests := []struct {
		name, model, wantID, wantPath string
	}{
		{"small fast", "claude-haiku-4-5", bedrockSmallFast, "/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/invoke"},
		{"ARN with a slash", arn, arn, "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := llmmock.NewBedrock(t, llmmock.BedrockOptions{})
			body := strings.Replace(bedrockRequestBody, "claude-sonnet-4-5", tt.model, 1)
			res := bedrockDo(t, t.Context(), bedrockClient(t, b, bedrock.Config{}), body, false)
			got := readResponse(t, res)
			require.Equal(t, http.StatusOK, res.StatusCode, "body: %s", got)
			r := b.Requests()[0]
			assert.Equal(t, tt.wantID, r.ModelID)
			assert.Equal(t, tt.wantPath, r.Path)
		})
	}
}

func TestBedrockThrottleMidStream(t *testing.T) {
	t.Parallel()
	b := llmmock.NewBedrock(t, llmmock.BedrockOptions{Events: 5, ThrottleAfter: 2})
	res := bedrockDo(t, t.Context(), bedrockClient(t, b, bedrock.Config{}), bedrockToolsBody, true)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	types, _, err := decodeBedrock(res.Body)
	assert.Equal(t, []string{"message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta"}, types)
	var ex *bedrock.ExceptionError
	require.ErrorAs(t, err, &ex)
	assert.Equal(t, "throttlingException", ex.Type)
	assert.Equal(t, llmmock.ThrottleMessage, ex.Message)
	assert.JSONEq(t, `{"type":"error","error":{"type":"rate_limit_error","message":"`+llmmock.ThrottleMessage+`"}}`, string(bedrock.ErrorEvent(err)))

	rest, err := io.ReadAll(res.Body)
	require.NoError(t, err, "the HTTP response ends cleanly after the exception")
	assert.Empty(t, rest)
	assert.True(t, receiveBedrock(t, b.Finished()).Completed)
}

func TestBedrockFailAfterCutsStream(t *testing.T) {
	t.Parallel()
	b := llmmock.NewBedrock(t, llmmock.BedrockOptions{Events: 5, FailAfter: 2})
	res := bedrockDo(t, t.Context(), bedrockClient(t, b, bedrock.Config{}), bedrockRequestBody, true)
	defer res.Body.Close()
	types, _, err := decodeBedrock(res.Body)
	assert.Equal(t, []string{"message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta"}, types)
	require.Error(t, err)
	assert.NotErrorIs(t, err, io.EOF, "a cut stream is never mistaken for a whole one")
	fin := receiveBedrock(t, b.Finished())
	assert.False(t, fin.Completed)
}

func TestBedrockSignature(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      bedrock.Config
		tamper   func(r *http.Request)
		wantType string
		wantMsg  string
	}{
		{
			name:     "wrong secret",
			cfg:      bedrock.Config{Credentials: []bedrock.Credential{{AccessKey: llmmock.BedrockAccessKey, SecretKey: "not-the-secret"}}},
			wantType: "InvalidSignatureException", wantMsg: "signature we calculated does not match",
		},
		{
			name:     "unknown access key",
			cfg:      bedrock.Config{Credentials: []bedrock.Credential{{AccessKey: "AKIAOTHERKEY00000000", SecretKey: llmmock.BedrockSecretKey}}},
			wantType: "UnrecognizedClientException", wantMsg: "security token included in the request is invalid",
		},
		{
			name:     "other region",
			cfg:      bedrock.Config{Region: "eu-west-1"},
			wantType: "InvalidSignatureException", wantMsg: "valid region",
		},
		{
			name:     "signed too long ago",
			cfg:      bedrock.Config{Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }},
			wantType: "InvalidSignatureException", wantMsg: "Signature expired",
		},
		{
			name:     "no signature",
			tamper:   func(r *http.Request) { r.Header.Del("Authorization") },
			wantType: "MissingAuthenticationTokenException", wantMsg: "Missing Authentication Token",
		},
		{
			name: "body changed after signing",
			tamper: func(r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				b = bytes.Replace(b, []byte("Paris"), []byte("Lyon!"), 1)
				r.Body = io.NopCloser(bytes.NewReader(b))
			},
			wantType: "InvalidSignatureException", wantMsg: "signature we calculated does not match",
		},
		{
			name:     "unsigned x-amz header",
			tamper:   func(r *http.Request) { r.Header.Set("X-Amz-Target", "x") },
			wantType: "InvalidSignatureException", wantMsg: "not signed: x-amz-target",
		},
		{
			name:     "header changed after signing",
			tamper:   func(r *http.Request) { r.Header.Set("Accept", "text/plain") },
			wantType: "InvalidSignatureException", wantMsg: "signature we calculated does not match",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := llmmock.NewBedrock(t, llmmock.BedrockOptions{})
			req, _, err := bedrockClient(t, b, tt.cfg).NewRequest(t.Context(), []byte(bedrockRequestBody), http.Header{}, false)
			require.NoError(t, err)
			if tt.tamper != nil {
				tt.tamper(req)
			}
			res, err := httpClient(t).Do(req)
			require.NoError(t, err)
			body := readResponse(t, res)
			requireBedrockError(t, res, body, http.StatusForbidden, tt.wantType, tt.wantMsg)
			assert.Contains(t, string(bedrock.TranslateError(res.StatusCode, res.Header, body)), `"permission_error"`)

			r := b.Requests()[0]
			assert.NotEmpty(t, r.SignatureError)
			assert.True(t, r.Completed)
		})
	}
}

// TestBedrockSignatureOtherCredentials checks that the options' key pair and
// region are the ones checked, not the defaults.
func TestBedrockSignatureOtherCredentials(t *testing.T) {
	t.Parallel()
	opts := llmmock.BedrockOptions{Region: "eu-central-1", AccessKey: "AKIAOTHERKEY00000000", SecretKey: "other/secret+key0123456789abcdefghijklmn"}
	b := llmmock.NewBedrock(t, opts)
	good := bedrockClient(t, b, bedrock.Config{Region: opts.Region, Credentials: []bedrock.Credential{{AccessKey: opts.AccessKey, SecretKey: opts.SecretKey}}})
	res := bedrockDo(t, t.Context(), good, bedrockRequestBody, false)
	body := readResponse(t, res)
	require.Equal(t, http.StatusOK, res.StatusCode, "body: %s", body)

	res = bedrockDo(t, t.Context(), bedrockClient(t, b, bedrock.Config{Region: opts.Region}), bedrockRequestBody, false)
	body = readResponse(t, res)
	requireBedrockError(t, res, body, http.StatusForbidden, "UnrecognizedClientException", "invalid")
}

func TestBedrockBodyValidation(t *testing.T) {
	t.Parallel()
	const path = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"
	tests := []struct {
		name, body, wantMsg string
	}{
		{"model in body", `{"anthropic_version":"bedrock-2023-05-31","model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}`, "extraneous key [model] is not permitted"},
		{"stream in body", `{"anthropic_version":"bedrock-2023-05-31","stream":true,"max_tokens":5,"messages":[]}`, "extraneous key [stream] is not permitted"},
		{"no anthropic_version", `{"max_tokens":5,"messages":[]}`, "required key [anthropic_version] not found"},
		{"API anthropic_version", `{"anthropic_version":"2023-06-01","max_tokens":5,"messages":[]}`, "bedrock-2023-05-31"},
		{"no max_tokens", `{"anthropic_version":"bedrock-2023-05-31","messages":[]}`, "required key [max_tokens] not found"},
		{"not JSON", `{"anthropic_version":`, "Malformed input request"},
		{"not an object", `[]`, "Malformed input request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := llmmock.NewBedrock(t, llmmock.BedrockOptions{})
			res, err := httpClient(t).Do(signedRaw(t, b, http.MethodPost, path, tt.body))
			require.NoError(t, err)
			body := readResponse(t, res)
			requireBedrockError(t, res, body, http.StatusBadRequest, "ValidationException", tt.wantMsg)
			assert.Empty(t, b.Requests()[0].SignatureError, "the signature was fine")
		})
	}
}

func TestBedrockUnknownOperation(t *testing.T) {
	t.Parallel()
	b := llmmock.NewBedrock(t, llmmock.BedrockOptions{})
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/model/m/converse"},
		{http.MethodGet, "/model/m/invoke"},
		{http.MethodPost, "/v1/messages"},
		{http.MethodPost, "/model//invoke"},
	} {
		res, err := httpClient(t).Do(signedRaw(t, b, tc.method, tc.path, bedrockRequestBody))
		require.NoError(t, err)
		body := readResponse(t, res)
		requireBedrockError(t, res, body, http.StatusNotFound, "UnknownOperationException", "not a Bedrock Runtime operation")
	}
}

func TestBedrockStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		opts          llmmock.BedrockOptions
		wantType      string
		wantMsg       string
		wantAnthropic string
	}{
		{"throttled", llmmock.BedrockOptions{Status: http.StatusTooManyRequests}, "ThrottlingException", llmmock.ThrottleMessage, "rate_limit_error"},
		{"access denied", llmmock.BedrockOptions{Status: http.StatusForbidden}, "AccessDeniedException", "don't have access", "permission_error"},
		{"server error", llmmock.BedrockOptions{Status: http.StatusInternalServerError}, "InternalServerException", "internal error", "api_error"},
		{
			"custom type and message",
			llmmock.BedrockOptions{Status: http.StatusServiceUnavailable, ErrorType: "ModelNotReadyException", ErrorMessage: "warming up"},
			"ModelNotReadyException", "warming up", "overloaded_error",
		},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			name := tt.name
			if stream {
				name += " stream"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				b := llmmock.NewBedrock(t, tt.opts)
				res := bedrockDo(t, t.Context(), bedrockClient(t, b, bedrock.Config{}), bedrockRequestBody, stream)
				body := readResponse(t, res)
				requireBedrockError(t, res, body, tt.opts.Status, tt.wantType, tt.wantMsg)
				assert.Contains(t, string(bedrock.TranslateError(res.StatusCode, res.Header, body)), `"`+tt.wantAnthropic+`"`)
				assert.Empty(t, b.Requests()[0].SignatureError)
			})
		}
	}
}

func TestBedrockClientGoesAway(t *testing.T) {
	t.Parallel()
	b := llmmock.NewBedrock(t, llmmock.BedrockOptions{EventDelay: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	res := bedrockDo(t, ctx, bedrockClient(t, b, bedrock.Config{}), bedrockRequestBody, true)
	defer res.Body.Close()
	started := receiveBedrock(t, b.Started())
	assert.Equal(t, bedrockModel, started.ModelID)

	d := bedrock.NewStreamDecoder(res.Body)
	typ, _, err := d.Next()
	require.NoError(t, err)
	assert.Equal(t, "message_start", typ)
	cancel()
	fin := receiveBedrock(t, b.Finished())
	assert.True(t, fin.Cancelled)
	assert.False(t, fin.Completed)
}

func TestBedrockCloseCutsStreams(t *testing.T) {
	t.Parallel()
	b := llmmock.NewBedrockServer(llmmock.BedrockOptions{EventDelay: time.Hour})
	res := bedrockDo(t, t.Context(), bedrockClient(t, b, bedrock.Config{}), bedrockRequestBody, true)
	defer res.Body.Close()
	receiveBedrock(t, b.Started())
	b.Close()
	_, _, err := decodeBedrock(res.Body)
	require.Error(t, err)
	assert.False(t, errors.Is(err, io.EOF), "a cut stream is not whole: %v", err)
	assert.False(t, receiveBedrock(t, b.Finished()).Completed)
}

func TestBedrockSetOptions(t *testing.T) {
	t.Parallel()
	b := llmmock.NewBedrock(t, llmmock.BedrockOptions{})
	c := bedrockClient(t, b, bedrock.Config{})
	res := bedrockDo(t, t.Context(), c, bedrockRequestBody, false)
	readResponse(t, res)
	require.Equal(t, http.StatusOK, res.StatusCode)

	b.SetOptions(llmmock.BedrockOptions{Status: http.StatusTooManyRequests})
	res = bedrockDo(t, t.Context(), c, bedrockRequestBody, false)
	body := readResponse(t, res)
	requireBedrockError(t, res, body, http.StatusTooManyRequests, "ThrottlingException", llmmock.ThrottleMessage)
	assert.Len(t, b.Requests(), 2)
	assert.Equal(t, "00000000-0000-4000-8000-000000000002", b.Requests()[1].RequestID)
}
