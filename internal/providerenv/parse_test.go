package providerenv_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/providerenv"
	"github.com/aigate/aigate/internal/providers"
)

func parse(t *testing.T, environ ...string) providerenv.Config {
	t.Helper()
	cfg, err := providerenv.Parse(environ)
	require.NoError(t, err)
	return cfg
}

func names(cfg providerenv.Config) []string {
	var out []string
	for _, p := range cfg.Providers {
		out = append(out, p.Spec.Name)
	}
	return out
}

func TestSimpleForm(t *testing.T) {
	cfg := parse(t, "AIGATE_OPENAI_KEY=sk-openai", "AIGATE_ANTHROPIC_KEY= sk-ant ", "PATH=/bin", "AIGATE_LOG_LEVEL=debug")
	require.Equal(t, []string{"anthropic", "openai"}, names(cfg))
	ant, oai := cfg.Providers[0].Spec, cfg.Providers[1].Spec
	require.Equal(t, providers.Spec{Name: "openai", Type: providers.OpenAI, Enabled: true, BaseURL: providers.DefaultOpenAIBaseURL, Keys: []string{"sk-openai"}}, oai)
	require.Equal(t, providers.Spec{Name: "anthropic", Type: providers.Anthropic, Enabled: true, BaseURL: providers.DefaultAnthropicBaseURL, Keys: []string{"sk-ant"}}, ant)

	cfg = parse(t, "AIGATE_OPENAI_KEY=k", "AIGATE_OPENAI_BASE_URL=http://127.0.0.1:8000/v1")
	require.Equal(t, "http://127.0.0.1:8000/v1/", cfg.Providers[0].Spec.BaseURL)
}

func TestNothingConfigured(t *testing.T) {
	for _, environ := range [][]string{
		nil,
		{"AIGATE_OPENAI_BASE_URL=https://x.example/"},                   // base URLs alone create nothing
		{"AIGATE_BEDROCK_MODEL=m", "AIGATE_BEDROCK_SMALL_FAST_MODEL=s"}, // nor do model IDs
		{"AIGATE_OPENAI_KEY="},                                          // empty is unset
	} {
		cfg := parse(t, environ...)
		require.True(t, cfg.Empty(), "%v", environ)
	}
}

func TestSimpleBedrock(t *testing.T) {
	for _, v := range []string{"AIGATE_BEDROCK_REGION=us-west-2", "AIGATE_BEDROCK_BASE_URL=https://bedrock.example/"} {
		cfg := parse(t, v)
		require.Len(t, cfg.Providers, 1, v)
		s := cfg.Providers[0].Spec
		require.Equal(t, "anthropic", s.Name, "the name stays anthropic so client URLs do not change")
		require.Equal(t, providers.Bedrock, s.Type)
		require.Equal(t, providers.DefaultBedrockModel, s.Settings.Model)
		require.Empty(t, s.Keys)
	}
	cfg := parse(t, "AIGATE_BEDROCK_REGION=us-west-2", "AIGATE_BEDROCK_ACCESS_KEY=AKIA1", "AIGATE_BEDROCK_ACCESS_KEY_SECRET=s1", "AIGATE_BEDROCK_MODEL=m")
	s := cfg.Providers[0].Spec
	require.Equal(t, []providers.Credential{{AccessKey: "AKIA1", AccessKeySecret: "s1"}}, s.Credentials)
	require.Equal(t, "m", s.Settings.Model)
	require.Empty(t, s.BaseURL, "the endpoint follows from the region")
}

func TestIndexedForm(t *testing.T) {
	cfg := parse(t,
		"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_NAME=vllm", "AIGATE_PROVIDER_0_BASE_URL=http://127.0.0.1:8000/v1",
		"AIGATE_PROVIDER_0_KEYS= k1 , k2,k3",
		"AIGATE_PROVIDER_1_TYPE=anthropic", "AIGATE_PROVIDER_1_BEDROCK_REGION=eu-west-1", "AIGATE_PROVIDER_1_BEDROCK_BASE_URL=https://br.example",
		"AIGATE_PROVIDER_1_BEDROCK_ACCESS_KEYS=a1,a2", "AIGATE_PROVIDER_1_BEDROCK_ACCESS_KEY_SECRETS=s1,s2",
		"AIGATE_PROVIDER_2_TYPE=openai",
	)
	require.Equal(t, []string{"anthropic", "openai", "vllm"}, names(cfg))
	br, oai, vllm := cfg.Providers[0], cfg.Providers[1], cfg.Providers[2]
	require.Equal(t, []string{"k1", "k2", "k3"}, vllm.Spec.Keys, "entries are trimmed, order kept")
	require.Equal(t, "http://127.0.0.1:8000/v1/", vllm.Spec.BaseURL)
	require.Equal(t, "AIGATE_PROVIDER_0_*", vllm.Source)
	require.Equal(t, providers.Bedrock, br.Spec.Type, "anthropic with configured Bedrock fields is stored as bedrock")
	require.Equal(t, "https://br.example/", br.Spec.BaseURL)
	require.Equal(t, []providers.Credential{{AccessKey: "a1", AccessKeySecret: "s1"}, {AccessKey: "a2", AccessKeySecret: "s2"}}, br.Spec.Credentials)
	require.Equal(t, providers.DefaultOpenAIBaseURL, oai.Spec.BaseURL)
	require.Empty(t, oai.Spec.Keys)
}

func TestIndexedNumericOrderAndAnyEnvOrder(t *testing.T) {
	var environ []string
	for i := 11; i >= 0; i-- { // reverse order in the environment
		n := strings.Repeat("x", i+1)
		environ = append(environ, "AIGATE_PROVIDER_"+itoa(i)+"_TYPE=openai", "AIGATE_PROVIDER_"+itoa(i)+"_NAME="+n)
	}
	cfg := parse(t, environ...)
	require.Len(t, cfg.Providers, 12, "10 and 11 come after 2, not after 1")
	for _, p := range cfg.Providers {
		require.Equal(t, "AIGATE_PROVIDER_"+itoa(len(p.Spec.Name)-1)+"_*", p.Source)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + itoa(i%10)
}

func TestIdenticalDuplicatesMerge(t *testing.T) {
	cfg := parse(t, "AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_KEY=k", "AIGATE_PROVIDER_1_TYPE=openai", "AIGATE_PROVIDER_1_NAME=openai", "AIGATE_PROVIDER_1_KEYS=k")
	require.Equal(t, []string{"openai"}, names(cfg))
}

func TestCopilotIsKnownButUnsupported(t *testing.T) {
	cfg := parse(t, "AIGATE_PROVIDER_0_TYPE=copilot", "AIGATE_PROVIDER_0_KEY=k")
	require.Len(t, cfg.Providers, 1)
	require.Equal(t, "copilot", cfg.Providers[0].Unsupported)
	require.Equal(t, "copilot", cfg.Providers[0].Spec.Name)
}

// Every parse error the spec lists: the message names the variable and
// says what to do.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name    string
		environ []string
		want    []string
	}{
		{"index not an integer", []string{"AIGATE_PROVIDER_X_TYPE=openai"}, []string{"AIGATE_PROVIDER_X_TYPE", `"X" is not a provider index`}},
		{"index with a leading zero", []string{"AIGATE_PROVIDER_00_TYPE=openai"}, []string{`"00" is not a provider index`}},
		{"gap in indices", []string{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_2_TYPE=anthropic", "AIGATE_PROVIDER_2_KEY=k"}, []string{"AIGATE_PROVIDER_1_* is missing but AIGATE_PROVIDER_2_* is set"}},
		{"not starting at 0", []string{"AIGATE_PROVIDER_1_TYPE=openai"}, []string{"AIGATE_PROVIDER_0_* is missing but AIGATE_PROVIDER_1_* is set"}},
		{"TYPE missing", []string{"AIGATE_PROVIDER_0_KEY=k"}, []string{"AIGATE_PROVIDER_0_TYPE is required", "openai, anthropic, bedrock, copilot"}},
		{"unknown type", []string{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_1_TYPE=openai", "AIGATE_PROVIDER_1_NAME=b", "AIGATE_PROVIDER_2_TYPE=openai", "AIGATE_PROVIDER_2_NAME=c", "AIGATE_PROVIDER_3_TYPE=gemini"},
			[]string{`unknown TYPE "gemini" for AIGATE_PROVIDER_3_TYPE (expected one of: openai, anthropic, bedrock, copilot)`}},
		{"same name, different fields", []string{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_KEY=k1", "AIGATE_PROVIDER_1_TYPE=openai", "AIGATE_PROVIDER_1_KEY=k2"},
			[]string{"AIGATE_PROVIDER_0_* and AIGATE_PROVIDER_1_* both define provider \"openai\""}},
		{"defaulted name clashes with explicit", []string{"AIGATE_PROVIDER_0_TYPE=anthropic", "AIGATE_PROVIDER_0_KEY=k", "AIGATE_PROVIDER_1_TYPE=openai", "AIGATE_PROVIDER_1_NAME=anthropic"},
			[]string{"both define provider \"anthropic\""}},
		{"KEY and KEYS", []string{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_KEY=k", "AIGATE_PROVIDER_0_KEYS=k1,k2"}, []string{"AIGATE_PROVIDER_0_KEY and AIGATE_PROVIDER_0_KEYS are both set"}},
		{"access key and keys", []string{"AIGATE_PROVIDER_0_TYPE=bedrock", "AIGATE_PROVIDER_0_BEDROCK_ACCESS_KEY=a", "AIGATE_PROVIDER_0_BEDROCK_ACCESS_KEYS=a,b"}, []string{"AIGATE_PROVIDER_0_BEDROCK_ACCESS_KEY and AIGATE_PROVIDER_0_BEDROCK_ACCESS_KEYS are both set"}},
		{"secret and secrets", []string{"AIGATE_PROVIDER_0_TYPE=bedrock", "AIGATE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRET=a", "AIGATE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRETS=a"}, []string{"AIGATE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRET and AIGATE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRETS are both set"}},
		{"empty key in a list", []string{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_KEYS=k1,,k2"}, []string{"AIGATE_PROVIDER_0_KEYS has an empty entry (entry 2)"}},
		{"duplicate key in a list", []string{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_KEYS=k1,k2, k1"}, []string{"AIGATE_PROVIDER_0_KEYS lists the same key twice (entry 3)"}},
		{"more than 5 keys", []string{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_KEYS=a,b,c,d,e,f"}, []string{"AIGATE_PROVIDER_0_KEYS lists 6 keys; at most 5"}},
		{"key and secret counts differ", []string{"AIGATE_PROVIDER_0_TYPE=bedrock", "AIGATE_PROVIDER_0_BEDROCK_ACCESS_KEYS=a,b", "AIGATE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRETS=s"}, []string{"gives 2 access keys", "gives 1 secrets"}},
		{"bedrock fields on openai", []string{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_BEDROCK_MODEL=m"}, []string{"AIGATE_PROVIDER_0_BEDROCK_MODEL is set on a provider of TYPE openai"}},
		{"anthropic with keys and bedrock", []string{"AIGATE_PROVIDER_0_TYPE=anthropic", "AIGATE_PROVIDER_0_KEY=k", "AIGATE_PROVIDER_0_BEDROCK_REGION=us-east-1"}, []string{"either an Anthropic key or Bedrock"}},
		{"bedrock with nothing configured", []string{"AIGATE_PROVIDER_0_TYPE=bedrock", "AIGATE_PROVIDER_0_BEDROCK_MODEL=m"}, []string{"AIGATE_PROVIDER_0_TYPE is bedrock but no Bedrock field is configured"}},
		{"keys on bedrock", []string{"AIGATE_PROVIDER_0_TYPE=bedrock", "AIGATE_PROVIDER_0_BEDROCK_REGION=us-east-1", "AIGATE_PROVIDER_0_KEY=k"}, []string{"AIGATE_PROVIDER_0_KEY(S) is set on a bedrock provider"}},
		{"invalid name", []string{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_NAME=Bad_Name"}, []string{`invalid provider name "Bad_Name" in AIGATE_PROVIDER_0_NAME: must match ^[a-z0-9]+(-[a-z0-9]+)*$`}},
		{"indexed vs simple", []string{"AIGATE_OPENAI_KEY=k", "AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_KEY=k"},
			[]string{`indexed provider "openai" (AIGATE_PROVIDER_0_*) conflicts with the provider from AIGATE_OPENAI_KEY; remove one or the other`}},
		{"anthropic key and bedrock (simple)", []string{"AIGATE_ANTHROPIC_KEY=k", "AIGATE_BEDROCK_ACCESS_KEY=a", "AIGATE_BEDROCK_ACCESS_KEY_SECRET=s"}, []string{"AIGATE_ANTHROPIC_KEY and AIGATE_BEDROCK_* are mutually exclusive"}},
		{"bedrock access key without secret (simple)", []string{"AIGATE_BEDROCK_REGION=us-east-1", "AIGATE_BEDROCK_ACCESS_KEY=a"}, []string{"AIGATE_BEDROCK_ACCESS_KEY gives 1 access keys but AIGATE_BEDROCK_ACCESS_KEY_SECRET gives 0"}},
		{"bad base URL", []string{"AIGATE_OPENAI_KEY=k", "AIGATE_OPENAI_BASE_URL=localhost:8000"}, []string{"invalid AIGATE_OPENAI_BASE_URL", "absolute http or https"}},
		{"BASE_URL on bedrock", []string{"AIGATE_PROVIDER_0_TYPE=bedrock", "AIGATE_PROVIDER_0_BEDROCK_REGION=us-east-1", "AIGATE_PROVIDER_0_BASE_URL=https://x/"}, []string{"set AIGATE_PROVIDER_0_BEDROCK_BASE_URL instead"}},
		{"key with inner space", []string{"AIGATE_OPENAI_KEY=sk 1"}, []string{`provider "openai" (AIGATE_OPENAI_*) is invalid`, "printable ASCII"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := providerenv.Parse(c.environ)
			require.Error(t, err)
			for _, w := range c.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// No secret value appears in a parse error.
func TestParseErrorsHideKeys(t *testing.T) {
	const secret = "sk-secret-value-0123456789"
	for _, environ := range [][]string{
		{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_KEYS=" + secret + "," + secret},
		{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_KEY=" + secret + " x"},
		{"AIGATE_ANTHROPIC_KEY=" + secret, "AIGATE_BEDROCK_REGION=us-east-1"},
		{"AIGATE_PROVIDER_0_TYPE=bedrock", "AIGATE_PROVIDER_0_BEDROCK_REGION=r", "AIGATE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRET=" + secret},
	} {
		_, err := providerenv.Parse(environ)
		require.Error(t, err)
		require.NotContains(t, err.Error(), secret)
		require.NotContains(t, err.Error(), "sk-secret")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("AIGATE_OPENAI_KEY=k\nAIGATE_PROVIDER_0_TYPE=anthropic\nAIGATE_PROVIDER_0_KEYS=a,b")
	f.Add("AIGATE_PROVIDER_10_TYPE=openai\nAIGATE_PROVIDER_0_BEDROCK_REGION=x\nAIGATE_BEDROCK_ACCESS_KEY=a")
	f.Add("AIGATE_PROVIDER_0_TYPE=bedrock\nAIGATE_PROVIDER_0_BEDROCK_ACCESS_KEYS=a,b\nAIGATE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRETS=c,d")
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := providerenv.Parse(strings.Split(s, "\n"))
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		// Whatever parses is valid by the domain's own rules, and in name order.
		for i, p := range cfg.Providers {
			if i > 0 {
				require.Less(t, cfg.Providers[i-1].Spec.Name, p.Spec.Name)
			}
			require.NoError(t, providers.ValidateName(p.Spec.Name))
			if p.Unsupported == "" {
				_, err := p.Spec.Normalize()
				require.NoError(t, err)
			}
		}
	})
}
