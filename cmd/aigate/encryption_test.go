package main_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/testdb"
)

// newKey is a second key, distinct from testKeys.
const newKey = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

func api(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	}
	return resp.StatusCode, out
}

// Acceptance 4: restart with a new first key and the old one second:
// everything decrypts; `aigate encryption rotate` moves everything to the
// new key; with the old key removed it still works; with only the old key,
// startup refuses, naming the missing key.
func TestEncryptionKeyRotationAcrossRestarts(t *testing.T) {
	t.Parallel()
	url := testdb.EmptyURL(t)
	serve := func(keys string) (*proc, string) {
		p := start(t, nil, []string{"AIGATE_ENCRYPTION_KEYS=" + keys}, "server", "--postgres-url", url, "--http-address", "127.0.0.1:0", "--log-format", "json")
		return p, "http://" + p.waitFor("aigate ready")["address"].(string)
	}
	const key1, key2 = "sk-rotate-ONE-0123456789abcdefghij", "sk-rotate-TWO-0123456789abcdefghij"

	p, base := serve(testKeys)
	code, body := api(t, "POST", base+"/api/v1/users/first", "", map[string]any{"email": "o@example.com", "name": "O", "password": "correct horse battery"})
	require.Equal(t, http.StatusCreated, code, body)
	token := body["token"].(string)
	code, body = api(t, "POST", base+"/api/v1/providers", token, map[string]any{"name": "openai", "type": "openai",
		"api_keys": []any{map[string]any{"api_key": key1}, map[string]any{"api_key": key2}}})
	require.Equal(t, http.StatusCreated, code, body)
	code, body = api(t, "POST", base+"/api/v1/providers", token, map[string]any{"name": "bedrock", "type": "bedrock",
		"settings": map[string]any{"region": "us-east-1", "access_key": "AKIAROTATE0123456789", "access_key_secret": "rotate-secret-0123456789"}})
	require.Equal(t, http.StatusCreated, code, body)
	oldDigest := p.waitFor("encryption keys loaded")["active_key"].(string)
	p.stop(syscall.SIGTERM)

	masked := func(base string) []any {
		code, body := api(t, "GET", base+"/api/v1/providers/openai", token, nil)
		require.Equal(t, http.StatusOK, code, body)
		var out []any
		for _, k := range body["api_keys"].([]any) {
			out = append(out, k.(map[string]any)["masked"])
		}
		return out
	}
	want := []any{"sk-r...ghij", "sk-r...ghij"}

	both := newKey + "," + testKeys
	p, base = serve(both)
	require.Equal(t, want, masked(base))
	stale := p.waitFor("some stored secrets are encrypted with an older key; run `aigate encryption rotate` to re-encrypt them with the active key")
	require.EqualValues(t, 3, stale["ciphertexts"])
	newDigest := p.waitFor("encryption keys loaded")["active_key"].(string)

	// Rotation runs beside the live server.
	code, out := run(t, []string{"AIGATE_ENCRYPTION_KEYS=" + both}, "encryption", "status", "--postgres-url", url)
	require.Zero(t, code, out)
	require.Contains(t, out, oldDigest)
	require.Contains(t, out, "old: run `aigate encryption rotate`")
	code, out = run(t, []string{"AIGATE_ENCRYPTION_KEYS=" + both}, "encryption", "rotate", "--postgres-url", url, "--batch-size", "1")
	require.Zero(t, code, out)
	require.Contains(t, out, "Re-encrypted 2 provider keys and 1 Bedrock credentials")
	code, out = run(t, []string{"AIGATE_ENCRYPTION_KEYS=" + both}, "encryption", "rotate", "--postgres-url", url)
	require.Zero(t, code, out)
	require.Contains(t, out, "nothing to do")
	require.Equal(t, want, masked(base))
	p.stop(syscall.SIGTERM)

	p, base = serve(newKey)
	require.Equal(t, want, masked(base))
	p.stop(syscall.SIGTERM)
	require.NotContains(t, p.output(), "older key")

	// The old key alone cannot read what the new one wrote: refuse to start.
	code, out = run(t, nil, "server", "--postgres-url", url, "--http-address", "127.0.0.1:0")
	require.NotZero(t, code)
	require.Contains(t, out, newDigest)
	require.Contains(t, out, "add those keys back")
	for _, secret := range []string{key1, key2, "rotate-secret-0123456789", newKey, testKeys} {
		require.False(t, strings.Contains(out, secret), "a secret in the startup error")
	}
}
