package main_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/database"
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
