package gateway

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/providers"
)

// The conformance table: for each provider type, each way operators write
// its base URL, and each route on the allow-list, the exact URL the
// upstream request goes to. Base URLs are written the way the vendors' own
// SDKs take them (OPENAI_BASE_URL includes the version, ANTHROPIC_BASE_URL
// does not) and stored as the API stores them; nothing is sent anywhere.
func TestUpstreamURLConformance(t *testing.T) {
	t.Parallel()
	type call struct{ method, path, upstream string }
	openAIRoutes := []call{
		{"POST", "v1/chat/completions", "chat/completions"},
		{"POST", "v1/responses", "responses"},
		{"GET", "v1/models", "models"},
		{"GET", "v1/models/gpt-4o", "models/gpt-4o"},
		{"GET", "v1/responses/resp_68a1", "responses/resp_68a1"},
		{"DELETE", "v1/responses/resp_68a1", "responses/resp_68a1"},
		{"POST", "v1/embeddings", "embeddings"},
	}
	anthropicRoutes := []call{
		{"POST", "v1/messages", "v1/messages"},
		{"POST", "v1/messages?beta=true", "v1/messages?beta=true"},
		{"POST", "v1/messages/count_tokens", "v1/messages/count_tokens"},
		{"GET", "v1/models", "v1/models"},
	}
	const bedrockModel = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
	const bedrockPath = "model/global.anthropic.claude-sonnet-4-5-20250929-v1%3A0/"
	bedrockRoutes := []call{
		{"POST", "v1/messages", bedrockPath + "invoke"},
		{"POST", "v1/messages?beta=true", bedrockPath + "invoke"},
		{"POST", "v1/messages stream", bedrockPath + "invoke-with-response-stream"},
	}
	for _, tc := range []struct {
		name, typ, baseURL, region string
		// upstream is where the routes' upstream paths start.
		upstream string
		routes   []call
	}{
		{"openai default", "openai", providers.DefaultOpenAIBaseURL, "", "https://api.openai.com/v1/", openAIRoutes},
		{"openai as OPENAI_BASE_URL, no trailing slash", "openai", "https://api.openai.com/v1", "", "https://api.openai.com/v1/", openAIRoutes},
		{"openai behind a corporate proxy", "openai", "https://llm.corp.example/openai/v1/", "", "https://llm.corp.example/openai/v1/", openAIRoutes},
		{"azure openai v1", "openai", "https://myres.openai.azure.com/openai/v1/", "", "https://myres.openai.azure.com/openai/v1/", openAIRoutes},
		{"openai-compatible server (vLLM)", "openai", "http://127.0.0.1:8000/v1", "", "http://127.0.0.1:8000/v1/", openAIRoutes},
		{"gemini's openai endpoint", "openai", "https://generativelanguage.googleapis.com/v1beta/openai/", "", "https://generativelanguage.googleapis.com/v1beta/openai/", openAIRoutes},
		{"anthropic default", "anthropic", providers.DefaultAnthropicBaseURL, "", "https://api.anthropic.com/", anthropicRoutes},
		{"anthropic as ANTHROPIC_BASE_URL, no trailing slash", "anthropic", "https://api.anthropic.com", "", "https://api.anthropic.com/", anthropicRoutes},
		{"anthropic behind a corporate proxy", "anthropic", "https://llm.corp.example/anthropic", "", "https://llm.corp.example/anthropic/", anthropicRoutes},
		{"bedrock from the region", "bedrock", "", "eu-west-1", "https://bedrock-runtime.eu-west-1.amazonaws.com/", bedrockRoutes},
		{"bedrock VPC endpoint", "bedrock", "https://vpce-0abc.bedrock-runtime.us-east-1.vpce.amazonaws.com", "us-east-1",
			"https://vpce-0abc.bedrock-runtime.us-east-1.vpce.amazonaws.com/", bedrockRoutes},
		{"bedrock behind a corporate proxy", "bedrock", "https://llm.corp.example/bedrock/", "us-east-1", "https://llm.corp.example/bedrock/", bedrockRoutes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			typ, ok := providers.ParseType(tc.typ)
			require.True(t, ok)
			live := providers.Live{ID: uuid.New(), Name: "p", Type: typ, Enabled: true, UpdatedAt: time.Unix(0, 0)}
			if tc.baseURL != "" {
				stored, err := providers.NormalizeBaseURL(tc.baseURL)
				require.NoError(t, err)
				live.BaseURL = stored
			}
			if typ == providers.Bedrock {
				live.Settings = &providers.Settings{Region: tc.region, Model: bedrockModel}
				live.Credentials = []providers.Credential{{AccessKey: "AKIDEXAMPLE", AccessKeySecret: "secret-example"}}
			} else {
				live.Keys = []providers.LiveKey{{ID: uuid.New(), Secret: "sk-example"}}
			}
			p := buildSnapshot([]providers.Live{live}, nil, time.Unix(0, 0)).byName["p"]
			require.NoError(t, p.err)
			for _, c := range tc.routes {
				path, stream := strings.CutSuffix(c.path, " stream")
				clientPath, _, _ := strings.Cut(path, "?")
				ep, ok := route(typ, c.method, clientPath)
				require.True(t, ok, "%s %s is on the allow-list", c.method, clientPath)
				x := &exchange{
					p: p, ep: ep, stream: stream, ctx: context.Background(),
					r:            httptest.NewRequest(c.method, "/ai/p/"+path, nil),
					upstreamBody: []byte(`{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[]}`),
				}
				var key *upstreamKey
				if len(p.keys) > 0 {
					key = p.keys[0]
				}
				req, err := x.newRequest(key)
				require.NoError(t, err)
				require.Equal(t, tc.upstream+c.upstream, req.URL.String(), "%s /ai/p/%s", c.method, c.path)
			}
		})
	}
}

// Everything not in the table above stays closed, whichever way the client
// spells the version.
func TestRoutesOffTheAllowList(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		typ          providers.Type
		method, path string
	}{
		{providers.OpenAI, "POST", "chat/completions"},
		{providers.OpenAI, "POST", "v1/v1/chat/completions"},
		{providers.OpenAI, "POST", "v1/files"},
		{providers.OpenAI, "POST", "v1/messages"},
		{providers.OpenAI, "GET", "v1/models/../files"},
		{providers.Anthropic, "POST", "messages"},
		{providers.Anthropic, "POST", "v1/v1/messages"},
		{providers.Anthropic, "POST", "v1/chat/completions"},
		{providers.Bedrock, "POST", "v1/messages/count_tokens"},
		{providers.Bedrock, "GET", "v1/models"},
	} {
		_, ok := route(tc.typ, tc.method, tc.path)
		require.False(t, ok, "%s %s %s", tc.typ, tc.method, tc.path)
	}
}
