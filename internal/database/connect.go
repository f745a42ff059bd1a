package database

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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
	// Timeout is how long Connect keeps retrying a server it cannot reach:
	// it tries until Timeout has passed on Clock, the last attempt at the
	// deadline itself.
	Timeout time.Duration
	// RetryInterval is the pause between attempts; the last pause is cut
	// short to end at the deadline.
	RetryInterval time.Duration
	Logger        *slog.Logger
	// Clock times the retries and the Timeout; nil is the real clock. The
	// pause between attempts is a timer named ConnectRetryTimer. One
	// attempt is a real network exchange, bounded on the real clock by the
	// driver's connect timeout and by the time left (at least
	// minAttemptTimeout).
	Clock clock.Clock
}

// ConnectRetryTimer names the timer Connect waits on between attempts.
const ConnectRetryTimer = "database.connect.retry"

// minAttemptTimeout is the least time one attempt gets, even at the
// deadline: enough for a TCP and TLS handshake and the login on a slow link.
const minAttemptTimeout = time.Second

// ConnectFailure says why Connect gave up. Only FailureUnreachable is
// retried; the others are answers from the server (or the resolver) that
// no amount of waiting changes.
type ConnectFailure int

const (
	// FailureUnreachable: no server answered (refused, timed out, reset, a
	// temporary DNS failure) until the timeout.
	FailureUnreachable ConnectFailure = iota + 1
	// FailureAuth: the server refused the user or password (SQLSTATE 28xxx).
	FailureAuth
	// FailureNoDatabase: the server has no database of that name (3D000).
	FailureNoDatabase
	// FailureTLS: the URL asks for TLS the server does not offer, or the
	// server's certificate is not trusted.
	FailureTLS
	// FailureHostNotFound: the host name does not exist in DNS.
	FailureHostNotFound
	// FailureRefused: the server answered with another error.
	FailureRefused
)

func (f ConnectFailure) String() string {
	switch f {
	case FailureUnreachable:
		return "unreachable"
	case FailureAuth:
		return "authentication"
	case FailureNoDatabase:
		return "no database"
	case FailureTLS:
		return "tls"
	case FailureHostNotFound:
		return "host not found"
	case FailureRefused:
		return "refused"
	}
	return fmt.Sprintf("ConnectFailure(%d)", int(f))
}

// urlFlag is how errors name the setting to fix.
const urlFlag = "--postgres-url (AIGATE_POSTGRES_URL)"

// ConnectError is returned when the database cannot be used. Its message
// names the server (never the password), what went wrong and the fix.
type ConnectError struct {
	Target   string // user@host:port/database
	Failure  ConnectFailure
	Attempts int
	Waited   time.Duration
	Err      error

	user, database string
}

func (e *ConnectError) Error() string {
	reason := describePgError(e.Err)
	switch e.Failure {
	case FailureAuth:
		return fmt.Sprintf("PostgreSQL at %s refused the login: %s; check the user name and password in %s "+
			"(in the URL form, percent-encode special characters of the password) and that the server's pg_hba.conf "+
			"admits this user from this host", e.Target, reason, urlFlag)
	case FailureNoDatabase:
		return fmt.Sprintf("PostgreSQL at %s has no database %q: %s; create it (CREATE DATABASE %s OWNER %s;) "+
			"or name an existing database in %s", e.Target, e.database, reason,
			pgx.Identifier{e.database}.Sanitize(), pgx.Identifier{e.user}.Sanitize(), urlFlag)
	case FailureTLS:
		if isTLSRefused(e.Err) {
			return fmt.Sprintf("PostgreSQL at %s does not accept TLS connections, but %s requires TLS (sslmode=require or "+
				"stricter); turn TLS on in the server (ssl = on, with a certificate), or, on a network you trust, "+
				"set sslmode=prefer or sslmode=disable in the URL", e.Target, urlFlag)
		}
		return fmt.Sprintf("TLS with PostgreSQL at %s failed: %s; for sslmode=verify-ca or verify-full, give the CA that "+
			"signed the server's certificate as sslrootcert=/path/to/ca.pem in %s (and, for verify-full, connect by "+
			"the host name the certificate names)", e.Target, reason, urlFlag)
	case FailureHostNotFound:
		return fmt.Sprintf("cannot connect to PostgreSQL at %s: %s; check the host name in %s", e.Target, reason, urlFlag)
	case FailureRefused:
		return fmt.Sprintf("PostgreSQL at %s refused the connection: %s; check %s and the server's log", e.Target, reason, urlFlag)
	}
	return fmt.Sprintf("cannot connect to PostgreSQL at %s after %d attempt(s) over %s (--postgres-connect-timeout): %s; "+
		"check that the server is running and reachable and that %s is right, or leave it empty to use the embedded PostgreSQL",
		e.Target, e.Attempts, e.Waited.Round(time.Millisecond), reason, urlFlag)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Connect opens a pool once the server answers. A server it cannot reach
// is retried until Timeout has passed on the clock; any other failure (bad
// URL, credentials, TLS, missing database) is returned at once.
func Connect(ctx context.Context, opts ConnectOptions) (*pgxpool.Pool, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		// pgx redacts the password in its parse errors, but the URL shape
		// is all the operator needs to hear about.
		return nil, fmt.Errorf("invalid %s: expected postgres://user:password@host:port/database?sslmode=... or key=value form: %s", urlFlag, redactedParseReason(err))
	}
	// Pooler-safe by default: a transaction-mode pooler (PgBouncer) hands
	// each transaction, or each statement outside one, to any server
	// connection, so a named prepared statement made on one is missing (or
	// already exists) on the next. Cached descriptions with unnamed
	// statements keep one round trip per query; the price is a parse and
	// plan per call on the server, which also plans each call for its own
	// values (see PlanPerCall). docs/deployment.md, "Connection poolers".
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	if opts.ApplicationName != "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = opts.ApplicationName
	}
	cc := cfg.ConnConfig
	target := fmt.Sprintf("%s@%s:%d/%s", cc.User, cc.Host, cc.Port, cc.Database)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	interval := opts.RetryInterval
	if interval <= 0 {
		interval = time.Second
	}
	if cc.ConnectTimeout == 0 || cc.ConnectTimeout > timeout {
		cc.ConnectTimeout = min(timeout, 10*time.Second)
	}

	c := clock.Or(opts.Clock)
	start := c.Now()
	deadline := start.Add(timeout)
	for attempt := 1; ; attempt++ {
		pool, err := open(ctx, cfg, min(cc.ConnectTimeout, max(deadline.Sub(c.Now()), minAttemptTimeout)))
		if err == nil {
			if attempt > 1 {
				logger.Info("connected to PostgreSQL", "target", target, "attempts", attempt)
			}
			return pool, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", target, ctx.Err())
		}
		now := c.Now()
		failure := classify(err)
		left := deadline.Sub(now)
		if failure != FailureUnreachable || left <= 0 {
			return nil, &ConnectError{Target: target, Failure: failure, Attempts: attempt, Waited: now.Sub(start), Err: err,
				user: cc.User, database: cc.Database}
		}
		wait := min(interval, left)
		logger.Warn("PostgreSQL not reachable yet, retrying", "target", target, "attempt", attempt,
			"retry_in", wait, "gives_up_in", left, "error", describePgError(err))
		if err := clock.Sleep(ctx, c, ConnectRetryTimer, wait); err != nil {
			return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", target, err)
		}
	}
}

// open proves that the server takes a connection within limit, then makes
// the pool. The probe is a connection of its own: the pool's connections
// keep the full connect timeout however late in the retries it is made.
func open(ctx context.Context, cfg *pgxpool.Config, limit time.Duration) (*pgxpool.Pool, error) {
	probeCfg := cfg.ConnConfig.Copy()
	probeCfg.ConnectTimeout = limit
	probe, err := pgx.ConnectConfig(ctx, probeCfg)
	if err != nil {
		return nil, err
	}
	// The server took the connection; how it is closed does not matter.
	_ = probe.Close(ctx)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// classify says whether waiting could fix a connection error. pgx may
// report several errors at once (one per address a name resolves to, or
// TLS then plain for sslmode=prefer); an answer from a server beats a
// network error, since it is what the operator has to fix.
func classify(err error) ConnectFailure {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "57P03", // cannot_connect_now: starting up or shutting down
			pgErr.Code == "57P01",               // admin_shutdown: a restart
			pgErr.Code == "53300",               // too_many_connections: others will leave
			strings.HasPrefix(pgErr.Code, "08"): // connection exceptions
			return FailureUnreachable
		case strings.HasPrefix(pgErr.Code, "28"): // invalid authorization
			return FailureAuth
		case pgErr.Code == "3D000": // invalid_catalog_name
			return FailureNoDatabase
		}
		return FailureRefused
	}
	if isTLSRefused(err) || isTLSFailure(err) {
		return FailureTLS
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound {
			return FailureHostNotFound
		}
		return FailureUnreachable
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return FailureUnreachable
	}
	return FailureRefused
}

// isTLSRefused reports pgx's answer to a server that said no to TLS: a plain
// error, recognisable only by its text.
func isTLSRefused(err error) bool {
	return anyError(err, func(e error) bool { return e.Error() == "server refused TLS connection" })
}

// isTLSFailure reports a failed TLS handshake: an untrusted certificate, a
// wrong host name, an alert from the server, or a server that does not
// speak TLS at all (sslnegotiation=direct).
func isTLSFailure(err error) bool {
	var (
		verify *tls.CertificateVerificationError
		alert  tls.AlertError
		header tls.RecordHeaderError
		host   x509.HostnameError
		ca     x509.UnknownAuthorityError
		inv    x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &alert) || errors.As(err, &header) ||
		errors.As(err, &host) || errors.As(err, &ca) || errors.As(err, &inv) ||
		anyError(err, func(e error) bool { return strings.HasPrefix(e.Error(), "tls: ") })
}

// anyError reports whether f holds for err or any error it wraps.
func anyError(err error, f func(error) bool) bool {
	if err == nil {
		return false
	}
	if f(err) {
		return true
	}
	switch u := err.(type) { //nolint:errorlint // it walks the chain itself, both kinds of Unwrap
	case interface{ Unwrap() error }:
		return anyError(u.Unwrap(), f)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if anyError(e, f) {
				return true
			}
		}
	}
	return false
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
