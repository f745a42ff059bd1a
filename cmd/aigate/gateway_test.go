package main_test

import (
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/testdb"
)

// Acceptance 4 with two server processes on one database: a base URL edit
// and a disable made through one are in effect on the other within a
// second, with no restart, and a stream in flight through the other
// finishes. Shutdown writes the interception of every stream served.
func TestGatewayChangesReachOtherProcess(t *testing.T) {
	t.Parallel()
	url := testdb.EmptyURL(t)
	serve := func() (*proc, string) {
		p := start(t, nil, nil, "server", "--postgres-url", url, "--http-address", "127.0.0.1:0", "--log-format", "json")
		return p, "http://" + p.waitFor("aigate ready")["address"].(string)
	}
	oldUp := llmmock.New(t, llmmock.Options{Events: 10, EventDelay: 30 * time.Millisecond})
	newUp := llmmock.New(t, llmmock.Options{})

	pa, a := serve()
	pb, b := serve()
	code, body := api(t, "POST", a+"/api/v1/users/first", "", map[string]any{"email": "o@example.com", "name": "O", "password": "correct horse battery"})
	require.Equal(t, http.StatusCreated, code, body)
	token := body["token"].(string)
	code, body = api(t, "POST", a+"/api/v1/providers", token, map[string]any{"name": "oa", "type": "openai", "base_url": oldUp.URL,
		"api_keys": []any{map[string]any{"api_key": "sk-e2e-0123456789abcdefghij"}}})
	require.Equal(t, http.StatusCreated, code, body)

	chat := func(base string, stream bool) (int, string) {
		s := "false"
		if stream {
			s = "true"
		}
		req, err := http.NewRequest(http.MethodPost, base+"/ai/oa/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o","stream":`+s+`,"messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	require.Eventually(t, func() bool { c, _ := chat(b, false); return c == http.StatusOK }, readyTimeout, 5*time.Millisecond)

	inFlight := make(chan string, 1)
	go func() { _, got := chat(b, true); inFlight <- got }()
	<-oldUp.Started()
	<-oldUp.Started() // the non-streaming request above came first

	changed := time.Now()
	code, body = api(t, "PATCH", a+"/api/v1/providers/oa", token, map[string]any{"base_url": newUp.URL})
	require.Equal(t, http.StatusOK, code, body)
	require.Eventually(t, func() bool {
		c, _ := chat(b, false)
		return c == http.StatusOK && len(newUp.Requests()) > 0
	}, readyTimeout, 5*time.Millisecond)
	took := time.Since(changed)
	t.Logf("base URL edit live on the other process after %v", took)
	require.Less(t, took, time.Second)
	require.True(t, strings.HasSuffix(<-inFlight, "data: [DONE]\n\n"), "the stream in flight was cut by the change")

	changed = time.Now()
	code, body = api(t, "PATCH", a+"/api/v1/providers/oa", token, map[string]any{"enabled": false})
	require.Equal(t, http.StatusOK, code, body)
	require.Eventually(t, func() bool { c, _ := chat(b, false); return c == http.StatusServiceUnavailable }, readyTimeout, 5*time.Millisecond)
	took = time.Since(changed)
	t.Logf("disable live on the other process after %v", took)
	require.Less(t, took, time.Second)

	// Every request that reached an upstream is recorded once the servers
	// have stopped (the recorder flushes on shutdown).
	pa.stop(syscall.SIGTERM)
	pb.stop(syscall.SIGTERM)
	db := testdb.Open(t, url)
	upstream := len(oldUp.Requests()) + len(newUp.Requests())
	require.Equal(t, upstream, countRows(t, db, "SELECT count(*) FROM interceptions"))
	require.Zero(t, countRows(t, db, "SELECT count(*) FROM interceptions WHERE status <> 'ok'"))
}
