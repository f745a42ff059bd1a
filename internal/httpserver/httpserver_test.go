package httpserver_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigate/aigate/internal/testlog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aigate/aigate/internal/httpserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fixture struct {
	base string
	srv  *httpserver.Server
	reg  *prometheus.Registry
	logs *testlog.Buffer
	fail *atomic.Bool
}

// setup runs a real server on a loopback port with one readiness check that
// the test can make fail.
func setup(t *testing.T) *fixture { return setupWith(t, httpserver.Options{}) }

// setupWith is setup with the server's options.
func setupWith(t *testing.T, opts httpserver.Options) *fixture {
	t.Helper()
	f := &fixture{logs: &testlog.Buffer{}, fail: &atomic.Bool{}, reg: prometheus.NewRegistry()}
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := httpserver.New(logger, f.reg, []httpserver.ReadyCheck{{
		Name: "database",
		Check: func(context.Context) error {
			if f.fail.Load() {
				return errors.New("connection refused")
			}
			return nil
		},
	}}, opts)
	require.NoError(t, err)
	f.srv = srv
	f.srv.Handle("GET /boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret internal detail") }))
	f.srv.Handle("GET /echo-id", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, httpserver.RequestID(r.Context()))
	}))
	addr, err := f.srv.Listen("127.0.0.1:0")
	require.NoError(t, err)
	f.base = "http://" + addr.String()
	if f.srv.TLS() {
		f.base = "https://" + addr.String()
	}
	done := make(chan error)
	go func() { done <- f.srv.Serve() }()
	t.Cleanup(func() {
		require.NoError(t, f.srv.Shutdown(context.Background()))
		require.NoError(t, <-done)
	})
	return f
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	f := setup(t)
	resp, _ := get(t, f.base+"/healthz")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, body := get(t, f.base+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "not ready before SetReady")
	require.Contains(t, body, `"message":"Not ready."`)

	f.srv.SetReady(true)
	resp, _ = get(t, f.base+"/readyz")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	f.fail.Store(true)
	resp, body = get(t, f.base+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, body, "database")
	require.NotContains(t, body, "connection refused", "internal causes go to the log, not the response")
	require.Contains(t, f.logs.String(), "connection refused")
}

func TestRequestIDs(t *testing.T) {
	t.Parallel()
	f := setup(t)
	resp, body := get(t, f.base+"/echo-id")
	id := resp.Header.Get("X-Request-Id")
	require.Len(t, id, 32)
	require.Equal(t, id, body, "handlers see the ID the response carries")

	resp, body = get(t, f.base+"/echo-id", "X-Request-Id", "lb-trace-123")
	require.Equal(t, "lb-trace-123", resp.Header.Get("X-Request-Id"), "a plain incoming ID is kept")
	require.Equal(t, "lb-trace-123", body)

	resp, _ = get(t, f.base+"/echo-id", "X-Request-Id", "bad id\" injected=1")
	require.Len(t, resp.Header.Get("X-Request-Id"), 32, "an unsafe incoming ID is replaced")
}

func TestErrorsAreJSONWithoutInternals(t *testing.T) {
	t.Parallel()
	f := setup(t)
	resp, body := get(t, f.base+"/nope")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	var e httpserver.ErrorBody
	require.NoError(t, json.Unmarshal([]byte(body), &e))
	require.Equal(t, "Not found.", e.Message)
	require.Equal(t, resp.Header.Get("X-Request-Id"), e.RequestID)

	resp, body = get(t, f.base+"/boom")
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.NotContains(t, body, "secret internal detail")
	require.Contains(t, f.logs.String(), "secret internal detail")
	require.Contains(t, f.logs.String(), "request_id="+resp.Header.Get("X-Request-Id"))
}

// Acceptance 3 of issue 15: metrics are served on their own listener only;
// /metrics on the public one is a 404 that says where they are.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	f := setup(t)
	get(t, f.base+"/healthz")
	get(t, f.base+"/nope")
	resp, body := get(t, f.base+"/metrics")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	var e httpserver.ErrorBody
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	require.Contains(t, e.Detail, "--metrics-address")
	require.NotContains(t, body, "aigate_http_requests_total")

	ms := httpserver.NewMetricsServer(slog.New(slog.DiscardHandler), f.reg, httpserver.Options{})
	addr, err := ms.Listen("127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- ms.Serve() }()
	t.Cleanup(func() {
		require.NoError(t, ms.Shutdown(context.Background()))
		require.NoError(t, <-served)
	})
	metricsBase := "http://" + addr.String()
	resp, body = get(t, metricsBase+"/metrics")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `aigate_http_requests_total{code="200",method="GET",route="GET /healthz"} 1`)
	require.Contains(t, body, `aigate_http_requests_total{code="404",method="GET",route="/"} 1`)
	require.Contains(t, body, `aigate_http_requests_total{code="404",method="GET",route="/metrics"} 1`)
	require.True(t, strings.Contains(body, "aigate_http_request_duration_seconds_bucket"))

	resp, _ = get(t, metricsBase+"/healthz")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "the metrics listener serves metrics only")

	_, err = httpserver.NewMetricsServer(slog.New(slog.DiscardHandler), f.reg, httpserver.Options{}).Listen(addr.String())
	require.ErrorContains(t, err, "--metrics-address (AIGATE_METRICS_ADDRESS)", "a taken port names the option")
}

// When the shutdown timeout cuts requests, Shutdown returns only after their
// handlers have: what a handler does last (record a stream) happens before
// the caller stops the services it uses.
func TestShutdownWaitsForCutHandlers(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := httpserver.New(logger, prometheus.NewRegistry(), nil, httpserver.Options{})
	require.NoError(t, err)
	const n = 8
	started := make(chan struct{}, n)
	var finished atomic.Int32
	srv.Handle("GET /stream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		started <- struct{}{}
		<-r.Context().Done() // until the connection is closed
		// Some last work after the cut, as the gateway writes a record.
		buf := make([]byte, 1<<20)
		for range 16 {
			sum := sha256.Sum256(buf)
			copy(buf, sum[:])
		}
		finished.Add(1)
	}))
	addr, err := srv.Listen("127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var clients sync.WaitGroup
	for range n {
		clients.Go(func() {
			resp, err := client.Get("http://" + addr.String() + "/stream")
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	for range n {
		<-started
	}
	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	require.NoError(t, srv.Shutdown(expired))
	require.EqualValues(t, n, finished.Load(), "Shutdown returned while handlers were still running")
	require.NoError(t, <-served)
	clients.Wait()
}
