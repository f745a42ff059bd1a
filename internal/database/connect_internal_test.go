package database

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// The failures a loopback test cannot cause without a resolver or a
// certificate authority, classified from the errors the driver wraps.
func TestClassifyConnectErrors(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for name, tc := range map[string]struct {
		err  error
		want ConnectFailure
	}{
		"refused":              {fmt.Errorf("dial error: %w", refused), FailureUnreachable},
		"no socket yet":        {&net.OpError{Op: "dial", Net: "unix", Err: syscall.ENOENT}, FailureUnreachable},
		"attempt timed out":    {fmt.Errorf("dial: %w", context.DeadlineExceeded), FailureUnreachable},
		"dns temporary":        {&net.DNSError{Err: "server misbehaving", Name: "db", IsTemporary: true}, FailureUnreachable},
		"dns not found":        {&net.DNSError{Err: "no such host", Name: "db.example", IsNotFound: true}, FailureHostNotFound},
		"server starting":      {&pgconn.PgError{Code: "57P03"}, FailureUnreachable},
		"too many connections": {&pgconn.PgError{Code: "53300"}, FailureUnreachable},
		"no pg_hba entry":      {&pgconn.PgError{Code: "28000"}, FailureAuth},
		"an answer beats a network error": {
			errors.Join(refused, fmt.Errorf("server error: %w", &pgconn.PgError{Code: "28P01"})), FailureAuth,
		},
		"no connect privilege":  {&pgconn.PgError{Code: "42501"}, FailureRefused},
		"untrusted certificate": {fmt.Errorf("tls error: %w", x509.UnknownAuthorityError{}), FailureTLS},
		"tls refused":           {errors.Join(refused, fmt.Errorf("tls error: %w", errors.New("server refused TLS connection"))), FailureTLS},
		"unknown":               {errors.New("server does not support SCRAM-SHA-256"), FailureRefused},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, classify(tc.err))
		})
	}
}
