package providers

import (
	"fmt"
	"regexp"
	"strings"
)

// Warning is something about a stored provider that is allowed but likely
// wrong. It is computed from the stored fields each time a provider is
// shown, never stored, so it cannot go stale.
type Warning struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// versionSegment matches an API version as vendors write it in paths: v1,
// v2, v1beta, v1alpha1.
var versionSegment = regexp.MustCompile(`^v[0-9]+([a-z]+[0-9]*)?$`)

// BaseURLWarnings returns the warnings for the two base-URL mistakes
// operators make, which the gateway cannot tell from a deliberate layout:
// an openai base URL without the API version (the OPENAI_BASE_URL
// convention includes it, so requests would miss it), and an anthropic one
// ending in it (the ANTHROPIC_BASE_URL convention excludes it, so requests
// would get it twice). A base URL never holds credentials or a query
// (NormalizeBaseURL refuses them), so the details are safe to show and log.
func BaseURLWarnings(typ Type, baseURL string) []Warning {
	base, err := NormalizeBaseURL(baseURL)
	if err != nil {
		return nil
	}
	scheme, rest, _ := strings.Cut(base, "://")
	host, path, _ := strings.Cut(rest, "/")
	root := scheme + "://" + host + "/"
	segments := strings.Split(strings.Trim(path, "/"), "/")
	switch typ {
	case OpenAI:
		for _, s := range segments {
			if versionSegment.MatchString(s) {
				return nil
			}
		}
		return []Warning{{Field: "base_url", Detail: "has no API version segment: requests go to " + base +
			"chat/completions; OpenAI-type base URLs include the version, such as " + base +
			"v1/ (ignore this if the server serves the API at its root)"}}
	case Anthropic:
		last := segments[len(segments)-1]
		if !versionSegment.MatchString(last) {
			return nil
		}
		without := root + strings.Join(segments[:len(segments)-1], "/")
		if !strings.HasSuffix(without, "/") {
			without += "/"
		}
		return []Warning{{Field: "base_url", Detail: "ends in the API version: requests go to " + base +
			"v1/messages; Anthropic-type base URLs exclude it, such as " + without}}
	}
	return nil
}

// endpointPaths are the endpoints a base URL is mistakenly given with, as
// copied from a vendor's API reference or a curl example. The gateway
// appends the endpoint itself, so a base URL ending in one would send
// requests to it twice.
var endpointPaths = [][]string{
	{"chat", "completions"}, {"completions"}, {"responses"}, {"embeddings"},
	{"messages", "count_tokens"}, {"messages"},
}

// EndpointPathError refuses a base URL that ends in an endpoint path
// (…/chat/completions, …/v1/messages, …/responses), saying where requests
// would go and which base URL is meant. Unlike BaseURLWarnings this is never
// deliberate: no server serves its API under its own endpoint.
func EndpointPathError(typ Type, baseURL string) error {
	// What is not a URL at all NormalizeBaseURL reports.
	if base, err := NormalizeBaseURL(baseURL); err == nil {
		return endpointPathError(typ, base)
	}
	return nil
}

func endpointPathError(typ Type, base string) error {
	scheme, rest, _ := strings.Cut(base, "://")
	host, path, _ := strings.Cut(rest, "/")
	segments := strings.Split(strings.Trim(path, "/"), "/")
	for _, ep := range endpointPaths {
		n := len(segments) - len(ep)
		if n < 0 || !strings.EqualFold(strings.Join(segments[n:], "/"), strings.Join(ep, "/")) {
			continue
		}
		keep := segments[:n]
		// Anthropic-type base URLs exclude the API version, which the
		// gateway adds with the endpoint.
		if typ == Anthropic && len(keep) > 0 && versionSegment.MatchString(keep[len(keep)-1]) {
			keep = keep[:len(keep)-1]
		}
		fixed := scheme + "://" + host + "/" + strings.Join(keep, "/")
		if !strings.HasSuffix(fixed, "/") {
			fixed += "/"
		}
		suffix := strings.TrimSuffix(strings.TrimPrefix(base, fixed), "/")
		var appended string
		switch typ {
		case OpenAI:
			appended = "chat/completions"
		case Anthropic:
			appended = "v1/messages"
		default: // Bedrock makes its own paths from the model
			return fmt.Errorf("must not end in the endpoint path %s: give the endpoint's root, such as %s", suffix, fixed)
		}
		return fmt.Errorf("must not end in the endpoint path %s: aigate appends the endpoint itself, so requests would go to %s%s; use %s",
			suffix, base, appended, fixed)
	}
	return nil
}
