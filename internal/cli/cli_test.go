package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/internal/testlog"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/cli"
	"github.com/aigate/aigate/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// waitFor returns the first JSON log line with msg.
func waitFor(t *testing.T, logs *testlog.Buffer, msg string, exited <-chan struct{}) map[string]any {
	t.Helper()
	if !logs.WaitFor(`"msg":"`+msg+`"`, time.Minute, exited) {
		t.Fatalf("no %q log line:\n%s", msg, logs.String())
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			return rec
		}
	}
	t.Fatalf("log line %q is not JSON", msg)
	return nil
}

func env(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

// TestServerInProcess runs `aigate server` through the CLI in-process (so the
// race detector sees the startup and shutdown code) and stops it by
// cancelling its context, as SIGTERM does.
func TestServerInProcess(t *testing.T) {
	t.Parallel()
	url := testdb.EmptyURL(t)
	logs := &testlog.Buffer{}
	var stdout bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		done <- cli.Main(ctx, []string{"server", "--http-address", "127.0.0.1:0", "--metrics-address", "127.0.0.1:0", "--log-format", "json"},
			cli.IO{Stdout: &stdout, Stderr: logs, Getenv: env(map[string]string{"AIGATE_POSTGRES_URL": url, "AIGATE_ENCRYPTION_KEYS": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="})})
	}()
	addr := waitFor(t, logs, "aigate ready", exited)["address"].(string)
	resp, err := http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("X-Request-Id"))

	// The admin API is mounted: the first owner can be created.
	resp, err = http.Post("http://"+addr+"/api/v1/users/first", "application/json",
		strings.NewReader(`{"email":"o@example.com","name":"O","password":"long enough pw"}`))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	cancel()
	require.Equal(t, 0, <-done, logs.String())
	require.Contains(t, logs.String(), `"msg":"stopped"`)
	require.Contains(t, logs.String(), `"part":"http"`)
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
