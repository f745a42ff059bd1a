package database_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/embeddedpg"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
)

const secretPassword = "s3cr3t-Pa55word"

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// tcpServer is a real PostgreSQL reached as an external one is: over
// loopback TCP, with password (SCRAM) authentication and without TLS. The
// shared test cluster cannot serve here: it listens on a unix socket that
// trusts every local user and ignores sslmode.
type tcpServer struct {
	addr string // 127.0.0.1:port
	role string // a login role with secretPassword, owning database db
	db   string
}

func (s tcpServer) url(user, password, database, query string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: s.addr, Path: "/" + database, RawQuery: query}
	return u.String()
}

func startTCPServer(t *testing.T) tcpServer {
	t.Helper()
	dir, err := os.MkdirTemp("", "aigate-connect-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	// Run as root, the cluster runs as the postgres user, which must reach it.
	require.NoError(t, os.Chmod(dir, 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := embeddedpg.Start(ctx, embeddedpg.Options{
		DataDir: dir, NoSync: true, LoopbackTCP: true, Settings: map[string]string{"fsync": "off"},
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, pg.Stop(stopCtx))
	})
	super := testdb.Open(t, pg.ConnString("postgres"))
	s := tcpServer{role: "aigate_app", db: "aigate_app"}
	_, err = super.Pool.Exec(ctx, "CREATE ROLE aigate_app LOGIN PASSWORD '"+secretPassword+"'")
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, "CREATE DATABASE aigate_app OWNER aigate_app")
	require.NoError(t, err)
	cfg, err := pgconn.ParseConfig(pg.ConnString("postgres"))
	require.NoError(t, err)
	s.addr = net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
	return s
}

// Each kind of failure that waiting cannot fix is reported after one
// attempt, with the fix and without the password; only an unreachable
// server is retried.
func TestConnectClassifiesFailures(t *testing.T) {
	t.Parallel()
	srv := startTCPServer(t)
	ctx := context.Background()

	t.Run("right password", func(t *testing.T) {
		t.Parallel()
		pool, err := database.Connect(ctx, database.ConnectOptions{URL: srv.url(srv.role, secretPassword, srv.db, ""), Timeout: 10 * time.Second})
		require.NoError(t, err)
		defer pool.Close()
		var who string
		require.NoError(t, pool.QueryRow(ctx, "SELECT current_user").Scan(&who))
		require.Equal(t, srv.role, who)
	})

	for name, tc := range map[string]struct {
		url     string
		failure database.ConnectFailure
		want    []string
	}{
		"wrong password": {
			url: srv.url(srv.role, "wrong-"+secretPassword, srv.db, "sslmode=disable"), failure: database.FailureAuth,
			want: []string{"PostgreSQL at aigate_app@127.0.0.1:", "refused the login", "SQLSTATE 28P01",
				"check the user name and password in --postgres-url (AIGATE_POSTGRES_URL)", "percent-encode", "pg_hba.conf"},
		},
		"unknown role": {
			url: srv.url("nobody_here", secretPassword, srv.db, ""), failure: database.FailureAuth,
			want: []string{"refused the login", "SQLSTATE 28", "check the user name and password"},
		},
		"missing database": {
			url: srv.url(srv.role, secretPassword, "no_such_db", ""), failure: database.FailureNoDatabase,
			want: []string{`has no database "no_such_db"`, "SQLSTATE 3D000", `CREATE DATABASE "no_such_db" OWNER "aigate_app";`,
				"name an existing database in --postgres-url (AIGATE_POSTGRES_URL)"},
		},
		"sslmode=require against a server without TLS": {
			url: srv.url(srv.role, secretPassword, srv.db, "sslmode=require"), failure: database.FailureTLS,
			want: []string{"does not accept TLS connections", "requires TLS (sslmode=require or stricter)", "ssl = on",
				"sslmode=prefer or sslmode=disable"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := connectOnce(t, tc.url)
			t.Log(err)
			var ce *database.ConnectError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.failure, ce.Failure, "%v", err)
			require.Equal(t, 1, ce.Attempts, "not retried")
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), secretPassword)
		})
	}
}

// connectOnce connects on a manual clock that never moves, and fails the
// test if Connect waits to retry instead of answering.
func connectOnce(t *testing.T, url string) error {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := database.Connect(ctx, database.ConnectOptions{URL: url, Timeout: time.Minute, Clock: clk})
		done <- err
	}()
	retried := make(chan error, 1)
	go func() { retried <- clk.WaitArmed(ctx, database.ConnectRetryTimer, 1) }()
	select {
	case err := <-done:
		require.Error(t, err)
		return err
	case err := <-retried:
		require.NoError(t, err)
		cancel()
		t.Fatalf("Connect retried: %v", <-done)
		return nil
	}
}

// The socket of the shared test cluster trusts local users, so an unknown
// role is the authentication failure it can give.
func TestConnectUnknownRoleOnSocketFailsFast(t *testing.T) {
	t.Parallel()
	cfg, err := pgconn.ParseConfig(testdb.URL(t))
	require.NoError(t, err)
	url := fmt.Sprintf("host=%s port=%d dbname=%s user=nobody_here password=%s", cfg.Host, cfg.Port, cfg.Database, secretPassword)
	_, err = database.Connect(context.Background(), database.ConnectOptions{URL: url, Timeout: 10 * time.Second})
	require.Error(t, err)
	var ce *database.ConnectError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, database.FailureAuth, ce.Failure)
	require.Equal(t, 1, ce.Attempts, "wrong credentials are not retried")
	require.Contains(t, err.Error(), "SQLSTATE 28000")
	require.NotContains(t, err.Error(), secretPassword)
}

// An unreachable server is retried until the timeout has passed on the
// clock, however long each attempt takes: attempts that each cost a
// millisecond must not make a 3 s timeout give up at 2 s. The last pause
// ends at the deadline, and the last attempt is made there.
func TestConnectRetriesUntilTheDeadline(t *testing.T) {
	t.Parallel()
	addr := closedPort(t)
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clock.NewManual(start)
	const timeout, interval, attemptCost = 3 * time.Second, time.Second, time.Millisecond
	logs := &testlog.Buffer{}
	done := make(chan error, 1)
	go func() {
		_, err := database.Connect(context.Background(), database.ConnectOptions{
			URL:     "postgres://alice:" + secretPassword + "@" + addr + "/aigate",
			Timeout: timeout, RetryInterval: interval, Clock: clk, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		})
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 1; i <= 2; i++ {
		require.NoError(t, clk.WaitArmed(ctx, database.ConnectRetryTimer, i))
		next, ok := clk.Next(database.ConnectRetryTimer)
		require.True(t, ok)
		require.Equal(t, clk.Now().Add(interval), next, "a full pause while the deadline is further away")
		clk.Advance(interval + attemptCost)
	}
	// 2.002 s have passed: the old loop gave up here, as a full pause
	// would end past the deadline.
	require.NoError(t, clk.WaitArmed(ctx, database.ConnectRetryTimer, 3))
	next, ok := clk.Next(database.ConnectRetryTimer)
	require.True(t, ok)
	require.Equal(t, start.Add(timeout), next, "the last pause ends at the deadline")
	clk.AdvanceTo(next)

	err := <-done
	require.Error(t, err)
	require.Equal(t, 3, clk.Armed(database.ConnectRetryTimer))
	var ce *database.ConnectError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, database.FailureUnreachable, ce.Failure)
	require.Equal(t, 4, ce.Attempts, "attempts at 0, 1.001, 2.002 and 3 s")
	require.Equal(t, timeout, ce.Waited)
	msg := err.Error()
	require.Contains(t, msg, "cannot connect to PostgreSQL at alice@127.0.0.1")
	require.Contains(t, msg, "after 4 attempt(s) over 3s (--postgres-connect-timeout)")
	require.Contains(t, msg, "connection refused")
	require.Contains(t, msg, "--postgres-url (AIGATE_POSTGRES_URL)")
	require.NotContains(t, msg, secretPassword)
	require.Contains(t, logs.String(), "PostgreSQL not reachable yet, retrying")
	require.NotContains(t, logs.String(), secretPassword)
}

// A server that starts answering while Connect retries is used.
func TestConnectUsesAServerThatComesUp(t *testing.T) {
	t.Parallel()
	srv := startTCPServer(t)
	addr := closedPort(t)
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	logs := &testlog.Buffer{}
	type result struct {
		err   error
		close func()
	}
	done := make(chan result, 1)
	go func() {
		pool, err := database.Connect(context.Background(), database.ConnectOptions{
			URL: strings.Replace(srv.url(srv.role, secretPassword, srv.db, ""), srv.addr, addr, 1), Timeout: time.Minute,
			RetryInterval: time.Second, Clock: clk, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		})
		r := result{err: err}
		if err == nil {
			r.close = pool.Close
		}
		done <- r
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, clk.WaitArmed(ctx, database.ConnectRetryTimer, 1))
	forward(t, addr, srv.addr)
	clk.Advance(time.Second)
	r := <-done
	require.NoError(t, r.err)
	r.close()
	require.Equal(t, 1, clk.Armed(database.ConnectRetryTimer))
	require.Contains(t, logs.String(), "connected to PostgreSQL")
	require.Contains(t, logs.String(), "attempts=2")
}

// forward relays TCP connections from listen to to until the test ends.
func forward(t *testing.T, listen, to string) {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	require.NoError(t, err)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", to)
			if err != nil {
				_ = in.Close()
				continue
			}
			track(in)
			track(out)
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(out, in); _ = out.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(in, out); _ = in.Close() }()
		}
	}()
}

func TestConnectInvalidURLHidesIt(t *testing.T) {
	t.Parallel()
	for name, url := range map[string]string{
		"port":    "postgres://bob:" + secretPassword + "@host:notaport/db",
		"sslmode": "postgres://bob:" + secretPassword + "@127.0.0.1:1/db?sslmode=sometimes",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := database.Connect(context.Background(), database.ConnectOptions{URL: url})
			require.Error(t, err)
			require.Contains(t, err.Error(), "invalid --postgres-url (AIGATE_POSTGRES_URL)")
			require.Contains(t, err.Error(), "expected postgres://user:password@host:port/database")
			require.NotContains(t, err.Error(), secretPassword)
		})
	}
}
