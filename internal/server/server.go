// Package server runs `aigate server`: it brings the process up in the order
// the multi-replica contract requires (database, migrations, deployment setup,
// replica registration, then HTTP readiness) and takes it down in reverse.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/aigate/aigate/internal/api"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/buildinfo"
	"github.com/aigate/aigate/internal/config"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/migrate"
	"github.com/aigate/aigate/internal/gateway"
	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/providerenv"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/pubsub"
	"github.com/aigate/aigate/internal/replicas"
	"github.com/aigate/aigate/internal/site"
	"github.com/aigate/aigate/internal/users"
)

// EmbeddedDatabaseName is the database aigate uses in its embedded cluster.
const EmbeddedDatabaseName = "aigate"

// Run serves until ctx is cancelled (SIGINT/SIGTERM) or something fatal
// happens, and returns nil after a clean shutdown.
func Run(ctx context.Context, cfg config.Server, logger *slog.Logger) (err error) {
	replicaID := uuid.New()
	version := buildinfo.Version()
	logger = logger.With("replica_id", replicaID.String())
	logger.Info("starting aigate", "version", version)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "aigate_build_info", Help: "Always 1; labels say which build runs."}, []string{"version", "replica_id"})
	buildInfo.WithLabelValues(version, replicaID.String()).Set(1)
	reg.MustRegister(buildInfo)

	// The readiness checks need the database, which exists only later;
	// /readyz runs them only after SetReady(true), by which time db and
	// migrator are set.
	var (
		db       *database.DB
		migrator *migrate.Migrator
		reloader *gateway.Reloader
	)
	httpSrv := httpserver.New(logger.With("component", "http"), reg, []httpserver.ReadyCheck{
		{Name: "database", Check: func(ctx context.Context) error { return db.Pool.Ping(ctx) }},
		{Name: "migrations", Check: func(ctx context.Context) error { return migrator.CheckCurrent(ctx) }},
		{Name: "providers", Check: func(ctx context.Context) error {
			if reloader == nil || reloader.Snapshot() == nil {
				return errors.New("providers not loaded")
			}
			return nil
		}},
	})
	// Parse the provider environment before anything starts: a typo in it
	// needs no database to be reported.
	envProviders, err := providerenv.Parse(cfg.Environ)
	if err != nil {
		return fmt.Errorf("invalid AI provider environment variables:\n%w", err)
	}

	// Listen first: a taken port fails before anything else starts, and
	// /healthz answers while migrations run.
	addr, err := httpSrv.Listen(cfg.HTTPAddress)
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve() }()
	logger.Info("http server listening", "address", addr.String())
	// HTTP shuts down first (in-flight requests may still need the
	// database), so the normal path calls it explicitly before the other
	// deferred steps; the defer covers the failure paths.
	var shutdownOnce sync.Once
	shutdownHTTP := func() {
		shutdownOnce.Do(func() {
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
			defer cancel()
			if shErr := httpSrv.Shutdown(shutdownCtx); shErr != nil {
				err = errors.Join(err, fmt.Errorf("shut down http server: %w", shErr))
			}
			if sErr := <-serveErr; sErr != nil {
				err = errors.Join(err, sErr)
			}
			logger.Info("http server stopped")
		})
	}
	defer shutdownHTTP()

	// A replica without the shared keys could not decrypt what the others
	// wrote: refuse before touching the database.
	if cfg.EncryptionKeys == "" && cfg.PostgresURL != "" {
		return errNoKeys
	}

	opened, err := OpenDatabase(ctx, cfg.Database, "aigate "+replicaID.String()[:8], logger)
	if err != nil {
		return err
	}
	defer func() {
		if cErr := opened.Close(); cErr != nil {
			err = errors.Join(err, cErr)
		}
	}()
	db = opened.DB

	// After the embedded PostgreSQL has laid out the data dir, so the
	// generated key file does not decide the data dir's permissions.
	keyring, err := LoadKeyring(cfg.EncryptionKeys, cfg.Database, logger)
	if err != nil {
		return err
	}
	logger.Info("encryption keys loaded", "active_key", keyring.ActiveDigest(), "keys", len(keyring.Digests()))
	reg.MustRegister(database.NewPoolCollector(db.Pool))

	// A signal during migrations waits for them: the transaction would roll
	// back cleanly, but an operator pressing Ctrl-C once expects the
	// current step to finish, not a retry of a long migration next time.
	migrator = migrate.New(db, migrate.Embedded(), version)
	applied, err := migrator.Up(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	for _, m := range applied {
		logger.Info("applied migration", "migration", m.Name)
	}
	if ctx.Err() != nil {
		return nil
	}

	providerService := providers.NewService(db, keyring, &audit.Recorder{}, nil)
	stale, err := providerService.CheckKeys(ctx)
	if err != nil {
		return err
	}
	if stale > 0 {
		logger.Info("some stored secrets are encrypted with an older key; run `aigate encryption rotate` to re-encrypt them with the active key",
			"ciphertexts", stale, "active_key", keyring.ActiveDigest())
	}

	st, err := site.Setup(ctx, db, time.Now())
	if err != nil {
		return fmt.Errorf("deployment setup: %w", err)
	}
	logger.Info("deployment ready", "deployment_id", st.DeploymentID.String())

	replica, err := replicas.Register(ctx, db, replicas.Config{
		ID: replicaID, Version: version, HTTPAddress: addr.String(), Logger: logger.With("component", "replicas"),
	})
	if err != nil {
		return err
	}
	var services sync.WaitGroup
	servicesCtx, stopServices := context.WithCancel(context.WithoutCancel(ctx))
	services.Go(func() { replica.Run(servicesCtx) })
	defer func() {
		// On every path HTTP drains first (its handlers still record
		// interceptions), then the services stop: the recorder's final
		// flush then holds every request's record.
		shutdownHTTP()
		stopServices()
		services.Wait()
		deregCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if dErr := replica.Deregister(deregCtx); dErr != nil {
			logger.Warn("could not mark replica stopped", "error", dErr)
		}
	}()

	// Before the API (and the gateway) serve: the environment is a one-shot
	// migration source, reconciled with the database under its lock.
	if err := providerenv.Seed(ctx, db, providerService, envProviders, logger.With("component", "provider_seed")); err != nil {
		return err
	}

	// The gateway's provider snapshot: subscribe to changes, then load, so
	// no change is missed between the two.
	ps, err := pubsub.New(ctx, pubsub.Config{ConnString: db.Pool.Config().ConnString(), Logger: logger.With("component", "pubsub")})
	if err != nil {
		return fmt.Errorf("start change notifications: %w", err)
	}
	defer func() { _ = ps.Close() }()
	reloader, err = gateway.NewReloader(ctx, gateway.ReloaderConfig{
		Providers: providerService, PubSub: ps, Interval: cfg.ProviderReloadInterval,
		Logger: logger.With("component", "providers_reload"), Registerer: reg,
	})
	if err != nil {
		return err
	}
	defer reloader.Close()
	services.Go(func() { reloader.Run(servicesCtx) })
	// Stopped with the other services, after HTTP has drained, so the
	// records of the last streams are written before exit.
	recorder := interceptions.NewRecorder(db, interceptions.Config{Logger: logger.With("component", "interceptions"), Registerer: reg})
	services.Go(func() { recorder.Run(servicesCtx) })

	authn := auth.NewAuthenticator(db, nil, logger.With("component", "auth"))
	userService := users.NewService(db, authn, &audit.Recorder{}, nil)
	api.New(db, authn, userService, providerService, logger.With("component", "api")).Mount(httpSrv)
	gateway.New(gateway.Config{
		Auth: authn, Snapshots: reloader, Recorder: recorder, ReplicaID: replicaID, RecordPrompts: cfg.RecordPrompts,
		Logger: logger.With("component", "gateway"), Registerer: reg,
	}).Mount(httpSrv)

	httpSrv.SetReady(true)
	logger.Info("aigate ready", "address", addr.String())

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
		shutdownHTTP()
		return err
	case err := <-serveErr:
		serveErr <- err // the deferred shutdown reads it again
		return fmt.Errorf("http server stopped unexpectedly: %w", err)
	case <-opened.Died:
		return errors.New("embedded PostgreSQL exited unexpectedly; its last log lines are above")
	}
}
