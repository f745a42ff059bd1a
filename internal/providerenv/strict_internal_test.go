package providerenv

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSuggest(t *testing.T) {
	t.Parallel()
	c := strictChecker{options: map[string]bool{"AIGATE_HTTP_ADDRESS": true, "AIGATE_POSTGRES_URL": true, "AIGATE_LOG_LEVEL": true}}
	for name, want := range map[string]string{
		"AIGATE_PROVIDER_0_BASEURL":                    "AIGATE_PROVIDER_0_BASE_URL",
		"AIGATE_PROVIDER_7_BASEURL":                    "AIGATE_PROVIDER_7_BASE_URL", // the index it names
		"AIGATE_PROVIDER7_KEYS":                        "AIGATE_PROVIDER_7_KEYS",
		"AIGATE_OPENAI_BASEURL":                        "AIGATE_OPENAI_BASE_URL",
		"AIGATE_OPENIA_KEY":                            "AIGATE_OPENAI_KEY",
		"aigate_openai_key":                            "AIGATE_OPENAI_KEY",
		"AIGATE_OPENAI_KEY ":                           "AIGATE_OPENAI_KEY",
		"AIGATE__OPENAI__KEY":                          "AIGATE_OPENAI_KEY",
		"AIGATE_OPENAI_KEYS":                           "AIGATE_OPENAI_KEY",
		"AIGATE_HTTP_ADDRSS":                           "AIGATE_HTTP_ADDRESS",
		"AIGATE_POSTGRESS_URL":                         "AIGATE_POSTGRES_URL",
		"AIGATE_LOGLEVEL":                              "AIGATE_LOG_LEVEL",
		"AIGATE_BEDROCK_ACCESSKEY":                     "AIGATE_BEDROCK_ACCESS_KEY",
		"AIGATE_BEDROCK_ACCESS_SECRET":                 "AIGATE_BEDROCK_ACCESS_KEY_SECRET",
		"AIGATE_TOTALLY_DIFFERENT":                     "",
		"AIGATE_X":                                     "",
		"AIGATE_" + strings.Repeat("A", maxSuggestLen): "",
	} {
		require.Equal(t, want, c.suggest(name), name)
	}
}

func TestProviderScoped(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"AIGATE_PROVIDER_0_BASEURL":       true,
		"AIGATE_PROVIDER0_BASE_URL":       true,
		"aigate_provider_12_x":            true,
		"AIGATE_OPENAI_BASEURL":           true,
		"AIGATEOPENAI_KEY":                true,
		"AIGATE_ANTHROPIC_X":              true,
		"AIGATE_BEDROCK_X":                true,
		"AIGATE_PROVIDER_RELOAD_INTERVAL": false,
		"AIGATE_PROVIDER_X_TYPE":          false,
		"AIGATE_OPENIA_KEY":               false,
		"AIGATE_HTTP_ADDRESS":             false,
	} {
		require.Equal(t, want, providerScoped(name), name)
	}
}
