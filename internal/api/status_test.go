package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every audit entry a request writes records the status the route table
// gives that route, which is also the status the request answers with; the
// domain services that write the entries know nothing of HTTP.
func TestAuditRecordsTheRoutesStatus(t *testing.T) {
	t.Parallel()
	r, db, owner := setup(t)
	ctx := context.Background()
	statuses := func(where string, args ...any) []int {
		t.Helper()
		rows, err := db.Pool.Query(ctx, "SELECT DISTINCT status_code FROM audit_logs WHERE "+where+" ORDER BY 1", args...)
		require.NoError(t, err)
		defer rows.Close()
		var out []int
		for rows.Next() {
			var n int
			require.NoError(t, rows.Scan(&n))
			out = append(out, n)
		}
		require.NoError(t, rows.Err())
		return out
	}

	// users/first writes the owner and their first login in one request:
	// both entries carry its 201.
	require.Equal(t, []int{http.StatusCreated},
		statuses("request_id = (SELECT request_id FROM audit_logs WHERE action = 'create' AND resource_type = 'user' ORDER BY id LIMIT 1)"))

	var userID, tokenID, providerID string
	steps := []struct {
		method, path string
		token        *string
		body         any
		want         int
		keep         func(map[string]any)
	}{
		{"POST", "/api/v1/users", &owner, map[string]any{"email": "m@example.com", "name": "M", "password": ownerPassword, "role": "member"},
			http.StatusCreated, func(b map[string]any) { userID = b["id"].(string) }},
		{"PATCH", "/api/v1/users/m@example.com", &owner, map[string]any{"name": "Em"}, http.StatusOK, nil},
		{"POST", "/api/v1/login", nil, map[string]any{"email": "m@example.com", "password": ownerPassword}, http.StatusOK, nil},
		{"POST", "/api/v1/users/m@example.com/tokens", &owner, map[string]any{"name": "ci"},
			http.StatusCreated, func(b map[string]any) { tokenID = b["api_token"].(map[string]any)["id"].(string) }},
		{"DELETE", "/api/v1/users/m@example.com/tokens/{token}", &owner, nil, http.StatusNoContent, nil},
		{"DELETE", "/api/v1/users/{user}", &owner, nil, http.StatusNoContent, nil},
		{"POST", "/api/v1/providers", &owner, map[string]any{"name": "oa", "type": "openai", "api_keys": []any{map[string]any{"api_key": "sk-status-ONE-0123456789abcdef"}}},
			http.StatusCreated, func(b map[string]any) { providerID = b["id"].(string) }},
		{"PATCH", "/api/v1/providers/oa", &owner, map[string]any{"api_keys": []any{map[string]any{"api_key": "sk-status-TWO-0123456789abcdef"}}}, http.StatusOK, nil},
		{"DELETE", "/api/v1/providers/oa", &owner, nil, http.StatusNoContent, nil},
		{"POST", "/api/v1/providers/{provider}/restore", &owner, nil, http.StatusOK, nil},
	}
	for i, s := range steps {
		path := s.path
		for name, v := range map[string]string{"{user}": userID, "{token}": tokenID, "{provider}": providerID} {
			path = strings.ReplaceAll(path, name, v)
		}
		var body io.Reader
		if s.body != nil {
			raw, err := json.Marshal(s.body)
			require.NoError(t, err)
			body = bytes.NewReader(raw)
		}
		req, err := http.NewRequest(s.method, r.base+path, body)
		require.NoError(t, err)
		if s.token != nil {
			req.Header.Set("Authorization", "Bearer "+*s.token)
		}
		requestID := fmt.Sprintf("audit-status-%d", i)
		req.Header.Set("X-Request-Id", requestID)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		what := s.method + " " + s.path
		require.Equal(t, s.want, resp.StatusCode, "%s: %s", what, raw)
		if s.want == http.StatusNoContent {
			require.Empty(t, raw, what)
		}
		if s.keep != nil {
			var b map[string]any
			require.NoError(t, json.Unmarshal(raw, &b), what)
			s.keep(b)
		}
		require.Equal(t, []int{s.want}, statuses("request_id = $1", requestID), what)
	}
	require.Empty(t, statuses("status_code = 0"), "every entry was written by a request")
}
