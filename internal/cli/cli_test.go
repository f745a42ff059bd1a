package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/cli"
	"github.com/aigate/aigate/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// logSink collects JSON log lines and wakes waiters on each write.
type logSink struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func newLogSink() *logSink { return &logSink{wrote: make(chan struct{}, 1)} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor returns the first JSON log line with msg.
func (s *logSink) waitFor(t *testing.T, msg string, done <-chan int) map[string]any {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		for _, line := range strings.Split(s.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
				return rec
			}
		}
		select {
		case <-s.wrote:
		case code := <-done:
			t.Fatalf("command exited with %d before logging %q:\n%s", code, msg, s.String())
		case <-timeout:
			t.Fatalf("no %q log line:\n%s", msg, s.String())
		}
	}
}

func env(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

// TestServerInProcess runs `aigate server` through the CLI in-process (so the
// race detector sees the startup and shutdown code) and stops it by
// cancelling its context, as SIGTERM does.
func TestServerInProcess(t *testing.T) {
	t.Parallel()
	url := testdb.EmptyURL(t)
	logs := newLogSink()
	var stdout bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"server", "--http-address", "127.0.0.1:0", "--log-format", "json"},
			cli.IO{Stdout: &stdout, Stderr: logs, Getenv: env(map[string]string{"AIGATE_POSTGRES_URL": url})})
	}()
	addr := logs.waitFor(t, "aigate ready", done)["address"].(string)
	resp, err := http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("X-Request-Id"))

	cancel()
	require.Equal(t, 0, <-done, logs.String())
	require.Contains(t, logs.String(), `"msg":"http server stopped"`)
	require.NotContains(t, logs.String(), `"level":"ERROR"`)
}

func TestMigrateInProcess(t *testing.T) {
	t.Parallel()
	url := testdb.EmptyURL(t)
	var out, errOut bytes.Buffer
	io := cli.IO{Stdout: &out, Stderr: &errOut, Getenv: env(nil)}
	ctx := context.Background()

	require.Equal(t, 0, cli.Main(ctx, []string{"migrate", "status", "--postgres-url", url}, io), errOut.String())
	require.Contains(t, out.String(), "pending")

	out.Reset()
	require.Equal(t, 0, cli.Main(ctx, []string{"migrate", "up", "--postgres-url", url}, io), errOut.String())
	require.Contains(t, out.String(), "applied 0001_initial.sql")

	out.Reset()
	require.Equal(t, 0, cli.Main(ctx, []string{"migrate", "status", "--postgres-url", url}, io), errOut.String())
	require.Contains(t, out.String(), "applied")
	require.NotContains(t, out.String(), "pending")
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		args []string
		code int
		want string
	}{
		"no command":      {nil, 1, "a command is required"},
		"unknown command": {[]string{"serve"}, 1, `unknown command "serve"`},
		"help":            {[]string{"--help"}, 0, "Commands:"},
		"migrate help":    {[]string{"migrate", "--help"}, 0, "status"},
		"migrate up help": {[]string{"migrate", "up", "--help"}, 0, "AIGATE_POSTGRES_URL"},
		"stray argument":  {[]string{"server", "now"}, 1, "takes no arguments"},
		"version":         {[]string{"version"}, 0, "aigate "},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			code := cli.Main(context.Background(), tc.args, cli.IO{Stdout: &out, Stderr: &out, Getenv: env(nil)})
			require.Equal(t, tc.code, code, out.String())
			require.Contains(t, out.String(), tc.want)
		})
	}
}
