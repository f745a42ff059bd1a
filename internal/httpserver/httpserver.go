// Package httpserver owns aigate's single HTTP listener: the route table,
// request IDs, access logging, panic recovery, request metrics, the JSON error
// shape, and the /healthz, /readyz and /metrics endpoints. The admin API, the
// gateway and the dashboard mount their handlers on it.
package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReadyCheck is one condition /readyz requires, such as "database reachable".
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// readyCheckTimeout bounds /readyz so a hung database makes the replica
// unready instead of hanging the load balancer's probe.
const readyCheckTimeout = 2 * time.Second

// Server is the HTTP server.
type Server struct {
	logger  *slog.Logger
	mux     *http.ServeMux
	srv     *http.Server
	ln      net.Listener
	ready   atomic.Bool
	checks  []ReadyCheck
	metrics *httpMetrics
}

// New builds a server whose metrics go to reg. /readyz answers 503 until
// SetReady(true), and then only while every check passes.
func New(logger *slog.Logger, reg *prometheus.Registry, checks []ReadyCheck) *Server {
	s := &Server{logger: logger, mux: http.NewServeMux(), checks: checks, metrics: newHTTPMetrics(reg)}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, http.StatusNotFound, "Not found.", fmt.Sprintf("No route for %s %s.", r.Method, r.URL.Path))
	})
	s.srv = &http.Server{
		Handler:           s.middleware(s.mux),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Handle mounts a handler, with a Go method pattern such as "GET /api/v1/users".
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// SetReady turns readiness on once startup has finished, and off when
// shutdown begins so the load balancer stops sending new requests.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Listen binds the address and returns the bound address (useful with port 0).
func (s *Server) Listen(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w; choose another --http-address (AIGATE_HTTP_ADDRESS) or stop what is using it", addr, err)
	}
	s.ln = ln
	return ln.Addr(), nil
}

// Serve serves until Shutdown. It returns nil after a clean shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.SetReady(false)
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.logger.Warn("shutdown timeout reached; closing remaining connections")
		return s.srv.Close()
	}
	return err
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		WriteError(w, r, http.StatusServiceUnavailable, "Not ready.", "The server is starting or stopping.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyCheckTimeout)
	defer cancel()
	for _, c := range s.checks {
		if err := c.Check(ctx); err != nil {
			s.logger.Warn("readiness check failed", "check", c.Name, "request_id", RequestID(r.Context()), "error", err)
			WriteError(w, r, http.StatusServiceUnavailable, "Not ready.", "Check failed: "+c.Name+".")
			return
		}
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// Validation is one invalid field in an error response.
type Validation struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// ErrorBody is the JSON shape of every admin API error. It carries no SQL,
// stack traces or secrets: the detail for operators goes to the log, keyed
// by the request ID the response also carries.
type ErrorBody struct {
	Message     string       `json:"message"`
	Detail      string       `json:"detail,omitempty"`
	Validations []Validation `json:"validations,omitempty"`
	RequestID   string       `json:"request_id,omitempty"`
}

// WriteError writes an ErrorBody.
func WriteError(w http.ResponseWriter, r *http.Request, status int, message, detail string, validations ...Validation) {
	WriteJSON(w, status, ErrorBody{Message: message, Detail: detail, Validations: validations, RequestID: RequestID(r.Context())})
}

// WriteJSON writes v as the JSON response body.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
