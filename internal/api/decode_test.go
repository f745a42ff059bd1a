package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// doRaw sends body as it is, for bodies json.Marshal cannot produce (empty,
// malformed, two objects), and returns the status and the raw answer.
func (r *replica) doRaw(method, path, token, body string) (int, string) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	require.NoError(r.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(r.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(r.t, err)
	r.mu.Lock()
	r.responses = append(r.responses, string(raw))
	r.mu.Unlock()
	return resp.StatusCode, string(raw)
}

// TestDecodeErrors: a body of the wrong shape is answered in the API's words
// under the member's full path, for every input the API decodes, and never
// with a value from the body.
func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	addUser(t, r, owner, "m@example.com", "member")
	code, body := r.do("POST", "/api/v1/providers", owner, map[string]any{"name": "openai", "type": "openai"})
	require.Equal(t, http.StatusCreated, code, body)

	// Secret-looking values in places of the wrong type: none may come back.
	const secret = "sk-live-SECRET-0123456789abcdefghij"
	const awsSecret = "aws-SECRET-0123456789abcdefghij"
	const objectKey = `must be an object such as {"api_key": "sk-…"}`
	const arrayKeys = `must be an array such as [{"api_key": "sk-…"}]`
	const objectSettings = `must be an object such as {"region": "us-east-1"}`
	const rfc3339 = "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"
	const providers, provider = "/api/v1/providers", "/api/v1/providers/openai"
	for _, c := range []struct {
		name, method, path, body string
		field, detail            string
	}{
		// The example the issue asks for, word for word.
		{"key as a string", "POST", providers, `{"api_keys":["sk-x"]}`, "api_keys[0]", objectKey},
		{"secret key as a string", "POST", providers, `{"name":"o","type":"openai","api_keys":["` + secret + `"]}`, "api_keys[0]", objectKey},
		{"keys as an object", "POST", providers, `{"api_keys":{"api_key":"` + secret + `"}}`, "api_keys", arrayKeys},
		{"keys as a string", "POST", providers, `{"api_keys":"` + secret + `"}`, "api_keys", arrayKeys},
		{"key as a number", "POST", providers, `{"api_keys":[{"api_key":"sk-a"},{"api_key":42}]}`, "api_keys[1].api_key", "must be a string"},
		{"key id as a number", "POST", providers, `{"api_keys":[{"id":7}]}`, "api_keys[0].id", "must be a string"},
		{"nested unknown field", "POST", providers, `{"api_keys":[{"api_kye":"` + secret + `"}]}`, "api_keys[0].api_kye", "unknown field"},
		{"settings as a string", "POST", providers, `{"settings":"us-east-1"}`, "settings", objectSettings},
		{"settings as an array", "POST", providers, `{"settings":[{"region":"us-east-1"}]}`, "settings", objectSettings},
		{"region as a number", "POST", providers, `{"settings":{"region":1}}`, "settings.region", "must be a string"},
		{"secret as an array", "POST", providers, `{"settings":{"access_key":"AKIA","access_key_secret":["` + awsSecret + `"]}}`, "settings.access_key_secret", "must be a string"},
		{"settings unknown field", "POST", providers, `{"settings":{"regoin":"us-east-1"}}`, "settings.regoin", "unknown field"},
		{"name as a number", "POST", providers, `{"name":1,"type":"openai"}`, "name", "must be a string"},
		{"enabled as a string", "POST", providers, `{"name":"o","type":"openai","enabled":"true"}`, "enabled", "must be true or false"},
		{"base_url as an object", "POST", providers, `{"base_url":{"url":"https://x.example/"}}`, "base_url", "must be a string"},
		{"unknown field", "POST", providers, `{"name":"o","type":"openai","baseurl":"https://x.example/"}`, "baseurl", "unknown field"},
		{"names match exactly", "POST", providers, `{"Name":"o","type":"openai"}`, "Name", "unknown field"},
		{"patch key as a string", "PATCH", provider, `{"api_keys":[{"api_key":"sk-a"},"` + secret + `"]}`, "api_keys[1]", objectKey},
		{"patch keys as a number", "PATCH", provider, `{"api_keys":5}`, "api_keys", arrayKeys},
		{"patch nested unknown field", "PATCH", provider, `{"api_keys":[{"ID":"x"}]}`, "api_keys[0].ID", "unknown field"},
		{"patch settings as true", "PATCH", provider, `{"settings":true}`, "settings", objectSettings},
		{"patch model as a number", "PATCH", provider, `{"settings":{"model":3}}`, "settings.model", "must be a string"},
		{"patch type as a bool", "PATCH", provider, `{"type":false}`, "type", "must be a string"},
		{"patch enabled as a number", "PATCH", provider, `{"enabled":1}`, "enabled", "must be true or false"},
		{"first user password as a number", "POST", "/api/v1/users/first", `{"email":"x@example.com","password":12345678}`, "password", "must be a string"},
		{"login email as an array", "POST", "/api/v1/login", `{"email":["m@example.com"],"password":"x"}`, "email", "must be a string"},
		{"login unknown field", "POST", "/api/v1/login", `{"email":"m@example.com","pasword":"` + secret + `"}`, "pasword", "unknown field"},
		{"user role as a number", "POST", "/api/v1/users", `{"email":"n@example.com","name":"N","password":"12345678","role":2}`, "role", "must be a string"},
		{"user patch suspended as a string", "PATCH", "/api/v1/users/m@example.com", `{"suspended":"yes"}`, "suspended", "must be true or false"},
		{"user patch name as an object", "PATCH", "/api/v1/users/m@example.com", `{"name":{}}`, "name", "must be a string"},
		{"token expiry in words", "POST", "/api/v1/users/me/tokens", `{"name":"ci","expires_at":"tomorrow"}`, "expires_at", rfc3339},
		{"token expiry as a date", "POST", "/api/v1/users/me/tokens", `{"name":"ci","expires_at":"2026-01-02"}`, "expires_at", rfc3339},
		{"token expiry as a number", "POST", "/api/v1/users/me/tokens", `{"name":"ci","expires_at":1767225600}`, "expires_at", rfc3339},
		{"token name as a bool", "POST", "/api/v1/users/me/tokens", `{"name":true}`, "name", "must be a string"},
		{"body an array", "POST", providers, `[{"name":"o"}]`, "body", "must be a JSON object"},
		{"body a string", "POST", "/api/v1/users/me/tokens", `"` + secret + `"`, "body", "must be a JSON object"},
		{"body malformed", "PATCH", provider, `{"enabled":`, "body", "must be a JSON object"},
		{"body empty", "POST", providers, ``, "body", "a JSON body is required"},
		{"body blank", "POST", "/api/v1/login", " \n", "body", "a JSON body is required"},
		{"two objects", "POST", providers, `{"name":"o"} {"name":"p"}`, "body", "must hold a single JSON object"},
		{"trailing brace", "PATCH", provider, `{"enabled":true}}`, "body", "must hold a single JSON object"},
	} {
		code, raw := r.doRaw(c.method, c.path, owner, c.body)
		require.Equal(t, http.StatusBadRequest, code, "%s: %s", c.name, raw)
		var got struct {
			Message     string `json:"message"`
			Validations []struct {
				Field  string `json:"field"`
				Detail string `json:"detail"`
			} `json:"validations"`
		}
		require.NoError(t, json.Unmarshal([]byte(raw), &got), c.name)
		require.Equal(t, "Invalid request.", got.Message, c.name)
		require.Len(t, got.Validations, 1, "%s: %s", c.name, raw)
		require.Equal(t, c.field, got.Validations[0].Field, c.name)
		require.Equal(t, c.detail, got.Validations[0].Detail, c.name)
	}

	// null is accepted wherever encoding/json accepts it.
	code, raw := r.doRaw("PATCH", provider, owner, `{"display_name":"OpenAI","enabled":null,"settings":null,"api_keys":null}`)
	require.Equal(t, http.StatusOK, code, raw)
	code, raw = r.doRaw("POST", "/api/v1/users/me/tokens", owner, `{"name":"ci","expires_at":null}`)
	require.Equal(t, http.StatusCreated, code, raw)
	code, raw = r.doRaw("POST", "/api/v1/users/me/tokens", owner, `{"name":"ci2","expires_at":"2999-01-02T15:04:05+01:00"}`)
	require.Equal(t, http.StatusCreated, code, raw)

	r.mu.Lock()
	defer r.mu.Unlock()
	for _, resp := range r.responses {
		require.NotContains(t, resp, secret)
		require.NotContains(t, resp, awsSecret)
	}
}
