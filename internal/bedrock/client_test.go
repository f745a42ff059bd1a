package bedrock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/bedrock"
)

func TestNew(t *testing.T) {
	t.Parallel()
	valid := bedrock.Config{Region: "eu-central-1", Model: testModel}
	tests := []struct {
		name    string
		edit    func(*bedrock.Config)
		wantErr string // substring; empty means success
		secret  string // must not appear in the error
	}{
		{name: "default chain", edit: func(*bedrock.Config) {}},
		{name: "static key", edit: func(c *bedrock.Config) {
			c.Credentials = []bedrock.Credential{{AccessKey: testAccessKey, SecretKey: testSecret}}
		}},
		{name: "VPC endpoint", edit: func(c *bedrock.Config) {
			c.BaseURL = "https://vpce-0abc-xyz.bedrock-runtime.eu-central-1.vpce.amazonaws.com"
		}},
		{name: "no model is fine until a request needs one", edit: func(c *bedrock.Config) { c.Model = "" }},
		{name: "missing region", edit: func(c *bedrock.Config) { c.Region = "" }, wantErr: "region is required"},
		{name: "region that is a URL", edit: func(c *bedrock.Config) { c.Region = "evil.com/x" }, wantErr: "not an AWS region name"},
		{name: "base URL without scheme", edit: func(c *bedrock.Config) { c.BaseURL = "bedrock.internal" }, wantErr: "must start with https://"},
		{name: "base URL with query", edit: func(c *bedrock.Config) { c.BaseURL = "https://b.internal/?x=1" }, wantErr: "must not have a query"},
		{
			name:    "base URL with a password",
			edit:    func(c *bedrock.Config) { c.BaseURL = "https://user:hunter2secret@b.internal/" },
			wantErr: "must not contain a user name or password",
			secret:  "hunter2secret",
		},
		{
			name:    "unparsable base URL with a password",
			edit:    func(c *bedrock.Config) { c.BaseURL = "https://user:hunter2secret@b.internal:port/" },
			wantErr: "not a valid URL",
			secret:  "hunter2secret",
		},
		{
			name: "second credential without access key",
			edit: func(c *bedrock.Config) {
				c.Credentials = []bedrock.Credential{{AccessKey: testAccessKey, SecretKey: testSecret}, {SecretKey: "s3cr3t-value"}}
			},
			wantErr: "credential 2 needs both",
			secret:  "s3cr3t-value",
		},
		{
			name:    "credential without secret",
			edit:    func(c *bedrock.Config) { c.Credentials = []bedrock.Credential{{AccessKey: testAccessKey}} },
			wantErr: "credential 1 needs both",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tt.edit(&cfg)
			c, err := bedrock.New(cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			if tt.secret != "" {
				assert.NotContains(t, err.Error(), tt.secret)
			}
		})
	}
}

func TestMapModel(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/a1b2c3d4e5f6"
	tests := []struct {
		name      string
		model     string // Config.Model
		smallFast string // Config.SmallFastModel
		requested string
		want      string
	}{
		{name: "foundation model ID as is", model: testModel, requested: "anthropic.claude-3-5-sonnet-20240620-v1:0", want: "anthropic.claude-3-5-sonnet-20240620-v1:0"},
		{name: "US inference profile as is", model: testModel, requested: "us.anthropic.claude-opus-4-1-20250805-v1:0", want: "us.anthropic.claude-opus-4-1-20250805-v1:0"},
		{name: "global inference profile as is", model: testModel, requested: "global.anthropic.claude-sonnet-4-5-20250929-v1:0", want: "global.anthropic.claude-sonnet-4-5-20250929-v1:0"},
		{name: "ARN as is", model: testModel, requested: arn, want: arn},
		{name: "Anthropic name maps to the model", model: testModel, smallFast: testSmallFast, requested: "claude-sonnet-4-5-20250929", want: testModel},
		{name: "Opus maps to the model", model: testModel, smallFast: testSmallFast, requested: "claude-opus-4-1", want: testModel},
		{name: "Haiku 3.5 maps to the small fast model", model: testModel, smallFast: testSmallFast, requested: "claude-3-5-haiku-20241022", want: testSmallFast},
		{name: "Haiku 4.5 maps to the small fast model", model: testModel, smallFast: testSmallFast, requested: "claude-haiku-4-5", want: testSmallFast},
		{name: "Haiku without a small fast model maps to the model", model: testModel, requested: "claude-haiku-4-5", want: testModel},
		{name: "no model in the request", model: testModel, smallFast: testSmallFast, requested: "", want: testModel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := bedrock.New(bedrock.Config{Region: testRegion, Model: tt.model, SmallFastModel: tt.smallFast})
			require.NoError(t, err)
			got, err := c.MapModel(tt.requested)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	t.Run("no model configured", func(t *testing.T) {
		t.Parallel()
		c, err := bedrock.New(bedrock.Config{Name: "bedrock-east", Region: testRegion})
		require.NoError(t, err)
		_, err = c.MapModel("claude-sonnet-4-5")
		require.ErrorIs(t, err, bedrock.ErrNoModel)
		assert.ErrorContains(t, err, "aigate providers edit bedrock-east --model")
	})
}

func TestNewRequestSignedAndRouted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		basePath string // appended to the mock's URL
		body     string
		stream   bool
		wantPath string
		wantID   string
		accept   string
	}{
		{
			name:     "invoke with an Anthropic model name",
			body:     `{"model":"claude-sonnet-4-5-20250929","max_tokens":1024,"messages":[{"role":"user","content":"Hi"}]}`,
			wantPath: "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
			wantID:   testModel,
			accept:   "application/json",
		},
		{
			name:     "stream with a Haiku",
			body:     `{"model":"claude-3-5-haiku-20241022","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hi"}]}`,
			stream:   true,
			wantPath: "/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/invoke-with-response-stream",
			wantID:   testSmallFast,
			accept:   "application/vnd.amazon.eventstream",
		},
		{
			name:     "ARN is one escaped path segment",
			body:     `{"model":"arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0","max_tokens":8,"messages":[]}`,
			stream:   true,
			wantPath: "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream",
			wantID:   "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
			accept:   "application/vnd.amazon.eventstream",
		},
		{
			name:     "base URL path prefix is kept",
			basePath: "proxy/bedrock/",
			body:     `{"max_tokens":8,"messages":[]}`,
			wantPath: "/proxy/bedrock/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
			wantID:   testModel,
			accept:   "application/json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mock := newMockBedrock(t, testAccessKey, testSecret, func(w http.ResponseWriter, _ received) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"id":"msg_bdrk_1","type":"message"}`)
			})
			c := newClient(t, mock.URL()+tt.basePath, testSecret)

			req, modelID, err := c.NewRequest(t.Context(), []byte(tt.body), nil, tt.stream)
			require.NoError(t, err)
			assert.Equal(t, tt.wantID, modelID)
			status, _, body := mock.do(t, req)
			require.Equal(t, http.StatusOK, status, "mock said: %s", body)

			reqs := mock.requests()
			require.Len(t, reqs, 1)
			got := reqs[0]
			require.NoError(t, got.SigErr)
			assert.Equal(t, tt.wantPath, got.Path)
			assert.Equal(t, tt.accept, got.Header.Get("Accept"))
			assert.Equal(t, "application/json", got.Header.Get("Content-Type"))
			assert.Contains(t, got.Header.Get("Authorization"), "SignedHeaders=accept;content-length;content-type;host;x-amz-date,")

			var sent map[string]any
			require.NoError(t, json.Unmarshal(got.Body, &sent))
			assert.NotContains(t, sent, "model")
			assert.NotContains(t, sent, "stream")
			assert.Equal(t, "bedrock-2023-05-31", sent["anthropic_version"])
		})
	}
}

// TestNewRequestWrongSecret proves the mock's signature check has teeth: a
// client signing with another secret is turned away, and the 403 comes back
// to the client in Anthropic's shape.
func TestNewRequestWrongSecret(t *testing.T) {
	t.Parallel()
	mock := newMockBedrock(t, testAccessKey, testSecret, func(w http.ResponseWriter, _ received) {
		t.Error("a request with a wrong signature reached the handler")
	})
	c := newClient(t, mock.URL(), "not-"+testSecret)
	req, _, err := c.NewRequest(t.Context(), []byte(`{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[]}`), nil, false)
	require.NoError(t, err)

	status, header, body := mock.do(t, req)
	require.Equal(t, http.StatusForbidden, status)
	reqs := mock.requests()
	require.Len(t, reqs, 1)
	require.ErrorContains(t, reqs[0].SigErr, "signature mismatch")

	assert.JSONEq(t, `{"type":"error","error":{"type":"permission_error",
		"message":"InvalidSignatureException: The request signature we calculated does not match the signature you provided."}}`,
		string(bedrock.TranslateError(status, header, body)))
}

// TestNewRequestSignatureCoversBody checks that the payload hash is of the
// body actually sent: a body swapped after signing is rejected.
func TestNewRequestSignatureCoversBody(t *testing.T) {
	t.Parallel()
	mock := newMockBedrock(t, testAccessKey, testSecret, func(w http.ResponseWriter, _ received) {
		t.Error("a request with a swapped body reached the handler")
	})
	c := newClient(t, mock.URL(), testSecret)
	req, _, err := c.NewRequest(t.Context(), []byte(`{"max_tokens":8,"messages":[]}`), nil, false)
	require.NoError(t, err)
	signed, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	// Same length, so only the payload hash can tell.
	swapped := bytes.Replace(signed, []byte(`"max_tokens":8`), []byte(`"max_tokens":9`), 1)
	require.NotEqual(t, signed, swapped)
	req.Body = io.NopCloser(bytes.NewReader(swapped))

	status, _, _ := mock.do(t, req)
	assert.Equal(t, http.StatusForbidden, status)
}

func TestNewRequestBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		header http.Header
		want   string
	}{
		{
			name: "members keep their bytes and order",
			body: `{ "max_tokens" : 1024, "model":"claude-sonnet-4-5", "temperature":0.7000000000000001,` +
				` "messages":[{"role":"user","content":"\u003cb\u003e & <i> é \ud83d\ude00"}], "stream": true,` +
				` "metadata":{"user_id":12345678901234567890}}`,
			want: `{"max_tokens":1024,"temperature":0.7000000000000001,` +
				`"messages":[{"role":"user","content":"\u003cb\u003e & <i> é \ud83d\ude00"}],` +
				`"metadata":{"user_id":12345678901234567890},"anthropic_version":"bedrock-2023-05-31"}`,
		},
		{
			name: "client's anthropic_version wins",
			body: `{"anthropic_version":"bedrock-2099-01-01","max_tokens":8,"messages":[]}`,
			want: `{"anthropic_version":"bedrock-2099-01-01","max_tokens":8,"messages":[]}`,
		},
		{
			name:   "anthropic-beta header becomes anthropic_beta",
			body:   `{"max_tokens":8,"messages":[]}`,
			header: http.Header{"Anthropic-Beta": {"interleaved-thinking-2025-05-14, context-1m-2025-08-07"}},
			want:   `{"max_tokens":8,"messages":[],"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["interleaved-thinking-2025-05-14","context-1m-2025-08-07"]}`,
		},
		{
			name:   "betas from body and several header lines, deduplicated",
			body:   `{"anthropic_beta":["token-efficient-tools-2025-02-19"],"max_tokens":8,"messages":[]}`,
			header: http.Header{"Anthropic-Beta": {"context-1m-2025-08-07,,token-efficient-tools-2025-02-19", " fine-grained-tool-streaming-2025-05-14 "}},
			want: `{"max_tokens":8,"messages":[],"anthropic_version":"bedrock-2023-05-31",` +
				`"anthropic_beta":["token-efficient-tools-2025-02-19","context-1m-2025-08-07","fine-grained-tool-streaming-2025-05-14"]}`,
		},
		{
			name:   "empty beta header adds nothing",
			body:   `{"max_tokens":8,"messages":[]}`,
			header: http.Header{"Anthropic-Beta": {" , "}},
			want:   `{"max_tokens":8,"messages":[],"anthropic_version":"bedrock-2023-05-31"}`,
		},
		{
			name: "empty object",
			body: ` {} `,
			want: `{"anthropic_version":"bedrock-2023-05-31"}`,
		},
	}
	c := newClient(t, "http://127.0.0.1:1/", testSecret) // never dialled
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _, err := c.NewRequest(t.Context(), []byte(tt.body), tt.header, true)
			require.NoError(t, err)
			got, err := io.ReadAll(req.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
			assert.Equal(t, int64(len(got)), req.ContentLength)
		})
	}
}

func TestNewRequestInvalidBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		wantErr string
	}{
		{name: "empty", body: ``, wantErr: "must be a JSON object"},
		{name: "array", body: `[{"model":"x"}]`, wantErr: "must be a JSON object"},
		{name: "string", body: `"hello"`, wantErr: "must be a JSON object"},
		{name: "model not a string", body: `{"model":42,"messages":[]}`, wantErr: `"model" must be a string`},
		{name: "anthropic_beta not a list", body: `{"anthropic_beta":"x","messages":[]}`, wantErr: `"anthropic_beta" must be an array of strings`},
		{name: "cut off", body: `{"model":"claude","messages":[`, wantErr: "not valid JSON"},
		{name: "unclosed", body: `{"model":"claude"`, wantErr: "not valid JSON"},
		{name: "trailing data", body: `{"messages":[]} {"x":1}`, wantErr: "data after the JSON object"},
		{name: "bad value", body: `{"messages":[nope]}`, wantErr: "not valid JSON"},
	}
	c := newClient(t, "http://127.0.0.1:1/", testSecret) // never dialled
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _, err := c.NewRequest(t.Context(), []byte(tt.body), nil, false)
			require.ErrorIs(t, err, bedrock.ErrInvalidRequest)
			assert.ErrorContains(t, err, tt.wantErr)
			assert.Nil(t, req)
		})
	}
}

func TestNewRequestNoModel(t *testing.T) {
	t.Parallel()
	c, err := bedrock.New(bedrock.Config{Name: "bedrock-east", Region: testRegion,
		Credentials: []bedrock.Credential{{AccessKey: testAccessKey, SecretKey: testSecret}}})
	require.NoError(t, err)
	_, _, err = c.NewRequest(t.Context(), []byte(`{"model":"claude-sonnet-4-5","messages":[]}`), nil, false)
	require.ErrorIs(t, err, bedrock.ErrNoModel)
	assert.ErrorContains(t, err, "aigate providers edit bedrock-east --model")
}

// TestNewRequestStream runs a whole streamed answer through the real HTTP
// path: signed request, event-stream response, decoder.
func TestNewRequestStream(t *testing.T) {
	t.Parallel()
	mock := newMockBedrock(t, testAccessKey, testSecret, func(w http.ResponseWriter, _ received) {
		w.Header().Set("Content-Type", bedrock.ContentTypeEventStream)
		w.Header().Set("X-Amzn-Requestid", "8b6d3c3e-5bd1-4a0b-9b67-4b5f0e0c2f11")
		for _, e := range toolUseMessage {
			_, _ = w.Write(chunkFrame(e))
			w.(http.Flusher).Flush()
		}
	})
	c := newClient(t, mock.URL(), testSecret)
	req, _, err := c.NewRequest(t.Context(), []byte(`{"model":"claude-sonnet-4-5","stream":true,"max_tokens":1024,"messages":[]}`), nil, true)
	require.NoError(t, err)
	resp, err := mock.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, bedrock.ContentTypeEventStream, resp.Header.Get("Content-Type"))

	d := bedrock.NewStreamDecoder(resp.Body)
	for i, want := range toolUseMessage {
		typ, data, err := d.Next()
		require.NoError(t, err, "event %d", i)
		assert.Equal(t, typeOf(t, want), typ)
		assert.Equal(t, want, string(data))
	}
	_, _, err = d.Next()
	assert.ErrorIs(t, err, io.EOF)
}

// TestDefaultChainFromEnv signs with keys the default AWS chain finds in the
// environment. It sets environment variables, so it cannot be parallel.
func TestDefaultChainFromEnv(t *testing.T) {
	const (
		envKey    = "AKIAENVEXAMPLE000001"
		envSecret = "envSecretKeyExample/0123456789abcdefghij"
		envToken  = "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
	)
	isolateAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", envKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", envSecret)
	t.Setenv("AWS_SESSION_TOKEN", envToken)

	mock := newMockBedrock(t, envKey, envSecret, func(w http.ResponseWriter, _ received) {
		_, _ = io.WriteString(w, `{}`)
	})
	c, err := bedrock.New(bedrock.Config{Region: testRegion, BaseURL: mock.URL(), Model: testModel, Now: fixedNow})
	require.NoError(t, err)

	// Twice: the second request uses the cached chain.
	for range 2 {
		req, _, err := c.NewRequest(t.Context(), []byte(`{"messages":[]}`), nil, false)
		require.NoError(t, err)
		status, _, body := mock.do(t, req)
		require.Equal(t, http.StatusOK, status, "mock said: %s", body)
	}
	reqs := mock.requests()
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		require.NoError(t, r.SigErr)
		assert.Equal(t, envToken, r.Header.Get("X-Amz-Security-Token"))
		assert.Contains(t, r.Header.Get("Authorization"), "x-amz-security-token")
	}
}

// TestDefaultChainNoCredentials checks the error when the chain finds
// nothing: it says how to fix it, and nothing was sent.
func TestDefaultChainNoCredentials(t *testing.T) {
	isolateAWSEnv(t)
	mock := newMockBedrock(t, testAccessKey, testSecret, func(w http.ResponseWriter, _ received) {
		t.Error("a request without credentials was sent")
	})
	c, err := bedrock.New(bedrock.Config{Name: "bedrock-east", Region: testRegion, BaseURL: mock.URL(), Model: testModel})
	require.NoError(t, err)
	_, _, err = c.NewRequest(t.Context(), []byte(`{"messages":[]}`), nil, false)
	require.ErrorContains(t, err, "get AWS credentials")
	assert.ErrorContains(t, err, "aigate providers edit bedrock-east --access-key-stdin")
	assert.Empty(t, mock.requests())
}

// TestNewRequestConcurrent shares one client between goroutines (run with
// -race): the client is immutable after New.
func TestNewRequestConcurrent(t *testing.T) {
	t.Parallel()
	c := newClient(t, "http://127.0.0.1:1/", testSecret) // never dialled
	var wg sync.WaitGroup
	auths := make([]string, 8)
	for i := range auths {
		wg.Go(func() {
			req, _, err := c.NewRequest(context.Background(), []byte(`{"model":"claude-haiku-4-5","messages":[]}`), nil, i%2 == 0)
			if err != nil {
				t.Error(err)
				return
			}
			auths[i] = req.Header.Get("Authorization")
		})
	}
	wg.Wait()
	for i := 2; i < len(auths); i++ {
		assert.Equal(t, auths[i%2], auths[i], "same request, same clock: same signature")
	}
}

func TestCredentialNeverPrinted(t *testing.T) {
	t.Parallel()
	cfg := bedrock.Config{Region: testRegion, Credentials: []bedrock.Credential{{AccessKey: testAccessKey, SecretKey: testSecret}}}
	var logged bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logged, nil))
	logger.Info("config", "config", cfg, "credential", cfg.Credentials[0])
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "config", cfg, "credential", cfg.Credentials[0])
	jsonCfg, err := json.Marshal(cfg.Credentials)
	require.NoError(t, err)
	for _, s := range []string{
		fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(cfg.Credentials),
		logged.String(), string(jsonCfg),
	} {
		assert.NotContains(t, s, testSecret)
		assert.True(t, strings.Contains(s, testAccessKey), "the access key ID is not secret and helps debugging: %s", s)
	}
}

func TestNewRequestCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	mock := newMockBedrock(t, testAccessKey, testSecret, func(w http.ResponseWriter, _ received) {
		t.Error("a cancelled request was sent")
	})
	c := newClient(t, mock.URL(), testSecret)
	req, _, err := c.NewRequest(ctx, []byte(`{"messages":[]}`), nil, false)
	require.NoError(t, err) // building needs no I/O with static keys
	_, err = mock.srv.Client().Do(req)
	require.True(t, errors.Is(err, context.Canceled), "got %v", err)
}
