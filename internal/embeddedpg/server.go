package embeddedpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Options configures Start.
type Options struct {
	// DataDir is aigate's data dir. The cluster lives in DataDir/postgres; it
	// is created on first run and reused afterwards.
	DataDir string
	// BinDir optionally names the directory holding postgres and initdb;
	// empty means search (see FindBinDir).
	BinDir string
	// Settings are extra server settings, passed as -c name=value. They are
	// applied last, so they override the package's own choices.
	Settings map[string]string
	// NoSync passes --no-sync to initdb. Only for throwaway clusters.
	NoSync bool
	// LoopbackTCP makes the server listen on a random 127.0.0.1 port with
	// password authentication, as it does when the socket path is too long,
	// instead of on the trusted unix socket. Tests use it to reach a real
	// server the way an external one is reached: over TCP, with a password.
	LoopbackTCP bool
	// Logger receives the server's log lines (routine ones at debug level)
	// and lifecycle events. Nil discards everything.
	Logger *slog.Logger
}

// Superuser is the role initdb creates and ConnString connects as.
const Superuser = "aigate"

// unixPort is fixed because the socket directory is private to one cluster;
// the port only names the socket file.
const unixPort = 5432

// Server is a running embedded PostgreSQL cluster. It must be stopped with
// Stop, which also releases the data dir for the next Start.
type Server struct {
	logger     *slog.Logger
	dataDir    string
	clusterDir string
	socketDir  string
	// tcpPort is non-zero when the socket path was too long and the server
	// listens on 127.0.0.1 instead; then password is needed to log in.
	tcpPort  int
	password string
	pm       *postmaster
	release  func() // drops the data dir lock

	stopMu  sync.Mutex
	stopped bool
	stopErr error
}

// ConnString returns a keyword/value connection string for the superuser
// and the given database. Treat it as a secret: in TCP mode it carries the
// password.
func (s *Server) ConnString(database string) string {
	var b strings.Builder
	if s.tcpPort != 0 {
		fmt.Fprintf(&b, "host=127.0.0.1 port=%d password=%s", s.tcpPort, quoteConnValue(s.password))
	} else {
		fmt.Fprintf(&b, "host=%s port=%d", quoteConnValue(s.socketDir), unixPort)
	}
	fmt.Fprintf(&b, " user=%s dbname=%s sslmode=disable", Superuser, quoteConnValue(database))
	return b.String()
}

// PID returns the process id of the postmaster.
func (s *Server) PID() int { return s.pm.pid }

// Done is closed when the postmaster has exited, whether through Stop or
// because it died; aigate uses it to notice a dead database.
func (s *Server) Done() <-chan struct{} { return s.pm.done }

// quoteConnValue quotes for libpq's keyword/value syntax, in which paths with
// spaces and arbitrary database names would otherwise break the string.
func quoteConnValue(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `\'`)
	return "'" + v + "'"
}

// EnsureDatabase creates the database if it does not exist. Concurrent
// callers may race; losing the race counts as success.
func (s *Server) EnsureDatabase(ctx context.Context, name string) error {
	if name == "" {
		return &Error{Reason: "empty database name", Fix: "pass a database name"}
	}
	conn, err := pgx.Connect(ctx, s.ConnString("postgres"))
	if err != nil {
		return failf(err, "check the embedded PostgreSQL log lines; the server may have stopped",
			"cannot connect to the embedded server to create database %q", name)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()

	exists := func() (bool, error) {
		var one int
		err := conn.QueryRow(ctx, "SELECT 1 FROM pg_database WHERE datname = $1", name).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	}
	if ok, err := exists(); err != nil {
		return failf(err, "check the embedded PostgreSQL log lines", "cannot look up database %q", name)
	} else if ok {
		return nil
	}

	for attempt := 0; ; attempt++ {
		_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		if err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		isPg := errors.As(err, &pgErr)
		if isPg && pgErr.Code == "42P04" { // duplicate_database
			return nil
		}
		// Two concurrent CREATE DATABASE for the same name can also surface as
		// a unique violation on pg_database; whatever the code, if the
		// database is there now someone else created it.
		if ok, _ := exists(); ok {
			return nil
		}
		// object_in_use: someone is connected to template1, which CREATE
		// DATABASE copies. That is transient, so wait a little.
		if isPg && pgErr.Code == "55006" && attempt < 50 {
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return failf(ctx.Err(), "retry", "creating database %q", name)
			case <-t.C:
			}
			continue
		}
		return failf(err, "check the embedded PostgreSQL log lines", "cannot create database %q", name)
	}
}

// postmaster is one launched server process.
type postmaster struct {
	pid      int
	done     chan struct{} // closed after the process was reaped
	waitErr  error         // valid once done is closed
	out      *lineLog
	ready    atomic.Bool // accepted a connection; from then on an exit we did not ask for is a crash
	stopping atomic.Bool // set before we signal it, so its exit is not reported as a crash
}

func (p *postmaster) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// lineLog turns a child's output into one slog record per line and keeps the
// last lines so that a failed start can show them in its error.
type lineLog struct {
	logger *slog.Logger
	source string

	mu      sync.Mutex
	partial []byte
	tail    []string
}

const tailLines = 30

func newLineLog(logger *slog.Logger, source string) *lineLog {
	return &lineLog{logger: logger, source: source}
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.emit(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

// pgLineRE matches the log_line_prefix we set ("%p ") followed by the
// severity, e.g. "1234 LOG:  database system is ready to accept connections".
var pgLineRE = regexp.MustCompile(`^(\d+) ([A-Z0-9]+):\s+(.*)$`)

func (l *lineLog) emit(line string) {
	line = strings.TrimRight(line, "\r")
	if strings.TrimSpace(line) == "" {
		return
	}
	l.tail = append(l.tail, line)
	if len(l.tail) > tailLines {
		l.tail = l.tail[len(l.tail)-tailLines:]
	}
	m := pgLineRE.FindStringSubmatch(line)
	if m == nil {
		l.logger.Debug(line, "source", l.source)
		return
	}
	pid, _ := strconv.Atoi(m[1])
	// Most of what postgres says is routine, including the FATALs our own
	// readiness probes cause while it starts up, so only PANIC and WARNING
	// are raised above debug.
	level := slog.LevelDebug
	switch m[2] {
	case "PANIC":
		level = slog.LevelError
	case "WARNING":
		level = slog.LevelWarn
	}
	l.logger.Log(context.Background(), level, m[3], "source", l.source, "pg_pid", pid, "pg_severity", m[2])
}

// Tail returns the last lines written, including an unterminated one.
func (l *lineLog) Tail() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]string(nil), l.tail...)
	if s := strings.TrimSpace(string(l.partial)); s != "" {
		out = append(out, s)
	}
	return out
}

// formatOutput indents a child's last output lines for inclusion in an
// error message.
func formatOutput(lines []string) string {
	if len(lines) == 0 {
		return " (no output)"
	}
	return "; output:\n    " + strings.Join(lines, "\n    ") + "\n"
}
