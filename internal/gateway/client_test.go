package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/interceptions"
)

// The User-Agents below are the clients' own: Claude Code's and Codex's as
// they send them (Codex builds it as "originator/version (OS version; arch)
// terminal"), the SDKs' as their sources build them.
func TestClassifyClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		userAgent string
		want      interceptions.Client
	}{
		{"claude-cli/2.0.76 (external, cli)", interceptions.ClientClaudeCode},
		{"claude-cli/2.0.65 (external, cli)", interceptions.ClientClaudeCode},
		{"codex_cli_rs/0.38.0 (Ubuntu 24.04.2 LTS; x86_64) WindowsTerminal", interceptions.ClientCodex},
		{"codex_cli_rs/0.72.0 (Mac OS 15.6.1; arm64) iTerm.app/3.6.1", interceptions.ClientCodex},
		{"codex_exec/0.125.0 (Mac OS 15.7.3; x86_64) ghostty/1.3.1 (codex_exec; 0.125.0)", interceptions.ClientCodex},
		{"codex_vscode/0.4.15 (Mac OS 15.6.1; arm64) vscode/1.104.1", interceptions.ClientCodex},
		{"OpenAI/Go 3.96.0", interceptions.ClientOpenAISDK},
		{"OpenAI/Python 1.109.1", interceptions.ClientOpenAISDK},
		{"AsyncOpenAI/Python 1.109.1", interceptions.ClientOpenAISDK},
		{"AzureOpenAI/Python 1.109.1", interceptions.ClientOpenAISDK},
		{"OpenAI/JS 5.23.2", interceptions.ClientOpenAISDK},
		{"Anthropic/Go 1.84.0", interceptions.ClientAnthropicSDK},
		{"Anthropic/Python 0.69.0", interceptions.ClientAnthropicSDK},
		{"AsyncAnthropic/Python 0.69.0", interceptions.ClientAnthropicSDK},
		{"AnthropicBedrock/Python 0.69.0", interceptions.ClientAnthropicSDK},
		{"Anthropic/JS 0.65.0", interceptions.ClientAnthropicSDK},
		{"curl/8.5.0", interceptions.ClientCurl},
		{"curl/7.88.1", interceptions.ClientCurl},
		{"  curl/8.14.1  ", interceptions.ClientCurl},
		{"", interceptions.ClientOther},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36", interceptions.ClientOther},
		{"python-requests/2.32.3", interceptions.ClientOther},
		{"Go-http-client/1.1", interceptions.ClientOther},
		{"openai-python/1.0", interceptions.ClientOther},
		{"OpenAIish/1.0", interceptions.ClientOther},
		{"Codex/1.0", interceptions.ClientOther},
		{"claude-cli-fork/1.0", interceptions.ClientOther},
		{"curlie/1.7.0", interceptions.ClientOther},
	} {
		t.Run(tc.userAgent, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, classifyClient(tc.userAgent))
		})
	}
}

func TestSessionID(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("s", interceptions.MaxSessionIDLen+50)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    string
	}{
		{"none", nil, ""},
		{"claude code", map[string]string{"X-Claude-Code-Session-Id": "9f10edbb-1407-47e1-9b85-fa634be33732"}, "9f10edbb-1407-47e1-9b85-fa634be33732"},
		{"codex", map[string]string{"session_id": "019a9544-7ab1-73c1-837e-1fa681f4462b"}, "019a9544-7ab1-73c1-837e-1fa681f4462b"},
		{"claude code's first", map[string]string{"X-Claude-Code-Session-Id": "a", "session_id": "b"}, "a"},
		{"blank is none", map[string]string{"X-Claude-Code-Session-Id": "  ", "session_id": "b"}, "b"},
		{"trimmed", map[string]string{"session_id": " c "}, "c"},
		{"cut", map[string]string{"session_id": long}, long[:interceptions.MaxSessionIDLen]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tc.headers {
				// As a server receives them: canonical keys, whatever the
				// client wrote.
				h.Set(k, v)
			}
			require.Equal(t, tc.want, sessionID(h))
		})
	}
}
