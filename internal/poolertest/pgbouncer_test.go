package poolertest_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// waitFor bounds every wait; things happen in milliseconds, the bound only
// keeps a broken test from hanging.
const waitFor = 30 * time.Second

// poolSize is PgBouncer's server connections per database: fewer than the
// replicas' client connections, so they really are shared between them.
const poolSize = 3

// lockedBuffer collects PgBouncer's log for a failing test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startPgBouncer runs PgBouncer in transaction mode in front of the server
// that directURL names and returns the URL of directURL's database through
// it. Any database of that server is reachable through the pooler.
func startPgBouncer(t *testing.T, directURL string) string {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		bin = "/usr/sbin/pgbouncer" // Debian's package puts it outside a user's PATH
	}
	_, err = os.Stat(bin)
	require.NoError(t, err, "PgBouncer is needed: apt-get install pgbouncer (.ci/run installs it)")

	direct, err := pgx.ParseConfig(directURL)
	require.NoError(t, err)
	// The directory is read by PgBouncer, which runs as postgres when the
	// tests run as root (it refuses root), like the test cluster.
	dir, err := os.MkdirTemp("", "aigate-pgbouncer-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))

	server := fmt.Sprintf("host=%s port=%d user=%s", direct.Host, direct.Port, direct.User)
	if direct.Password != "" {
		server += " password=" + direct.Password
	}
	port := freePort(t)
	ini := fmt.Sprintf(`[databases]
* = %s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = %d
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits
`, server, port, filepath.Join(dir, "userlist.txt"), poolSize)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pgbouncer.ini"), []byte(ini), 0o644))
	// With trust the password is not checked, but the user must be listed.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "userlist.txt"), []byte(strconv.Quote(direct.User)+` ""`+"\n"), 0o644))

	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "as root, PgBouncer must run as the postgres user")
		args = append([]string{"-u", u.Username}, args...)
	}
	logs := &lockedBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		<-exited
		if t.Failed() {
			t.Logf("pgbouncer log:\n%s", logs.String())
		}
	})

	pooled := fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable", port, direct.User, direct.Database)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		select {
		case <-exited:
			return true // reported below
		default:
		}
		conn, err := pgx.Connect(ctx, pooled)
		if err != nil {
			return false
		}
		_ = conn.Close(ctx)
		return true
	}, waitFor, 10*time.Millisecond, "PgBouncer did not take connections:\n%s", logs.String())
	select {
	case <-exited:
		t.Fatalf("PgBouncer exited:\n%s", logs.String())
	default:
	}
	return pooled
}

// freePort returns a loopback port nothing listens on now. PgBouncer takes
// no port 0, so there is a short window in which another process could
// take it; PgBouncer then fails to start, and says so.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}
