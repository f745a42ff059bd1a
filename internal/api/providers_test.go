package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func validations(t *testing.T, body map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	vs, _ := body["validations"].([]any)
	for _, v := range vs {
		m := v.(map[string]any)
		out[m["field"].(string)] = m["detail"].(string)
	}
	return out
}

func TestProviderRoles(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	auditor := addUser(t, r, owner, "a@example.com", "auditor")
	member := addUser(t, r, owner, "m@example.com", "member")

	code, body := r.do("POST", "/api/v1/providers", owner, map[string]any{
		"name": "openai", "type": "openai", "api_keys": []any{map[string]any{"api_key": "sk-roles-0123456789abcdefghij"}},
	})
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, "sk-r...ghij", body["api_keys"].([]any)[0].(map[string]any)["masked"])

	for _, c := range []struct {
		method, path, token string
		body                any
		want                int
	}{
		{"GET", "/api/v1/providers", auditor, nil, http.StatusOK},
		{"GET", "/api/v1/providers/openai", auditor, nil, http.StatusOK},
		{"GET", "/api/v1/providers", member, nil, http.StatusOK},
		{"GET", "/api/v1/providers/openai", member, nil, http.StatusForbidden},
		{"GET", "/api/v1/providers", "", nil, http.StatusUnauthorized},
		{"POST", "/api/v1/providers", auditor, map[string]any{"name": "x", "type": "openai"}, http.StatusForbidden},
		{"PATCH", "/api/v1/providers/openai", auditor, map[string]any{"enabled": false}, http.StatusForbidden},
		{"DELETE", "/api/v1/providers/openai", member, nil, http.StatusForbidden},
		{"POST", "/api/v1/providers/openai/restore", auditor, nil, http.StatusForbidden},
		{"GET", "/api/v1/providers/nope", owner, nil, http.StatusNotFound},
		{"PATCH", "/api/v1/providers/openai", owner, map[string]any{"enabled": false}, http.StatusOK},
		{"POST", "/api/v1/providers/openai/restore", owner, nil, http.StatusConflict},
		{"DELETE", "/api/v1/providers/openai", owner, nil, http.StatusNoContent},
		{"DELETE", "/api/v1/providers/openai", owner, nil, http.StatusNotFound},
		{"GET", "/api/v1/providers/openai", owner, nil, http.StatusNotFound},
		{"POST", "/api/v1/providers", owner, map[string]any{"name": "openai", "type": "openai"}, http.StatusConflict},
		{"POST", "/api/v1/providers/openai/restore", owner, nil, http.StatusOK},
		{"GET", "/api/v1/providers?include_deleted=maybe", owner, nil, http.StatusBadRequest},
	} {
		code, body := r.do(c.method, c.path, c.token, c.body)
		require.Equal(t, c.want, code, "%s %s: %v", c.method, c.path, body)
	}
}

// Acceptance 3: each validation rule answers 400 with its validations entry.
func TestProviderValidation(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	key := func(k string) map[string]any { return map[string]any{"api_key": k} }
	code, body := r.do("POST", "/api/v1/providers", owner, map[string]any{"name": "openai", "type": "openai", "api_keys": []any{key("sk-1234567890")}})
	require.Equal(t, http.StatusCreated, code, body)
	code, body = r.do("POST", "/api/v1/providers", owner, map[string]any{"name": "bedrock", "type": "bedrock", "settings": map[string]any{"region": "us-east-1"}})
	require.Equal(t, http.StatusCreated, code, body)

	six := []any{}
	for i := range 6 {
		six = append(six, key("sk-key-"+strings.Repeat("x", i+1)))
	}
	for _, c := range []struct {
		name, method, path string
		body               map[string]any
		field, detail      string
	}{
		{"name pattern", "POST", "/api/v1/providers", map[string]any{"name": "Bad_Name", "type": "openai"}, "name", "^[a-z0-9]+(-[a-z0-9]+)*$"},
		{"known type", "POST", "/api/v1/providers", map[string]any{"name": "g", "type": "gemini"}, "type", "one of openai, anthropic, bedrock"},
		{"base URL absolute http(s)", "POST", "/api/v1/providers", map[string]any{"name": "o", "type": "openai", "base_url": "ftp://x.example/"}, "base_url", "absolute http or https"},
		{"Bedrock settings only on anthropic/bedrock", "POST", "/api/v1/providers", map[string]any{"name": "o", "type": "openai", "settings": map[string]any{"region": "us-east-1"}}, "settings", "only to anthropic and bedrock"},
		{"bedrock needs region or base URL", "POST", "/api/v1/providers", map[string]any{"name": "b", "type": "bedrock"}, "settings.region", "needs a region"},
		{"bedrock accepts no api_keys", "POST", "/api/v1/providers", map[string]any{"name": "b", "type": "bedrock", "settings": map[string]any{"region": "us-east-1"}, "api_keys": []any{key("sk-1234567890")}}, "api_keys", "takes no api_keys"},
		{"at most 5 keys", "POST", "/api/v1/providers", map[string]any{"name": "o", "type": "openai", "api_keys": six}, "api_keys", "at most 5"},
		{"no empty keys", "POST", "/api/v1/providers", map[string]any{"name": "o", "type": "openai", "api_keys": []any{key("")}}, "api_keys[0]", "must not be empty"},
		{"no surrounding whitespace", "POST", "/api/v1/providers", map[string]any{"name": "o", "type": "openai", "api_keys": []any{key("sk-1234567890 ")}}, "api_keys[0]", "whitespace"},
		{"no duplicates", "POST", "/api/v1/providers", map[string]any{"name": "o", "type": "openai", "api_keys": []any{key("sk-a"), key("sk-a")}}, "api_keys[1]", "duplicates api_keys[0]"},
		{"create cannot keep keys", "POST", "/api/v1/providers", map[string]any{"name": "o", "type": "openai", "api_keys": []any{map[string]any{"id": "x"}}}, "api_keys[0]", "no keys to keep"},
		{"unknown field", "POST", "/api/v1/providers", map[string]any{"name": "o", "type": "openai", "baseurl": "https://x/"}, "baseurl", "unknown field"},
		{"type is immutable", "PATCH", "/api/v1/providers/openai", map[string]any{"type": "anthropic"}, "type", "cannot change"},
		{"empty patch", "PATCH", "/api/v1/providers/openai", map[string]any{}, "body", "at least one"},
		{"unknown key id", "PATCH", "/api/v1/providers/openai", map[string]any{"api_keys": []any{map[string]any{"id": "00000000-0000-0000-0000-000000000000"}}}, "api_keys[0].id", "no key"},
		{"bedrock patch adds keys", "PATCH", "/api/v1/providers/bedrock", map[string]any{"api_keys": []any{key("sk-1234567890")}}, "api_keys", "takes no api_keys"},
		{"settings on openai patch", "PATCH", "/api/v1/providers/openai", map[string]any{"settings": map[string]any{"region": "x"}}, "settings", "only to bedrock"},
		{"wrong JSON type", "PATCH", "/api/v1/providers/openai", map[string]any{"enabled": "yes"}, "enabled", "must be true or false"},
	} {
		code, body := r.do(c.method, c.path, owner, c.body)
		require.Equal(t, http.StatusBadRequest, code, "%s: %v", c.name, body)
		vs := validations(t, body)
		require.Contains(t, vs, c.field, "%s: %v", c.name, vs)
		require.Contains(t, vs[c.field], c.detail, c.name)
	}
}

// Acceptance 2 over HTTP, and no key or credential in any response or log.
func TestProviderKeyRotationAndNoLeaks(t *testing.T) {
	t.Parallel()
	r, db, owner := setup(t)
	const k1, k2, kNew = "sk-leak-ONE-0123456789abcdefghij", "sk-leak-TWO-0123456789abcdefghij", "sk-leak-NEW-0123456789abcdefghij"
	const awsSecret = "aws-leak-SECRET-0123456789abcdefghij"
	code, body := r.do("POST", "/api/v1/providers", owner, map[string]any{"name": "openai", "type": "openai",
		"api_keys": []any{map[string]any{"api_key": k1}, map[string]any{"api_key": k2}}})
	require.Equal(t, http.StatusCreated, code, body)
	keys := body["api_keys"].([]any)
	old2 := keys[1].(map[string]any)["id"].(string)

	code, body = r.do("PATCH", "/api/v1/providers/openai", owner, map[string]any{"api_keys": []any{map[string]any{"id": old2}, map[string]any{"api_key": kNew}}})
	require.Equal(t, http.StatusOK, code, body)
	keys = body["api_keys"].([]any)
	require.Len(t, keys, 2)
	require.Equal(t, old2, keys[0].(map[string]any)["id"])
	require.Equal(t, "sk-l...ghij", keys[1].(map[string]any)["masked"])
	require.Equal(t, 1, auditCount(t, db, "resource_type = 'ai_provider_key' AND action = 'delete'"))
	require.Equal(t, 3, auditCount(t, db, "resource_type = 'ai_provider_key' AND action = 'create'"))

	code, body = r.do("POST", "/api/v1/providers", owner, map[string]any{"name": "bedrock", "type": "bedrock",
		"settings": map[string]any{"region": "us-east-1", "access_key": "AKIALEAKTEST01234567", "access_key_secret": awsSecret}})
	require.Equal(t, http.StatusCreated, code, body)
	settings := body["settings"].(map[string]any)
	require.Equal(t, true, settings["has_credentials"])
	require.NotContains(t, settings, "access_key")
	r.do("GET", "/api/v1/providers", owner, nil)
	r.do("GET", "/api/v1/audit?limit=1000", owner, nil)
	r.do("PATCH", "/api/v1/providers/openai", owner, map[string]any{"api_keys": []any{map[string]any{"api_key": k1 + " "}}})

	logs := r.logs.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, secret := range []string{k1, k2, kNew, awsSecret, "AKIALEAKTEST01234567"} {
		require.NotContains(t, logs, secret)
		for _, resp := range r.responses {
			require.NotContains(t, resp, secret)
		}
	}
}

// A base URL against the vendor's convention is stored (it may be
// deliberate) and answered with a warning on every read until it is fixed.
func TestProviderBaseURLWarnings(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	const openaiWarning = "has no API version segment: requests go to https://llm.corp.example/chat/completions; OpenAI-type base URLs include the version, such as https://llm.corp.example/v1/ (ignore this if the server serves the API at its root)"
	const anthropicWarning = "ends in the API version: requests go to https://api.anthropic.com/v1/v1/messages; Anthropic-type base URLs exclude it, such as https://api.anthropic.com/"
	const key = "sk-warn-SECRET-0123456789abcdefghij"
	warnings := func(p map[string]any) []any {
		ws, _ := p["warnings"].([]any)
		return ws
	}
	code, body := r.do("POST", "/api/v1/providers", owner, map[string]any{"name": "corp", "type": "openai",
		"base_url": "https://llm.corp.example", "api_keys": []any{map[string]any{"api_key": key}}})
	require.Equal(t, http.StatusCreated, code, body)
	want := []any{map[string]any{"field": "base_url", "detail": openaiWarning}}
	require.Equal(t, want, warnings(body))
	code, body = r.do("GET", "/api/v1/providers/corp", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, want, warnings(body))

	code, body = r.do("POST", "/api/v1/providers", owner, map[string]any{"name": "claude", "type": "anthropic", "base_url": "https://api.anthropic.com/v1/"})
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, []any{map[string]any{"field": "base_url", "detail": anthropicWarning}}, warnings(body))
	code, body = r.do("POST", "/api/v1/providers", owner, map[string]any{"name": "openai", "type": "openai"})
	require.Equal(t, http.StatusCreated, code, body)
	require.NotContains(t, body, "warnings", "the default base URL is right")

	code, body = r.do("GET", "/api/v1/providers", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	byName := map[string][]any{}
	for _, p := range body["providers"].([]any) {
		byName[p.(map[string]any)["name"].(string)] = warnings(p.(map[string]any))
	}
	require.Equal(t, map[string][]any{"claude": {map[string]any{"field": "base_url", "detail": anthropicWarning}}, "corp": want, "openai": nil}, byName)

	code, body = r.do("PATCH", "/api/v1/providers/corp", owner, map[string]any{"base_url": "https://llm.corp.example/v1/"})
	require.Equal(t, http.StatusOK, code, body)
	require.NotContains(t, body, "warnings", "fixed: the warning is computed, never stored")
	code, body = r.do("GET", "/api/v1/providers/corp", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.NotContains(t, body, "warnings")

	r.mu.Lock()
	defer r.mu.Unlock()
	for _, resp := range r.responses {
		require.NotContains(t, resp, key)
	}
}

// A provider whose row is fine but which the replica cannot load is shown
// broken, with why, where the row alone would say ready: a bedrock provider
// with a base URL and no region is accepted, and no Bedrock client can be
// made for it.
func TestProviderStateIsWhatTheReplicaServes(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	code, body := r.do("POST", "/api/v1/providers", owner, map[string]any{
		"name": "br", "type": "bedrock", "base_url": "https://bedrock-runtime.example.internal/",
	})
	require.Equal(t, http.StatusCreated, code, body)
	require.Regexp(t, `^broken: bedrock: `, body["state"], "the answer to the change that made it")
	code, body = r.do("GET", "/api/v1/providers/br", owner, nil)
	require.Equal(t, http.StatusOK, code)
	require.Regexp(t, `^broken: bedrock: `, body["state"])
	code, body = r.do("PATCH", "/api/v1/providers/br", owner, map[string]any{"settings": map[string]any{"region": "us-east-1"}})
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "ready", body["state"], "fixed, and served")
}
