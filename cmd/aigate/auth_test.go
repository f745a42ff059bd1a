package main_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/testdb"
)

// Acceptance 2 across two processes on one database: a token revoked
// through one is refused by the other, which had it cached for minutes, so
// through the change notification; the user's other token keeps working
// there. How fast is the notification's business (BenchmarkDeliveryLatency).
func TestRevokedTokenRefusedByOtherProcess(t *testing.T) {
	t.Parallel()
	url := testdb.EmptyURL(t)
	serve := func() string {
		p := start(t, nil, nil, "server", "--postgres-url", url, "--http-address", "127.0.0.1:0", "--log-format", "json")
		return "http://" + p.waitFor("aigate ready")["address"].(string)
	}
	a := serve()
	b := serve()
	code, body := api(t, "POST", a+"/api/v1/users/first", "", map[string]any{"email": "o@example.com", "name": "O", "password": "correct horse battery"})
	require.Equal(t, http.StatusCreated, code, body)
	owner := body["token"].(string)
	mint := func() (id, token string) {
		code, body := api(t, "POST", a+"/api/v1/users/me/tokens", owner, map[string]any{"name": "script", "scopes": []string{"api"}})
		require.Equal(t, http.StatusCreated, code, body)
		return body["api_token"].(map[string]any)["id"].(string), body["token"].(string)
	}
	revokedID, revoked := mint()
	_, kept := mint()
	for _, tok := range []string{revoked, kept} {
		code, body = api(t, "GET", b+"/api/v1/users/me", tok, nil)
		require.Equal(t, http.StatusOK, code, body)
	}

	code, body = api(t, "DELETE", a+"/api/v1/users/me/tokens/"+revokedID, owner, nil)
	require.Equal(t, http.StatusNoContent, code, body)
	require.Eventually(t, func() bool {
		code, _ := api(t, "GET", b+"/api/v1/users/me", revoked, nil)
		return code == http.StatusUnauthorized
	}, readyTimeout, 5*time.Millisecond)
	code, body = api(t, "GET", b+"/api/v1/users/me", kept, nil)
	require.Equal(t, http.StatusOK, code, body)
}
