package embeddedpg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aigate/aigate/internal/testlog"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// helperEnv makes the test binary act as a throwaway aigate process that
// starts a server and then waits to be killed (see TestParentDeath).
const helperEnv = "EMBEDDEDPG_TEST_HELPER_DATADIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		runHelper(dir)
		return
	}
	goleak.VerifyTestMain(m)
}

func runHelper(dataDir string) {
	s, err := Start(context.Background(), Options{DataDir: dataDir, Settings: map[string]string{"fsync": "off"}, NoSync: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(s.PID())
	select {} // until SIGKILLed
}

func testLogger(t *testing.T) (*slog.Logger, *testlog.Buffer) {
	t.Helper()
	buf := &testlog.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log output:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// newDataDir returns a not yet existing data dir. t.TempDir and its parent
// are 0700, which the postgres user could not traverse when we run as root.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	return filepath.Join(dir, "data")
}

func testOptions(t *testing.T, dataDir string) (Options, *testlog.Buffer) {
	t.Helper()
	logger, buf := testLogger(t)
	return Options{
		DataDir:  dataDir,
		Settings: map[string]string{"fsync": "off", "synchronous_commit": "off"},
		NoSync:   true,
		Logger:   logger,
	}, buf
}

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

func connect(t *testing.T, s *Server, db string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), s.ConnString(db))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// clusterProcesses lists live processes whose working directory is the
// cluster: the postmaster and all its children chdir there.
func clusterProcesses(t *testing.T, clusterDir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || cwd != clusterDir {
			continue
		}
		if state, _ := inspectProcess(pid, clusterDir); state == procGone {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

func requireGone(t *testing.T, pid int, clusterDir string) {
	t.Helper()
	state, detail := inspectProcess(pid, clusterDir)
	require.Equal(t, procGone, state, "pid %d: %s", pid, detail)
	require.Empty(t, clusterProcesses(t, clusterDir), "processes still running on the cluster")
}

func TestStartStopReuse(t *testing.T) {
	t.Parallel()
	dataDir := newDataDir(t)
	opts, logs := testOptions(t, dataDir)
	ctx := t.Context()

	began := time.Now()
	s, err := Start(ctx, opts)
	require.NoError(t, err)
	firstStart := time.Since(began)
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	require.Positive(t, s.PID())
	require.Contains(t, logs.String(), "initialising embedded PostgreSQL")

	clusterDir := filepath.Join(dataDir, "postgres")
	pgVersion := filepath.Join(clusterDir, "PG_VERSION")
	before, err := os.Stat(pgVersion)
	require.NoError(t, err)

	// Layout and ownership promised by the package doc.
	fi, err := os.Stat(dataDir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	for _, dir := range []string{clusterDir, filepath.Join(dataDir, "run")} {
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), dir)
		wantUID := os.Geteuid()
		if wantUID == 0 {
			u, err := user.Lookup("postgres")
			require.NoError(t, err)
			wantUID, _ = strconv.Atoi(u.Uid)
		}
		require.Equal(t, uint32(wantUID), fi.Sys().(*syscall.Stat_t).Uid, dir)
	}
	fi, err = os.Stat(filepath.Join(dataDir, passwordFileName))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	require.Equal(t, uint32(os.Geteuid()), fi.Sys().(*syscall.Stat_t).Uid)
	pw, err := os.ReadFile(filepath.Join(dataDir, passwordFileName))
	require.NoError(t, err)
	require.NotContains(t, logs.String(), strings.TrimSpace(string(pw)), "password leaked into the log")
	require.NotContains(t, s.ConnString("postgres"), "password", "unix socket connections need no password")

	// What the stale-postmaster.pid logic sees for a live server.
	state, detail := inspectProcess(s.PID(), clusterDir)
	require.Equal(t, procThisCluster, state, detail)
	state, detail = inspectProcess(s.PID(), dataDir)
	require.Equal(t, procOtherCluster, state, detail)

	conn := connect(t, s, "postgres")
	var one int
	require.NoError(t, conn.QueryRow(ctx, "select 1").Scan(&one))
	require.Equal(t, 1, one)
	var who string
	require.NoError(t, conn.QueryRow(ctx, "select current_user").Scan(&who))
	require.Equal(t, Superuser, who)
	_, err = conn.Exec(ctx, "create table survivor (v text); insert into survivor values ('still here')")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))

	pid := s.PID()
	began = time.Now()
	require.NoError(t, s.Stop(ctx))
	firstStop := time.Since(began)
	requireGone(t, pid, clusterDir)
	require.NoError(t, s.Stop(ctx), "Stop must be idempotent")
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}

	began = time.Now()
	s2 := startServer(t, opts)
	secondStart := time.Since(began)
	require.Equal(t, 1, strings.Count(logs.String(), "initialising embedded PostgreSQL"), "second start must reuse the cluster")
	after, err := os.Stat(pgVersion)
	require.NoError(t, err)
	require.Equal(t, before.ModTime(), after.ModTime(), "PG_VERSION was rewritten")

	conn = connect(t, s2, "postgres")
	var v string
	require.NoError(t, conn.QueryRow(ctx, "select v from survivor").Scan(&v))
	require.Equal(t, "still here", v)
	require.NoError(t, conn.Close(ctx))

	pid = s2.PID()
	began = time.Now()
	require.NoError(t, s2.Stop(ctx))
	secondStop := time.Since(began)
	requireGone(t, pid, clusterDir)

	t.Logf("first start (initdb + start): %v, stop: %v, second start: %v, stop: %v", firstStart, firstStop, secondStart, secondStop)
}

func TestSecondStartFailsWhileRunning(t *testing.T) {
	t.Parallel()
	dataDir := newDataDir(t)
	opts, _ := testOptions(t, dataDir)

	s := startServer(t, opts)
	_, err := Start(t.Context(), opts)
	require.Error(t, err)
	require.ErrorIs(t, err, ErrDataDirInUse)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Contains(t, err.Error(), fmt.Sprintf("is already in use by another aigate process (pid %d)", os.Getpid()))
	require.Contains(t, e.Fix, "stop the other process or use a different --data-dir")

	// Had the lock been lost, Start would still wait for the live postmaster
	// rather than start a second one on the same cluster.
	clusterDir := filepath.Join(dataDir, "postgres")
	waitCtx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err = clearStalePostmaster(waitCtx, opts.Logger, clusterDir)
	require.ErrorContains(t, err, fmt.Sprintf("waiting for PostgreSQL pid %d to exit", s.PID()))
	require.FileExists(t, filepath.Join(clusterDir, "postmaster.pid"))

	// The failed attempt must not have disturbed the running server.
	conn := connect(t, s, "postgres")
	require.NoError(t, conn.Ping(t.Context()))
	require.NoError(t, conn.Close(t.Context()))

	// Stop releases the lock for the next owner.
	require.NoError(t, s.Stop(t.Context()))
	s2 := startServer(t, opts)
	require.NoError(t, s2.Stop(t.Context()))
}

func TestFindBinDirNotFound(t *testing.T) {
	t.Parallel()
	notFound := func(string) (string, error) { return "", exec.ErrNotFound }

	_, err := findBinDir("", nil, notFound)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, installFix, e.Fix)
	require.Contains(t, err.Error(), "apt-get install postgresql")
	require.Contains(t, err.Error(), "--postgres-url")

	// Search globs that match only incomplete installations do not count.
	root := t.TempDir()
	partial := filepath.Join(root, "17", "bin")
	writeFakeBinary(t, partial, "postgres", "exit 0")
	_, err = findBinDir("", []string{filepath.Join(root, "*", "bin")}, notFound)
	require.ErrorAs(t, err, &e)
	require.Contains(t, e.Reason, partial)
}

func TestFindBinDirExplicitWithoutBinaries(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	_, err := FindBinDir(empty, DefaultSearchPath)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Contains(t, e.Reason, empty)
	require.Contains(t, e.Reason, "postgres, initdb")

	onlyPostgres := t.TempDir()
	writeFakeBinary(t, onlyPostgres, "postgres", "exit 0")
	_, err = FindBinDir(onlyPostgres, nil)
	require.ErrorAs(t, err, &e)
	require.Contains(t, e.Reason, onlyPostgres)
	require.Contains(t, e.Reason, "initdb")
	require.NotContains(t, e.Reason, "postgres, initdb")

	// An explicit BinDir is honoured by Start before anything is created.
	dataDir := newDataDir(t)
	opts, _ := testOptions(t, dataDir)
	opts.BinDir = empty
	_, err = Start(t.Context(), opts)
	require.ErrorAs(t, err, &e)
	require.Contains(t, e.Reason, empty)
	require.NoDirExists(t, filepath.Join(dataDir, "postgres"))
}

func TestFindBinDirSearch(t *testing.T) {
	t.Parallel()
	notFound := func(string) (string, error) { return "", exec.ErrNotFound }
	root := t.TempDir()
	for _, v := range []string{"9.6", "12", "16"} {
		dir := filepath.Join(root, v, "bin")
		writeFakeBinary(t, dir, "postgres", "exit 0")
		writeFakeBinary(t, dir, "initdb", "exit 0")
	}
	writeFakeBinary(t, filepath.Join(root, "17", "bin"), "postgres", "exit 0") // no initdb
	dir, err := findBinDir("", []string{filepath.Join(root, "*", "bin")}, notFound)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "16", "bin"), dir)

	// postgres on PATH is a symlink into the real bin dir; the result must
	// be the directory that also holds initdb.
	linkDir := t.TempDir()
	link := filepath.Join(linkDir, "postgres")
	require.NoError(t, os.Symlink(filepath.Join(root, "12", "bin", "postgres"), link))
	onPath := func(name string) (string, error) {
		if name == "postgres" {
			return link, nil
		}
		return "", exec.ErrNotFound
	}
	dir, err = findBinDir("", []string{filepath.Join(root, "*", "bin")}, onPath)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "12", "bin"), dir)

	// And on this machine the real installation is found with the defaults.
	dir, err = FindBinDir("", DefaultSearchPath)
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "postgres"))
	require.FileExists(t, filepath.Join(dir, "initdb"))
}

func writeFakeBinary(t *testing.T, dir, name, script string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script+"\n"), 0o755))
}

func TestStalePostmasterPid(t *testing.T) {
	t.Parallel()
	dataDir := newDataDir(t)
	opts, logs := testOptions(t, dataDir)
	clusterDir := filepath.Join(dataDir, "postgres")
	pidFile := filepath.Join(clusterDir, "postmaster.pid")

	s := startServer(t, opts)
	require.NoError(t, s.Stop(t.Context()))
	require.NoFileExists(t, pidFile, "a clean shutdown removes postmaster.pid")

	// A pid that certainly belonged to a process that is gone now.
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	deadPID := dead.Process.Pid

	for _, tc := range []struct {
		name string
		pid  int
	}{
		{"dead pid", deadPID},
		// After a reboot the pid is often reused by something else; postgres
		// itself would refuse to start in that case.
		{"pid of a live non-postgres process", os.Getpid()},
	} {
		writeStalePidFile(t, pidFile, tc.pid, clusterDir)
		s := startServer(t, opts)
		require.Contains(t, logs.String(), "removed stale postmaster.pid", tc.name)
		require.Contains(t, logs.String(), fmt.Sprintf("pid=%d", tc.pid), tc.name)
		conn := connect(t, s, "postgres")
		require.NoError(t, conn.Ping(t.Context()), tc.name)
		require.NoError(t, conn.Close(t.Context()))
		require.NoError(t, s.Stop(t.Context()), tc.name)
	}
}

// writeStalePidFile writes what a crashed postmaster leaves behind, owned by
// the user postgres runs as so that it looks genuine.
func writeStalePidFile(t *testing.T, path string, pid int, clusterDir string) {
	t.Helper()
	content := fmt.Sprintf("%d\n%s\n1700000000\n5432\n%s\n\n  5432001         0\nready   \n", pid, clusterDir, filepath.Join(filepath.Dir(clusterDir), "run"))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	fi, err := os.Stat(clusterDir)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	require.NoError(t, os.Chown(path, int(st.Uid), int(st.Gid)))
}

func TestRootUntraversableAncestor(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only root hands the server to the postgres user")
	}
	base := filepath.Dir(newDataDir(t))
	blocked := filepath.Join(base, "private")
	require.NoError(t, os.Mkdir(blocked, 0o700))
	dataDir := filepath.Join(blocked, "aigate")
	opts, _ := testOptions(t, dataDir)

	_, err := Start(t.Context(), opts)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Contains(t, e.Reason, "directory "+blocked+" (mode 0700")
	require.Contains(t, e.Reason, "not traversable by the postgres user")
	require.Contains(t, e.Fix, "chmod o+x "+blocked)
	require.Contains(t, e.Fix, "/var/lib/aigate")
	require.NoDirExists(t, filepath.Join(dataDir, "postgres"), "nothing may be initialised")

	// The lock was released: after fixing the permission Start succeeds.
	require.NoError(t, os.Chmod(blocked, 0o701))
	s := startServer(t, opts)
	require.NoError(t, s.Stop(t.Context()))
}

func TestEnsureDatabase(t *testing.T) {
	t.Parallel()
	opts, _ := testOptions(t, newDataDir(t))
	s := startServer(t, opts)
	ctx := t.Context()

	for _, name := range []string{"app", "app", `odd "name"; drop`} {
		require.NoError(t, s.EnsureDatabase(ctx, name))
	}
	conn := connect(t, s, `odd "name"; drop`)
	var db string
	require.NoError(t, conn.QueryRow(ctx, "select current_database()").Scan(&db))
	require.Equal(t, `odd "name"; drop`, db)
	require.NoError(t, conn.Close(ctx))

	// Racing creators all succeed.
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() { errs <- s.EnsureDatabase(ctx, "race") }()
	}
	for range cap(errs) {
		require.NoError(t, <-errs)
	}
	conn = connect(t, s, "race")
	require.NoError(t, conn.Ping(ctx))
	require.NoError(t, conn.Close(ctx))
	require.NoError(t, s.Stop(ctx))
}

func TestTCPFallbackForLongPaths(t *testing.T) {
	t.Parallel()
	dataDir := newDataDir(t)
	for len(filepath.Join(dataDir, "run", ".s.PGSQL.5432")) < maxSocketPath {
		dataDir = filepath.Join(dataDir, "a-rather-long-directory-name")
	}
	opts, logs := testOptions(t, dataDir)
	s := startServer(t, opts)

	require.Contains(t, s.ConnString("postgres"), "host=127.0.0.1")
	conn := connect(t, s, "postgres")
	var addr string
	require.NoError(t, conn.QueryRow(t.Context(), "select inet_server_addr()::text").Scan(&addr))
	require.Equal(t, "127.0.0.1/32", addr)
	require.NoError(t, conn.Close(t.Context()))
	entries, err := os.ReadDir(filepath.Join(dataDir, "run"))
	require.NoError(t, err)
	require.Empty(t, entries, "no unix socket may be created")

	pw, err := os.ReadFile(filepath.Join(dataDir, passwordFileName))
	require.NoError(t, err)
	require.NotContains(t, logs.String(), strings.TrimSpace(string(pw)), "password leaked into the log")

	require.NoError(t, s.EnsureDatabase(t.Context(), "app"))
	require.NoError(t, s.Stop(t.Context()))
}

func TestStopEscalatesWhenContextExpires(t *testing.T) {
	t.Parallel()
	dataDir := newDataDir(t)
	opts, _ := testOptions(t, dataDir)
	s := startServer(t, opts)
	pid := s.PID()

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Stop(ctx)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.ErrorIs(t, err, context.Canceled)
	require.Contains(t, e.Reason, "SIGQUIT")
	requireGone(t, pid, filepath.Join(dataDir, "postgres"))
	require.Equal(t, err, s.Stop(t.Context()), "a repeated Stop reports the same outcome")

	// An immediate shutdown only means crash recovery on the next start.
	s2 := startServer(t, opts)
	require.NoError(t, s2.Stop(t.Context()))
}

func TestStartupFailureReportsOutput(t *testing.T) {
	t.Parallel()
	dataDir := newDataDir(t)
	opts, _ := testOptions(t, dataDir)
	opts.Settings = map[string]string{"shared_buffers": "lots"}

	_, err := Start(t.Context(), opts)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Contains(t, e.Reason, "PostgreSQL exited during startup")
	require.Contains(t, e.Reason, `invalid value for parameter "shared_buffers"`)
	require.Empty(t, clusterProcesses(t, filepath.Join(dataDir, "postgres")))

	// The cluster itself is fine and the lock was released.
	opts.Settings = nil
	s := startServer(t, opts)
	require.NoError(t, s.Stop(t.Context()))
}

func TestFailedInitdbRemovesHalfMadeCluster(t *testing.T) {
	t.Parallel()
	binDir := filepath.Join(filepath.Dir(newDataDir(t)), "bin")
	writeFakeBinary(t, binDir, "postgres", `echo "postgres (PostgreSQL) 15.0"`)
	writeFakeBinary(t, binDir, "initdb", `mkdir "$2/base" && echo "initdb: error: simulated disk trouble" >&2; exit 1`)
	dataDir := newDataDir(t)
	opts, _ := testOptions(t, dataDir)
	opts.BinDir = binDir

	_, err := Start(t.Context(), opts)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Contains(t, e.Reason, "initdb")
	require.Contains(t, e.Reason, "simulated disk trouble")
	require.NoDirExists(t, filepath.Join(dataDir, "postgres"))
	require.NoFileExists(t, filepath.Join(dataDir, "run", "initdb.pwfile"))
}

func TestExistingClusterIsNeverReinitialised(t *testing.T) {
	t.Parallel()
	t.Run("other major version", func(t *testing.T) {
		t.Parallel()
		dataDir := newDataDir(t)
		clusterDir := filepath.Join(dataDir, "postgres")
		require.NoError(t, os.Mkdir(dataDir, 0o755))
		require.NoError(t, os.Mkdir(clusterDir, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(clusterDir, "PG_VERSION"), []byte("9.4\n"), 0o600))
		opts, _ := testOptions(t, dataDir)

		_, err := Start(t.Context(), opts)
		var e *Error
		require.ErrorAs(t, err, &e)
		require.Contains(t, e.Reason, "created by PostgreSQL 9.4")
		require.Contains(t, e.Fix, "pg_upgrade")
		got, err := os.ReadFile(filepath.Join(clusterDir, "PG_VERSION"))
		require.NoError(t, err)
		require.Equal(t, "9.4\n", string(got))
	})
	t.Run("not a cluster", func(t *testing.T) {
		t.Parallel()
		dataDir := newDataDir(t)
		clusterDir := filepath.Join(dataDir, "postgres")
		require.NoError(t, os.Mkdir(dataDir, 0o755))
		require.NoError(t, os.Mkdir(clusterDir, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(clusterDir, "precious"), []byte("x"), 0o600))
		opts, _ := testOptions(t, dataDir)

		_, err := Start(t.Context(), opts)
		var e *Error
		require.ErrorAs(t, err, &e)
		require.Contains(t, e.Reason, "is not a PostgreSQL cluster")
		require.FileExists(t, filepath.Join(clusterDir, "precious"))
	})
}

// TestParentDeath kills an aigate-like process outright and checks that its
// postmaster goes away by itself and the next Start takes over the cluster.
func TestParentDeath(t *testing.T) {
	t.Parallel()
	dataDir := newDataDir(t)
	clusterDir := filepath.Join(dataDir, "postgres")

	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"="+dataDir)
	stderr := &testlog.Buffer{}
	helper.Stderr = stderr
	stdout, err := helper.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, helper.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "helper failed: %s", stderr.String())
	orphan, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)

	require.NoError(t, helper.Process.Kill())
	require.Error(t, helper.Wait())

	// Start has to cope with the postmaster still shutting down.
	opts, logs := testOptions(t, dataDir)
	s := startServer(t, opts)
	state, detail := inspectProcess(orphan, clusterDir)
	require.NotEqual(t, procThisCluster, state, "orphaned postmaster %d still running: %s", orphan, detail)
	require.NotEqual(t, orphan, s.PID())
	t.Logf("took over after parent death; waited for orphan: %v", strings.Contains(logs.String(), "waiting for a PostgreSQL left over"))
	require.NoError(t, s.Stop(t.Context()))
	requireGone(t, s.PID(), clusterDir)
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	cause := errors.New("boom")
	e := failf(cause, "do this", "that %s", "failed")
	require.Equal(t, "embedded PostgreSQL: that failed: boom; do this", e.Error())
	require.ErrorIs(t, e, cause)
}
