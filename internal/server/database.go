package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aigate/aigate/internal/config"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/embeddedpg"
)

// OpenedDatabase is an open connection pool and, when aigate runs its own
// PostgreSQL, that server.
type OpenedDatabase struct {
	DB *database.DB
	// Died is closed if the embedded PostgreSQL exits on its own; nil for
	// an external database.
	Died  <-chan struct{}
	close func() error
}

// Close closes the pool and stops the embedded PostgreSQL, if any.
func (o *OpenedDatabase) Close() error { return o.close() }

// OpenDatabase connects to the configured database, starting the embedded
// PostgreSQL first when no URL is given. Every command that needs the
// database (server, migrate) opens it this way.
func OpenDatabase(ctx context.Context, cfg config.Database, applicationName string, logger *slog.Logger) (*OpenedDatabase, error) {
	url := cfg.PostgresURL
	stopEmbedded := func() error { return nil }
	var died <-chan struct{}
	if url == "" {
		pg, err := embeddedpg.Start(ctx, embeddedpg.Options{
			DataDir: cfg.DataDir, BinDir: cfg.EmbeddedPostgresBinDir, Logger: logger.With("component", "embedded_postgres"),
		})
		if err != nil {
			return nil, err
		}
		stopEmbedded = func() error {
			stopCtx, cancel := context.WithTimeout(context.Background(), embeddedStopTimeout)
			defer cancel()
			if err := pg.Stop(stopCtx); err != nil {
				return fmt.Errorf("stop embedded PostgreSQL: %w", err)
			}
			return nil
		}
		if err := pg.EnsureDatabase(ctx, EmbeddedDatabaseName); err != nil {
			return nil, errors.Join(err, stopEmbedded())
		}
		url = pg.ConnString(EmbeddedDatabaseName)
		died = pg.Done()
	}

	pool, err := database.Connect(ctx, database.ConnectOptions{
		URL:             url,
		ApplicationName: applicationName,
		Timeout:         cfg.PostgresConnectTimeout,
		Logger:          logger.With("component", "database"),
	})
	if err != nil {
		return nil, errors.Join(err, stopEmbedded())
	}
	return &OpenedDatabase{
		DB:   database.New(pool, logger.With("component", "database")),
		Died: died,
		close: func() error {
			pool.Close()
			return stopEmbedded()
		},
	}, nil
}

// embeddedStopTimeout bounds the clean shutdown of the embedded PostgreSQL
// before it is killed.
const embeddedStopTimeout = 30 * time.Second
