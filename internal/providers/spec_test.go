package providers_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/providers"
)

func fields(t *testing.T, err error) map[string]string {
	t.Helper()
	e, ok := apperr.As(err)
	require.True(t, ok, "want an apperr, got %v", err)
	require.Equal(t, apperr.KindInvalid, e.Kind)
	out := map[string]string{}
	for _, v := range e.Validations {
		out[v.Field] = v.Detail
	}
	return out
}

func TestNormalizeRules(t *testing.T) {
	ok := providers.Spec{Name: "openai", Type: providers.OpenAI, Enabled: true, Keys: []string{"sk-1234567890"}}
	cases := []struct {
		name   string
		change func(s *providers.Spec)
		field  string
		detail string
	}{
		{"name pattern", func(s *providers.Spec) { s.Name = "Bad_Name" }, "name", providers.NamePattern},
		{"name trailing dash", func(s *providers.Spec) { s.Name = "a-" }, "name", "must match"},
		{"name that reads as an id", func(s *providers.Spec) { s.Name = "123e4567-e89b-12d3-a456-426614174000" }, "name", "UUID"},
		{"name too long", func(s *providers.Spec) { s.Name = strings.Repeat("a", 64) }, "name", "at most 63"},
		{"unknown type", func(s *providers.Spec) { s.Type = "gemini" }, "type", "openai, anthropic, bedrock"},
		{"relative base URL", func(s *providers.Spec) { s.BaseURL = "/v1" }, "base_url", "absolute http or https"},
		{"ftp base URL", func(s *providers.Spec) { s.BaseURL = "ftp://example.com/" }, "base_url", "absolute http or https"},
		{"base URL with credentials", func(s *providers.Spec) { s.BaseURL = "https://u:p@example.com/" }, "base_url", "credentials"},
		{"base URL with query", func(s *providers.Spec) { s.BaseURL = "https://example.com/?x=1" }, "base_url", "query"},
		{"settings on openai", func(s *providers.Spec) { s.Settings = &providers.Settings{Region: "us-east-1"} }, "settings", "only to anthropic and bedrock"},
		{"bedrock without region or base URL", func(s *providers.Spec) {
			s.Type, s.Keys = providers.Bedrock, nil
		}, "settings.region", "region"},
		{"bedrock with keys", func(s *providers.Spec) {
			s.Type, s.Settings = providers.Bedrock, &providers.Settings{Region: "us-east-1"}
		}, "api_keys", "takes no api_keys"},
		{"anthropic key with bedrock settings", func(s *providers.Spec) {
			s.Type, s.Settings = providers.Anthropic, &providers.Settings{Region: "us-east-1"}
		}, "api_keys", "takes no api_keys"},
		{"access key without secret", func(s *providers.Spec) {
			s.Type, s.Keys, s.Settings = providers.Bedrock, nil, &providers.Settings{Region: "us-east-1"}
			s.Credentials = []providers.Credential{{AccessKey: "AKIAEXAMPLE"}}
		}, "settings.access_key_secret", "required"},
		{"too many keys", func(s *providers.Spec) {
			s.Keys = []string{"k1-aaaa", "k2-aaaa", "k3-aaaa", "k4-aaaa", "k5-aaaa", "k6-aaaa"}
		}, "api_keys", "at most 5"},
		{"empty key", func(s *providers.Spec) { s.Keys = []string{"sk-1", ""} }, "api_keys[1]", "empty"},
		{"key with surrounding whitespace", func(s *providers.Spec) { s.Keys = []string{" sk-1"} }, "api_keys[0]", "whitespace"},
		{"key with a newline at the end", func(s *providers.Spec) { s.Keys = []string{"sk-1\n"} }, "api_keys[0]", "whitespace"},
		{"key with inner space", func(s *providers.Spec) { s.Keys = []string{"sk 1"} }, "api_keys[0]", "printable ASCII"},
		{"duplicate keys", func(s *providers.Spec) { s.Keys = []string{"sk-1", "sk-2", "sk-1"} }, "api_keys[2]", "duplicates api_keys[0]"},
		{"display name too long", func(s *providers.Spec) { s.DisplayName = strings.Repeat("x", 201) }, "display_name", "at most 200"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := ok
			s.Keys = append([]string(nil), ok.Keys...)
			c.change(&s)
			_, err := s.Normalize()
			f := fields(t, err)
			require.Contains(t, f, c.field, "validations: %v", f)
			require.Contains(t, f[c.field], c.detail)
		})
	}
	_, err := ok.Normalize()
	require.NoError(t, err)
}

func TestNormalizeDefaults(t *testing.T) {
	s, err := providers.Spec{Name: "openai", Type: providers.OpenAI}.Normalize()
	require.NoError(t, err)
	require.Equal(t, providers.DefaultOpenAIBaseURL, s.BaseURL)

	s, err = providers.Spec{Name: "anthropic", Type: providers.Anthropic}.Normalize()
	require.NoError(t, err)
	require.Equal(t, providers.DefaultAnthropicBaseURL, s.BaseURL)
	require.Nil(t, s.Settings)

	// An anthropic provider with Bedrock settings becomes bedrock, keeps an
	// empty base URL (the region decides) and gets the default models.
	s, err = providers.Spec{Name: "anthropic", Type: providers.Anthropic, Settings: &providers.Settings{Region: "eu-west-1"}}.Normalize()
	require.NoError(t, err)
	require.Equal(t, providers.Bedrock, s.Type)
	require.Empty(t, s.BaseURL)
	require.Equal(t, providers.Settings{Region: "eu-west-1", Model: providers.DefaultBedrockModel, SmallFastModel: providers.DefaultBedrockSmallFastModel}, *s.Settings)

	// A bedrock base URL alone is enough.
	s, err = providers.Spec{Name: "br", Type: providers.Bedrock, BaseURL: "HTTPS://Bedrock.Example.com"}.Normalize()
	require.NoError(t, err)
	require.Equal(t, "https://bedrock.example.com/", s.BaseURL)
}

func TestNormalizeBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.openai.com/v1":      "https://api.openai.com/v1/",
		"https://api.openai.com/v1/":     "https://api.openai.com/v1/",
		"HTTP://LOCALHOST:8000":          "http://localhost:8000/",
		"http://127.0.0.1:11434/v1":      "http://127.0.0.1:11434/v1/",
		"https://openrouter.ai/api/v1//": "https://openrouter.ai/api/v1//",
	} {
		got, err := providers.NormalizeBaseURL(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "api.openai.com", "https://", "mailto:a@b", " https://x.com/", "https://x.com/#f"} {
		_, err := providers.NormalizeBaseURL(in)
		require.Error(t, err, in)
	}
}

func TestMask(t *testing.T) {
	require.Equal(t, "sk-p...wxyz", providers.Mask("sk-proj-abcdefghijklmnopqrstuvwxyz"))
	require.Equal(t, "ab...yz", providers.Mask("abcdefghijklmnxyz"))
	require.Equal(t, "ab...ij", providers.Mask("abcdefghij"))
	require.Equal(t, "********", providers.Mask("abcdefghi"))
	require.Equal(t, "********", providers.Mask(""))
	// A masked 20-character key shows 8 of its characters, never more.
	k := "0123456789abcdefghij"
	m := providers.Mask(k)
	require.Equal(t, "0123...ghij", m)
	require.NotContains(t, m, "456789abcdef")
}

func TestCanonicalHash(t *testing.T) {
	base := providers.Spec{Name: "a", Type: providers.Bedrock, BaseURL: "https://x.example/", Settings: &providers.Settings{Region: "us-east-1", Model: "m1"}}
	h := base.Canonical().Hash()
	require.Len(t, h, 64)

	// Keys, credentials, models, display name, enabled and name do not count.
	same := base
	same.Name, same.DisplayName, same.Enabled = "b", "Other", true
	same.Keys = []string{"k"}
	same.Credentials = []providers.Credential{{AccessKey: "a", AccessKeySecret: "b"}}
	same.Settings = &providers.Settings{Region: "us-east-1", Model: "m2", SmallFastModel: "m3"}
	require.Equal(t, h, same.Canonical().Hash())

	for name, change := range map[string]func(s *providers.Spec){
		"type":     func(s *providers.Spec) { s.Type = providers.Anthropic },
		"base_url": func(s *providers.Spec) { s.BaseURL = "https://y.example/" },
		"region":   func(s *providers.Spec) { s.Settings = &providers.Settings{Region: "eu-west-1"} },
	} {
		s := base
		change(&s)
		require.NotEqual(t, h, s.Canonical().Hash(), name)
		d := base.Canonical().Diff(s.Canonical())
		require.Len(t, d, 1, name)
		require.Equal(t, name, d[0].Field)
	}
	d := base.Canonical().Diff(providers.Canonical{Type: providers.Bedrock, BaseURL: "https://y.example/", Region: "us-east-1"})
	require.Equal(t, []providers.FieldDiff{{Field: "base_url", From: "https://x.example/", To: "https://y.example/"}}, d)
	require.Equal(t, `base_url: "https://x.example/" → "https://y.example/"`, d[0].String())

	// Field boundaries are encoded: moving a character between fields
	// changes the hash.
	a := providers.Canonical{Type: "openai", BaseURL: "ab", Region: "c"}
	b := providers.Canonical{Type: "openai", BaseURL: "a", Region: "bc"}
	require.NotEqual(t, a.Hash(), b.Hash())
	require.Empty(t, a.Diff(a))
}
