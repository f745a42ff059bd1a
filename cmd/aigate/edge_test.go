package main_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/testdb"
)

// Issue 15, acceptances 3 and 4 against the built binary: /metrics answers
// 404 on the public address and serves on --metrics-address; with
// --trusted-proxies 127.0.0.1/32 the audit entry of a request has its
// X-Forwarded-For address.
func TestMetricsListenerAndTrustedProxies(t *testing.T) {
	t.Parallel()
	url := testdb.EmptyURL(t)
	p := start(t, nil, []string{"AIGATE_TRUSTED_PROXIES=127.0.0.1/32"}, "server", "--postgres-url", url,
		"--http-address", "127.0.0.1:0", "--log-format", "json")
	metrics := "http://" + p.waitFor("metrics listening")["address"].(string)
	public := "http://" + p.waitFor("aigate ready")["address"].(string)

	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(raw)
	}
	code, body := get(public + "/metrics")
	require.Equal(t, http.StatusNotFound, code)
	require.NotContains(t, body, "aigate_build_info")
	code, body = get(metrics + "/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "aigate_build_info{")

	req, err := http.NewRequest(http.MethodPost, public+"/api/v1/users/first",
		strings.NewReader(`{"email":"o@example.com","name":"O","password":"correct horse battery"}`))
	require.NoError(t, err)
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var ip string
	require.NoError(t, testdb.Open(t, url).Pool.QueryRow(context.Background(), `SELECT DISTINCT ip FROM audit_logs`).Scan(&ip))
	require.Equal(t, "203.0.113.7", ip)

	p.stop(syscall.SIGTERM)
	require.Empty(t, p.errorLines())
}
