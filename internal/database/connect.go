package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aigate/aigate/internal/clock"
)

// ConnectOptions says how to open the pool.
type ConnectOptions struct {
	// URL is a PostgreSQL connection string. It may hold a password, so it
	// is never logged nor put in an error.
	URL string
	// ApplicationName appears in pg_stat_activity, so an operator (and the
	// lock-wait log) can tell which replica holds a lock.
	ApplicationName string
	// Timeout bounds how long Connect keeps retrying an unreachable server.
	Timeout time.Duration
	// RetryInterval is the pause between attempts.
	RetryInterval time.Duration
	Logger        *slog.Logger
	// Clock times the retries and the Timeout (one attempt is bounded by
	// the driver's connect timeout, on the real clock); nil is the real
	// clock. The pause between attempts is a timer named ConnectRetryTimer.
	Clock clock.Clock
}

// ConnectRetryTimer names the timer Connect waits on between attempts.
const ConnectRetryTimer = "database.connect.retry"

// ConnectError is returned when the database cannot be reached. Its message
// names the server (never the password) and what to check.
type ConnectError struct {
	Target   string // user@host:port/database
	Attempts int
	Waited   time.Duration
	Err      error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("cannot connect to PostgreSQL at %s after %d attempt(s) over %s: %s; check that the server is running and reachable and that --postgres-url (AIGATE_POSTGRES_URL) is right, or leave it empty to use the embedded PostgreSQL",
		e.Target, e.Attempts, e.Waited.Round(time.Millisecond), describePgError(e.Err))
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Connect opens a pool and waits, retrying, until the server answers. Errors
// that retrying cannot fix (bad credentials, missing database) fail at once.
func Connect(ctx context.Context, opts ConnectOptions) (*pgxpool.Pool, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		// pgx redacts the password in its parse errors, but the URL shape
		// is all the operator needs to hear about.
		return nil, fmt.Errorf("invalid --postgres-url (AIGATE_POSTGRES_URL): expected postgres://user:password@host:port/database?sslmode=... or key=value form: %s", redactedParseReason(err))
	}
	if opts.ApplicationName != "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = opts.ApplicationName
	}
	target := fmt.Sprintf("%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	interval := opts.RetryInterval
	if interval <= 0 {
		interval = time.Second
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > timeout {
		cfg.ConnConfig.ConnectTimeout = min(timeout, 10*time.Second)
	}

	c := clock.Or(opts.Clock)
	start := c.Now()
	deadline := start.Add(timeout)
	for attempt := 1; ; attempt++ {
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err == nil {
			err = pool.Ping(ctx)
			if err == nil {
				if attempt > 1 {
					logger.Info("connected to PostgreSQL", "target", target, "attempts", attempt)
				}
				return pool, nil
			}
			pool.Close()
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", target, ctx.Err())
		}
		if now := c.Now(); !retryable(err) || now.Add(interval).After(deadline) {
			return nil, &ConnectError{Target: target, Attempts: attempt, Waited: now.Sub(start), Err: err}
		}
		logger.Warn("PostgreSQL not reachable yet, retrying", "target", target, "attempt", attempt,
			"retry_in", interval, "error", describePgError(err))
		if err := clock.Sleep(ctx, c, ConnectRetryTimer, interval); err != nil {
			return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", target, err)
		}
	}
}

// retryable reports whether waiting could fix a connection error: a server
// still starting can, a wrong password or a missing database cannot.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "57P03": // cannot_connect_now: starting up
			return true
		case len(pgErr.Code) >= 2 && pgErr.Code[:2] == "28": // invalid authorization
			return false
		case pgErr.Code == "3D000": // invalid_catalog_name: no such database
			return false
		}
		return false
	}
	return true
}

// describePgError gives the server's own words for a PostgreSQL error and the
// plain error otherwise. pgconn errors never include the password.
func describePgError(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Sprintf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	return err.Error()
}

// redactedParseReason drops the part of a pgx parse error that quotes the
// connection string: even redacted, it is noise, and an unusual URL could
// defeat the redaction.
func redactedParseReason(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		return pe.Unwrap().Error()
	}
	return "the connection string could not be parsed"
}
