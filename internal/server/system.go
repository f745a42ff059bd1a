package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/aigate/aigate/internal/api"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/buildinfo"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/config"
	"github.com/aigate/aigate/internal/dashboard"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/migrate"
	"github.com/aigate/aigate/internal/dbopen"
	"github.com/aigate/aigate/internal/encryption"
	"github.com/aigate/aigate/internal/gateway"
	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/limits"
	"github.com/aigate/aigate/internal/policies"
	"github.com/aigate/aigate/internal/pricing"
	"github.com/aigate/aigate/internal/providerenv"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/pubsub"
	"github.com/aigate/aigate/internal/replicas"
	"github.com/aigate/aigate/internal/rollup"
	"github.com/aigate/aigate/internal/site"
	"github.com/aigate/aigate/internal/usage"
	"github.com/aigate/aigate/internal/users"
)

// Deps is what a System takes from its surroundings besides its
// configuration: the parts tests replace. The zero value is production's.
type Deps struct {
	// Clock drives every timer and "now" in the System; nil is the real one.
	Clock clock.Clock
	// Registry receives the metrics and is served on /metrics; nil is a new
	// registry with the Go runtime and process collectors.
	Registry *prometheus.Registry
	// Transport sends the gateway's upstream requests; nil is
	// gateway.NewTransport(), whose idle connections Stop closes.
	Transport http.RoundTripper
	// Environ is the process environment, the one-shot migration source of
	// the provider seed (AIGATE_OPENAI_KEY, AIGATE_PROVIDER_<N>_*, ...).
	Environ []string
	// Logger receives the System's logs; nil discards them.
	Logger *slog.Logger
	// Audit writes audit entries; nil is the default recorder. Tests inject
	// write failures through it.
	Audit *audit.Recorder

	// failAt names a startup step that fails instead of running (tests of
	// this package only; see export_test.go).
	failAt string
}

// System is one aigate server replica. Build it with New, then Start it;
// Stop it once, on every path.
type System struct {
	cfg       config.Server
	deps      Deps
	clock     clock.Clock
	logger    *slog.Logger
	replicaID uuid.UUID
	reg       *prometheus.Registry
	env       providerenv.Config

	http      *httpserver.Server
	addr      net.Addr
	serveDone chan struct{} // closed when Serve returns
	serveErr  error         // set before serveDone is closed
	// metrics is the private /metrics listener; nil when turned off.
	metrics     *httpserver.MetricsServer
	metricsAddr net.Addr
	metricsDone chan struct{} // closed when its Serve returns
	metricsErr  error         // set before metricsDone is closed

	opened    *dbopen.Opened
	keyring   *encryption.Keyring
	migrator  *migrate.Migrator
	authn     *auth.Authenticator
	providers *providers.Service
	users     *users.Service
	replica   *replicas.Replica
	heartbeat loop
	pubsub    *pubsub.PubSub
	reloader  *gateway.Reloader
	reloading loop
	prices    *pricing.Service
	repricing loop // the price book's reload loop
	recorder  *interceptions.Recorder
	limits    *limits.Engine
	recording loop
	touching  loop // writes tokens' last_used_at in batches
	deployID  uuid.UUID
	counters  *usage.Counters
	// usageLoops are the usage services: counter flush, snapshots,
	// retention (and rollups); stopped together, after the recorder.
	usageLoops []loop
	transport  http.RoundTripper
	ownTrans   *http.Transport // the default transport, when Deps gave none

	failed   chan error    // one failure that happened on its own
	stopping chan struct{} // closed when Stop begins
	stopOnce sync.Once
	stopErr  error
}

// loop is a background service's Run, with what stops it.
type loop struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func runLoop(run func(context.Context)) loop {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(ctx)
	}()
	return loop{cancel: cancel, done: done}
}

// stop cancels the loop and waits for it; a loop never started is a no-op.
func (l loop) stop() bool {
	if l.cancel == nil {
		return false
	}
	l.cancel()
	<-l.done
	return true
}

// New builds a System from a validated configuration. It starts nothing;
// what it checks needs no database (the provider environment is parsed
// here, so a typo in it fails before anything starts).
func New(cfg config.Server, deps Deps) (*System, error) {
	env, err := providerenv.Parse(deps.Environ)
	if err != nil {
		return nil, fmt.Errorf("invalid AI provider environment variables:\n%w", err)
	}
	if cfg.PostgresListenURL != "" && cfg.PostgresURL == "" {
		return nil, errors.New("--postgres-listen-url (AIGATE_POSTGRES_LISTEN_URL) is set without --postgres-url: " +
			"the embedded PostgreSQL needs no pooler and so no second URL; unset it, or set --postgres-url to the pooler's URL")
	}
	if cfg.UsageRollupInterval != 0 {
		if err := rollup.CheckInterval(cfg.UsageRollupInterval); err != nil {
			return nil, fmt.Errorf("--usage-rollup-interval: %w", err)
		}
	}
	s := &System{
		cfg: cfg, deps: deps, clock: clock.Or(deps.Clock), replicaID: uuid.New(), reg: deps.Registry, env: env,
		serveDone: make(chan struct{}), metricsDone: make(chan struct{}), failed: make(chan error, 1), stopping: make(chan struct{}),
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.logger = logger.With("replica_id", s.replicaID.String())
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
		s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "aigate_build_info", Help: "Always 1; labels say which build runs."}, []string{"version", "replica_id"})
	buildInfo.WithLabelValues(buildinfo.Version(), s.replicaID.String()).Set(1)
	s.reg.MustRegister(buildInfo)

	s.transport = deps.Transport
	if s.transport == nil {
		s.ownTrans = gateway.NewTransport()
		s.transport = s.ownTrans
	}
	// /readyz runs these only after SetReady(true), when every part exists.
	s.http, err = httpserver.New(s.logger.With("component", "http"), s.reg, []httpserver.ReadyCheck{
		{Name: "database", Check: func(ctx context.Context) error { return s.opened.DB.Pool.Ping(ctx) }},
		{Name: "migrations", Check: func(ctx context.Context) error { return s.migrator.CheckCurrent(ctx) }},
		{Name: "providers", Check: func(context.Context) error {
			if s.reloader.Snapshot() == nil {
				return errors.New("providers not loaded")
			}
			return nil
		}},
	}, s.httpOptions())
	if err != nil {
		return nil, err
	}
	if cfg.MetricsAddress != "" {
		s.metrics = httpserver.NewMetricsServer(s.logger.With("component", "metrics"), s.reg, s.httpOptions())
	}
	return s, nil
}

// httpOptions are the listeners' settings from the configuration.
func (s *System) httpOptions() httpserver.Options {
	return httpserver.Options{
		HeaderTimeout: s.cfg.HTTPHeaderTimeout, BodyTimeout: s.cfg.HTTPBodyTimeout, IdleTimeout: s.cfg.HTTPIdleTimeout,
		TrustedProxies: s.cfg.TrustedProxies, CertFile: s.cfg.TLSCertFile, KeyFile: s.cfg.TLSKeyFile, Clock: s.clock,
	}
}

// steps are the startup steps, in order.
func (s *System) steps() []step {
	return []step{
		{"listen", s.listen},
		{"database", s.openDatabase},
		{"keyring", s.loadKeyring},
		{"migrations", s.migrate},
		{"keys check", s.checkKeys},
		{"deployment setup", s.setupSite},
		{"replica", s.registerReplica},
		{"provider seed", s.seedProviders},
		{"pubsub", s.listenForChanges},
		{"providers", s.loadProviders},
		{"prices", s.loadPrices},
		{"policies", s.startLimits},
		{"recorder", s.startRecorder},
		{"usage", s.startUsage},
		{"routes", s.mountRoutes},
		{"ready", s.ready},
	}
}

// listen binds first: a taken port fails before anything else starts, and
// /healthz answers while migrations run.
func (s *System) listen(context.Context) error {
	s.logger.Info("starting aigate", "version", buildinfo.Version())
	addr, err := s.http.Listen(s.cfg.HTTPAddress)
	if err != nil {
		return err
	}
	s.addr = addr
	go func() {
		s.serveErr = s.http.Serve()
		close(s.serveDone)
	}()
	s.logger.Info("http server listening", "address", addr.String(), "tls", s.http.TLS(), "trusted_proxies", len(s.cfg.TrustedProxies))
	if s.metrics == nil {
		s.logger.Info("metrics listener off (--metrics-address is empty)")
		return nil
	}
	maddr, err := s.metrics.Listen(s.cfg.MetricsAddress)
	if err != nil {
		return err
	}
	s.metricsAddr = maddr
	go func() {
		s.metricsErr = s.metrics.Serve()
		close(s.metricsDone)
	}()
	s.logger.Info("metrics listening", "address", maddr.String(), "path", "/metrics")
	return nil
}

func (s *System) openDatabase(ctx context.Context) error {
	// A replica without the shared keys could not decrypt what the others
	// wrote: refuse before touching the database.
	if s.cfg.EncryptionKeys == "" && s.cfg.PostgresURL != "" {
		return encryption.ErrNoKeys
	}
	opened, err := dbopen.Open(ctx, s.cfg.Database, "aigate "+s.replicaID.String()[:8], s.logger, s.clock)
	if err != nil {
		return err
	}
	s.opened = opened
	s.reg.MustRegister(database.NewPoolCollector(opened.DB.Pool))
	return nil
}

// loadKeyring runs after the embedded PostgreSQL has laid out the data dir,
// so the generated key file does not decide the data dir's permissions.
func (s *System) loadKeyring(context.Context) error {
	dataDir := ""
	if s.opened.Embedded {
		dataDir = s.cfg.DataDir
	}
	kr, err := encryption.LoadKeyring(s.cfg.EncryptionKeys, dataDir, s.logger)
	if err != nil {
		return err
	}
	s.keyring = kr
	s.logger.Info("encryption keys loaded", "active_key", kr.ActiveDigest(), "keys", len(kr.Digests()))
	db := s.opened.DB
	s.authn = auth.NewAuthenticator(auth.Config{DB: db, Clock: s.clock, Logger: s.logger.With("component", "auth"), Registerer: s.reg})
	s.providers = providers.NewService(db, kr, s.audit(), s.clock.Now)
	s.users = users.NewService(db, s.authn, s.audit(), s.clock.Now)
	return nil
}

func (s *System) audit() *audit.Recorder {
	rec := &audit.Recorder{}
	if s.deps.Audit != nil {
		copied := *s.deps.Audit
		rec = &copied
	}
	if rec.Now == nil {
		rec.Now = s.clock.Now
	}
	return rec
}

// migrate waits for the migrations even when a signal arrives: the
// transaction would roll back cleanly, but an operator pressing Ctrl-C once
// expects the current step to finish, not a retry of a long migration next
// time. Start stops right after.
func (s *System) migrate(ctx context.Context) error {
	s.migrator = migrate.New(s.opened.DB, migrate.Embedded(), buildinfo.Version())
	applied, err := s.migrator.Up(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	for _, m := range applied {
		s.logger.Info("applied migration", "migration", m.Name)
	}
	return nil
}

func (s *System) checkKeys(ctx context.Context) error {
	stale, err := s.providers.CheckKeys(ctx)
	if err != nil {
		return err
	}
	if stale > 0 {
		s.logger.Info("some stored secrets are encrypted with an older key; run `aigate encryption rotate` to re-encrypt them with the active key",
			"ciphertexts", stale, "active_key", s.keyring.ActiveDigest())
	}
	return nil
}

func (s *System) setupSite(ctx context.Context) error {
	st, err := site.Setup(ctx, s.opened.DB, s.clock.Now())
	if err != nil {
		return fmt.Errorf("deployment setup: %w", err)
	}
	s.deployID = st.DeploymentID
	s.logger.Info("deployment ready", "deployment_id", st.DeploymentID.String())
	return nil
}

func (s *System) registerReplica(ctx context.Context) error {
	r, err := replicas.Register(ctx, s.opened.DB, replicas.Config{
		ID: s.replicaID, Version: buildinfo.Version(), HTTPAddress: s.addr.String(), Clock: s.clock,
		Logger: s.logger.With("component", "replicas"),
	})
	if err != nil {
		return err
	}
	s.replica = r
	s.heartbeat = runLoop(r.Run)
	return nil
}

// seedProviders runs before the API and the gateway serve: the environment
// is a one-shot migration source, reconciled under its lock.
func (s *System) seedProviders(ctx context.Context) error {
	return providerenv.Seed(ctx, s.opened.DB, s.providers, s.env, s.logger.With("component", "provider_seed"))
}

// listenForChanges subscribes before the first load, so no change is missed
// between the two.
func (s *System) listenForChanges(ctx context.Context) error {
	// LISTEN belongs to a session; behind a transaction-mode pooler the
	// pool's URL gives none, so the listener may have a direct URL of its own.
	listenURL := s.cfg.PostgresListenURL
	if listenURL == "" {
		listenURL = s.opened.DB.Pool.Config().ConnString()
	}
	ps, err := pubsub.New(ctx, pubsub.Config{
		ConnString: listenURL, Logger: s.logger.With("component", "pubsub"), Clock: s.clock,
		WatchdogInterval: s.cfg.PubSubWatchdogInterval, WatchdogTimeout: s.cfg.PubSubWatchdogTimeout, Registerer: s.reg,
	})
	if err != nil {
		return fmt.Errorf("start change notifications: %w", err)
	}
	s.pubsub = ps
	// The token cache trusts its entries for minutes: it must hear every
	// revocation before the API or the gateway serves.
	if err := s.authn.Listen(ps); err != nil {
		return err
	}
	s.touching = runLoop(s.authn.Run)
	return nil
}

func (s *System) loadProviders(ctx context.Context) error {
	r, err := gateway.NewReloader(ctx, gateway.ReloaderConfig{
		Providers: s.providers, PubSub: s.pubsub, Interval: s.cfg.ProviderReloadInterval, Clock: s.clock,
		Logger: s.logger.With("component", "providers_reload"), Registerer: s.reg,
	})
	if err != nil {
		return err
	}
	s.reloader = r
	s.reloading = runLoop(r.Run)
	// Read your writes: a change made through this replica's API is served
	// here when the API answers. A failed reload here costs only that; the
	// change's notification triggers another.
	log := s.logger.With("component", "providers_reload")
	s.providers.OnCommit(func(ctx context.Context) {
		if err := r.Reload(ctx); err != nil {
			log.Warn("reload after a provider change failed; the change notification will reload", "error", err)
		}
	})
	return nil
}

// loadPrices stores the shipped default price book if it is newer than the
// stored one (under the price_book lock), then subscribes to price changes
// and loads the book the gateway prices requests with.
func (s *System) loadPrices(ctx context.Context) error {
	p := pricing.New(pricing.Config{
		DB: s.opened.DB, PubSub: s.pubsub, Audit: s.audit(), Clock: s.clock,
		Logger: s.logger.With("component", "prices"), ReplicaID: s.replicaID,
	})
	if _, err := p.LoadDefault(ctx); err != nil {
		return err
	}
	if err := p.Start(ctx); err != nil {
		return err
	}
	s.prices = p
	s.repricing = runLoop(p.Run)
	return nil
}

func (s *System) startRecorder(context.Context) error {
	s.recorder = interceptions.NewRecorder(s.opened.DB, interceptions.Config{Logger: s.logger.With("component", "interceptions"), Registerer: s.reg, Clock: s.clock,
		QueueBytes: int64(s.cfg.RecordQueueBytes), Settle: s.limits.Settle})
	s.recording = runLoop(s.recorder.Run)
	return nil
}

// startUsage starts the usage services: every replica flushes its own
// counters; the snapshot, the rollups and the retention run on every replica
// and claim or try-lock their work, so one replica does each.
func (s *System) startUsage(ctx context.Context) error {
	s.counters = usage.NewCounters()
	flusher := usage.NewFlusher(usage.FlusherConfig{
		DB: s.opened.DB, Counters: s.counters, ReplicaID: s.replicaID, Interval: s.cfg.UsageFlushInterval,
		Clock: s.clock, Logger: s.logger.With("component", "usage"),
	})
	snapshots := usage.NewSnapshotter(usage.SnapshotterConfig{
		DB: s.opened.DB, ReplicaID: s.replicaID, Clock: s.clock, Logger: s.logger.With("component", "usage_snapshots"),
		TelemetryURL: s.cfg.TelemetryURL, DeploymentID: s.deployID,
	})
	retention := interceptions.NewRetention(interceptions.RetentionConfig{
		DB: s.opened.DB, Retention: s.cfg.InterceptionsRetention, Clock: s.clock,
		Logger: s.logger.With("component", "interceptions_retention"), Registerer: s.reg,
	})
	rollups, err := rollup.New(rollup.Config{
		DB: s.opened.DB, Interval: s.cfg.UsageRollupInterval, Clock: s.clock,
		Logger: s.logger.With("component", "usage_rollup"), ReplicaID: s.replicaID,
	})
	if err != nil {
		return err
	}
	// The first retention run makes today's partitions before anything is
	// recorded; its failure is logged and retried like any other.
	wait := retention.RunOnce(ctx)
	s.usageLoops = append(s.usageLoops, runLoop(flusher.Run), runLoop(snapshots.Run),
		runLoop(func(ctx context.Context) { retention.RunAfter(ctx, wait) }), runLoop(rollups.Run))
	return nil
}

func (s *System) mountRoutes(context.Context) error {
	a := api.New(s.opened.DB, s.authn, s.users, s.providers, s.logger.With("component", "api"), s.clock.Now)
	a.ServeFrom(s.reloader.Snapshot)
	ps := policies.NewService(s.opened.DB, s.audit(), s.clock.Now)
	// Read your writes, as for providers: this replica enforces a change
	// before its API answers; a failed reload is retried by the change's
	// notification.
	ps.OnCommit(func(ctx context.Context) {
		if err := s.limits.Reload(ctx); err != nil {
			s.logger.Warn("reload after a policy change failed; the change notification will reload", "error", err)
		}
	})
	a.UsePolicies(ps)
	a.PricesFrom(s.prices)
	a.Mount(s.http)
	dash, err := dashboard.New(dashboard.Config{API: a.Handler(), Logger: s.logger.With("component", "dashboard"), Now: s.clock.Now, HasUsers: s.users.Any})
	if err != nil {
		return err
	}
	dash.Mount(s.http)
	gateway.New(gateway.Config{
		Limits: s.limits,
		Auth:   s.authn, Snapshots: s.reloader, Prices: s.prices, Recorder: s.recorder, ReplicaID: s.replicaID, RecordPrompts: s.cfg.RecordPrompts,
		Transport: s.transport, Logger: s.logger.With("component", "gateway"), Registerer: s.reg, Clock: s.clock,
		Usage: s.counters, ResponseHeaderTimeout: s.cfg.UpstreamResponseHeaderTimeout, IdleTimeout: s.cfg.UpstreamIdleTimeout,
		MaxEventBytes: s.cfg.MaxSSEEventSize,
	}).Mount(s.http)
	return nil
}

func (s *System) ready(ctx context.Context) error {
	s.http.SetReady(true)
	// A fresh deployment is set up through the CLI; say how, where the
	// operator is looking.
	if hasUsers, err := s.users.Any(ctx); err != nil {
		s.logger.Warn("could not count users", "error", err)
	} else if !hasUsers {
		u := loginURL(s.addr, s.http.TLS())
		s.logger.Info("no users yet: create the first owner with `aigate login " + u + "`, which asks for an email and a password, or in a browser at " + u + "/setup")
	}
	return nil
}

// loginURL is a URL of this server for the first-owner hint: on a wildcard
// address, the loopback one, which works from the server's own host.
func loginURL(addr net.Addr, tls bool) string {
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + net.JoinHostPort(host, port)
}

// watch reports, once, a failure that happens on its own after Start: the
// listener stopping or the embedded PostgreSQL exiting.
func (s *System) watch() {
	go func() {
		var err error
		select {
		case <-s.stopping:
			return
		case <-s.serveDone:
			err = fmt.Errorf("http server stopped unexpectedly: %w", s.serveErr)
		case <-s.metricsDone:
			err = fmt.Errorf("metrics listener stopped unexpectedly: %w", s.metricsErr)
		case <-s.opened.Died:
			err = errors.New("embedded PostgreSQL exited unexpectedly; its last log lines are above")
		}
		s.failed <- err
	}()
}

// Failed receives an error when the running System fails on its own (the
// HTTP listener or the embedded PostgreSQL stopped); the caller then stops
// it.
func (s *System) Failed() <-chan error { return s.failed }

// Stop takes the System down in the order of the package doc, on every
// path: what never started is skipped, and a step that fails does not keep
// the later ones from running. ctx bounds nothing itself: the HTTP drain is
// bounded by --shutdown-timeout. Later calls return the first call's result.
func (s *System) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		close(s.stopping)
		s.stopErr = s.stop(context.WithoutCancel(ctx))
	})
	return s.stopErr
}

func (s *System) stop(ctx context.Context) error {
	var errs []error
	if s.addr != nil {
		shutdownCtx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
		err := s.http.Shutdown(shutdownCtx)
		cancel()
		<-s.serveDone
		errs = append(errs, s.stopped("http", errors.Join(err, s.serveErr)))
	}
	if s.metricsAddr != nil {
		// After the HTTP drain, so a scrape during it still answers.
		metricsCtx, cancel := context.WithTimeout(ctx, metricsStopTimeout)
		err := s.metrics.Shutdown(metricsCtx)
		cancel()
		<-s.metricsDone
		errs = append(errs, s.stopped("metrics", errors.Join(err, s.metricsErr)))
	}
	if s.reloading.stop() {
		s.reloader.Close()
		errs = append(errs, s.stopped("reloader", nil))
	}
	if s.repricing.stop() {
		s.prices.Close()
		errs = append(errs, s.stopped("prices", nil))
	}
	if s.pubsub != nil {
		errs = append(errs, s.stopped("pubsub", s.pubsub.Close()))
	}
	if s.recording.stop() {
		errs = append(errs, s.stopped("recorder", nil))
	}
	if s.limits != nil {
		// After the recorder: the drained requests' records have settled
		// what they used; what the leases still hold goes back.
		releaseCtx, cancel := context.WithTimeout(ctx, deregisterTimeout)
		err := s.limits.Stop(releaseCtx)
		cancel()
		errs = append(errs, s.stopped("policies", err))
	}
	if len(s.usageLoops) > 0 {
		// The flusher's last flush writes the counts of the requests HTTP
		// has just drained.
		for _, l := range s.usageLoops {
			l.stop()
		}
		errs = append(errs, s.stopped("usage", nil))
	}
	if s.touching.stop() {
		// The last uses of tokens, written before the database closes.
		errs = append(errs, s.stopped("auth", nil))
	}
	if s.heartbeat.stop() {
		deregCtx, cancel := context.WithTimeout(ctx, deregisterTimeout)
		err := s.replica.Deregister(deregCtx)
		cancel()
		if err != nil {
			// The row goes stale and is cleaned up; not worth failing for.
			s.logger.Warn("could not mark replica stopped", "error", err)
		}
		errs = append(errs, s.stopped("heartbeat", nil))
	}
	if s.opened != nil {
		errs = append(errs, s.stopped("database", s.opened.Close()))
	}
	if s.ownTrans != nil {
		s.ownTrans.CloseIdleConnections()
	}
	return errors.Join(errs...)
}

// metricsStopTimeout bounds a scrape in progress when the metrics listener
// stops.
const metricsStopTimeout = 5 * time.Second

// deregisterTimeout bounds marking the replica row stopped.
const deregisterTimeout = 5 * time.Second

// stopped logs one stop step.
func (s *System) stopped(part string, err error) error {
	if err != nil {
		s.logger.Error("stop failed", "part", part, "error", err)
		return fmt.Errorf("stop %s: %w", part, err)
	}
	s.logger.Info("stopped", "part", part)
	return nil
}

// Addr is the HTTP listener's address, once Start has listened.
func (s *System) Addr() net.Addr { return s.addr }

// MetricsAddr is the metrics listener's address, once Start has listened;
// nil when --metrics-address is empty.
func (s *System) MetricsAddr() net.Addr { return s.metricsAddr }

// TLS reports whether the HTTP listener serves HTTPS.
func (s *System) TLS() bool { return s.http.TLS() }

// DB is the System's database handle, once Start has opened it.
func (s *System) DB() *database.DB { return s.opened.DB }

// Providers is the providers service, once Start has built it.
func (s *System) Providers() *providers.Service { return s.providers }

// Users is the users service, once Start has built it.
func (s *System) Users() *users.Service { return s.users }

// Prices is the price book service, once Start has loaded the book.
func (s *System) Prices() *pricing.Service { return s.prices }

// Reloader is the gateway's provider snapshot, once Start has loaded it.
func (s *System) Reloader() *gateway.Reloader { return s.reloader }

// Limits is the replica's policy engine.
func (s *System) Limits() *limits.Engine { return s.limits }

// ReplicaID is this replica's ID in the replicas table and its logs.
func (s *System) ReplicaID() uuid.UUID { return s.replicaID }
