package gateway

import (
	"net/http"
	"strings"

	"github.com/aigate/aigate/internal/llmwire"
	"github.com/aigate/aigate/internal/providers"
)

// PathPrefix is where the gateway serves: provider P at PathPrefix+P+"/".
const PathPrefix = "/ai/"

// ClientBaseURL is the base URL a client sets to reach provider name of
// type typ through the aigate server at public (scheme://host): what the
// client's SDK puts before the paths route takes, in that SDK's own
// convention. An OpenAI SDK's base URL includes the API version
// (OPENAI_BASE_URL, …/v1), an Anthropic one excludes it
// (ANTHROPIC_BASE_URL); Bedrock providers are called with the Anthropic API.
func ClientBaseURL(public, name string, typ providers.Type) string {
	base := public + PathPrefix + name
	if typ == providers.OpenAI {
		return base + "/v1"
	}
	return base
}

// endpoint is what the gateway does with one request path.
type endpoint struct {
	// format is the intercepted API, or 0 for an allow-listed pass-through.
	format llmwire.Format
	// path is the upstream path relative to the provider's base URL, which
	// follows its vendor's SDK convention: an OpenAI base URL includes the
	// API version (OPENAI_BASE_URL, https://api.openai.com/v1/), so the
	// client's "v1/" is dropped; an Anthropic one excludes it
	// (ANTHROPIC_BASE_URL, https://api.anthropic.com/), so it is kept.
	// Bedrock builds its own URL from the model.
	path string
	// models: the model list, which a models policy filters; model: one
	// model by id (the last segment), which it may refuse.
	models, model bool
}

func (e endpoint) intercepted() bool { return e.format != 0 }

// route classifies a request under /ai/{provider}/. Anything not listed is
// refused: the allow-list keeps aigate from becoming a general proxy to the
// provider's whole API with the organisation's key.
func route(typ providers.Type, method, path string) (endpoint, bool) {
	ep, ok := classify(typ, method, path)
	if ok && typ == providers.OpenAI {
		ep.path = strings.TrimPrefix(ep.path, "v1/")
	}
	return ep, ok
}

// classify is route's allow-list, in the client's terms: every path is the
// one the client sent under /ai/{provider}/.
func classify(typ providers.Type, method, path string) (endpoint, bool) {
	switch typ {
	case providers.OpenAI:
		switch {
		case method == http.MethodPost && path == "v1/chat/completions":
			return endpoint{format: llmwire.OpenAIChat, path: path}, true
		case method == http.MethodPost && path == "v1/responses":
			return endpoint{format: llmwire.OpenAIResponses, path: path}, true
		case method == http.MethodGet && path == "v1/models":
			return endpoint{path: path, models: true}, true
		case method == http.MethodPost && path == "v1/embeddings":
			return endpoint{path: path}, true
		case method == http.MethodGet && oneSegmentAfter(path, "v1/models/"):
			return endpoint{path: path, model: true}, true
		case (method == http.MethodGet || method == http.MethodDelete) && oneSegmentAfter(path, "v1/responses/"):
			return endpoint{path: path}, true
		}
	case providers.Anthropic, providers.Bedrock:
		switch {
		case method == http.MethodPost && path == "v1/messages":
			return endpoint{format: llmwire.AnthropicMessages, path: path}, true
		case typ == providers.Bedrock:
			// Bedrock has no equivalent of the other Anthropic endpoints.
		case method == http.MethodGet && path == "v1/models":
			return endpoint{path: path, models: true}, true
		case method == http.MethodPost && path == "v1/messages/count_tokens":
			return endpoint{path: path}, true
		}
	}
	return endpoint{}, false
}

// oneSegmentAfter reports whether path is prefix followed by one ID-like
// segment. The ID goes into the upstream URL, so only plain characters are
// accepted: no slashes, dots-only segments or escapes.
func oneSegmentAfter(path, prefix string) bool {
	id, ok := strings.CutPrefix(path, prefix)
	if !ok || id == "" || len(id) > 256 || strings.Trim(id, ".") == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		plain := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':'
		if !plain {
			return false
		}
	}
	return true
}
