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
