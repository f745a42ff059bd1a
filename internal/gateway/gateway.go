package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/bedrock"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/limits"
	"github.com/aigate/aigate/internal/llmwire"
	"github.com/aigate/aigate/internal/usage"
)

// DefaultMaxRequestBytes bounds a request body. The gateway reads the body
// whole before forwarding it (see proxy.go), so it must be bounded; 32 MiB
// fits long agent conversations with images.
const DefaultMaxRequestBytes = 32 << 20

// The upstream's timeouts and limits (Config: ResponseHeaderTimeout,
// IdleTimeout, MaxEventBytes), sized so that no answer a client would have
// waited for is cut.
const (
	// DefaultResponseHeaderTimeout is as long as the OpenAI and Anthropic
	// SDKs wait for a response by default: a non-streamed completion sends
	// its headers only once it is complete, which takes minutes for a long
	// answer, so a shorter bound would fail requests that would succeed.
	DefaultResponseHeaderTimeout = 10 * time.Minute
	// DefaultIdleTimeout is how long Codex itself lets a stream stay silent
	// (its stream_idle_timeout_ms): reasoning models can think for minutes
	// between events.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultMaxEventBytes bounds one upstream SSE event. The largest
	// legitimate ones are a Responses stream's last events, which repeat
	// the whole output, generated images included as base64 (a few MiB
	// each); 16 MiB holds several and still keeps a misbehaving upstream
	// from making the gateway buffer without end.
	DefaultMaxEventBytes = 16 << 20
)

// The names of the gateway's timers on its Clock.
const (
	// HeaderTimer is armed for each upstream attempt, for
	// ResponseHeaderTimeout, until the response headers arrive.
	HeaderTimer = "gateway.upstream.header"
	// IdleTimer is armed for IdleTimeout when the response headers arrive,
	// and again after every read of the response body that returns bytes.
	IdleTimer = "gateway.upstream.idle"
)

// Snapshots gives the current provider snapshot (the Reloader).
type Snapshots interface{ Snapshot() *Snapshot }

// Config configures a Gateway.
type Config struct {
	Auth      *auth.Authenticator
	Snapshots Snapshots
	Recorder  *interceptions.Recorder
	// Usage counts requests denied by authentication and requests sent
	// upstream with their tokens; nil counts nothing.
	Usage *usage.Counters
	// Prices prices each intercepted request (its interception's cost, and
	// admission's estimate for budgets); nil records every cost as unknown.
	Prices    Prices
	ReplicaID uuid.UUID
	// Limits admits each intercepted request against the policies; nil
	// enforces none.
	Limits *limits.Engine
	// RecordPrompts stores each intercepted request body with its
	// interception. Off by default: prompts hold source code and secrets.
	RecordPrompts bool
	// Transport sends upstream requests; nil for a transport tuned for many
	// long-lived streams to a few hosts.
	Transport       http.RoundTripper
	MaxRequestBytes int64
	// ResponseHeaderTimeout bounds the wait for an upstream's response
	// headers, per attempt; the caller then gets a 504. 0 is
	// DefaultResponseHeaderTimeout.
	ResponseHeaderTimeout time.Duration
	// IdleTimeout ends an upstream response that sends nothing for that
	// long; a stream ends with its format's error event. 0 is
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxEventBytes bounds one upstream SSE event; a larger one ends the
	// stream with its format's error event. 0 is DefaultMaxEventBytes.
	MaxEventBytes int
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
	// Clock gives the time and runs the timeouts (HeaderTimer, IdleTimer);
	// nil is the real clock.
	Clock clock.Clock
}

// Gateway serves /ai/{provider}/...
type Gateway struct {
	limits        *limits.Engine
	auth          *auth.Authenticator
	snapshots     Snapshots
	recorder      *interceptions.Recorder
	usage         *usage.Counters
	prices        Prices
	replicaID     uuid.UUID
	recordPrompts bool
	transport     http.RoundTripper
	maxBody       int64
	headerTimeout time.Duration
	idleTimeout   time.Duration
	maxEvent      int
	logger        *slog.Logger
	clock         clock.Clock
	metrics       *metrics
}

// New returns a Gateway.
func New(cfg Config) *Gateway {
	g := &Gateway{
		limits: cfg.Limits,
		auth:   cfg.Auth, snapshots: cfg.Snapshots, recorder: cfg.Recorder, usage: cfg.Usage, prices: cfg.Prices, replicaID: cfg.ReplicaID,
		recordPrompts: cfg.RecordPrompts, transport: cfg.Transport, maxBody: cfg.MaxRequestBytes,
		headerTimeout: cfg.ResponseHeaderTimeout, idleTimeout: cfg.IdleTimeout, maxEvent: cfg.MaxEventBytes,
		logger: cfg.Logger, clock: clock.Or(cfg.Clock), metrics: newMetrics(cfg.Registerer),
	}
	if g.transport == nil {
		g.transport = NewTransport()
	}
	if g.maxBody <= 0 {
		g.maxBody = DefaultMaxRequestBytes
	}
	if g.headerTimeout <= 0 {
		g.headerTimeout = DefaultResponseHeaderTimeout
	}
	if g.idleTimeout <= 0 {
		g.idleTimeout = DefaultIdleTimeout
	}
	if g.maxEvent <= 0 {
		g.maxEvent = DefaultMaxEventBytes
	}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	return g
}

func (g *Gateway) now() time.Time { return g.clock.Now() }

// NewTransport returns the upstream transport: keep-alive pools sized for
// many concurrent streams to a handful of provider hosts, HTTP/2 when the
// provider offers it, and the environment's proxy settings. It sets no
// response header timeout: the Gateway runs its own on its clock
// (Config.ResponseHeaderTimeout), which a test can move.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Mounter is where the gateway's route goes (the HTTP server).
type Mounter interface {
	Handle(pattern string, h http.Handler)
}

// Mount registers the gateway under /ai/.
func (g *Gateway) Mount(m Mounter) { m.Handle(PathPrefix+"{provider}/{path...}", g) }

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.now()
	name := r.PathValue("provider")
	p := g.snapshots.Snapshot().byName[name]
	sh := guessShape(r)
	if p != nil {
		sh = p.shape
	}
	// Authenticate before saying anything about the provider, so callers
	// without a token learn nothing about which providers exist.
	principal, ok := g.authenticate(w, r, sh)
	if !ok {
		return
	}
	if p == nil {
		g.reject(w, r, sh, "unknown", http.StatusNotFound, fmt.Sprintf("unknown provider %q", name))
		return
	}
	ep, ok := route(p.typ, r.Method, r.PathValue("path"))
	if !ok {
		g.reject(w, r, sh, p.name, http.StatusNotFound, fmt.Sprintf("%s /%s is not served for %s providers; see the aigate gateway docs for the endpoints it forwards",
			r.Method, r.PathValue("path"), p.typ))
		return
	}
	if !p.enabled {
		g.reject(w, r, sh, p.name, http.StatusServiceUnavailable, fmt.Sprintf("provider %s is disabled", p.name))
		return
	}
	if p.err != nil {
		g.reject(w, r, sh, p.name, http.StatusServiceUnavailable, fmt.Sprintf("provider %s is unavailable: its configuration could not be loaded (the server log says why)", p.name))
		return
	}
	if ep.model && g.limits != nil {
		id := r.PathValue("path")[len("v1/models/"):]
		if ok, policy := g.limits.ModelAllowed(&limits.Request{UserID: principal.UserID, TokenID: principal.TokenID, Provider: p.name, Model: id}); !ok {
			g.reject(w, r, sh, p.name, http.StatusForbidden, fmt.Sprintf("model %q is not allowed by aigate policy %q; ask an aigate owner to allow it", id, policy))
			return
		}
	}
	body, err := g.readBody(w, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			g.reject(w, r, sh, p.name, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", g.maxBody))
			return
		}
		if errors.Is(err, httpserver.ErrBodyTimeout) {
			// What arrived is not forwarded: it is not the request.
			g.reject(w, r, sh, p.name, http.StatusRequestTimeout, err.Error())
			return
		}
		g.reject(w, r, sh, p.name, http.StatusBadRequest, "could not read the request body")
		return
	}
	x := &exchange{g: g, w: w, r: r, p: p, ep: ep, principal: principal, body: body, upstreamBody: body, start: start, status: interceptions.StatusOK}
	if ep.intercepted() {
		req, err := llmwire.ParseRequest(ep.format, body)
		if err != nil {
			g.reject(w, r, sh, p.name, http.StatusBadRequest, err.Error())
			return
		}
		x.model, x.stream = req.Model, req.Stream
		if ep.format == llmwire.OpenAIChat && req.Stream {
			x.upstreamBody, x.usageAsked = llmwire.AskStreamUsage(body)
		}
		if g.limits != nil && !x.admit(req) {
			return
		}
	}
	x.serve()
}

func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > g.maxBody {
		return nil, &http.MaxBytesError{Limit: g.maxBody}
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, g.maxBody))
	return buf.Bytes(), err
}

func (g *Gateway) authenticate(w http.ResponseWriter, r *http.Request, sh shape) (auth.Principal, bool) {
	// OpenAI clients send the token as a bearer token, Anthropic clients as
	// x-api-key.
	token := auth.TokenFromRequest(r)
	if token == "" {
		g.usage.Denied()
		g.reject(w, r, sh, "unknown", http.StatusUnauthorized,
			`missing aigate token: send your aigate API token as "Authorization: Bearer <token>" or "x-api-key: <token>"`)
		return auth.Principal{}, false
	}
	p, err := g.auth.Authenticate(r.Context(), token)
	switch {
	case err == nil && !p.HasScope(auth.ScopeGateway):
		g.usage.Denied()
		g.reject(w, r, sh, "unknown", http.StatusForbidden, fmt.Sprintf(
			"this aigate token lacks the gateway scope (its scopes: %s), so it may not be used on /ai/; create a gateway token with `aigate tokens create NAME` and use that",
			auth.JoinScopes(p.Scopes)))
	case err == nil:
		return p, true
	case errors.Is(err, auth.ErrMalformedToken), errors.Is(err, auth.ErrUnknownToken),
		errors.Is(err, auth.ErrExpiredToken), errors.Is(err, auth.ErrSuspendedUser):
		g.usage.Denied()
		g.reject(w, r, sh, "unknown", http.StatusUnauthorized, "invalid aigate token: it is unknown, revoked or expired, or its user is suspended")
	default:
		g.logger.Error("could not check an aigate token", "request_id", httpserver.RequestID(r.Context()), "error", err)
		g.reject(w, r, sh, "unknown", http.StatusServiceUnavailable, "could not check the aigate token; try again")
	}
	return auth.Principal{}, false
}

// reject answers a request the gateway does not forward.
func (g *Gateway) reject(w http.ResponseWriter, r *http.Request, sh shape, provider string, status int, message string) {
	g.metrics.rejected.WithLabelValues(provider, statusCode(status)).Inc()
	writeError(w, r, sh, status, message)
}

// exchange is one forwarded request.
type exchange struct {
	g         *Gateway
	w         http.ResponseWriter
	r         *http.Request
	p         *provider
	ep        endpoint
	principal auth.Principal
	// ctx is the upstream request's: the client's, also cancelled (with
	// errHeaderTimeout or errIdleTimeout as the cause) when a timeout fires.
	ctx    context.Context
	cancel context.CancelCauseFunc
	// body is the client's request body; upstreamBody is what is sent, the
	// same bytes unless usageAsked.
	body, upstreamBody []byte
	// usageAsked: aigate asked a chat stream for its usage on the client's
	// behalf, so the usage-only chunk that answers is kept from the client.
	usageAsked bool
	model      string
	stream     bool

	start, firstByte time.Time
	upstreamStatus   int
	status           interceptions.Status
	result           llmwire.Result
	errMsg           string
	// timedOut: the upstream was given up on for a timeout.
	timedOut bool
	// ticket holds what admission reserved in the policies' windows.
	ticket *limits.Ticket
	// bedrockModel is the Bedrock model ID the request was sent to, which
	// its price is looked up by (cost.go); empty for other providers.
	bedrockModel string
	// cost is the request's cost in micro-dollars when priced (price).
	cost   int64
	priced bool
}

func (x *exchange) serve() {
	defer x.finish()
	defer x.countUsage()
	x.ctx, x.cancel = context.WithCancelCause(x.r.Context())
	defer x.cancel(nil)
	resp, err := x.send()
	if err != nil {
		if x.r.Context().Err() != nil {
			x.status = interceptions.StatusClientCancelled
			return
		}
		if errors.Is(err, errHeaderTimeout) {
			x.timedOut = true
			x.fail(interceptions.StatusUpstreamError, fmt.Sprintf("the provider sent no response within %s", x.g.headerTimeout), nil)
			writeError(x.w, x.r, x.p.shape, http.StatusGatewayTimeout, fmt.Sprintf(
				"provider %s did not answer within %s, so aigate gave up (--upstream-response-header-timeout)", x.p.name, x.g.headerTimeout))
			return
		}
		// Bedrock requests are rewritten, so some problems only show then:
		// the client's body, or a provider without a model.
		if errors.Is(err, bedrock.ErrInvalidRequest) {
			x.fail(interceptions.StatusGatewayError, "invalid request for bedrock", err)
			writeError(x.w, x.r, x.p.shape, http.StatusBadRequest, err.Error())
			return
		}
		if errors.Is(err, bedrock.ErrNoModel) {
			x.fail(interceptions.StatusGatewayError, "bedrock provider has no model", err)
			writeError(x.w, x.r, x.p.shape, http.StatusServiceUnavailable, err.Error())
			return
		}
		x.fail(interceptions.StatusGatewayError, "could not reach the provider", err)
		writeError(x.w, x.r, x.p.shape, http.StatusBadGateway, fmt.Sprintf("could not reach provider %s: %s", x.p.name, upstreamReason(err)))
		x.upstreamStatus = 0
		return
	}
	defer func() { _ = resp.Body.Close() }()
	x.upstreamStatus = resp.StatusCode
	x.relay(resp)
}

// countUsage counts the request as allowed: it was sent upstream, or tried
// to be (a provider that could not be reached still served an allowed
// request), with the tokens the response reported.
func (x *exchange) countUsage() {
	u := x.result.Usage
	x.g.usage.Allowed(x.principal.UserID, x.p.id, usage.Tokens{
		Input: u.Input, Output: u.Output, CacheRead: u.CacheRead, CacheWrite: u.CacheWrite, Reasoning: u.Reasoning,
	})
}

// fail records why the exchange failed and logs the cause.
func (x *exchange) fail(status interceptions.Status, msg string, err error) {
	x.status = status
	x.errMsg = msg
	attrs := []any{"request_id", httpserver.RequestID(x.r.Context()), "provider", x.p.name, "reason", msg}
	if err != nil {
		attrs = append(attrs, "error", err)
	}
	x.g.logger.Warn("gateway request failed", attrs...)
}

func upstreamReason(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Op + " failed: " + oe.Err.Error()
	}
	return "request failed"
}

func (x *exchange) markFirstByte() {
	if x.firstByte.IsZero() {
		x.firstByte = x.g.now()
	}
}

func (x *exchange) finish() {
	x.price()
	end := x.g.now()
	x.g.metrics.observe(x, end)
	charges := x.settle()
	if !x.ep.intercepted() || x.g.recorder == nil {
		return
	}
	rec := interceptions.Record{
		ID: interceptions.NewID(x.start), ReplicaID: x.g.replicaID, RequestID: httpserver.RequestID(x.r.Context()),
		UserID: x.principal.UserID, TokenID: x.principal.TokenID,
		ProviderID: x.p.id, ProviderName: x.p.name, ProviderType: string(x.p.typ),
		Model: x.model, Endpoint: x.ep.format.String(), Streaming: x.stream,
		Client: classifyClient(x.r.UserAgent()), SessionID: sessionID(x.r.Header),
		StartedAt: x.start.UTC(), EndedAt: x.start.Add(end.Sub(x.start)).UTC(), TTFB: -1,
		Status: x.status, UpstreamStatus: x.upstreamStatus,
		InputTokens: x.result.Usage.Input, OutputTokens: x.result.Usage.Output,
		CacheReadTokens: x.result.Usage.CacheRead, CacheWriteTokens: x.result.Usage.CacheWrite,
		ReasoningTokens: x.result.Usage.Reasoning, Error: x.errMsg, Charges: charges,
		CacheWrite1hTokens: x.result.Usage.CacheWrite1h,
	}
	if x.priced {
		rec.CostMicros = &x.cost
	}
	if !x.firstByte.IsZero() {
		rec.TTFB = x.firstByte.Sub(x.start)
	}
	if len(x.result.ToolCalls) > 0 {
		rec.ToolCalls = make([]interceptions.ToolCall, len(x.result.ToolCalls))
		for i, tc := range x.result.ToolCalls {
			rec.ToolCalls[i] = interceptions.ToolCall{ID: tc.ID, Name: tc.Name}
		}
	}
	if x.g.recordPrompts {
		rec.Prompt = x.body
	}
	x.g.recorder.Record(rec)
}
