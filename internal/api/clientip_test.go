package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/servertest"
)

// post sends a JSON body with an X-Forwarded-For header and returns the
// status and the body.
func post(t *testing.T, url, xff string, body any) (int, map[string]any) {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("X-Forwarded-For", xff)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, out
}

// Issue 15, acceptance 4: with --trusted-proxies 127.0.0.1/32 the audit
// entry has the X-Forwarded-For address; with no trusted proxies the same
// header from the same peer is ignored and the entry has the peer. The login
// throttle counts per the same client IP.
func TestClientIPFromTrustedProxiesOnly(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		trusted  []netip.Prefix
		want     string
		throttle bool // also check the login throttle (20 password checks)
	}{
		"trusted proxy":   {[]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, "203.0.113.7", true},
		"untrusted peer":  {nil, "127.0.0.1", true},
		"another network": {[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "127.0.0.1", false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewManual(time.Now())
			r := servertest.Start(t, servertest.Options{TrustedProxies: tc.trusted, Clock: clk})
			code, body := post(t, r.URL+"/api/v1/users/first", "198.51.100.1, 203.0.113.7",
				map[string]any{"email": "owner@example.com", "name": "Owner", "password": ownerPassword})
			require.Equal(t, http.StatusCreated, code, body)
			rows, err := r.DB().Pool.Query(context.Background(), `SELECT DISTINCT ip FROM audit_logs`)
			require.NoError(t, err)
			ips, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			require.Equal(t, []string{tc.want}, ips, "every audit entry of the request has the client IP")
			if !tc.throttle {
				return
			}

			// Wrong passwords for different emails (so the per-email limit
			// never applies) from one client use up its free attempts; the
			// next is throttled from that client only, when the header is
			// believed, and from everyone behind the peer when it is not.
			login := func(i int, xff string) int {
				code, _ := post(t, r.URL+"/api/v1/login", xff, map[string]any{"email": fmt.Sprintf("guess%d@example.com", i), "password": "wrong"})
				return code
			}
			for i := range auth.LoginFreePerClient {
				require.Equal(t, http.StatusUnauthorized, login(i, "203.0.113.7"))
			}
			require.Equal(t, http.StatusTooManyRequests, login(100, "203.0.113.7"))
			other := login(101, "203.0.113.8")
			if tc.want == "203.0.113.7" {
				require.Equal(t, http.StatusUnauthorized, other, "another client behind the proxy is not throttled")
			} else {
				require.Equal(t, http.StatusTooManyRequests, other, "an unbelieved header does not escape the throttle")
			}
		})
	}
}

// A body slower than --http-body-timeout is refused with 408 in the API's
// error shape, and nothing is written.
func TestSlowBodyIs408(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Now())
	r := servertest.Start(t, servertest.Options{Clock: clk})
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequest(http.MethodPost, r.URL+"/api/v1/users/first", pr)
	require.NoError(t, err)
	req.ContentLength = 1 << 16
	type result struct {
		code int
		body httpserver.ErrorBody
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var e httpserver.ErrorBody
		err = json.NewDecoder(resp.Body).Decode(&e)
		done <- result{code: resp.StatusCode, body: e, err: err}
	}()
	// Enough to get the headers out of the client's write buffer.
	_, err = pw.Write(bytes.Repeat([]byte(" "), 8<<10))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, clk.WaitArmed(ctx, httpserver.TimerBody, 1))
	clk.Advance(httpserver.DefaultBodyTimeout)
	res := <-done
	require.NoError(t, res.err)
	require.Equal(t, http.StatusRequestTimeout, res.code)
	require.Equal(t, "Request body not received in time.", res.body.Message)
	require.NotEmpty(t, res.body.RequestID)
	var users int
	require.NoError(t, r.DB().Pool.QueryRow(context.Background(), `SELECT count(*) FROM users`).Scan(&users))
	require.Zero(t, users)
}
