package providerenv

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aigate/aigate/internal/providers"
)

// Field is one field of a provider as the seed would write it, for
// `aigate providers plan`: its name as the API calls it and its value as
// text, secrets masked as the API masks them.
type Field struct {
	Name, Value string
}

// Fields lists every field the seed writes for p, defaults filled in (and
// said to be defaults), so an operator sees where requests would go before
// the server starts.
func (p Provider) Fields() []Field {
	s := p.Spec
	if p.Unsupported != "" {
		return []Field{{"name", s.Name}, {"type", p.Unsupported + " (not stored: aigate does not serve this type)"}}
	}
	out := []Field{{"name", s.Name}, {"type", string(s.Type)}, {"enabled", strconv.FormatBool(s.Enabled)}}
	if s.DisplayName != "" {
		out = append(out, Field{"display_name", s.DisplayName})
	}
	out = append(out, Field{"base_url", baseURLText(s)})
	if s.Type == providers.Bedrock {
		st := providers.Settings{}
		if s.Settings != nil {
			st = *s.Settings
		}
		out = append(out,
			Field{"region", orNone(st.Region)},
			Field{"model", withDefault(st.Model, providers.DefaultBedrockModel)},
			Field{"small_fast_model", withDefault(st.SmallFastModel, providers.DefaultBedrockSmallFastModel)},
			Field{"credentials", credentialsText(s.Credentials)})
		return out
	}
	return append(out, Field{"api_keys", keysText(s.Keys)})
}

func baseURLText(s providers.Spec) string {
	switch {
	case s.Type == providers.Bedrock && s.BaseURL == "":
		return "none (the AWS endpoint of the region)"
	case s.Type == providers.OpenAI:
		return withDefault(s.BaseURL, providers.DefaultOpenAIBaseURL)
	case s.Type == providers.Anthropic:
		return withDefault(s.BaseURL, providers.DefaultAnthropicBaseURL)
	}
	return s.BaseURL
}

// withDefault marks a value that is the default, so a plan shows that no
// variable set it (or that one set it to the default).
func withDefault(v, def string) string {
	if v == def {
		return v + " (default)"
	}
	return v
}

func orNone(v string) string {
	if v == "" {
		return "none"
	}
	return v
}

func keysText(keys []string) string {
	if len(keys) == 0 {
		return "none (requests fail until a key is added)"
	}
	masked := make([]string, len(keys))
	for i, k := range keys {
		masked[i] = providers.Mask(k)
	}
	return fmt.Sprintf("%d: %s", len(keys), strings.Join(masked, ", "))
}

// credentialsText counts the AWS key pairs and shows each access key
// masked; a secret is never shown, not even masked.
func credentialsText(creds []providers.Credential) string {
	if len(creds) == 0 {
		return "none (the AWS credential chain at request time)"
	}
	masked := make([]string, len(creds))
	for i, c := range creds {
		masked[i] = providers.Mask(c.AccessKey)
	}
	return fmt.Sprintf("%d access key pair(s): %s", len(creds), strings.Join(masked, ", "))
}
