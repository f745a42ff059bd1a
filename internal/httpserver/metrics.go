package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsServer is the private listener that serves /metrics and nothing
// else. Metrics name providers and models and need no token, so they are
// kept off the public listener: bind this one to loopback or to a network
// only the scraper reaches.
type MetricsServer struct {
	srv *http.Server
	ln  net.Listener
}

// NewMetricsServer builds the metrics listener for reg; opts gives its
// header and idle timeouts (the rest does not apply).
func NewMetricsServer(logger *slog.Logger, reg *prometheus.Registry, opts Options) *MetricsServer {
	opts = opts.withDefaults()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, http.StatusNotFound, "Not found.", "This listener serves GET /metrics only.")
	})
	return &MetricsServer{srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: opts.HeaderTimeout,
		IdleTimeout:       opts.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}}
}

// Listen binds the address and returns the bound address (useful with port 0).
func (m *MetricsServer) Listen(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w; choose another --metrics-address (AIGATE_METRICS_ADDRESS), stop what is using it, or set it to off", addr, err)
	}
	m.ln = ln
	return ln.Addr(), nil
}

// Serve serves until Shutdown. It returns nil after a clean shutdown.
func (m *MetricsServer) Serve() error {
	if err := m.srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve metrics: %w", err)
	}
	return nil
}

// Shutdown stops the listener; a scrape in progress finishes first, until
// ctx ends.
func (m *MetricsServer) Shutdown(ctx context.Context) error {
	err := m.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return m.srv.Close()
	}
	return err
}
