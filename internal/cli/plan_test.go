package cli_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/cli"
	"github.com/aigate/aigate/internal/encryption"
	"github.com/aigate/aigate/internal/providerenv"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/testdb"
)

const planKeys = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

func runPlan(t *testing.T, url string, environ ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	io := cli.IO{Stdout: &out, Stderr: &errOut, Getenv: env(map[string]string{"AIGATE_ENCRYPTION_KEYS": planKeys}),
		Environ: func() []string { return environ }}
	code := cli.Main(context.Background(), []string{"providers", "plan", "--postgres-url", url}, io)
	return code, out.String(), errOut.String()
}

// plan prints every field the seed would write, defaults filled in and
// keys masked; a conflict is explained in the startup error's own words.
func TestProvidersPlanShowsFieldsAndTheStartupDiff(t *testing.T) {
	t.Parallel()
	const key = "sk-plan-OPENAI-0123456789abcdef"
	url := testdb.URL(t)
	environ := []string{"AIGATE_OPENAI_KEY=" + key, "AIGATE_PROVIDER_0_TYPE=bedrock", "AIGATE_PROVIDER_0_NAME=br", "AIGATE_PROVIDER_0_BEDROCK_REGION=eu-west-1"}

	code, out, errOut := runPlan(t, url, environ...)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, `PROVIDER  FROM                 PLAN
br        AIGATE_PROVIDER_0_*  create
openai    AIGATE_OPENAI_*      create

br (from AIGATE_PROVIDER_0_*): create
  name:             br
  type:             bedrock
  enabled:          true
  base_url:         none (the AWS endpoint of the region)
  region:           eu-west-1
  model:            global.anthropic.claude-sonnet-4-5-20250929-v1:0 (default)
  small_fast_model: global.anthropic.claude-haiku-4-5-20251001-v1:0 (default)
  credentials:      none (the AWS credential chain at request time)

openai (from AIGATE_OPENAI_*): create
  name:     openai
  type:     openai
  enabled:  true
  base_url: https://api.openai.com/v1/ (default)
  api_keys: 1: sk-p...cdef
`, out)

	// Seed what the environment asks for, then move the base URL: the
	// seed's error and the plan explain the conflict in the same text.
	db := testdb.Open(t, url)
	keyring, err := encryption.ParseKeys(planKeys)
	require.NoError(t, err)
	svc := providers.NewService(db, keyring, &audit.Recorder{}, nil)
	cfg, err := providerenv.Parse(environ)
	require.NoError(t, err)
	require.NoError(t, providerenv.Seed(context.Background(), db, svc, cfg, slog.New(slog.DiscardHandler)))
	drifted := append([]string{"AIGATE_OPENAI_BASE_URL=https://llm.corp.example/v1"}, environ...)
	cfg, err = providerenv.Parse(drifted)
	require.NoError(t, err)
	seedErr := providerenv.Seed(context.Background(), db, svc, cfg, slog.New(slog.DiscardHandler))
	var drift *providerenv.DriftError
	require.True(t, errors.As(seedErr, &drift), "%v", seedErr)
	require.Len(t, drift.Steps, 1)
	text := drift.Steps[0].ConflictText()
	require.Contains(t, seedErr.Error(), strings.ReplaceAll(text, "\n", "\n  "))

	code, out, errOut = runPlan(t, url, drifted...)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "The server would refuse to start: 1 provider(s) in CONFLICT.")
	require.Contains(t, out, `
openai (from AIGATE_OPENAI_*): CONFLICT
  name:     openai
  type:     openai
  enabled:  true
  base_url: https://llm.corp.example/v1/
  api_keys: 1: sk-p...cdef
  `+strings.ReplaceAll(text, "\n", "\n  ")+"\n")
	require.Contains(t, out, `base_url: database "https://api.openai.com/v1/", environment "https://llm.corp.example/v1/"`)
	require.Regexp(t, `br\s+AIGATE_PROVIDER_0_\*\s+unchanged`, out)
	require.NotContains(t, out+errOut, key)
}

// A misspelt provider variable fails plan as it fails the server, before
// the database is opened; a look-alike elsewhere is a warning on stderr.
func TestProvidersPlanStrictEnvironment(t *testing.T) {
	t.Parallel()
	code, out, errOut := runPlan(t, "postgres://nobody@127.0.0.1:1/none", "AIGATE_OPENAI_KEY=k", "AIGATE_OPENAI_BASEURL=https://llm.corp.example/v1")
	require.Equal(t, 1, code, out)
	require.Contains(t, errOut, "the server would not start")
	require.Contains(t, errOut, "unknown provider variable AIGATE_OPENAI_BASEURL (did you mean AIGATE_OPENAI_BASE_URL?)")
	require.NotContains(t, errOut, "cannot connect", "the environment is checked before the database")

	code, out, errOut = runPlan(t, testdb.URL(t), "AIGATE_OPENIA_KEY=k")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "warning: ignoring unknown variable AIGATE_OPENIA_KEY (did you mean AIGATE_OPENAI_KEY?)\n", errOut)
	require.Contains(t, out, "No AI providers are configured in the environment")
}
