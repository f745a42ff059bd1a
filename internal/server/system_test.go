package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/config"
	"github.com/aigate/aigate/internal/server"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const testKeys = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// stopOrder is Stop's order; each part is stopped only if it started.
var stopOrder = []string{"http", "metrics", "reloader", "prices", "pubsub", "recorder", "policies", "usage", "auth", "heartbeat", "database"}

// startedBy is the parts each startup step starts.
var startedBy = map[string][]string{
	"listen": {"http", "metrics"}, "database": {"database"}, "replica": {"heartbeat"},
	"pubsub": {"pubsub", "auth"}, "providers": {"reloader"}, "prices": {"prices"}, "policies": {"policies"}, "recorder": {"recorder"}, "usage": {"usage"},
}

// logLines decodes a JSON log.
func logLines(t *testing.T, logs *testlog.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		out = append(out, rec)
	}
	return out
}

func stoppedParts(t *testing.T, logs *testlog.Buffer) []string {
	t.Helper()
	var parts []string
	for _, rec := range logLines(t, logs) {
		if rec["msg"] == "stopped" {
			parts = append(parts, rec["part"].(string))
		}
	}
	return parts
}

// Acceptance 2: a failure at any startup step after the listener opens
// stops exactly what had started, HTTP first, in Stop's order, and leaves
// no connection behind (the package's goleak check covers goroutines).
func TestStartFailureStopsWhatStarted(t *testing.T) {
	t.Parallel()
	steps := server.StepNames()
	require.Equal(t, "listen", steps[0])
	require.Equal(t, "ready", steps[len(steps)-1])
	for i, failing := range steps[1:] {
		t.Run(failing, func(t *testing.T) {
			t.Parallel()
			url := testdb.EmptyURL(t)
			logs := &testlog.Buffer{}
			cfg := config.Server{
				HTTPAddress: "127.0.0.1:0", MetricsAddress: "127.0.0.1:0", ShutdownTimeout: 10 * time.Second, EncryptionKeys: testKeys,
				ProviderReloadInterval: time.Hour, Database: config.Database{PostgresURL: url, PostgresConnectTimeout: 10 * time.Second},
			}
			deps := server.Deps{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Registry: prometheus.NewRegistry()}
			sys, err := server.New(cfg, server.WithFailAt(deps, failing))
			require.NoError(t, err)
			err = sys.Start(context.Background())
			require.ErrorContains(t, err, failing+": injected failure")

			var want []string
			for _, part := range stopOrder {
				for _, before := range steps[:i+1] {
					if slices.Contains(startedBy[before], part) {
						want = append(want, part)
					}
				}
			}
			require.Equal(t, want, stoppedParts(t, logs), "stopped after a failure at %q", failing)
			require.Equal(t, "http", want[0])
			require.NoError(t, sys.Stop(context.Background()), "a second Stop does nothing")

			// None of the replica's connections is left on the server.
			// PostgreSQL lists a backend for a moment after its client has
			// closed the connection; a leaked one stays.
			db := testdb.Open(t, url)
			require.Eventually(t, func() bool {
				var left int
				require.NoError(t, db.Pool.QueryRow(context.Background(),
					`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, "aigate "+sys.ReplicaID().String()[:8]).Scan(&left))
				return left == 0
			}, 30*time.Second, 10*time.Millisecond, "connections of the stopped replica")
		})
	}
}

// The embedded PostgreSQL stops with the System on a failed start too.
func TestStartFailureStopsEmbeddedPostgres(t *testing.T) {
	t.Parallel()
	base, err := os.MkdirTemp("", "aigate-server-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755)) // the cluster's user must reach it when the tests run as root
	dir := filepath.Join(base, "data")
	require.NoError(t, os.Mkdir(dir, 0o755))
	logs := &testlog.Buffer{}
	cfg := config.Server{
		HTTPAddress: "127.0.0.1:0", MetricsAddress: "127.0.0.1:0", ShutdownTimeout: 10 * time.Second, ProviderReloadInterval: time.Hour,
		Database: config.Database{DataDir: dir, PostgresConnectTimeout: 30 * time.Second},
	}
	sys, err := server.New(cfg, server.WithFailAt(server.Deps{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Registry: prometheus.NewRegistry()}, "ready"))
	require.NoError(t, err)
	err = sys.Start(context.Background())
	require.ErrorContains(t, err, "ready: injected failure")
	require.Equal(t, stopOrder, stoppedParts(t, logs))
	pid := -1
	for _, rec := range logLines(t, logs) {
		if rec["msg"] == "embedded PostgreSQL ready" {
			pid = int(rec["pid"].(float64))
		}
	}
	require.Positive(t, pid, "the embedded PostgreSQL started")
	require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the embedded PostgreSQL (pid %d) is stopped", pid)
}

// A started System serves, and stops in the same order.
func TestStartAndStop(t *testing.T) {
	t.Parallel()
	logs := &testlog.Buffer{}
	cfg := config.Server{
		HTTPAddress: "127.0.0.1:0", MetricsAddress: "127.0.0.1:0", ShutdownTimeout: 10 * time.Second, EncryptionKeys: testKeys, ProviderReloadInterval: time.Hour,
		Database: config.Database{PostgresURL: testdb.URL(t), PostgresConnectTimeout: 10 * time.Second},
	}
	sys, err := server.New(cfg, server.Deps{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	require.NoError(t, sys.Start(context.Background()))
	require.True(t, slices.ContainsFunc(logLines(t, logs), func(r map[string]any) bool { return r["msg"] == "aigate ready" }))
	select {
	case err := <-sys.Failed():
		t.Fatalf("failed on its own: %v", err)
	default:
	}
	require.NoError(t, sys.Stop(context.Background()))
	require.Equal(t, stopOrder, stoppedParts(t, logs))
}

// A bad provider environment fails New, before anything starts.
func TestNewRefusesBadProviderEnvironment(t *testing.T) {
	t.Parallel()
	_, err := server.New(config.Server{}, server.Deps{Environ: []string{"AIGATE_PROVIDER_0_TYPE=nope"}})
	require.Error(t, err)
	require.Contains(t, err.Error(), "invalid AI provider environment variables")
	require.False(t, errors.Is(err, context.Canceled))
}

// A listen URL is for a pooled --postgres-url; with the embedded PostgreSQL
// it would be ignored, so New refuses it and says which to change, without
// repeating the URL.
func TestNewRefusesListenURLWithoutPostgresURL(t *testing.T) {
	t.Parallel()
	const listen = "postgres://aigate:s3cret-pw@db:5432/aigate"
	_, err := server.New(config.Server{PostgresListenURL: listen}, server.Deps{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "--postgres-listen-url")
	require.Contains(t, err.Error(), "--postgres-url")
	require.NotContains(t, err.Error(), "s3cret-pw")
}
