package providerenv_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/config"
	"github.com/aigate/aigate/internal/providerenv"
	"github.com/aigate/aigate/internal/providers"
)

const strictSecret = "sk-corporate-key-0123456789abcdef"

// A variable under a provider's prefix that aigate does not know fails the
// parse, naming it and the closest known name: ignoring it would seed the
// provider without it (AIGATE_PROVIDER_0_BASEURL: the default base URL,
// and the key meant for a corporate endpoint sent to OpenAI).
func TestUnknownProviderVariableFails(t *testing.T) {
	t.Parallel()
	indexed := []string{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_KEY=" + strictSecret}
	simple := []string{"AIGATE_OPENAI_KEY=" + strictSecret}
	for _, c := range []struct {
		name     string
		base     []string
		variable string
		want     string
	}{
		{"missing underscore, indexed", indexed, "AIGATE_PROVIDER_0_BASEURL", "unknown provider variable AIGATE_PROVIDER_0_BASEURL (did you mean AIGATE_PROVIDER_0_BASE_URL?)"},
		{"missing underscore, simple", simple, "AIGATE_OPENAI_BASEURL", "unknown provider variable AIGATE_OPENAI_BASEURL (did you mean AIGATE_OPENAI_BASE_URL?)"},
		{"lower case", simple, "aigate_openai_base_url", "unknown provider variable aigate_openai_base_url (did you mean AIGATE_OPENAI_BASE_URL?)"},
		{"doubled underscore", simple, "AIGATE_OPENAI__BASE_URL", "(did you mean AIGATE_OPENAI_BASE_URL?)"},
		{"trailing space, shown quoted", simple, "AIGATE_OPENAI_BASE_URL ", `unknown provider variable "AIGATE_OPENAI_BASE_URL " (did you mean AIGATE_OPENAI_BASE_URL?)`},
		{"index without its underscore", indexed, "AIGATE_PROVIDER0_BASE_URL", "(did you mean AIGATE_PROVIDER_0_BASE_URL?)"},
		{"the field of the same index", append(indexed, "AIGATE_PROVIDER_1_TYPE=openai", "AIGATE_PROVIDER_1_NAME=b"), "AIGATE_PROVIDER_1_BASE_URK", "(did you mean AIGATE_PROVIDER_1_BASE_URL?)"},
		{"bedrock", []string{"AIGATE_BEDROCK_REGION=us-east-1"}, "AIGATE_BEDROCK_BASE_URLS", "(did you mean AIGATE_BEDROCK_BASE_URL?)"},
		{"anthropic", []string{"AIGATE_ANTHROPIC_KEY=" + strictSecret}, "AIGATE_ANTHROPIC_API_KEY", "(did you mean AIGATE_ANTHROPIC_KEY?)"},
		{"nothing close: the group's names", simple, "AIGATE_OPENAI_ORGANIZATION", "the OPENAI variables are AIGATE_OPENAI_KEY, AIGATE_OPENAI_BASE_URL"},
		{"nothing close, indexed: the fields", indexed, "AIGATE_PROVIDER_0_ORGANIZATION", "the fields of AIGATE_PROVIDER_<N>_<FIELD> are TYPE, NAME, BASE_URL"},
		{"with no provider configured", nil, "AIGATE_PROVIDER_0_BASEURL", "(did you mean AIGATE_PROVIDER_0_BASE_URL?)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			environ := append(append([]string(nil), c.base...), c.variable+"=https://llm.corp.example/v1")
			_, err := providerenv.Parse(environ)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			require.Contains(t, err.Error(), "rename or remove it")
			require.NotContains(t, err.Error(), strictSecret)
			require.NotContains(t, err.Error(), "llm.corp.example", "values are never echoed")
		})
	}
}

// Any other unknown AIGATE_* variable is a warning with the same kind of
// suggestion, and changes nothing.
func TestUnknownVariableWarns(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		variable, suggestion, message string
	}{
		{"AIGATE_OPENIA_KEY", "AIGATE_OPENAI_KEY", "ignoring unknown variable AIGATE_OPENIA_KEY (did you mean AIGATE_OPENAI_KEY?)"},
		{"AIGATE_ANTROPIC_KEY", "AIGATE_ANTHROPIC_KEY", "ignoring unknown variable AIGATE_ANTROPIC_KEY (did you mean AIGATE_ANTHROPIC_KEY?)"},
		{"AIGATE_HTTPADDRESS", "AIGATE_HTTP_ADDRESS", "ignoring unknown variable AIGATE_HTTPADDRESS (did you mean AIGATE_HTTP_ADDRESS?)"},
		{"aigate_postgres_url", "AIGATE_POSTGRES_URL", "ignoring unknown variable aigate_postgres_url (did you mean AIGATE_POSTGRES_URL?)"},
		// The option sits under AIGATE_PROVIDER_ without an index: a typo
		// of it is not a provider index error.
		{"AIGATE_PROVIDER_RELOAD_INTERVALL", "AIGATE_PROVIDER_RELOAD_INTERVAL", "(did you mean AIGATE_PROVIDER_RELOAD_INTERVAL?)"},
		{"AIGATE_PROVIDERS_0_TYPE", "AIGATE_PROVIDER_0_TYPE", "(did you mean AIGATE_PROVIDER_0_TYPE?)"},
		{"AIGATE_FROBNICATE", "", "ignoring unknown variable AIGATE_FROBNICATE: no aigate option or provider variable has that name; check for typos"},
	} {
		t.Run(c.variable, func(t *testing.T) {
			t.Parallel()
			cfg, err := providerenv.Parse([]string{c.variable + "=" + strictSecret})
			require.NoError(t, err)
			require.True(t, cfg.Empty(), "a look-alike configures nothing")
			require.Len(t, cfg.Warnings, 1)
			w := cfg.Warnings[0]
			require.Equal(t, c.variable, w.Variable)
			require.Equal(t, c.suggestion, w.Suggestion)
			require.Contains(t, w.Message, c.message)
			require.NotContains(t, w.Message, strictSecret)
		})
	}
}

// A look-alike of a variable of a provider the environment does configure
// would seed that provider without it, so it fails like a field under the
// provider's prefix.
func TestLookAlikeOfAConfiguredProviderFails(t *testing.T) {
	t.Parallel()
	_, err := providerenv.Parse([]string{"AIGATE_OPENAI_KEY=" + strictSecret, "AIGATE_OPNEAI_BASE_URL=https://llm.corp.example/v1"})
	require.ErrorContains(t, err, "unknown variable AIGATE_OPNEAI_BASE_URL (did you mean AIGATE_OPENAI_BASE_URL?): the provider from AIGATE_OPENAI_* would be seeded without it")
	require.NotContains(t, err.Error(), strictSecret)

	cfg, err := providerenv.Parse([]string{"AIGATE_ANTHROPIC_KEY=k", "AIGATE_OPNEAI_BASE_URL=https://llm.corp.example/v1"})
	require.NoError(t, err, "openai is not configured: the look-alike changes nothing")
	require.Equal(t, "AIGATE_OPENAI_BASE_URL", cfg.Warnings[0].Suggestion)
}

// Every option in the config table is known, whatever other branches add
// to it: none is warned about or taken for a provider variable; its
// misspellings suggest it.
func TestOptionsAreKnown(t *testing.T) {
	t.Parallel()
	environ := []string{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_KEY=k"}
	var envs []string
	for _, o := range config.ServerOptions(&config.Server{}) {
		if o.Env != "" {
			envs = append(envs, o.Env)
			environ = append(environ, o.Env+"=some value")
		}
	}
	require.Contains(t, envs, "AIGATE_PROVIDER_RELOAD_INTERVAL")
	cfg, err := providerenv.Parse(environ)
	require.NoError(t, err)
	require.Empty(t, cfg.Warnings)
	require.Len(t, cfg.Providers, 1)

	for _, env := range envs {
		typo := env[:len(env)-1]
		cfg, err := providerenv.Parse([]string{typo + "=x"})
		require.NoError(t, err, typo)
		require.Len(t, cfg.Warnings, 1, typo)
		require.Equal(t, env, cfg.Warnings[0].Suggestion, typo)
	}
}

// An empty variable is unset, so an empty typo changes nothing and is not
// reported; variables that are not aigate's are never looked at.
func TestEmptyAndForeignVariablesAreIgnored(t *testing.T) {
	t.Parallel()
	cfg, err := providerenv.Parse([]string{"AIGATE_OPENAI_KEY=k", "AIGATE_OPENAI_BASEURL=", "AIGATE_OPENIA_KEY= ", "OPENAI_BASE_URL=x", "PATH=/bin", "HOME=/root", "NOEQUALS"})
	require.NoError(t, err)
	require.Empty(t, cfg.Warnings)
	require.Equal(t, providers.DefaultOpenAIBaseURL, cfg.Providers[0].Spec.BaseURL)
}

// A well-known index error keeps its message, now with a suggestion.
func TestIndexNotANumber(t *testing.T) {
	t.Parallel()
	_, err := providerenv.Parse([]string{"AIGATE_PROVIDER_X_TYPE=openai"})
	require.ErrorContains(t, err, `AIGATE_PROVIDER_X_TYPE: "X" is not a provider index`)
	require.ErrorContains(t, err, "(did you mean AIGATE_PROVIDER_0_TYPE?)")
}

func TestFields(t *testing.T) {
	t.Parallel()
	const key1, key2 = "sk-first-0123456789abcdef", "sk-second-0123456789abcdef"
	const access, secret = "AKIAEXAMPLE0123456789", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	cfg := parse(t,
		"AIGATE_OPENAI_KEY="+key1,
		"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_NAME=vllm", "AIGATE_PROVIDER_0_BASE_URL=http://127.0.0.1:8000/v1", "AIGATE_PROVIDER_0_KEYS="+key1+","+key2,
		"AIGATE_PROVIDER_1_TYPE=bedrock", "AIGATE_PROVIDER_1_NAME=br", "AIGATE_PROVIDER_1_BEDROCK_REGION=eu-west-1", "AIGATE_PROVIDER_1_BEDROCK_MODEL=m1",
		"AIGATE_PROVIDER_1_BEDROCK_ACCESS_KEY="+access, "AIGATE_PROVIDER_1_BEDROCK_ACCESS_KEY_SECRET="+secret,
		"AIGATE_PROVIDER_2_TYPE=copilot", "AIGATE_PROVIDER_2_KEY=k",
		"AIGATE_PROVIDER_3_TYPE=anthropic", "AIGATE_PROVIDER_3_NAME=ant",
	)
	fields := map[string][]providerenv.Field{}
	for _, p := range cfg.Providers {
		fields[p.Spec.Name] = p.Fields()
	}
	f := func(name, value string) providerenv.Field { return providerenv.Field{Name: name, Value: value} }
	require.Equal(t, []providerenv.Field{
		f("name", "openai"), f("type", "openai"), f("enabled", "true"),
		f("base_url", "https://api.openai.com/v1/ (default)"),
		f("api_keys", "1: "+providers.Mask(key1)),
	}, fields["openai"])
	require.Equal(t, []providerenv.Field{
		f("name", "vllm"), f("type", "openai"), f("enabled", "true"),
		f("base_url", "http://127.0.0.1:8000/v1/"),
		f("api_keys", "2: sk-f...cdef, sk-s...cdef"),
	}, fields["vllm"])
	require.Equal(t, []providerenv.Field{
		f("name", "br"), f("type", "bedrock"), f("enabled", "true"),
		f("base_url", "none (the AWS endpoint of the region)"),
		f("region", "eu-west-1"), f("model", "m1"),
		f("small_fast_model", providers.DefaultBedrockSmallFastModel+" (default)"),
		f("credentials", "1 access key pair(s): AKIA...6789"),
	}, fields["br"])
	require.Equal(t, []providerenv.Field{f("name", "copilot"), f("type", "copilot (not stored: aigate does not serve this type)")}, fields["copilot"])
	require.Equal(t, []providerenv.Field{
		f("name", "ant"), f("type", "anthropic"), f("enabled", "true"),
		f("base_url", "https://api.anthropic.com/ (default)"),
		f("api_keys", "none (requests fail until a key is added)"),
	}, fields["ant"])
	for _, fs := range fields {
		for _, f := range fs {
			for _, s := range []string{key1, key2, secret, access} {
				require.NotContains(t, f.Value, s)
			}
			require.False(t, strings.Contains(f.Value, "wJal"), "no part of a secret key is shown")
		}
	}
}
