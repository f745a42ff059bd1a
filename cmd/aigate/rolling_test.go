package main_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/testdb"
)

// freePort is a loopback port nothing listens on now; a replica restarted
// on it gets it back (Go's listeners set SO_REUSEADDR).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// haproxyConfig is a load balancer in front of the replicas as
// docs/deployment.md describes it: health checks on /readyz, streams not
// buffered and given long timeouts, and a request that finds a replica gone
// (refused, or its idle connection closed under it) tried on another.
const haproxyConfig = `global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 5m
    timeout server 5m
    timeout http-keep-alive 10s
    # Without it a check times out after "inter" (100 ms here), and one slow
    # /readyz on a loaded machine would take a healthy replica out: a stopped
    # one is still seen at once (503, or the connection refused).
    timeout check 2s
    option http-buffer-request
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout
frontend aigate
    bind 127.0.0.1:%d
    default_backend replicas
frontend stats
    bind 127.0.0.1:%d
    stats enable
    stats uri /stats
backend replicas
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 100ms fall 1 rise 2
%s`

// haproxy starts HAProxy with the config and stops it when the test ends.
func haproxy(t *testing.T, config string) {
	t.Helper()
	path, err := exec.LookPath("haproxy")
	require.NoError(t, err, "HAProxy is needed for this test: apt-get install haproxy (.ci/run installs it)")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "haproxy.cfg")
	require.NoError(t, os.WriteFile(cfg, []byte(config), 0o600))
	out, err := exec.Command(path, "-c", "-f", cfg).CombinedOutput()
	require.NoError(t, err, "the HAProxy config is valid: %s", out)
	cmd := exec.Command(path, "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGUSR1) // a soft stop
		select {
		case <-done:
		case <-time.After(exitTimeout):
			_ = cmd.Process.Kill()
			<-done
		}
	})
}

// serversUp is how many backend servers HAProxy's stats call UP.
func serversUp(t *testing.T, statsURL string) int {
	t.Helper()
	resp, err := http.Get(statsURL + ";csv")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(bufio.NewReader(resp.Body)).ReadAll()
	if err != nil || len(rows) == 0 {
		return 0
	}
	col := -1
	for i, h := range rows[0] {
		if strings.TrimPrefix(h, "# ") == "status" {
			col = i
		}
	}
	up := 0
	for _, r := range rows[1:] {
		if len(r) > col && col >= 0 && r[0] == "replicas" && r[1] != "BACKEND" && r[col] == "UP" {
			up++
		}
	}
	return up
}

// Acceptance 2 (issue 19): HAProxy in front of three replicas, restarted one
// at a time with SIGTERM while clients keep 20 requests a second and 10 slow
// streams running through it: no request fails, no stream is cut, and every
// request is recorded once.
func TestRollingRestartBehindHAProxy(t *testing.T) {
	t.Parallel()
	dbURL := testdb.EmptyURL(t)
	// Streams of 20 events 100 ms apart: two seconds each, so a restart
	// always finds some in flight on the replica it stops.
	upstream := llmmock.New(t, llmmock.Options{Events: 20, EventDelay: 100 * time.Millisecond})
	ports := []int{freePort(t), freePort(t), freePort(t)}
	front, stats := freePort(t), freePort(t)
	var servers strings.Builder
	for i, p := range ports {
		fmt.Fprintf(&servers, "    server r%d 127.0.0.1:%d check\n", i, p)
	}
	serve := func(port int) *proc {
		p := start(t, nil, nil, "server", "--postgres-url", dbURL, "--http-address", fmt.Sprintf("127.0.0.1:%d", port),
			"--log-format", "json", "--trusted-proxies", "127.0.0.1/32")
		p.waitFor("aigate ready")
		return p
	}
	procs := make([]*proc, len(ports))
	for i, p := range ports {
		procs[i] = serve(p)
	}
	haproxy(t, fmt.Sprintf(haproxyConfig, front, stats, servers.String()))
	base, statsURL := fmt.Sprintf("http://127.0.0.1:%d", front), fmt.Sprintf("http://127.0.0.1:%d/stats", stats)
	require.Eventually(t, func() bool { return serversUp(t, statsURL) == 3 }, readyTimeout, 10*time.Millisecond)

	code, body := api(t, "POST", base+"/api/v1/users/first", "", map[string]any{"email": "o@example.com", "name": "O", "password": "correct horse battery"})
	require.Equal(t, http.StatusCreated, code, body)
	token := body["token"].(string)
	code, body = api(t, "POST", base+"/api/v1/providers", token, map[string]any{"name": "oa", "type": "openai", "base_url": upstream.OpenAIBaseURL(),
		"api_keys": []any{map[string]any{"api_key": "sk-e2e-0123456789abcdefghij"}}})
	require.Equal(t, http.StatusCreated, code, body)
	agent := gatewayToken(t, base, token)
	// Every replica serves the provider before the clients start.
	for _, p := range ports {
		require.Eventually(t, func() bool {
			return chatOnce(fmt.Sprintf("http://127.0.0.1:%d", p), agent, false) == nil
		}, readyTimeout, 10*time.Millisecond)
	}

	before := len(upstream.Requests())
	tr := &http.Transport{MaxIdleConnsPerHost: 100}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	var (
		sent, failed, streams, cut atomic.Int64
		firstErr                   atomic.Value
		wg                         sync.WaitGroup
	)
	fail := func(err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	ctx, stop := context.WithCancel(context.Background())
	// 20 requests a second, each a short chat completion.
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			wg.Add(1)
			sent.Add(1)
			go func() {
				defer wg.Done()
				if err := chatWith(client, base, agent, false); err != nil {
					fail(err)
				}
			}()
		}
	}()
	// 10 slow streams at all times.
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				sent.Add(1)
				streams.Add(1)
				if err := chatWith(client, base, agent, true); err != nil {
					cut.Add(1)
					fail(err)
				}
			}
		}()
	}

	// Restart the replicas one at a time, each back and healthy before the
	// next goes.
	for i, p := range ports {
		procs[i].stop(syscall.SIGTERM)
		procs[i] = serve(p)
		require.Eventually(t, func() bool { return serversUp(t, statsURL) == 3 }, readyTimeout, 10*time.Millisecond,
			"replica %d back in the pool", i)
	}
	stop()
	wg.Wait()
	t.Logf("%d requests (%d streams) through three rolling restarts", sent.Load(), streams.Load())
	require.Zero(t, failed.Load(), "failed requests; the first: %v", firstErr.Load())
	require.Zero(t, cut.Load(), "truncated streams")
	require.Greater(t, streams.Load(), int64(20), "streams ran across the restarts")

	for _, p := range procs {
		p.stop(syscall.SIGTERM)
	}
	db := testdb.Open(t, dbURL)
	require.Equal(t, len(upstream.Requests()), countRows(t, db, "SELECT count(*) FROM interceptions"),
		"every request that reached the provider is recorded, once")
	require.Equal(t, int(sent.Load()), len(upstream.Requests())-before, "every client request reached the provider once")
	require.Zero(t, countRows(t, db, "SELECT count(*) FROM interceptions WHERE status <> 'ok'"))
}

func chatOnce(base, token string, stream bool) error {
	return chatWith(http.DefaultClient, base, token, stream)
}

// chatWith sends one chat completion and reads the whole answer: for a
// stream, an error unless it ends with the provider's [DONE].
func chatWith(c *http.Client, base, token string, stream bool) error {
	s := "false"
	if stream {
		s = "true"
	}
	req, err := http.NewRequest(http.MethodPost, base+"/ai/oa/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o","stream":`+s+`,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, raw)
	}
	if stream && !strings.HasSuffix(string(raw), "data: [DONE]\n\n") {
		return fmt.Errorf("stream cut after %d bytes", len(raw))
	}
	return nil
}
