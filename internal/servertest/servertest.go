// Package servertest starts aigate replicas for tests: the System that
// `aigate server` runs (server.New), on a test database, a loopback port and
// test keys, with its logs and metrics at hand. The API, gateway and other
// in-process tests build their replicas here, so they test the one wiring
// production uses.
package servertest

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/config"
	"github.com/aigate/aigate/internal/server"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
)

// EncryptionKeys are the keys every test replica shares, as replicas would.
const EncryptionKeys = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// stopTimeout bounds a replica's stop at the end of a test; a stop that
// takes longer is a hang, not a slow machine.
const stopTimeout = 30 * time.Second

// Options are what a test changes about a replica; the zero value is a
// replica on a new migrated database of the test's own.
type Options struct {
	// DatabaseURL is the database to use; "" makes a new migrated one.
	// Replicas of one deployment share it.
	DatabaseURL string
	// ListenURL is --postgres-listen-url: the pub/sub's own connection,
	// for a DatabaseURL that goes through a transaction-mode pooler.
	ListenURL string
	Clock     clock.Clock
	Transport http.RoundTripper
	Audit     *audit.Recorder
	Environ   []string
	// RecordPrompts is --record-prompts.
	RecordPrompts bool
	// ReloadInterval is the provider backstop; an hour by default, so tests
	// see provider changes only through notifications or Reload.
	ReloadInterval time.Duration
	// ShutdownTimeout is --shutdown-timeout; 30 s by default.
	ShutdownTimeout time.Duration
	// TrustedProxies is --trusted-proxies.
	TrustedProxies []netip.Prefix
}

// Replica is a started System.
type Replica struct {
	*server.System
	// URL is the replica's base URL, "http://127.0.0.1:PORT".
	URL string
	// MetricsURL is its metrics listener's base URL; /metrics is there.
	MetricsURL string
	// DatabaseURL is the database it runs on.
	DatabaseURL string
	// Logs holds everything it logged, as text, debug level up.
	Logs *testlog.Buffer
	// Registry holds its metrics.
	Registry *prometheus.Registry
}

// Start starts a replica and stops it when the test ends.
func Start(t testing.TB, o Options) *Replica {
	t.Helper()
	r := &Replica{DatabaseURL: o.DatabaseURL, Logs: &testlog.Buffer{}, Registry: prometheus.NewRegistry()}
	if r.DatabaseURL == "" {
		r.DatabaseURL = testdb.URL(t)
	}
	cfg := config.Server{
		HTTPAddress:            "127.0.0.1:0",
		MetricsAddress:         "127.0.0.1:0",
		TrustedProxies:         o.TrustedProxies,
		ShutdownTimeout:        or(o.ShutdownTimeout, 30*time.Second),
		EncryptionKeys:         EncryptionKeys,
		RecordPrompts:          o.RecordPrompts,
		ProviderReloadInterval: or(o.ReloadInterval, time.Hour),
		PostgresListenURL:      o.ListenURL,
		Database:               config.Database{PostgresURL: r.DatabaseURL, PostgresConnectTimeout: 30 * time.Second},
	}
	logger := slog.New(slog.NewTextHandler(r.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sys, err := server.New(cfg, server.Deps{
		Clock: o.Clock, Registry: r.Registry, Transport: o.Transport, Environ: o.Environ, Logger: logger, Audit: o.Audit,
	})
	if err != nil {
		t.Fatalf("build the replica: %v", err)
	}
	if err := sys.Start(context.Background()); err != nil {
		t.Fatalf("start the replica: %v\n%s", err, r.Logs.String())
	}
	r.System = sys
	r.URL = "http://" + sys.Addr().String()
	r.MetricsURL = "http://" + sys.MetricsAddr().String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := sys.Stop(ctx); err != nil {
			t.Errorf("stop the replica: %v", err)
		}
	})
	return r
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
