package cli

import (
	"context"
	"log/slog"

	"github.com/aigate/aigate/internal/config"
	"github.com/aigate/aigate/internal/dbopen"
)

// withDatabase opens the configured database (embedded or external) for a
// maintenance command, runs fn, and closes it: stopping the embedded
// PostgreSQL when the command started it.
func withDatabase(ctx context.Context, cfg config.Database, application string, logger *slog.Logger, fn func(context.Context, *dbopen.Opened) error) (err error) {
	opened, err := dbopen.Open(ctx, cfg, application, logger, nil)
	if err != nil {
		return err
	}
	defer func() {
		if cErr := opened.Close(); cErr != nil && err == nil {
			err = cErr
		}
	}()
	return fn(ctx, opened)
}

// embeddedDataDir is where the embedded database keeps its generated key
// file, or "" with an external database, which needs configured keys.
func embeddedDataDir(cfg config.Database) string {
	if cfg.PostgresURL != "" {
		return ""
	}
	return cfg.DataDir
}
