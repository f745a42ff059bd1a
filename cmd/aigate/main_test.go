package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/testdb"
)

// Named timeouts: generous, since they only bound a failing test.
const (
	readyTimeout = 60 * time.Second
	exitTimeout  = 60 * time.Second
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aigate-bin-")
	if err != nil {
		panic(err)
	}
	// Readable by the unprivileged user the tests also run the binary as.
	if err := os.Chmod(dir, 0o755); err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "aigate")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build aigate: %v\n%s", err, out)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	testdb.Main(m)
}

// proc is a running aigate process whose JSON log lines the test can wait on.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []map[string]any
	raw    []string
	change chan struct{} // closed and replaced on every new line and at exit
	exited chan struct{}
	err    error
}

// testKeys are the encryption keys every test server shares, as replicas
// would.
const testKeys = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// cleanEnv keeps the machine's AIGATE_* variables out of the subprocess; a
// later entry for the same variable wins. The metrics listener takes a free
// port: test servers run side by side, and the default one is fixed.
func cleanEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "AIGATE_ENCRYPTION_KEYS=" + testKeys,
		"AIGATE_METRICS_ADDRESS=127.0.0.1:0"}, extra...)
}

// embeddedEnv runs without configured keys, as the default does.
var embeddedEnv = []string{"AIGATE_ENCRYPTION_KEYS="}

func start(t *testing.T, cred *syscall.Credential, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = cleanEnv(env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = io.Discard
	require.NoError(t, cmd.Start())
	p := &proc{t: t, cmd: cmd, change: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil {
				rec = map[string]any{"msg": line, "level": "PLAIN"}
			}
			p.mu.Lock()
			p.raw = append(p.raw, line)
			p.lines = append(p.lines, rec)
			close(p.change)
			p.change = make(chan struct{})
			p.mu.Unlock()
		}
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// waitFor returns the first log line with msg, failing if the process exits
// or the timeout passes first.
func (p *proc) waitFor(msg string) map[string]any {
	p.t.Helper()
	deadline := time.After(readyTimeout)
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if l["msg"] == msg {
				p.mu.Unlock()
				return l
			}
		}
		ch := p.change
		p.mu.Unlock()
		select {
		case <-ch:
		case <-p.exited:
			p.mu.Lock()
			found := false
			for _, l := range p.lines {
				found = found || l["msg"] == msg
			}
			p.mu.Unlock()
			if !found {
				p.t.Fatalf("aigate exited (%v) before logging %q; output:\n%s", p.err, msg, p.output())
			}
		case <-deadline:
			p.t.Fatalf("aigate did not log %q within %s; output:\n%s", msg, readyTimeout, p.output())
		}
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.raw, "\n")
}

// stop signals the process and requires a clean exit.
func (p *proc) stop(sig syscall.Signal) {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(sig))
	select {
	case <-p.exited:
	case <-time.After(exitTimeout):
		p.t.Fatalf("aigate did not exit within %s after %v; output:\n%s", exitTimeout, sig, p.output())
	}
	require.NoError(p.t, p.err, "aigate must exit 0 after %v; output:\n%s", sig, p.output())
}

// errorLines returns log lines at ERROR level.
func (p *proc) errorLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for i, l := range p.lines {
		if l["level"] == "ERROR" {
			out = append(out, p.raw[i])
		}
	}
	return out
}

func readyz(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// run runs aigate to completion and returns its exit code and output.
func run(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = cleanEnv(env...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return 0, string(out)
	}
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "run aigate")
	return ee.ExitCode(), string(out)
}

// dataDir makes a data dir that the given user owns and that the
// embedded PostgreSQL's user can reach.
func dataDir(t *testing.T, cred *syscall.Credential) string {
	t.Helper()
	base, err := os.MkdirTemp("", "aigate-e2e-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	dir := filepath.Join(base, "data")
	require.NoError(t, os.Mkdir(dir, 0o755))
	if cred != nil {
		require.NoError(t, os.Chown(dir, int(cred.Uid), int(cred.Gid)))
	}
	return dir
}

func pidGone(pid int) bool {
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

// Acceptance 1: the default run starts an embedded PostgreSQL, /readyz
// answers 200, a signal stops aigate and its PostgreSQL, and the next run
// reuses the data. As root the cluster runs as the postgres user; as an
// unprivileged user it runs as that user.
func TestEmbeddedRunStopReuse(t *testing.T) {
	t.Parallel()
	users := map[string]*syscall.Credential{"current user": nil}
	if os.Geteuid() == 0 {
		users["current user"] = nil                                              // root
		users["unprivileged user"] = &syscall.Credential{Uid: 65534, Gid: 65534} // nobody
	}
	for name, cred := range users {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := dataDir(t, cred)
			args := []string{"server", "--data-dir", dir, "--http-address", "127.0.0.1:0", "--log-format", "json"}

			first := start(t, cred, embeddedEnv, args...)
			ready := first.waitFor("aigate ready")
			addr := ready["address"].(string)
			require.Equal(t, http.StatusOK, readyz(t, addr))
			first.waitFor("initialising embedded PostgreSQL")
			pgPID := int(first.waitFor("embedded PostgreSQL ready")["pid"].(float64))
			deployment := first.waitFor("deployment ready")["deployment_id"]
			generated := first.waitFor("generated an encryption key")
			keyFile := filepath.Join(dir, "encryption.key")
			require.Equal(t, keyFile, generated["path"])
			st, err := os.Stat(keyFile)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
			activeKey := first.waitFor("encryption keys loaded")["active_key"]

			// A second server on the same data dir must refuse, not corrupt.
			code, out := run(t, embeddedEnv, "server", "--data-dir", dir, "--http-address", "127.0.0.1:0")
			if cred == nil {
				require.NotEqual(t, 0, code)
				require.Contains(t, out, "already in use")
			}

			first.stop(syscall.SIGINT)
			require.True(t, pidGone(pgPID), "the embedded PostgreSQL (pid %d) must stop with aigate", pgPID)
			require.Empty(t, first.errorLines())

			second := start(t, cred, embeddedEnv, args...)
			second.waitFor("aigate ready")
			require.Equal(t, deployment, second.waitFor("deployment ready")["deployment_id"], "the second run reuses the data")
			require.NotContains(t, second.output(), "initialising embedded PostgreSQL")
			require.NotContains(t, second.output(), "generated an encryption key")
			require.Equal(t, activeKey, second.waitFor("encryption keys loaded")["active_key"], "the second run reuses the key")
			second.stop(syscall.SIGTERM)
			require.Empty(t, second.errorLines())
		})
	}
}

// Acceptance 2 and 3: ten servers started at the same moment on one empty
// database all become ready, agree on one deployment ID and log no error.
func TestTenReplicasStartTogether(t *testing.T) {
	t.Parallel()
	url := testdb.EmptyURL(t)
	const n = 10
	procs := make([]*proc, n)
	for i := range procs {
		procs[i] = start(t, nil, nil, "server", "--postgres-url", url, "--http-address", "127.0.0.1:0", "--log-format", "json")
	}
	var deployments []any
	for _, p := range procs {
		addr := p.waitFor("aigate ready")["address"].(string)
		require.Equal(t, http.StatusOK, readyz(t, addr))
		deployments = append(deployments, p.waitFor("deployment ready")["deployment_id"])
	}
	for _, d := range deployments {
		require.Equal(t, deployments[0], d)
	}
	applied := 0
	for _, p := range procs {
		applied += strings.Count(p.output(), `"msg":"applied migration"`)
	}
	db := testdb.Open(t, url)
	var migrations, deploymentRows, replicaRows int
	ctx := context.Background()
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&migrations))
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM site_configs WHERE key = 'deployment_id'").Scan(&deploymentRows))
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM replicas WHERE stopped_at IS NULL").Scan(&replicaRows))
	require.Equal(t, migrations, applied, "each migration applied by exactly one replica")
	require.Equal(t, 1, deploymentRows)
	require.Equal(t, n, replicaRows)

	for _, p := range procs {
		p.stop(syscall.SIGTERM)
		require.Empty(t, p.errorLines())
	}
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM replicas WHERE stopped_at IS NULL").Scan(&replicaRows))
	require.Zero(t, replicaRows, "a cleanly stopped replica marks its row stopped")
}

// Acceptance 3: `aigate migrate up` run by several processes at once applies
// each migration once and every process succeeds.
func TestConcurrentMigrateUp(t *testing.T) {
	t.Parallel()
	url := testdb.EmptyURL(t)
	const n = 5
	outs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			code, out := run(t, nil, "migrate", "up", "--postgres-url", url)
			require.Equal(t, 0, code, out)
			outs[i] = out
		})
	}
	wg.Wait()
	all := strings.Join(outs, "\n")
	require.Equal(t, 1, strings.Count(all, "applied 0001_initial.sql"), all)
	require.Equal(t, n-1, strings.Count(all, "up to date"), all)

	code, out := run(t, nil, "migrate", "status", "--postgres-url", url)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "0001_initial.sql")
	require.NotContains(t, out, "pending")
}

// Acceptance 4: each startup failure names the cause and the fix, exits
// non-zero and prints no password.
func TestStartupFailures(t *testing.T) {
	t.Parallel()
	const secret = "Sup3r-Secret-Pw"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())

	newer := testdb.URL(t)
	db := testdb.Open(t, newer)
	_, err = db.Pool.Exec(context.Background(), "INSERT INTO schema_migrations VALUES (999, '0999_from_the_future.sql', now(), 'v9.0.0')")
	require.NoError(t, err)

	for name, tc := range map[string]struct {
		args []string
		env  []string
		want []string
	}{
		"schema newer than binary": {
			args: []string{"server", "--postgres-url", newer},
			want: []string{"database schema is at migration 999", "0999_from_the_future.sql", "run aigate v9.0.0 or newer"},
		},
		"unreachable postgres url": {
			args: []string{"server", "--postgres-url", "postgres://aigate:" + secret + "@" + closed + "/aigate", "--postgres-connect-timeout", "1s"},
			want: []string{"cannot connect to PostgreSQL at aigate@127.0.0.1", "--postgres-url (AIGATE_POSTGRES_URL)", "embedded PostgreSQL"},
		},
		"unreachable postgres url from env": {
			args: []string{"server", "--postgres-connect-timeout", "1s"},
			env:  []string{"AIGATE_POSTGRES_URL=postgres://aigate:" + secret + "@" + closed + "/aigate"},
			want: []string{"cannot connect to PostgreSQL", "check that the server is running"},
		},
		"external database without encryption keys": {
			args: []string{"server", "--postgres-url", "postgres://aigate:" + secret + "@" + closed + "/aigate"},
			env:  embeddedEnv,
			want: []string{"no encryption keys", "--encryption-keys (AIGATE_ENCRYPTION_KEYS)", "openssl rand -base64 32", "every replica"},
		},
		"invalid encryption key": {
			args: []string{"server"},
			env:  []string{"AIGATE_ENCRYPTION_KEYS=" + testKeys + ",c2hvcnQ="},
			want: []string{"AIGATE_ENCRYPTION_KEYS", "key 2", "not 32"},
		},
		"missing postgres binaries": {
			env:  embeddedEnv,
			args: []string{"server", "--data-dir", t.TempDir(), "--embedded-postgres-bin-dir", "/nonexistent/pg/bin"},
			want: []string{"/nonexistent/pg/bin", "does not contain the PostgreSQL server binaries", "leave it empty to search"},
		},
		"invalid option value": {
			args: []string{"server", "--log-level", "loud"},
			want: []string{"--log-level (AIGATE_LOG_LEVEL)", "one of debug, info, warn, error"},
		},
		"invalid secret option value": {
			args: []string{"server"},
			env:  []string{"AIGATE_POSTGRES_URL=mysql://root:" + secret + "@db/aigate"},
			want: []string{"AIGATE_POSTGRES_URL", "postgres://"},
		},
		"address in use": {
			args: []string{"server", "--http-address", "127.0.0.1:" + strings.Split(closedListener(t), ":")[1], "--postgres-url", newer},
			want: []string{"choose another --http-address (AIGATE_HTTP_ADDRESS)"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			args := tc.args
			if !strings.Contains(strings.Join(args, " "), "--http-address") {
				args = append(args, "--http-address", "127.0.0.1:0")
			}
			code, out := run(t, tc.env, args...)
			require.NotEqual(t, 0, code, out)
			for _, w := range tc.want {
				require.Contains(t, out, w)
			}
			require.NotContains(t, out, secret)
		})
	}
}

// closedListener holds a loopback port for the test's lifetime.
func closedListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().String()
}

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	code, out := run(t, nil, "--help")
	require.Equal(t, 0, code)
	for _, c := range []string{"server", "migrate", "version"} {
		require.Contains(t, out, c)
	}
	code, out = run(t, nil, "version")
	require.Equal(t, 0, code)
	require.True(t, strings.HasPrefix(out, "aigate "), out)
	code, out = run(t, nil, "frobnicate")
	require.NotEqual(t, 0, code)
	require.Contains(t, out, `unknown command "frobnicate"`)
}
