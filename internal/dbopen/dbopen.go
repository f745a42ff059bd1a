// Package dbopen opens the database a command is configured with: the
// external PostgreSQL at --postgres-url, or aigate's own embedded one in the
// data dir, started first. The server and the maintenance commands (migrate,
// encryption, providers plan) open it this way; it knows nothing of the
// gateway or the API, so those commands do not carry them.
package dbopen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/config"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/embeddedpg"
)

// EmbeddedDatabaseName is the database aigate uses in its embedded cluster.
const EmbeddedDatabaseName = "aigate"

// embeddedStopTimeout bounds the clean shutdown of the embedded PostgreSQL
// before it is killed.
const embeddedStopTimeout = 30 * time.Second

// Opened is an open connection pool and, when aigate runs its own
// PostgreSQL, that server.
type Opened struct {
	DB *database.DB
	// Died is closed if the embedded PostgreSQL exits on its own; nil for
	// an external database.
	Died <-chan struct{}
	// Embedded reports whether aigate started the PostgreSQL it uses.
	Embedded bool
	close    func() error
}

// Close closes the pool and stops the embedded PostgreSQL, if any.
func (o *Opened) Close() error { return o.close() }

// Open connects to the configured database, starting the embedded
// PostgreSQL first when no URL is given. clk times the connect retries and
// the database's lock-wait logging; nil is the real clock.
func Open(ctx context.Context, cfg config.Database, applicationName string, logger *slog.Logger, clk clock.Clock) (*Opened, error) {
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
		Clock:           clk,
	})
	if err != nil {
		return nil, errors.Join(err, stopEmbedded())
	}
	db := database.New(pool, logger.With("component", "database"))
	db.Clock = clk
	return &Opened{
		DB:       db,
		Died:     died,
		Embedded: cfg.PostgresURL == "",
		close: func() error {
			pool.Close()
			return stopEmbedded()
		},
	}, nil
}
