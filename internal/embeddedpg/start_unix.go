//go:build unix

package embeddedpg

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

const (
	clusterDirName   = "postgres"
	socketDirName    = "run"
	lockFileName     = "embedded-postgres.lock"
	passwordFileName = "embedded-postgres.password"

	startTimeout = 30 * time.Second
	// orphanWait bounds how long Start waits for a postmaster left behind by
	// a previous aigate process; it got SIGINT when its parent died and is
	// normally gone within a second or two.
	orphanWait = 10 * time.Second
	pollEvery  = 25 * time.Millisecond
)

// Start brings up the cluster in opts.DataDir, initialising it first if
// needed, and returns once it accepts connections. ctx bounds only the
// startup; the server keeps running until Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	began := time.Now()
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.DataDir == "" {
		return nil, &Error{Reason: "no data dir given", Fix: "set --data-dir"}
	}
	if err := validateSettings(opts.Settings); err != nil {
		return nil, err
	}
	dataDir, err := prepareDataDir(opts.DataDir)
	if err != nil {
		return nil, err
	}

	release, err := lockDataDir(dataDir)
	if err != nil {
		return nil, err
	}
	success := false
	defer func() {
		if !success {
			release()
		}
	}()

	binDir, err := findBinDir(opts.BinDir, DefaultSearchPath, exec.LookPath)
	if err != nil {
		return nil, err
	}
	major, fullVersion, err := binaryMajorVersion(ctx, binDir)
	if err != nil {
		return nil, err
	}
	ra, err := currentRunAs()
	if err != nil {
		return nil, err
	}
	clusterDir := filepath.Join(dataDir, clusterDirName)
	socketDir := filepath.Join(dataDir, socketDirName)
	if ra.cred != nil {
		if err := checkTraversable(dataDir, ra); err != nil {
			return nil, err
		}
	}
	if err := prepareSocketDir(socketDir, ra); err != nil {
		return nil, err
	}

	pgVersion, err := os.ReadFile(filepath.Join(clusterDir, "PG_VERSION"))
	switch {
	case err == nil:
		if have := strings.TrimSpace(string(pgVersion)); have != major {
			return nil, &Error{
				Reason: fmt.Sprintf("cluster %s was created by PostgreSQL %s, but the binaries in %s are PostgreSQL %s", clusterDir, have, binDir, major),
				Fix: fmt.Sprintf("point --embedded-postgres-bin-dir at PostgreSQL %s binaries, or upgrade the cluster with pg_upgrade "+
					"(aigate never re-initialises an existing cluster)", have),
			}
		}
		if err := checkClusterOwner(clusterDir, ra); err != nil {
			return nil, err
		}
	case errors.Is(err, fs.ErrNotExist):
		if err := initCluster(ctx, logger, initParams{
			binDir: binDir, dataDir: dataDir, clusterDir: clusterDir, socketDir: socketDir,
			ra: ra, noSync: opts.NoSync, version: fullVersion,
		}); err != nil {
			return nil, err
		}
	default:
		return nil, failf(err, "check the permissions of "+clusterDir, "cannot read the cluster's PG_VERSION")
	}

	if err := clearStalePostmaster(ctx, logger, clusterDir); err != nil {
		return nil, err
	}
	if err := clearSocketDir(socketDir); err != nil {
		return nil, err
	}

	s := &Server{logger: logger, dataDir: dataDir, clusterDir: clusterDir, socketDir: socketDir}
	socketPath := filepath.Join(socketDir, ".s.PGSQL."+strconv.Itoa(unixPort))
	useTCP := opts.LoopbackTCP || len(socketPath) >= maxSocketPath
	if useTCP {
		if !opts.LoopbackTCP {
			logger.Info("embedded PostgreSQL socket path too long for a unix socket, using loopback TCP",
				"socket", socketPath, "limit", maxSocketPath)
		}
		pw, err := os.ReadFile(filepath.Join(dataDir, passwordFileName))
		if err != nil {
			return nil, failf(err, "restore the password file of this cluster, or use a --data-dir with a shorter path so the unix socket (which needs no password) can be used",
				"the data dir path is too long for a unix socket, and the superuser password needed for TCP cannot be read")
		}
		s.password = strings.TrimSpace(string(pw))
	}

	// A free port can be taken by someone else before postgres binds it;
	// retrying with a new one is cheap.
	for attempt := 1; ; attempt++ {
		if useTCP {
			if s.tcpPort, err = freeLoopbackPort(); err != nil {
				return nil, failf(err, "check the loopback interface", "cannot find a free TCP port on 127.0.0.1")
			}
		}
		s.pm, err = launch(logger, binDir, serverArgs(clusterDir, socketDir, s.tcpPort, opts.Settings), ra, clusterDir)
		if err != nil {
			return nil, err
		}
		err = s.waitReady(ctx)
		if err == nil {
			break
		}
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_ = stopPostmaster(stopCtx, logger, s.pm)
		cancel()
		if useTCP && attempt < 3 && portTaken(s.pm.out.Tail()) {
			continue
		}
		return nil, err
	}
	s.pm.ready.Store(true)
	s.release = release
	success = true

	where := []any{"socket_dir", socketDir}
	if useTCP {
		where = []any{"addr", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tcpPort))}
	}
	logger.Info("embedded PostgreSQL ready", append([]any{
		"pid", s.pm.pid, "dir", clusterDir, "user", ra.name, "version", fullVersion,
		"took", time.Since(began).Round(time.Millisecond)}, where...)...)
	return s, nil
}

// Stop shuts the server down ("fast" shutdown: open transactions are rolled
// back, then a checkpoint) and waits for it to exit. If ctx expires first it
// escalates to SIGQUIT and then SIGKILL. Stop releases the data dir lock and
// may be called more than once.
func (s *Server) Stop(ctx context.Context) error {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	if s.stopped {
		return s.stopErr
	}
	s.stopped = true
	began := time.Now()

	crashed := s.pm.exited() && !s.pm.stopping.Load()
	err := stopPostmaster(ctx, s.logger, s.pm)
	s.release()
	if crashed {
		err = &Error{
			Reason: fmt.Sprintf("PostgreSQL (pid %d) had already exited before Stop (%v)", s.pm.pid, s.pm.waitErr),
			Fix:    "see its log lines for the cause; the next start runs crash recovery automatically",
			Err:    s.pm.waitErr,
		}
	}
	s.stopErr = err
	s.logger.Info("embedded PostgreSQL stopped", "pid", s.pm.pid, "took", time.Since(began).Round(time.Millisecond))
	return err
}

// prepareDataDir creates the data dir and returns its absolute, symlink-free
// path, which is what the traversal check and postgres' own checks see.
func prepareDataDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", failf(err, "pass an absolute --data-dir", "bad data dir %q", dir)
	}
	_, statErr := os.Stat(abs)
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", failf(err, "create it yourself or choose a --data-dir this user can write to", "cannot create data dir %s", abs)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// MkdirAll honours the umask; a 077 umask would make our own fresh
		// directory untraversable for the postgres user.
		if err := os.Chmod(abs, 0o755); err != nil {
			return "", failf(err, "choose another --data-dir", "cannot set permissions of data dir %s", abs)
		}
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return abs, nil
}

// lockDataDir makes sure only one process drives a cluster at a time. flock
// is released by the kernel when its holder dies, so unlike a pid file it
// never goes stale.
func lockDataDir(dataDir string) (release func(), err error) {
	path := filepath.Join(dataDir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, failf(err, "make "+dataDir+" writable for this user or choose a different --data-dir", "cannot open lock file %s", path)
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	// A lock this very process released may still be held for a moment by a
	// child it forked while the lock file was open (another cluster's
	// postgres, say): the child's copy of the descriptor lives until its
	// exec closes it. Only that case is waited for, and briefly.
	for try := 0; errors.Is(err, syscall.EWOULDBLOCK) && try < selfLockRetries && lockOwner(path) == strconv.Itoa(os.Getpid()); try++ {
		time.Sleep(selfLockRetryDelay)
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			owner := lockOwner(path)
			if owner == "" {
				owner = "unknown"
			}
			return nil, &Error{
				Reason: fmt.Sprintf("data dir %s is already in use by another aigate process (pid %s)", dataDir, owner),
				Fix:    "stop the other process or use a different --data-dir",
				Err:    ErrDataDirInUse,
			}
		}
		return nil, failf(err, "put --data-dir on a local file system that supports flock", "cannot lock %s", path)
	}
	// The pid is only informational, for the message a second process shows.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { _ = f.Close() }, nil
}

// Waiting out a child that inherited this process's lock: at most
// selfLockRetries × selfLockRetryDelay.
const (
	selfLockRetries    = 50
	selfLockRetryDelay = 20 * time.Millisecond
)

// lockOwner is the pid the lock file records, or "".
func lockOwner(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// runAs is the identity postgres and initdb run under.
type runAs struct {
	name     string
	uid, gid int
	groups   []uint32
	cred     *syscall.Credential // nil: run as ourselves
}

func (ra *runAs) inGroup(gid uint32) bool {
	return int(gid) == ra.gid || slices.Contains(ra.groups, gid)
}

func currentRunAs() (*runAs, error) {
	if os.Geteuid() != 0 {
		name := strconv.Itoa(os.Geteuid())
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		return &runAs{name: name, uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	// PostgreSQL refuses to run with uid 0, so root hands the server to the
	// account distribution packages create for it.
	const fix = "create it: useradd --system --home /var/lib/postgresql postgres, or run aigate as a non-root user"
	u, err := user.Lookup("postgres")
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			err = nil
		}
		return nil, failf(err, fix, "aigate runs as root, which PostgreSQL refuses, and there is no \"postgres\" system user to run it as")
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, failf(err, fix, "cannot parse the ids of the postgres user")
	}
	if uid == 0 {
		return nil, &Error{Reason: "the \"postgres\" user has uid 0, and PostgreSQL refuses to run as root",
			Fix: "give the postgres user its own non-zero uid, or run aigate as a non-root user"}
	}
	ra := &runAs{name: u.Username, uid: uid, gid: gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil && int(g) != gid {
				ra.groups = append(ra.groups, uint32(g))
			}
		}
	}
	// Groups is set explicitly (possibly empty) so the child does not keep
	// root's supplementary groups.
	ra.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: append([]uint32{}, ra.groups...)}
	return ra, nil
}

// checkTraversable verifies that the postgres user can reach dir. Root can
// reach anything, so without this check a data dir under /root or inside a
// 0700 temp dir only fails later with postgres' terse "permission denied".
func checkTraversable(dir string, ra *runAs) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return failf(err, "choose another --data-dir", "cannot inspect %s", d)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		perm := fi.Mode().Perm()
		var x bool
		switch {
		case int(st.Uid) == ra.uid:
			x = perm&0o100 != 0
		case ra.inGroup(st.Gid):
			x = perm&0o010 != 0
		default:
			x = perm&0o001 != 0
		}
		if !x {
			return &Error{
				Reason: fmt.Sprintf("directory %s (mode %04o, owner %d:%d) is not traversable by the %s user (uid %d), which PostgreSQL runs as when aigate runs as root",
					d, perm, st.Uid, st.Gid, ra.name, ra.uid),
				Fix: fmt.Sprintf("choose a --data-dir outside it (e.g. /var/lib/aigate) or chmod o+x %s", d),
			}
		}
		if parent := filepath.Dir(d); parent == d {
			return nil
		}
	}
}

// prepareSocketDir creates the private socket directory. Keeping the socket
// out of /tmp and /var/run/postgresql means no clash with a system cluster
// and no other user can connect.
func prepareSocketDir(dir string, ra *runAs) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return failf(err, "check the permissions of the data dir", "cannot create socket dir %s", dir)
	}
	if err := chownForServer(dir, ra); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return failf(err, "remove it, or run aigate as the user that created it", "cannot set permissions of socket dir %s", dir)
	}
	return nil
}

func chownForServer(path string, ra *runAs) error {
	if ra.cred == nil {
		return nil
	}
	if err := os.Chown(path, ra.uid, ra.gid); err != nil {
		return failf(err, "put --data-dir on a file system that supports ownership", "cannot hand %s to the %s user", path, ra.name)
	}
	return nil
}

// checkClusterOwner catches the mix-up of running aigate as root after a
// non-root run (or the other way round), which postgres would only report as
// "data directory has wrong ownership".
func checkClusterOwner(clusterDir string, ra *runAs) error {
	fi, err := os.Stat(clusterDir)
	if err != nil {
		return failf(err, "check the permissions of the data dir", "cannot inspect cluster %s", clusterDir)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) == ra.uid {
		return nil
	}
	if ra.cred != nil {
		return &Error{
			Reason: fmt.Sprintf("cluster %s is owned by uid %d, but PostgreSQL runs as the %s user (uid %d) when aigate runs as root", clusterDir, st.Uid, ra.name, ra.uid),
			Fix:    fmt.Sprintf("run aigate as uid %d again, or chown -R %s: %s", st.Uid, ra.name, clusterDir),
		}
	}
	return &Error{
		Reason: fmt.Sprintf("cluster %s is owned by uid %d, not by the current user %s (uid %d)", clusterDir, st.Uid, ra.name, ra.uid),
		Fix:    fmt.Sprintf("run aigate as the user that created it (as root if uid %d is the postgres user), or chown -R %s %s", st.Uid, ra.name, clusterDir),
	}
}

type initParams struct {
	binDir, dataDir, clusterDir, socketDir string
	ra                                     *runAs
	noSync                                 bool
	version                                string
}

func initCluster(ctx context.Context, logger *slog.Logger, p initParams) (err error) {
	began := time.Now()
	created := false
	entries, err := os.ReadDir(p.clusterDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(p.clusterDir, 0o700); err != nil {
			return failf(err, "check the permissions of the data dir", "cannot create cluster dir %s", p.clusterDir)
		}
		created = true
	case err != nil:
		return failf(err, "check the permissions of the data dir", "cannot read cluster dir %s", p.clusterDir)
	case len(entries) > 0:
		return &Error{
			Reason: fmt.Sprintf("%s exists but is not a PostgreSQL cluster (it has no PG_VERSION)", p.clusterDir),
			Fix:    "move it out of the way (or delete it if it holds nothing you need), or choose a different --data-dir",
		}
	}
	// Only ever remove what this call made: either the directory itself or,
	// if it was there and empty, what initdb put into it.
	defer func() {
		if err == nil {
			return
		}
		if created {
			_ = os.RemoveAll(p.clusterDir)
			return
		}
		if left, rerr := os.ReadDir(p.clusterDir); rerr == nil {
			for _, e := range left {
				_ = os.RemoveAll(filepath.Join(p.clusterDir, e.Name()))
			}
		}
	}()
	if err := chownForServer(p.clusterDir, p.ra); err != nil {
		return err
	}
	if err := os.Chmod(p.clusterDir, 0o700); err != nil {
		return failf(err, "check the permissions of the data dir", "cannot set permissions of %s", p.clusterDir)
	}

	// The password only matters for the TCP fallback (the socket uses trust),
	// but it has to be set now: it is the only way to get it into the cluster
	// without a connection.
	password, err := newPassword()
	if err != nil {
		return failf(err, "check that the system random number generator works", "cannot generate the superuser password")
	}
	if err := writeFileAtomic(filepath.Join(p.dataDir, passwordFileName), []byte(password+"\n"), 0o600); err != nil {
		return failf(err, "make the data dir writable for this user", "cannot write the superuser password file")
	}
	// initdb runs as the postgres user and cannot read the caller's 0600
	// file, so it gets its own copy in the socket dir, which that user owns.
	pwfile := filepath.Join(p.socketDir, "initdb.pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return failf(err, "make the data dir writable for this user", "cannot write initdb's password file")
	}
	defer func() { _ = os.Remove(pwfile) }()
	if err := chownForServer(pwfile, p.ra); err != nil {
		return err
	}

	logger.Info("initialising embedded PostgreSQL", "dir", p.clusterDir, "version", p.version, "user", p.ra.name)
	args := []string{
		"-D", p.clusterDir,
		"--username=" + Superuser,
		"--auth-local=trust",
		"--auth-host=scram-sha-256",
		"--pwfile=" + pwfile,
		"--encoding=UTF8",
		"--locale=C",
	}
	if p.noSync {
		args = append(args, "--no-sync")
	}
	initdb := filepath.Join(p.binDir, "initdb")
	cmd := exec.CommandContext(ctx, initdb, args...)
	cmd.Dir = p.clusterDir
	cmd.Env = childEnv()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// SIGTERM rather than exec's default SIGKILL: initdb traps it and cleans
	// up its half-made cluster itself.
	cmd.SysProcAttr = sysProcAttr(p.ra.cred, syscall.SIGTERM)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	errc := make(chan error, 1)
	go func() {
		// See launch for why the forking thread stays locked.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		errc <- cmd.Run()
	}()
	runErr := <-errc
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, l := range lines {
		if l != "" {
			logger.Debug(l, "source", "initdb")
		}
	}
	if runErr != nil {
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		if ctx.Err() != nil {
			return failf(ctx.Err(), "retry; the half-made cluster was removed", "initdb of %s was interrupted", p.clusterDir)
		}
		return &Error{
			Reason: fmt.Sprintf("initdb %s failed (%v)%s", p.clusterDir, runErr, formatOutput(lines)),
			Fix:    "fix the problem initdb reports; the half-made cluster was removed, so the next start begins afresh",
			Err:    runErr,
		}
	}
	logger.Info("initialised embedded PostgreSQL", "dir", p.clusterDir, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

func newPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// writeFileAtomic avoids leaving a truncated password file behind if we die
// mid-write.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil { // WriteFile keeps the mode of an existing file
		return err
	}
	return os.Rename(tmp, path)
}

// childEnv drops PG* variables: they are meant for the operator's own client
// tools and could redirect or reconfigure initdb and postgres.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

type procState int

const (
	procGone         procState = iota // no such process (or a zombie)
	procOther                         // alive, but not a postgres process
	procOtherCluster                  // a postgres serving some other data directory
	procThisCluster                   // a postgres serving this cluster (or we cannot tell otherwise)
)

// clearStalePostmaster deals with postmaster.pid left by a crash. postgres
// handles a dead pid itself, but refuses to start when the pid has been
// reused by an unrelated process, which after a reboot is likely.
func clearStalePostmaster(ctx context.Context, logger *slog.Logger, clusterDir string) error {
	pidFile := filepath.Join(clusterDir, "postmaster.pid")
	var waitingSince time.Time
	for {
		data, err := os.ReadFile(pidFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return failf(err, "check the permissions of "+clusterDir, "cannot read %s", pidFile)
		}
		first, _, _ := strings.Cut(string(data), "\n")
		pid, perr := strconv.Atoi(strings.TrimSpace(first))
		state, detail := procGone, "unparseable pid"
		if perr == nil && pid > 0 {
			state, detail = inspectProcess(pid, clusterDir)
		}
		if state != procThisCluster {
			if err := os.Remove(pidFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return failf(err, "remove it by hand", "cannot remove stale %s", pidFile)
			}
			logger.Info("removed stale postmaster.pid left by a previous run", "file", pidFile, "pid", pid, "reason", detail)
			return nil
		}
		if waitingSince.IsZero() {
			waitingSince = time.Now()
			logger.Info("waiting for a PostgreSQL left over from a previous run to exit", "pid", pid, "dir", clusterDir)
		} else if time.Since(waitingSince) > orphanWait {
			return &Error{
				Reason: fmt.Sprintf("PostgreSQL pid %d is still running on %s (left over from an earlier run, or started by hand)", pid, clusterDir),
				Fix:    fmt.Sprintf("stop PostgreSQL pid %d (kill -INT %d), then start aigate again", pid, pid),
			}
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return failf(ctx.Err(), "retry", "interrupted while waiting for PostgreSQL pid %d to exit", pid)
		case <-t.C:
		}
	}
}

// clearSocketDir removes sockets and socket lock files of an earlier
// postmaster. The directory is private to this cluster and we hold the data
// dir lock with no postmaster running, so whatever is in it is stale, and a
// lock file naming a reused pid would make postgres refuse to start.
func clearSocketDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return failf(err, "check the permissions of the data dir", "cannot read socket dir %s", dir)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".s.PGSQL.") {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return failf(err, "remove it by hand", "cannot remove stale socket file %s", e.Name())
			}
		}
	}
	return nil
}

var settingNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

func validateSettings(settings map[string]string) error {
	for name := range settings {
		if !settingNameRE.MatchString(name) {
			return &Error{Reason: fmt.Sprintf("invalid PostgreSQL setting name %q", name), Fix: "use a name from postgresql.conf, e.g. fsync or shared_buffers"}
		}
	}
	return nil
}

func serverArgs(clusterDir, socketDir string, tcpPort int, settings map[string]string) []string {
	args := []string{"-D", clusterDir}
	if tcpPort == 0 {
		args = append(args,
			// Quoted because unix_socket_directories is a comma-separated list.
			"-k", `"`+strings.ReplaceAll(socketDir, `"`, `""`)+`"`,
			"-c", "listen_addresses=",
			"-p", strconv.Itoa(unixPort),
			"-c", "unix_socket_permissions=0700",
		)
	} else {
		// No unix socket at all: its path is what was too long.
		args = append(args,
			"-c", "unix_socket_directories=",
			"-c", "listen_addresses=127.0.0.1",
			"-p", strconv.Itoa(tcpPort),
		)
	}
	// The pid lets log lines be told apart per backend, and the fixed
	// format lets lineLog pick out the severity.
	args = append(args, "-c", "log_line_prefix=%p ")
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		args = append(args, "-c", name+"="+settings[name])
	}
	return args
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portTaken(lines []string) bool {
	for _, l := range lines {
		if strings.Contains(l, "could not bind") || strings.Contains(l, "Address already in use") {
			return true
		}
	}
	return false
}

// launch starts the postmaster and a goroutine that reaps it.
func launch(logger *slog.Logger, binDir string, args []string, ra *runAs, clusterDir string) (*postmaster, error) {
	pm := &postmaster{done: make(chan struct{}), out: newLineLog(logger, "postgres")}
	path := filepath.Join(binDir, "postgres")
	cmd := exec.Command(path, args...)
	cmd.Dir = clusterDir
	cmd.Env = childEnv()
	cmd.Stdout = pm.out
	cmd.Stderr = pm.out
	// Own process group: a Ctrl-C in aigate's terminal must not reach
	// postgres directly, aigate decides when the database goes down. The
	// parent-death signal covers aigate being killed outright.
	cmd.SysProcAttr = sysProcAttr(ra.cred, syscall.SIGINT)
	cmd.WaitDelay = 5 * time.Second

	started := make(chan error, 1)
	go func() {
		// Linux sends the parent-death signal when the *thread* that forked
		// the child exits, not the process. The Go runtime may retire idle
		// threads, so this one stays locked, parked in wait4, for as long as
		// postgres runs.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		pm.pid = cmd.Process.Pid
		started <- nil
		pm.waitErr = cmd.Wait()
		if pm.ready.Load() && !pm.stopping.Load() {
			logger.Error("embedded PostgreSQL exited unexpectedly", "pid", pm.pid, "err", pm.waitErr)
		}
		close(pm.done)
	}()
	if err := <-started; err != nil {
		fix := "check the PostgreSQL installation in " + binDir + " or choose another with --embedded-postgres-bin-dir"
		if ra.cred != nil && errors.Is(err, fs.ErrPermission) {
			fix = "make " + path + " and its directories executable by the " + ra.name + " user, or choose other binaries with --embedded-postgres-bin-dir"
		}
		return nil, failf(err, fix, "cannot start %s", path)
	}
	return pm, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var lastErr error
	for {
		if s.pm.exited() {
			return &Error{
				Reason: fmt.Sprintf("PostgreSQL exited during startup (%v)%s", s.pm.waitErr, formatOutput(s.pm.out.Tail())),
				Fix:    "fix the problem PostgreSQL reports (an invalid setting or a damaged cluster are the usual causes)",
				Err:    s.pm.waitErr,
			}
		}
		attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgconn.Connect(attempt, s.ConnString("postgres"))
		cancel()
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		lastErr = err
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000") {
			return failf(err, "restore the password file that belongs to this cluster, or use a --data-dir with a shorter path so the unix socket (which needs no password) can be used",
				"the cluster rejected the superuser password from %s", filepath.Join(s.dataDir, passwordFileName))
		}
		select {
		case <-ctx.Done():
			return failf(ctx.Err(), "retry with more time", "interrupted while waiting for PostgreSQL to accept connections")
		case <-deadline.C:
			return &Error{
				Reason: fmt.Sprintf("PostgreSQL did not accept connections within %s (last error: %v)%s", startTimeout, lastErr, formatOutput(s.pm.out.Tail())),
				Fix:    "check PostgreSQL's output; crash recovery of a large cluster on a slow disk can take longer, so retrying may help",
				Err:    lastErr,
			}
		case <-s.pm.done:
		case <-tick.C:
		}
	}
}

// stopPostmaster asks for a fast shutdown and escalates when ctx expires.
func stopPostmaster(ctx context.Context, logger *slog.Logger, pm *postmaster) error {
	pm.stopping.Store(true)
	if pm.exited() {
		return nil
	}
	// SIGINT is PostgreSQL's "fast" shutdown: abort open transactions,
	// checkpoint, exit. SIGTERM ("smart") would wait for clients to leave.
	_ = syscall.Kill(pm.pid, syscall.SIGINT)
	select {
	case <-pm.done:
		return nil
	case <-ctx.Done():
	}
	// SIGQUIT is "immediate" shutdown: no checkpoint, crash recovery on the
	// next start, but nothing committed is lost.
	logger.Warn("embedded PostgreSQL did not finish its fast shutdown in time, sending SIGQUIT", "pid", pm.pid)
	_ = syscall.Kill(pm.pid, syscall.SIGQUIT)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-pm.done:
	case <-t.C:
		logger.Warn("embedded PostgreSQL ignored SIGQUIT, sending SIGKILL", "pid", pm.pid)
		_ = syscall.Kill(-pm.pid, syscall.SIGKILL)
		t2 := time.NewTimer(10 * time.Second)
		defer t2.Stop()
		select {
		case <-pm.done:
		case <-t2.C:
			return &Error{
				Reason: fmt.Sprintf("PostgreSQL pid %d did not exit even after SIGKILL", pm.pid),
				Fix:    fmt.Sprintf("check what pid %d is stuck on (e.g. a hung file system) before starting aigate again", pm.pid),
			}
		}
	}
	// The postmaster normally takes its backends down with it; after an
	// escalation make sure nothing of its process group survives.
	_ = syscall.Kill(-pm.pid, syscall.SIGKILL)
	return &Error{
		Reason: "PostgreSQL did not finish its fast shutdown before the deadline and was stopped with SIGQUIT",
		Fix:    "nothing committed is lost and the next start runs crash recovery; give Stop a longer deadline to avoid this",
		Err:    ctx.Err(),
	}
}
