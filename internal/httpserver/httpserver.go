// Package httpserver owns aigate's network edge: the public listener (plain
// HTTP, or HTTPS with HTTP/2 and certificates reloaded when their files
// change) with its route table, request IDs, the client IP and the public
// URL (X-Forwarded-For, -Host and -Proto from trusted proxies only), the
// header, body and idle timeouts, access logging, panic recovery, request
// metrics, the JSON error shape and /healthz and /readyz; and the private
// listener that serves /metrics. The admin API, the gateway and the
// dashboard mount their handlers on the public one.
package httpserver

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigate/aigate/internal/clock"
)

// ReadyCheck is one condition /readyz requires, such as "database reachable".
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// readyCheckTimeout bounds /readyz so a hung database makes the replica
// unready instead of hanging the load balancer's probe.
const readyCheckTimeout = 2 * time.Second

// handlerExitTimeout bounds the wait, after the shutdown timeout has closed
// the remaining connections, for their handlers to return. Closing a
// connection cancels its request, so handlers return within moments; the
// bound only keeps one that ignores its context from holding the process.
const handlerExitTimeout = 5 * time.Second

// Defaults of the Options timeouts, as `aigate server` has them.
const (
	DefaultHeaderTimeout = 10 * time.Second
	DefaultBodyTimeout   = 2 * time.Minute
	DefaultIdleTimeout   = 2 * time.Minute
)

// Options are the listener's settings; a zero value takes its default.
type Options struct {
	// HeaderTimeout bounds reading a request's headers.
	HeaderTimeout time.Duration
	// BodyTimeout bounds reading a request's whole body, from the end of
	// its headers; see deadlineBody. Responses have no deadline: a stream
	// may last as long as its upstream does.
	BodyTimeout time.Duration
	// IdleTimeout bounds an idle keep-alive connection.
	IdleTimeout time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For, X-Forwarded-Host
	// and X-Forwarded-Proto are believed.
	TrustedProxies []netip.Prefix
	// CertFile and KeyFile, both or neither, make the listener HTTPS.
	CertFile, KeyFile string
	// Clock runs the body deadline's timer (TimerBody); nil is the real one.
	Clock clock.Clock
}

func (o Options) withDefaults() Options {
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = DefaultHeaderTimeout
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	o.Clock = clock.Or(o.Clock)
	return o
}

// Server is the public HTTP server.
type Server struct {
	logger  *slog.Logger
	opts    Options
	mux     *http.ServeMux
	srv     *http.Server
	ln      net.Listener
	cert    *certificate // nil for plain HTTP
	ready   atomic.Bool
	checks  []ReadyCheck
	metrics *httpMetrics
	// handlers counts the handlers running: http.Server.Close drops
	// connections without waiting for their handlers, and what a handler
	// does last (the gateway recording a stream's interception) must happen
	// before the services it uses stop.
	handlers running
}

// New builds a server whose request metrics go to reg (served by a
// MetricsServer, never here). /readyz answers 503 until SetReady(true), and
// then only while every check passes. It fails when the TLS files are
// incomplete or do not load.
func New(logger *slog.Logger, reg prometheus.Registerer, checks []ReadyCheck, opts Options) (*Server, error) {
	opts = opts.withDefaults()
	cert, err := loadCertificate(opts.CertFile, opts.KeyFile, logger)
	if err != nil {
		return nil, err
	}
	s := &Server{logger: logger, opts: opts, mux: http.NewServeMux(), cert: cert, checks: checks, metrics: newHTTPMetrics(reg)}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	s.mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, http.StatusNotFound, "Not found.", "Metrics are served on the private --metrics-address listener, not here.")
	})
	s.mux.HandleFunc("/", s.handleUnrouted)
	s.srv = &http.Server{
		Handler:           s.middleware(s.mux),
		ReadHeaderTimeout: opts.HeaderTimeout,
		IdleTimeout:       opts.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if cert != nil {
		// HTTP/2 and HTTP/1.1 are offered by ALPN (ServeTLS adds them).
		s.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cert.get}
	}
	return s, nil
}

// TLS reports whether the server serves HTTPS.
func (s *Server) TLS() bool { return s.cert != nil }

// methods are those a route may be registered for; the 405 answer lists
// the ones a path has.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// handleUnrouted answers what no route took. http.ServeMux would answer a
// known path with the wrong method 405 itself, but the catch-all "/" route
// takes those requests first; so the other methods are tried here, and a
// path some method serves gets 405 with Allow, in the API's error shape.
func (s *Server) handleUnrouted(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range methods {
		if m == r.Method {
			continue
		}
		probe := r.WithContext(r.Context()) // a shallow copy to change the method of
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		WriteError(w, r, http.StatusNotFound, "Not found.", fmt.Sprintf("No route for %s %s.", r.Method, r.URL.Path))
		return
	}
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	WriteError(w, r, http.StatusMethodNotAllowed, "Method not allowed.",
		fmt.Sprintf("%s does not answer %s; it answers %s.", r.URL.Path, r.Method, strings.Join(allow, ", ")))
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
	var err error
	if s.cert != nil {
		err = s.srv.ServeTLS(s.ln, "", "")
	} else {
		err = s.srv.Serve(s.ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends, then closes what is left. Either way it returns only once
// every handler has returned (or handlerExitTimeout has passed after the
// close), so the caller may then stop what the handlers use.
//
//	Shutdown ──▶ stop accepting; idle connections closed
//	         ──▶ wait for in-flight requests ── all done ─────────────┐
//	              │ ctx ends (the shutdown timeout)                    │
//	              ▼                                                    │
//	         close the remaining connections (their requests are       │
//	         cancelled; a cut stream still records its interception)  │
//	         ──▶ wait for their handlers to return ───────────────────┴──▶ return
func (s *Server) Shutdown(ctx context.Context) error {
	s.SetReady(false)
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.logger.Warn("shutdown timeout reached; closing remaining connections", "requests", s.handlers.count())
		err = s.srv.Close()
		waitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handlerExitTimeout)
		defer cancel()
		if left := s.handlers.wait(waitCtx); left > 0 {
			s.logger.Error("requests still running after their connections were closed; stopping without them", "requests", left)
		}
		return err
	}
	// Hijacked connections are not Shutdown's to wait for; their handlers
	// are still counted.
	s.handlers.wait(ctx)
	return err
}

// running counts running handlers and lets a caller wait until none is.
// Unlike a sync.WaitGroup, it may be waited on while requests still start
// (a keep-alive connection can begin one as shutdown starts).
type running struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n reaches 0; nil when nobody waits
}

func (r *running) start() {
	r.mu.Lock()
	r.n++
	r.mu.Unlock()
}

func (r *running) done() {
	r.mu.Lock()
	r.n--
	if r.n == 0 && r.idle != nil {
		close(r.idle)
		r.idle = nil
	}
	r.mu.Unlock()
}

func (r *running) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// wait returns 0 once no handler runs, or how many still do when ctx ends.
func (r *running) wait(ctx context.Context) int {
	r.mu.Lock()
	if r.n == 0 {
		r.mu.Unlock()
		return 0
	}
	if r.idle == nil {
		r.idle = make(chan struct{})
	}
	idle := r.idle
	r.mu.Unlock()
	select {
	case <-idle:
		return 0
	case <-ctx.Done():
		return r.count()
	}
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
