package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/pubsub"
)

// ChangesChannel is the NOTIFY channel the providers service announces
// every committed change on.
const ChangesChannel = providers.ChangesChannel

// DefaultReloadInterval is the backstop reload period: even if every
// notification were lost, a replica is never staler than this.
const DefaultReloadInterval = time.Minute

// The names of the Reloader's timers on its Clock.
const (
	// BackstopTimer is armed for the Interval, at the start of Run and
	// again after each backstop reload.
	BackstopTimer = "gateway.reload.backstop"
	// RetryTimer is armed for the backoff after a failed reload.
	RetryTimer = "gateway.reload.retry"
)

// firstRetryBackoff is the wait after a reload fails; it doubles with each
// further failure, up to the Interval.
const firstRetryBackoff = 100 * time.Millisecond

// Reloader keeps the current Snapshot. See the package doc for the protocol.
type Reloader struct {
	load     func(context.Context) ([]providers.Live, error)
	ps       *pubsub.PubSub
	interval time.Duration
	logger   *slog.Logger
	clock    clock.Clock
	now      func() time.Time

	// mu serialises reloads, so a slow load that started first can never
	// replace the result of one that started after it.
	mu      sync.Mutex
	current atomic.Pointer[Snapshot]
	// trigger holds at most one pending reload request: notifications that
	// arrive during a reload collapse into one more reload after it.
	trigger chan struct{}
	// reloaded, when set (tests), receives every new snapshot.
	reloaded func(*Snapshot)
	cancel   func()

	metrics reloadMetrics
}

type reloadMetrics struct {
	attempts, failures prometheus.Counter
	lastSuccess        prometheus.Gauge
	providers          *prometheus.GaugeVec
}

// ReloaderConfig configures a Reloader.
type ReloaderConfig struct {
	Providers *providers.Service
	PubSub    *pubsub.PubSub
	// Interval is the backstop reload period; DefaultReloadInterval if 0.
	Interval   time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Clock times the backstop and the retries (timers BackstopTimer and
	// RetryTimer) and stamps each snapshot; nil is the real clock.
	Clock clock.Clock
	// Now overrides Clock's time for the snapshots; kept for callers that
	// predate Clock.
	Now func() time.Time
	// OnReload is called with every new snapshot (tests wait on it).
	OnReload func(*Snapshot)
}

// NewReloader subscribes to provider changes and loads the first snapshot.
// It subscribes before loading, so a change committed while the first load
// runs is not missed. It fails when the first load fails: a replica that
// cannot read its providers must not report ready.
func NewReloader(ctx context.Context, cfg ReloaderConfig) (*Reloader, error) {
	r := &Reloader{
		load: cfg.Providers.LoadLive, ps: cfg.PubSub, interval: cfg.Interval, logger: cfg.Logger,
		clock: clock.Or(cfg.Clock), now: cfg.Now, trigger: make(chan struct{}, 1), reloaded: cfg.OnReload,
	}
	if r.interval <= 0 {
		r.interval = DefaultReloadInterval
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = r.clock.Now
	}
	r.metrics = reloadMetrics{
		attempts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aigate_gateway_snapshot_reloads_total", Help: "Provider snapshot reloads attempted."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aigate_gateway_snapshot_reload_failures_total", Help: "Provider snapshot reloads that failed (the previous snapshot stays in use)."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "aigate_gateway_snapshot_last_success_timestamp_seconds", Help: "When the provider snapshot was last loaded."}),
		providers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "aigate_gateway_providers", Help: "Providers in the current snapshot, by state (enabled, disabled, broken)."}, []string{"state"}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(r.metrics.attempts, r.metrics.failures, r.metrics.lastSuccess, r.metrics.providers)
	}
	if r.ps != nil {
		cancel, err := r.ps.Subscribe(ChangesChannel, func(ev pubsub.Event) {
			if ev.Missed {
				r.logger.Info("provider notifications may have been missed; reloading everything")
			}
			r.Trigger()
		})
		if err != nil {
			return nil, fmt.Errorf("subscribe to provider changes: %w", err)
		}
		r.cancel = cancel
	}
	if err := r.Reload(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Snapshot returns the current snapshot.
func (r *Reloader) Snapshot() *Snapshot { return r.current.Load() }

// Trigger asks for a reload without waiting for it.
func (r *Reloader) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Close stops the change subscription.
func (r *Reloader) Close() {
	if r.cancel != nil {
		r.cancel()
	}
}

// Run reloads on every trigger and every interval until ctx ends. A failed
// reload is retried with backoff (from 100 ms up to the interval).
func (r *Reloader) Run(ctx context.Context) {
	// The backstop runs every interval whatever else reloads, as a ticker
	// would; it is a timer re-armed after each backstop reload so a test
	// sees that reload done when the timer is armed again.
	backstop := r.clock.NewTimer(BackstopTimer, r.interval)
	defer backstop.Stop()
	var retry *clock.Timer
	stopRetry := func() {
		if retry != nil {
			retry.Stop()
			retry = nil
		}
	}
	defer stopRetry()
	backoff := firstRetryBackoff
	for {
		var retryC <-chan time.Time
		if retry != nil {
			retryC = retry.C
		}
		fromBackstop := false
		select {
		case <-ctx.Done():
			return
		case <-r.trigger:
		case <-backstop.C:
			fromBackstop = true
		case <-retryC:
		}
		// Any reload covers a pending retry.
		stopRetry()
		err := r.Reload(ctx)
		if fromBackstop {
			backstop.Reset(r.interval)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.logger.Error("provider reload failed; still serving the previous snapshot", "retry_in", backoff, "error", err)
			retry = r.clock.NewTimer(RetryTimer, backoff)
			backoff = min(backoff*2, r.interval)
			continue
		}
		backoff = firstRetryBackoff
	}
}

// Reload loads the providers now and swaps the snapshot. Run calls it; it
// is exported for callers that must see a change at once (tests, and the
// replica that made the change).
func (r *Reloader) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.metrics.attempts.Inc()
	live, err := r.load(ctx)
	if err != nil {
		r.metrics.failures.Inc()
		return fmt.Errorf("load providers: %w", err)
	}
	prev := r.current.Load()
	s := buildSnapshot(live, prev, r.now())
	for _, p := range s.byName {
		if p.err != nil && !sameError(prev, p) {
			r.logger.Error("provider cannot be served; requests to it get 503 until it is fixed", "provider", p.name, "error", p.err)
		}
	}
	r.current.Store(s)
	enabled, disabled, broken := s.counts()
	r.metrics.providers.WithLabelValues("enabled").Set(float64(enabled))
	r.metrics.providers.WithLabelValues("disabled").Set(float64(disabled))
	r.metrics.providers.WithLabelValues("broken").Set(float64(broken))
	r.metrics.lastSuccess.Set(float64(s.LoadedAt.UnixNano()) / 1e9)
	r.logger.Debug("provider snapshot loaded", "providers", len(s.byName), "broken", broken)
	if r.reloaded != nil {
		r.reloaded(s)
	}
	return nil
}

// sameError avoids logging a broken provider again on every reload.
func sameError(prev *Snapshot, p *provider) bool {
	if prev == nil {
		return false
	}
	old, ok := prev.byName[p.name]
	return ok && old.err != nil && old.updated.Equal(p.updated) && old.err.Error() == p.err.Error()
}
