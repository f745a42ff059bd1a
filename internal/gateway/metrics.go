package gateway

import (
	"cmp"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Labels never carry users or tokens (cardinality); models are capped.
type metrics struct {
	requests       *prometheus.CounterVec   // provider, endpoint, model, status, code
	rejected       *prometheus.CounterVec   // provider, code
	duration       *prometheus.HistogramVec // provider, endpoint
	ttfb           *prometheus.HistogramVec // provider, endpoint
	tokens         *prometheus.CounterVec   // provider, model, kind
	streams        *prometheus.GaugeVec     // provider
	upstreamErrors *prometheus.CounterVec   // provider, kind
	cooldowns      *prometheus.CounterVec   // provider, code
	unpriced       *prometheus.CounterVec   // model
	models         modelLabels
	// unpricedModels caps the unpriced counter's models apart, lower: a
	// model is there only when the price book lacks it.
	unpricedModels modelLabels
}

// Streams last seconds to minutes; time to first byte is usually under a
// few seconds.
var (
	durationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	ttfbBuckets     = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aigate_gateway_requests_total",
			Help: "Requests forwarded upstream, by provider, endpoint, model, outcome (ok; upstream_error: a status other than 2xx, passed through or not, a failed or cut stream, a timeout; client_cancelled; gateway_error) and the provider's HTTP status code (none without a response).",
		}, []string{"provider", "endpoint", "model", "status", "code"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aigate_gateway_rejected_total",
			Help: "Requests the gateway answered itself without forwarding them (401, 404, 503, ...), by provider and status code.",
		}, []string{"provider", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "aigate_gateway_request_duration_seconds", Help: "Time from request to the end of the response, by provider and endpoint.",
			Buckets: durationBuckets,
		}, []string{"provider", "endpoint"}),
		ttfb: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "aigate_gateway_time_to_first_byte_seconds", Help: "Time from request to the first response body byte sent to the client.",
			Buckets: ttfbBuckets,
		}, []string{"provider", "endpoint"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aigate_gateway_tokens_total", Help: "Tokens reported by providers, by kind (input, output, cache_read, cache_write, reasoning).",
		}, []string{"provider", "model", "kind"}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "aigate_gateway_streams_in_flight", Help: "Streaming responses being relayed now.",
		}, []string{"provider"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aigate_gateway_upstream_errors_total",
			Help: "Upstream failures: connect (unreachable), status (an error status code), stream (failed mid-response), timeout (no response headers, or a response silent, for longer than its timeout).",
		}, []string{"provider", "kind"}),
		cooldowns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aigate_gateway_key_cooldowns_total", Help: "Provider keys put on a cooldown after the upstream answered 401 or 429.",
		}, []string{"provider", "code"}),
		unpriced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aigate_unpriced_tokens_total",
			Help: "Tokens of requests whose model has no price in the price book, so their cost is unknown (recorded as NULL, never 0), by model (at most 100, then \"other\"). Add a price with `aigate prices set`.",
		}, []string{"model"}),
		models:         modelLabels{seen: map[string]struct{}{}},
		unpricedModels: modelLabels{seen: map[string]struct{}{}, max: maxUnpricedModelLabels},
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.rejected, m.duration, m.ttfb, m.tokens, m.streams, m.upstreamErrors, m.cooldowns, m.unpriced)
	}
	return m
}

func (m *metrics) observe(x *exchange, end time.Time) {
	endpoint := "passthrough"
	if x.ep.intercepted() {
		endpoint = x.ep.format.String()
	}
	model := m.models.label(x.model)
	code := statusCode(x.upstreamStatus)
	m.requests.WithLabelValues(x.p.name, endpoint, model, string(x.status), code).Inc()
	m.duration.WithLabelValues(x.p.name, endpoint).Observe(end.Sub(x.start).Seconds())
	if !x.firstByte.IsZero() {
		m.ttfb.WithLabelValues(x.p.name, endpoint).Observe(x.firstByte.Sub(x.start).Seconds())
	}
	switch {
	case x.timedOut:
		m.upstreamErrors.WithLabelValues(x.p.name, "timeout").Inc()
	case x.status == "gateway_error":
		m.upstreamErrors.WithLabelValues(x.p.name, "connect").Inc()
	case x.upstreamStatus >= 400:
		m.upstreamErrors.WithLabelValues(x.p.name, "status").Inc()
	case x.status == "upstream_error":
		m.upstreamErrors.WithLabelValues(x.p.name, "stream").Inc()
	}
	u := x.result.Usage
	for _, t := range []struct {
		kind string
		n    int64
	}{{"input", u.Input}, {"output", u.Output}, {"cache_read", u.CacheRead}, {"cache_write", u.CacheWrite}, {"reasoning", u.Reasoning}} {
		if t.n > 0 {
			m.tokens.WithLabelValues(x.p.name, model, t.kind).Add(float64(t.n))
		}
	}
}

// maxModelLabels caps the distinct model label values: the model comes from
// the client, and a typo-happy or hostile client must not blow up the
// metrics. Past the cap, new models are counted as "other".
const maxModelLabels = 200

// maxUnpricedModelLabels caps aigate_unpriced_tokens_total's models.
const maxUnpricedModelLabels = 100

type modelLabels struct {
	// max is the cap; 0 is maxModelLabels.
	max  int
	mu   sync.RWMutex
	seen map[string]struct{} // guarded by mu
}

func (l *modelLabels) label(model string) string {
	if model == "" {
		return "none"
	}
	if len(model) > 128 {
		return "other"
	}
	l.mu.RLock()
	_, ok := l.seen[model]
	l.mu.RUnlock()
	if ok {
		return model
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen) >= cmp.Or(l.max, maxModelLabels) {
		return "other"
	}
	l.seen[model] = struct{}{}
	return model
}

var codes = func() map[int]string {
	m := make(map[int]string, 500)
	for c := 100; c < 600; c++ {
		m[c] = strconv.Itoa(c)
	}
	return m
}()

// statusCode is strconv.Itoa without an allocation per request; 0 (no
// upstream response) is "none", and a code outside 100-599 (an upstream may
// send any three digits) is "other", so the label's values stay bounded.
func statusCode(c int) string {
	if s, ok := codes[c]; ok {
		return s
	}
	if c == 0 {
		return "none"
	}
	return "other"
}
