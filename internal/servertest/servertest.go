// Package servertest starts aigate replicas for tests: the System that
// `aigate server` runs (server.New), on a test database, a loopback port and
// test keys, with its logs and metrics at hand. The API, gateway and other
// in-process tests build their replicas here, so they test the one wiring
// production uses.
package servertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
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
	if o.DatabaseURL == "" {
		o.DatabaseURL = testdb.URL(t)
	}
	r, err := start(o)
	if r != nil && r.System != nil {
		t.Cleanup(func() { stop(t, r) })
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// StartMany starts n replicas of one deployment at once, each in its own
// goroutine, as a rolling deploy or an autoscaler does, and stops them when
// the test ends. It fails the test if any replica does not come up.
func StartMany(t testing.TB, n int, o Options) []*Replica {
	t.Helper()
	if o.DatabaseURL == "" {
		o.DatabaseURL = testdb.URL(t)
	}
	rs := make([]*Replica, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs[i], errs[i] = start(o)
		}()
	}
	wg.Wait()
	for _, r := range rs {
		if r != nil && r.System != nil {
			t.Cleanup(func() { stop(t, r) })
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return rs
}

// start builds and starts a replica on o.DatabaseURL. A replica whose
// System is set was started and must be stopped, even with an error.
func start(o Options) (*Replica, error) {
	r := &Replica{DatabaseURL: o.DatabaseURL, Logs: &testlog.Buffer{}, Registry: prometheus.NewRegistry()}
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
		return nil, fmt.Errorf("build the replica: %w", err)
	}
	if err := sys.Start(context.Background()); err != nil {
		return nil, fmt.Errorf("start the replica: %w\n%s", err, r.Logs.String())
	}
	r.System = sys
	r.URL = "http://" + sys.Addr().String()
	r.MetricsURL = "http://" + sys.MetricsAddr().String()
	return r, nil
}

func stop(t testing.TB, r *Replica) {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Errorf("stop the replica: %v", err)
	}
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
