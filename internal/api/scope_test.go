package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// scopesOf returns the scopes GET .../tokens lists for the token id.
func scopesOf(t *testing.T, r *replica, token, user, id string) []any {
	t.Helper()
	code, body := r.do("GET", "/api/v1/users/"+user+"/tokens", token, nil)
	require.Equal(t, http.StatusOK, code, body)
	for _, tok := range body["tokens"].([]any) {
		if m := tok.(map[string]any); m["id"] == id {
			return m["scopes"].([]any)
		}
	}
	t.Fatalf("no token %s in %v", id, body)
	return nil
}

// Issue 15, acceptance 2, the admin API's half: a gateway token gets 403 on
// /api/v1/users, in the API's error JSON, saying which scope it lacks, even
// when its user is an owner; an api token of the same user is served. A
// gateway token cannot mint itself an api token either.
func TestGatewayTokenRefusedOnAPI(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	code, created := r.do("POST", "/api/v1/users/me/tokens", owner, map[string]any{"name": "claude code"})
	require.Equal(t, http.StatusCreated, code, created)
	gw := created["token"].(string)
	require.Equal(t, []any{"gateway"}, created["api_token"].(map[string]any)["scopes"], "gateway is the default")

	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/users", nil},
		{"GET", "/api/v1/users/me", nil},
		{"GET", "/api/v1/users/me/tokens", nil},
		{"POST", "/api/v1/users/me/tokens", map[string]any{"name": "escalate", "scopes": []string{"api"}}},
		{"GET", "/api/v1/providers", nil},
		{"GET", "/api/v1/usage", nil},
	} {
		code, body := r.do(c.method, c.path, gw, c.body)
		require.Equal(t, http.StatusForbidden, code, "%s %s: %v", c.method, c.path, body)
		msg, _ := body["message"].(string)
		require.Contains(t, msg, "lacks the api scope", c.path)
		require.Contains(t, msg, "its scopes: gateway", c.path)
		require.Contains(t, msg, "--scope api", c.path, "says how to get a token that works here")
		require.NotEmpty(t, body["request_id"], c.path)
		require.NotContains(t, body, "validations", c.path)
	}
	code, body := r.do("GET", "/api/v1/users/me/tokens", owner, nil)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, body["tokens"], 2, "the refused POST minted nothing")

	code, body = r.do("GET", "/api/v1/users", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
}

// The login token is api only, on /ai/ too: the gateway refuses it in the
// error shape of the client's vendor.
func TestLoginTokenRefusedOnGateway(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	for _, c := range []struct {
		path, header string
		anthropic    bool
	}{
		{"/ai/openai/v1/chat/completions", "Authorization", false},
		{"/ai/anthropic/v1/messages", "X-Api-Key", true},
	} {
		req, err := http.NewRequest("POST", r.base+c.path, strings.NewReader(`{"model":"m","messages":[]}`))
		require.NoError(t, err)
		value := owner
		if c.header == "Authorization" {
			value = "Bearer " + owner
		}
		req.Header.Set(c.header, value)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s: %s", c.path, raw)
		var m struct {
			Type  *string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(raw, &m), string(raw))
		require.Contains(t, m.Error.Message, "lacks the gateway scope", c.path)
		if c.anthropic {
			require.NotNil(t, m.Type)
			require.Equal(t, "error", *m.Type)
			require.Equal(t, "permission_error", m.Error.Type)
		} else {
			require.Nil(t, m.Type, "an OpenAI error has only the error object")
			require.Equal(t, "invalid_request_error", m.Error.Type)
		}
	}
}

// Which scopes each way of making a token gives, how a request names them,
// what it may not name, and that the listing and the audit log show them.
func TestTokenScopes(t *testing.T) {
	t.Parallel()
	r, db, owner := setup(t)
	ctx := context.Background()
	ownerID := func() string {
		_, me := r.do("GET", "/api/v1/users/me", owner, nil)
		return me["id"].(string)
	}()
	_, login := r.do("POST", "/api/v1/login", "", map[string]any{"email": "owner@example.com", "password": ownerPassword})

	var firstID, loginID string
	code, body := r.do("GET", "/api/v1/users/me/tokens", owner, nil)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, body["tokens"], 2)
	for i, tok := range body["tokens"].([]any) {
		m := tok.(map[string]any)
		require.Equal(t, []any{"api"}, m["scopes"], "users/first and login tokens are api only")
		if i == 0 {
			firstID = m["id"].(string)
		} else {
			loginID = m["id"].(string)
		}
	}
	require.NotEmpty(t, login["token"])

	for _, c := range []struct {
		name   string
		scopes any // nil: left out
		want   []any
	}{
		{"default", nil, []any{"gateway"}},
		{"null", "null", []any{"gateway"}},
		{"api", []string{"api"}, []any{"api"}},
		{"gateway", []string{"gateway"}, []any{"gateway"}},
		{"both, in canonical order", []string{"api", "gateway"}, []any{"gateway", "api"}},
	} {
		in := map[string]any{"name": c.name}
		switch s := c.scopes.(type) {
		case string:
			in["scopes"] = nil
		case []string:
			in["scopes"] = s
		}
		code, created := r.do("POST", "/api/v1/users/me/tokens", owner, in)
		require.Equal(t, http.StatusCreated, code, "%s: %v", c.name, created)
		tok := created["api_token"].(map[string]any)
		require.Equal(t, c.want, tok["scopes"], c.name)
		id := tok["id"].(string)
		require.Equal(t, c.want, scopesOf(t, r, owner, "me", id), "%s: listed as created", c.name)

		var diff string
		require.NoError(t, db.Pool.QueryRow(ctx,
			"SELECT diff->'scopes'->'new' FROM audit_logs WHERE action = 'create' AND resource_type = 'api_token' AND resource_id = $1", id).Scan(&diff))
		var audited []any
		require.NoError(t, json.Unmarshal([]byte(diff), &audited))
		require.Equal(t, c.want, audited, "%s: the audit entry records the scopes", c.name)
	}
	for _, id := range []string{firstID, loginID} {
		var scopes string
		require.NoError(t, db.Pool.QueryRow(ctx,
			"SELECT diff->'scopes'->>'new' FROM audit_logs WHERE action = 'login' AND resource_id = $1 AND diff->'token_id'->>'new' = $2",
			ownerID, id).Scan(&scopes))
		require.JSONEq(t, `["api"]`, scopes, "the login's audit entry records its token's scopes")
	}

	for _, c := range []struct {
		name, body, detail string
	}{
		{"empty", `{"name":"x","scopes":[]}`, "must name at least one scope"},
		{"unknown", `{"name":"x","scopes":["admin"]}`, `"admin" is not a scope: use gateway (the /ai/ routes), api (the admin API), or both`},
		{"case matters", `{"name":"x","scopes":["API"]}`, `"API" is not a scope`},
		{"twice", `{"name":"x","scopes":["api","api"]}`, "lists api twice: name each scope once"},
		{"a string, not a list", `{"name":"x","scopes":"api"}`, "must be"},
	} {
		code, raw := r.doRaw("POST", "/api/v1/users/me/tokens", owner, c.body)
		field, detail := validation(t, code, raw, c.name)
		require.Equal(t, "scopes", field, c.name)
		require.Contains(t, detail, c.detail, c.name)
	}
	code, body = r.do("GET", "/api/v1/users/me/tokens", owner, nil)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, body["tokens"], 7, "refused requests minted nothing")
}
