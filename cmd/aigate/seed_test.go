package main_test

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/testdb"
)

const (
	seedOpenAIKey = "sk-e2e-seed-OPENAI-0123456789abcdef"
	seedVLLMKey   = "sk-e2e-seed-VLLM-0123456789abcdef"
)

var providerEnv = []string{
	"AIGATE_OPENAI_KEY=" + seedOpenAIKey,
	"AIGATE_BEDROCK_REGION=us-east-1",
	"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_NAME=vllm", "AIGATE_PROVIDER_0_BASE_URL=http://127.0.0.1:8000/v1",
	"AIGATE_PROVIDER_0_KEYS=" + seedVLLMKey + "," + seedOpenAIKey,
}

// dbState is every row the seed could write, as text.
func dbState(t *testing.T, db *database.DB) string {
	t.Helper()
	var s string
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT
		coalesce((SELECT string_agg(t::text, E'\n' ORDER BY id) FROM ai_providers t), '') ||
		coalesce((SELECT string_agg(t::text, E'\n' ORDER BY id) FROM ai_provider_keys t), '') ||
		coalesce((SELECT string_agg(t::text, E'\n' ORDER BY id) FROM audit_logs t), '')`).Scan(&s))
	return s
}

func countRows(t *testing.T, db *database.DB, query string) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), query).Scan(&n))
	return n
}

// Issue 5, acceptance 1 and 2: ten servers started at once with the same
// provider environment on an empty database all come up and seed each
// provider once; a restart writes nothing.
func TestTenReplicasSeedOnce(t *testing.T) {
	t.Parallel()
	url := testdb.EmptyURL(t)
	serverArgs := []string{"server", "--postgres-url", url, "--http-address", "127.0.0.1:0", "--log-format", "json"}
	procs := make([]*proc, 10)
	for i := range procs {
		procs[i] = start(t, nil, providerEnv, serverArgs...)
	}
	for _, p := range procs {
		require.Equal(t, http.StatusOK, readyz(t, p.waitFor("aigate ready")["address"].(string)))
	}
	db := testdb.Open(t, url)
	require.Equal(t, 3, countRows(t, db, "SELECT count(*) FROM ai_providers"))
	require.Equal(t, 3, countRows(t, db, "SELECT count(*) FROM ai_provider_keys"))
	require.Equal(t, 3, countRows(t, db, "SELECT count(*) FROM audit_logs WHERE resource_type = 'ai_provider' AND actor = 'system'"))
	require.Equal(t, 3, countRows(t, db, "SELECT count(*) FROM audit_logs WHERE resource_type = 'ai_provider_key' AND actor = 'system'"))
	seeded := 0
	for _, p := range procs {
		p.stop(syscall.SIGTERM)
		seeded += strings.Count(p.output(), `"msg":"seeded provider from environment"`)
		require.Empty(t, p.errorLines())
		for _, k := range []string{seedOpenAIKey, seedVLLMKey} {
			require.NotContains(t, p.output(), k)
		}
	}
	require.Equal(t, 3, seeded)

	before := dbState(t, db)
	p := start(t, nil, providerEnv, serverArgs...)
	p.waitFor("aigate ready")
	p.stop(syscall.SIGTERM)
	require.Equal(t, before, dbState(t, db), "a restart with the same environment writes nothing")
	require.NotContains(t, p.output(), "seeded provider")
}

// Issue 5, acceptance 3 and 4: drift stops startup with the provider, the
// field, both values and the fixes, and changes nothing; plan says CONFLICT
// and exits 1; the first fix works. A deleted provider stays deleted.
func TestDriftStopsStartupUntilFixed(t *testing.T) {
	t.Parallel()
	url := testdb.EmptyURL(t)
	db := testdb.Open(t, url)
	serverArgs := []string{"server", "--postgres-url", url, "--http-address", "127.0.0.1:0", "--log-format", "json"}
	p := start(t, nil, providerEnv, serverArgs...)
	base := "http://" + p.waitFor("aigate ready")["address"].(string)
	code, body := api(t, "POST", base+"/api/v1/users/first", "", map[string]any{"email": "o@example.com", "name": "O", "password": "correct horse battery"})
	require.Equal(t, http.StatusCreated, code, body)
	token := body["token"].(string)

	drifted := append([]string{"AIGATE_OPENAI_BASE_URL=https://llm-proxy.example/v1"}, providerEnv...)
	before := dbState(t, db)
	code, startOut := run(t, drifted, serverArgs...)
	require.NotZero(t, code, startOut)
	for _, want := range []string{
		`provider "openai" (from AIGATE_OPENAI_*)`,
		`base_url: database "https://api.openai.com/v1/", environment "https://llm-proxy.example/v1/"`,
		"aigate providers edit openai --base-url https://llm-proxy.example/v1/",
		"remove the AIGATE_OPENAI_* variables",
		"aigate providers delete openai",
	} {
		require.Contains(t, startOut, want)
	}
	require.NotContains(t, startOut, seedOpenAIKey)
	require.Equal(t, before, dbState(t, db), "a refused start changes nothing")

	code, out := run(t, drifted, "providers", "plan", "--postgres-url", url)
	require.Equal(t, 1, code, out)
	require.Regexp(t, `openai\s+AIGATE_OPENAI_\*\s+CONFLICT`, out)
	require.Regexp(t, `vllm\s+AIGATE_PROVIDER_0_\*\s+unchanged`, out)
	require.Regexp(t, `anthropic\s+AIGATE_BEDROCK_\*\s+unchanged`, out)
	require.Contains(t, out, "aigate providers edit openai --base-url https://llm-proxy.example/v1/")
	code, out = run(t, providerEnv, "providers", "plan", "--postgres-url", url)
	require.Zero(t, code, "the unchanged environment still plans clean: %s", out)

	// Run the first suggested fix, literally, against the running server.
	fix := regexp.MustCompile(`aigate providers edit openai --base-url \S+`).FindString(startOut)
	require.NotEmpty(t, fix)
	clientEnv := []string{"AIGATE_URL=" + base, "AIGATE_TOKEN=" + token}
	code, out = run(t, clientEnv, strings.Fields(fix)[1:]...)
	require.Zero(t, code, out)
	p.stop(syscall.SIGTERM)

	p = start(t, nil, drifted, serverArgs...)
	base = "http://" + p.waitFor("aigate ready")["address"].(string)

	// Acceptance 4: deleted through the API, it stays deleted.
	code, _ = api(t, "DELETE", base+"/api/v1/providers/vllm", token, nil)
	require.Equal(t, http.StatusNoContent, code)
	p.stop(syscall.SIGTERM)
	p = start(t, nil, drifted, serverArgs...)
	base = "http://" + p.waitFor("aigate ready")["address"].(string)
	warn := p.waitFor("provider from environment was deleted in the database; not recreating it (restore it with `aigate providers restore`, or remove the variables)")
	require.Equal(t, "vllm", warn["name"])
	code, _ = api(t, "GET", base+"/api/v1/providers/vllm", token, nil)
	require.Equal(t, http.StatusNotFound, code)
	code, out = run(t, drifted, "providers", "plan", "--postgres-url", url)
	require.Zero(t, code, out)
	require.Regexp(t, `vllm\s+AIGATE_PROVIDER_0_\*\s+skipped \(deleted\)`, out)
	p.stop(syscall.SIGTERM)
}

// A typo in the provider environment fails startup before the database is
// touched, naming the variable.
func TestProviderEnvParseErrorFailsStartup(t *testing.T) {
	t.Parallel()
	code, out := run(t, []string{"AIGATE_PROVIDER_0_TYPE=gemini"}, "server", "--postgres-url", "postgres://nobody@127.0.0.1:1/none", "--http-address", "127.0.0.1:0")
	require.NotZero(t, code)
	require.Contains(t, out, `unknown TYPE "gemini" for AIGATE_PROVIDER_0_TYPE (expected one of: openai, anthropic, bedrock, copilot)`)
	require.NotContains(t, out, "cannot connect", "parse errors come before the database")
}

// Issue 15, acceptance 1: a misspelt provider variable fails startup with
// the closest known name and writes nothing; `providers plan` refuses the
// same way; with the name fixed, plan shows the base URL that would be
// used (and without it, the default), and the server seeds that URL.
func TestMisspeltProviderVariableFailsStartup(t *testing.T) {
	t.Parallel()
	const corpKey = "sk-e2e-corp-KEY-0123456789abcdef"
	const corpURL = "https://llm.corp.example/v1"
	for _, c := range []struct {
		name, provider, typo, fixed string
		env                         []string
	}{
		{"indexed", "corp", "AIGATE_PROVIDER_0_BASEURL", "AIGATE_PROVIDER_0_BASE_URL",
			[]string{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_NAME=corp", "AIGATE_PROVIDER_0_KEY=" + corpKey}},
		{"simple", "openai", "AIGATE_OPENAI_BASEURL", "AIGATE_OPENAI_BASE_URL",
			[]string{"AIGATE_OPENAI_KEY=" + corpKey}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			url := testdb.URL(t)
			db := testdb.Open(t, url)
			serverArgs := []string{"server", "--postgres-url", url, "--http-address", "127.0.0.1:0", "--log-format", "json"}
			misspelt := append(slices.Clone(c.env), c.typo+"="+corpURL)
			fixed := append(slices.Clone(c.env), c.fixed+"="+corpURL)
			want := "unknown provider variable " + c.typo + " (did you mean " + c.fixed + "?)"

			before := dbState(t, db)
			code, out := run(t, misspelt, serverArgs...)
			require.NotZero(t, code, out)
			require.Contains(t, out, want)
			require.NotContains(t, out, corpKey)
			require.Zero(t, countRows(t, db, "SELECT count(*) FROM ai_providers"))
			require.Equal(t, before, dbState(t, db), "a refused start writes nothing")

			code, out = run(t, misspelt, "providers", "plan", "--postgres-url", url)
			require.Equal(t, 1, code, out)
			require.Contains(t, out, want)

			code, out = run(t, fixed, "providers", "plan", "--postgres-url", url)
			require.Zero(t, code, out)
			require.Regexp(t, c.provider+`\s+AIGATE_\S+\s+create`, out)
			require.Regexp(t, `\n  base_url:\s+https://llm\.corp\.example/v1/\n`, out)
			require.Regexp(t, `\n  api_keys:\s+1: `+regexp.QuoteMeta(providers.Mask(corpKey))+`\n`, out)
			require.NotContains(t, out, corpKey)

			code, out = run(t, c.env, "providers", "plan", "--postgres-url", url)
			require.Zero(t, code, out)
			require.Regexp(t, `\n  base_url:\s+https://api\.openai\.com/v1/ \(default\)\n`, out)
			require.Equal(t, before, dbState(t, db), "plan writes nothing")

			p := start(t, nil, fixed, serverArgs...)
			p.waitFor("aigate ready")
			p.stop(syscall.SIGTERM)
			var baseURL string
			require.NoError(t, db.Pool.QueryRow(context.Background(), "SELECT base_url FROM ai_providers WHERE name = $1", c.provider).Scan(&baseURL))
			require.Equal(t, corpURL+"/", baseURL)
		})
	}
}

// Issue 15: an unknown AIGATE_* variable outside the provider prefixes is a
// warning with the closest known name; the server starts and seeds nothing
// from it. Options given as variables, AIGATE_PROVIDER_RELOAD_INTERVAL
// among them, are never taken for typos.
func TestLookAlikeVariableWarns(t *testing.T) {
	t.Parallel()
	const key = "sk-e2e-openia-KEY-0123456789abcdef"
	url := testdb.URL(t)
	db := testdb.Open(t, url)
	env := []string{
		"AIGATE_OPENIA_KEY=" + key,
		"AIGATE_POSTGRES_URL=" + url, "AIGATE_HTTP_ADDRESS=127.0.0.1:0", "AIGATE_LOG_FORMAT=json",
		"AIGATE_PROVIDER_RELOAD_INTERVAL=30s", "AIGATE_SHUTDOWN_TIMEOUT=10s",
	}
	p := start(t, nil, env, "server")
	p.waitFor("aigate ready")
	w := p.waitFor("ignoring unknown variable AIGATE_OPENIA_KEY (did you mean AIGATE_OPENAI_KEY?)")
	require.Equal(t, "WARN", w["level"])
	require.Equal(t, "AIGATE_OPENIA_KEY", w["variable"])
	require.Equal(t, "AIGATE_OPENAI_KEY", w["suggestion"])
	p.stop(syscall.SIGTERM)
	require.Equal(t, 1, strings.Count(p.output(), "ignoring unknown variable"), p.output())
	require.NotContains(t, p.output(), key)
	require.Zero(t, countRows(t, db, "SELECT count(*) FROM ai_providers"))

	code, out := run(t, env, "providers", "plan")
	require.Zero(t, code, out)
	require.Contains(t, out, "warning: ignoring unknown variable AIGATE_OPENIA_KEY (did you mean AIGATE_OPENAI_KEY?)")
	require.Contains(t, out, "No AI providers are configured in the environment")
	require.NotContains(t, out, key)
}
