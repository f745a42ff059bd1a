// Package testdb gives every test its own PostgreSQL database, cloned from a
// migrated template, on a real PostgreSQL server: the one named by
// AIGATE_TEST_POSTGRES_URL, or else a private cluster that the test binary
// starts with the same launcher as the server's embedded default.
//
// Each test gets a whole database, not a schema or a transaction, so advisory
// locks and LISTEN/NOTIFY in parallel tests never see each other.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/migrate"
	"github.com/aigate/aigate/internal/embeddedpg"
)

// EnvURL names an existing PostgreSQL server (a superuser URL to any
// database on it) to run the tests on instead of a private cluster.
const EnvURL = "AIGATE_TEST_POSTGRES_URL"

// setupTimeout bounds starting the cluster and building the template.
const setupTimeout = 2 * time.Minute

// Main is each package's TestMain: it runs the tests, stops the cluster if one
// was started, and fails the run if goroutines leaked.
func Main(m *testing.M) {
	code := m.Run()
	shutdown()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

type server struct {
	admin    *pgxpool.Pool // connected to the maintenance database
	connStr  func(db string) string
	cluster  *embeddedpg.Server
	clusterD string
	template string
}

var (
	once    sync.Once
	shared  *server
	initErr error
)

func get(t testing.TB) *server {
	t.Helper()
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		shared, initErr = start(ctx)
	})
	if initErr != nil {
		t.Fatalf("test database server: %v", initErr)
	}
	return shared
}

func start(ctx context.Context) (*server, error) {
	s := &server{}
	if url := os.Getenv(EnvURL); url != "" {
		var err error
		s.connStr, err = withDatabase(url)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", EnvURL, err)
		}
		s.admin, err = pgxpool.New(ctx, url)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", EnvURL, err)
		}
	} else {
		dir, err := os.MkdirTemp("", "aigate-testpg-")
		if err != nil {
			return nil, err
		}
		// MkdirTemp makes 0700 dirs; the cluster may run as the postgres
		// user (when tests run as root), which must reach it.
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		s.clusterD = dir
		s.cluster, err = embeddedpg.Start(ctx, embeddedpg.Options{
			DataDir: dir,
			NoSync:  true,
			Settings: map[string]string{
				"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
				"max_connections": "300",
			},
		})
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		s.connStr = s.cluster.ConnString
		s.admin, err = pgxpool.New(ctx, s.connStr("postgres"))
		if err != nil {
			return nil, err
		}
	}
	tpl, err := s.ensureTemplate(ctx)
	if err != nil {
		s.close()
		return nil, err
	}
	s.template = tpl
	return s, nil
}

// withDatabase returns a function that points connStr at another database.
func withDatabase(connStr string) (func(db string) string, error) {
	if strings.HasPrefix(connStr, "postgres://") || strings.HasPrefix(connStr, "postgresql://") {
		u, err := url.Parse(connStr)
		if err != nil {
			return nil, err
		}
		return func(db string) string {
			c := *u
			c.Path = "/" + db
			return c.String()
		}, nil
	}
	// In keyword/value form a later key overrides an earlier one.
	return func(db string) string { return connStr + " dbname=" + db }, nil
}

func shutdown() {
	if shared != nil {
		shared.close()
	}
}

func (s *server) close() {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.cluster.Stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "testdb: stop cluster: %v\n", err)
		}
		_ = os.RemoveAll(s.clusterD)
	}
}

// templateName changes whenever a migration changes, so a shared server
// never hands out a database built from stale migrations.
func templateName() string {
	h := sha256.New()
	for _, m := range migrate.Embedded() {
		fmt.Fprintf(h, "%s\n%s\n", m.Name, m.SQL)
	}
	return "aigate_tpl_" + hex.EncodeToString(h.Sum(nil))[:16]
}

// ensureTemplate builds the migrated template once per server, even when
// several test binaries share AIGATE_TEST_POSTGRES_URL: the builder holds the
// test_template advisory lock, and builds under a temporary name that is
// renamed only when complete.
func (s *server) ensureTemplate(ctx context.Context) (string, error) {
	name := templateName()
	conn, err := s.admin.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(database.LockTestTemplate)); err != nil {
		return "", fmt.Errorf("lock template: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(database.LockTestTemplate))
	}()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return "", fmt.Errorf("create template: %w", err)
	}
	pool, err := pgxpool.New(ctx, s.connStr(building))
	if err != nil {
		return "", err
	}
	_, err = migrate.New(database.New(pool, nil), migrate.Embedded(), "test").Up(ctx)
	pool.Close()
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
		return "", fmt.Errorf("rename template: %w", err)
	}
	return name, nil
}

// createDatabase makes a database from template and drops it when the test ends.
func createDatabase(t testing.TB, s *server, template string) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "aigate_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+template); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := s.admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return name
}

// URL returns a connection string to a new, migrated database of the test's
// own. Use it for code that opens its own pool, e.g. a server subprocess.
func URL(t testing.TB) string {
	t.Helper()
	s := get(t)
	return s.connStr(createDatabase(t, s, s.template))
}

// EmptyURL returns a connection string to a new database with no schema at
// all, for tests of migrations and first start.
func EmptyURL(t testing.TB) string {
	t.Helper()
	s := get(t)
	return s.connStr(createDatabase(t, s, "template0"))
}

// New returns a handle on a new, migrated database of the test's own.
func New(t testing.TB) *database.DB {
	t.Helper()
	return Open(t, URL(t))
}

// Open opens a pool on url, closed when the test ends. Lock waits and other
// database logs go to the test log.
func Open(t testing.TB, url string) *database.DB {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(pool.Close)
	return database.New(pool, Logger(t))
}

// Logger returns a logger that writes to the test log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-min(1, len(p))]))
	return len(p), nil
}

var _ io.Writer = testWriter{}
