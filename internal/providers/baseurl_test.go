package providers_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/providers"
)

func TestBaseURLWarnings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		typ     providers.Type
		baseURL string
		want    string // the detail, "" for no warning
	}{
		{"openai default", providers.OpenAI, providers.DefaultOpenAIBaseURL, ""},
		{"openai default without the trailing slash", providers.OpenAI, "https://api.openai.com/v1", ""},
		{"openai without the version", providers.OpenAI, "https://api.openai.com/",
			"has no API version segment: requests go to https://api.openai.com/chat/completions; OpenAI-type base URLs include the version, such as https://api.openai.com/v1/ (ignore this if the server serves the API at its root)"},
		{"openai proxy without the version", providers.OpenAI, "https://llm.corp.example/",
			"has no API version segment: requests go to https://llm.corp.example/chat/completions; OpenAI-type base URLs include the version, such as https://llm.corp.example/v1/ (ignore this if the server serves the API at its root)"},
		{"openai proxy prefix without the version", providers.OpenAI, "https://llm.corp.example/openai",
			"has no API version segment: requests go to https://llm.corp.example/openai/chat/completions; OpenAI-type base URLs include the version, such as https://llm.corp.example/openai/v1/ (ignore this if the server serves the API at its root)"},
		{"openai proxy prefix with the version", providers.OpenAI, "https://llm.corp.example/openai/v1/", ""},
		{"azure", providers.OpenAI, "https://x.openai.azure.com/openai/v1/", ""},
		{"gemini", providers.OpenAI, "https://generativelanguage.googleapis.com/v1beta/openai/", ""},
		{"vllm", providers.OpenAI, "http://127.0.0.1:8000/v1", ""},
		{"alpha version", providers.OpenAI, "https://x.example/api/v1alpha1/", ""},
		{"a segment that only starts with v", providers.OpenAI, "https://x.example/vendor/", "requests go to https://x.example/vendor/chat/completions"},
		{"anthropic default", providers.Anthropic, providers.DefaultAnthropicBaseURL, ""},
		{"anthropic with the version", providers.Anthropic, "https://api.anthropic.com/v1/",
			"ends in the API version: requests go to https://api.anthropic.com/v1/v1/messages; Anthropic-type base URLs exclude it, such as https://api.anthropic.com/"},
		{"anthropic proxy with the version", providers.Anthropic, "https://llm.corp.example/anthropic/v1",
			"ends in the API version: requests go to https://llm.corp.example/anthropic/v1/v1/messages; Anthropic-type base URLs exclude it, such as https://llm.corp.example/anthropic/"},
		{"anthropic proxy", providers.Anthropic, "https://llm.corp.example/anthropic/", ""},
		{"anthropic version not last", providers.Anthropic, "https://llm.corp.example/v1/anthropic/", ""},
		{"bedrock endpoint", providers.Bedrock, "https://bedrock-runtime.us-east-1.amazonaws.com/", ""},
		{"bedrock VPC endpoint with a version-like path", providers.Bedrock, "https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com/v1/", ""},
		{"not a URL", providers.OpenAI, "::", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ws := providers.BaseURLWarnings(c.typ, c.baseURL)
			if c.want == "" {
				require.Empty(t, ws)
				return
			}
			require.Len(t, ws, 1)
			require.Equal(t, "base_url", ws[0].Field)
			if strings.HasPrefix(c.want, "requests go to") {
				require.Contains(t, ws[0].Detail, c.want)
				return
			}
			require.Equal(t, c.want, ws[0].Detail)
		})
	}
}

func TestEndpointPathError(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		typ     providers.Type
		baseURL string
		want    string // "" for none
	}{
		{"openai chat completions", providers.OpenAI, "https://api.openai.com/v1/chat/completions",
			"must not end in the endpoint path chat/completions: aigate appends the endpoint itself, so requests would go to https://api.openai.com/v1/chat/completions/chat/completions; use https://api.openai.com/v1/"},
		{"openai responses", providers.OpenAI, "https://llm.corp.example/openai/v1/responses/",
			"must not end in the endpoint path responses: aigate appends the endpoint itself, so requests would go to https://llm.corp.example/openai/v1/responses/chat/completions; use https://llm.corp.example/openai/v1/"},
		{"openai legacy completions", providers.OpenAI, "http://127.0.0.1:8000/v1/completions", "use http://127.0.0.1:8000/v1/"},
		{"openai embeddings, any case", providers.OpenAI, "https://x.example/v1/Embeddings", "use https://x.example/v1/"},
		{"anthropic messages, the version goes too", providers.Anthropic, "https://api.anthropic.com/v1/messages",
			"must not end in the endpoint path v1/messages: aigate appends the endpoint itself, so requests would go to https://api.anthropic.com/v1/messages/v1/messages; use https://api.anthropic.com/"},
		{"anthropic count tokens behind a proxy", providers.Anthropic, "https://llm.corp.example/anthropic/v1/messages/count_tokens",
			"must not end in the endpoint path v1/messages/count_tokens: aigate appends the endpoint itself, so requests would go to https://llm.corp.example/anthropic/v1/messages/count_tokens/v1/messages; use https://llm.corp.example/anthropic/"},
		{"bedrock", providers.Bedrock, "https://bedrock-runtime.us-east-1.amazonaws.com/v1/messages",
			"must not end in the endpoint path messages: give the endpoint's root, such as https://bedrock-runtime.us-east-1.amazonaws.com/v1/"},
		{"openai default", providers.OpenAI, providers.DefaultOpenAIBaseURL, ""},
		{"anthropic default", providers.Anthropic, providers.DefaultAnthropicBaseURL, ""},
		{"a prefix named like an endpoint", providers.OpenAI, "https://x.example/responses/v1/", ""},
		{"a segment ending like an endpoint", providers.OpenAI, "https://x.example/v1/mycompletions", ""},
		{"not a URL", providers.OpenAI, "::", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := providers.EndpointPathError(c.typ, c.baseURL)
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			if strings.HasPrefix(c.want, "use ") {
				require.True(t, strings.HasSuffix(err.Error(), c.want), err.Error())
				return
			}
			require.EqualError(t, err, c.want)
		})
	}
}

// Normalize, which the API and the environment seed both go through,
// refuses such a base URL under its field.
func TestNormalizeRefusesAnEndpointPath(t *testing.T) {
	t.Parallel()
	_, err := providers.Spec{Name: "corp", Type: providers.OpenAI, Enabled: true, BaseURL: "https://llm.corp.example/v1/chat/completions", Keys: []string{"sk-1234567890"}}.Normalize()
	require.Error(t, err)
	require.Contains(t, err.Error(), "base_url: must not end in the endpoint path chat/completions")
	require.Contains(t, err.Error(), "use https://llm.corp.example/v1/")
}
