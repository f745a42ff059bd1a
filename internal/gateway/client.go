package gateway

import (
	"net/http"
	"strings"

	"github.com/aigate/aigate/internal/interceptions"
)

// classifyClient tells which kind of program sent a request from its
// User-Agent's first product token, the name before the first "/" (or
// space):
//
//	claude-cli/2.0.14 (external, cli)                     claude-code
//	codex_cli_rs/0.46.0 (Mac OS 15.6.1; arm64) ghostty    codex: the token is Codex's
//	                                                      "originator" (codex_cli_rs,
//	                                                      codex_exec, codex_vscode, ...)
//	OpenAI/Go 3.9.0, OpenAI/Python 2.3.0, OpenAI/JS 6.1.0 openai-sdk; the Python SDK
//	                                                      names its client class, so
//	                                                      AsyncOpenAI, AzureOpenAI too
//	Anthropic/Go 1.13.0, Anthropic/Python 0.69.0,         anthropic-sdk; likewise
//	Anthropic/JS 0.65.0                                   AsyncAnthropic, AnthropicBedrock,
//	                                                      AnthropicVertex
//	curl/8.5.0                                            curl
//	anything else, or none                                other
//
// Claude Code is built on the Anthropic SDK but sends its own User-Agent, so
// it is told apart. A User-Agent is the client's word, not a proof: this is for
// grouping usage, never for access.
func classifyClient(userAgent string) interceptions.Client {
	product := strings.TrimSpace(userAgent)
	if i := strings.IndexAny(product, "/ "); i >= 0 {
		product = product[:i]
	}
	switch {
	case product == "claude-cli":
		return interceptions.ClientClaudeCode
	case strings.HasPrefix(product, "codex_"):
		return interceptions.ClientCodex
	case product == "curl":
		return interceptions.ClientCurl
	}
	switch strings.TrimPrefix(product, "Async") {
	case "OpenAI", "AzureOpenAI":
		return interceptions.ClientOpenAISDK
	case "Anthropic", "AnthropicBedrock", "AnthropicVertex":
		return interceptions.ClientAnthropicSDK
	}
	return interceptions.ClientOther
}

// sessionHeaders are the headers clients name their session in, tried in
// order: Claude Code's (one id per conversation, on every request) and
// Codex's session_id (its conversation id). Codex's underscore is unusual in
// a header name: a proxy in front of aigate may drop it (nginx does unless
// underscores_in_headers is on).
var sessionHeaders = []string{"X-Claude-Code-Session-Id", "session_id"}

// sessionID is the client's session id, "" when it sent none. It is cut to
// interceptions.MaxSessionIDLen here, and copied when cut, so a record held
// in the recorder's queue keeps no large header alive; the recorder cleans
// what cannot be stored.
func sessionID(h http.Header) string {
	for _, name := range sessionHeaders {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		if len(v) > interceptions.MaxSessionIDLen {
			v = strings.Clone(v[:interceptions.MaxSessionIDLen])
		}
		return v
	}
	return ""
}
