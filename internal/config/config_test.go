package config_test

import (
	"bytes"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aigate/aigate/internal/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var update = flag.Bool("update", false, "rewrite golden files and docs/configuration.md")

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func serverSet(cfg *config.Server) *config.Set {
	return &config.Set{Command: "aigate server", Usage: "[flags]", Summary: "Run the server.", Options: config.ServerOptions(cfg)}
}

func TestPrecedenceFlagEnvDefault(t *testing.T) {
	t.Parallel()
	var cfg config.Server
	_, err := serverSet(&cfg).Parse(nil, env(nil), nil)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", cfg.HTTPAddress)
	require.Equal(t, slog.LevelInfo, cfg.Level)
	require.Equal(t, 30*time.Second, cfg.PostgresConnectTimeout)
	require.Empty(t, cfg.PostgresURL)

	cfg = config.Server{}
	_, err = serverSet(&cfg).Parse(nil, env(map[string]string{"AIGATE_HTTP_ADDRESS": "127.0.0.1:9000", "AIGATE_LOG_LEVEL": "debug"}), nil)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9000", cfg.HTTPAddress)
	require.Equal(t, slog.LevelDebug, cfg.Level)

	cfg = config.Server{}
	set := serverSet(&cfg)
	_, err = set.Parse([]string{"--http-address", "127.0.0.1:9100", "--data-dir=rel"},
		env(map[string]string{"AIGATE_HTTP_ADDRESS": "127.0.0.1:9000"}), nil)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9100", cfg.HTTPAddress, "a flag beats the environment")
	require.True(t, filepath.IsAbs(cfg.DataDir), "data dir is made absolute")
	require.Equal(t, "flag", set.Options[0].Source())
}

func TestInvalidValuesNameFlagEnvAndForm(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-very-secret"
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want []string
	}{
		"log level flag":   {[]string{"--log-level", "loud"}, nil, []string{`"loud"`, "--log-level (AIGATE_LOG_LEVEL)", "given by --log-level", "one of debug, info, warn, error"}},
		"log format env":   {nil, map[string]string{"AIGATE_LOG_FORMAT": "xml"}, []string{"--log-format (AIGATE_LOG_FORMAT)", "given by AIGATE_LOG_FORMAT", "text or json"}},
		"address":          {[]string{"--http-address", "8080"}, nil, []string{"--http-address (AIGATE_HTTP_ADDRESS)", "host:port"}},
		"port range":       {[]string{"--http-address", "127.0.0.1:70000"}, nil, []string{"port must be a number from 0 to 65535"}},
		"duration":         {nil, map[string]string{"AIGATE_POSTGRES_CONNECT_TIMEOUT": "soon"}, []string{"AIGATE_POSTGRES_CONNECT_TIMEOUT", "not a duration", "30s"}},
		"negative timeout": {[]string{"--shutdown-timeout", "-1s"}, nil, []string{"must be positive"}},
		"secret url":       {[]string{"--postgres-url", "mysql://u:" + secret + "@h/db"}, nil, []string{"--postgres-url (AIGATE_POSTGRES_URL)", "value hidden", "postgres://"}},
		"unknown flag":     {[]string{"--colour"}, nil, []string{"colour", "aigate server --help"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var cfg config.Server
			_, err := serverSet(&cfg).Parse(tc.args, env(tc.env), nil)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), secret)
		})
	}
}

// The upstream timeouts, the SSE event bound and the pubsub watchdog have
// defaults that never cut a request a client would have waited for, and
// sizes take binary units.
func TestTimeoutsAndLimits(t *testing.T) {
	t.Parallel()
	var cfg config.Server
	_, err := serverSet(&cfg).Parse(nil, env(nil), nil)
	require.NoError(t, err)
	require.Equal(t, 10*time.Minute, cfg.UpstreamResponseHeaderTimeout)
	require.Equal(t, 5*time.Minute, cfg.UpstreamIdleTimeout)
	require.Equal(t, 16<<20, cfg.MaxSSEEventSize)
	require.Equal(t, 15*time.Second, cfg.PubSubWatchdogInterval)
	require.Equal(t, 5*time.Second, cfg.PubSubWatchdogTimeout)

	for v, want := range map[string]int{"65536": 64 << 10, "64KiB": 64 << 10, "1MiB": 1 << 20, "2 MiB": 2 << 20, "131072B": 128 << 10, "1024MiB": 1 << 30} {
		cfg = config.Server{}
		_, err := serverSet(&cfg).Parse([]string{"--max-sse-event-size", v}, env(nil), nil)
		require.NoError(t, err, v)
		require.Equal(t, want, cfg.MaxSSEEventSize, v)
	}
	for v, want := range map[string]string{
		"16MB":                   "not a size",
		"-1MiB":                  "not a size",
		"0":                      "not a size",
		"1KiB":                   "must be at least 64KiB",
		"2048MiB":                "must be at most 1024MiB",
		"9999999999999999999KiB": "not a size",
		"9999999999999KiB":       "must be at most 1024MiB",
	} {
		_, err := serverSet(&config.Server{}).Parse(nil, env(map[string]string{"AIGATE_MAX_SSE_EVENT_SIZE": v}), nil)
		require.Error(t, err, v)
		require.Contains(t, err.Error(), want, v)
		require.Contains(t, err.Error(), "--max-sse-event-size (AIGATE_MAX_SSE_EVENT_SIZE)", v)
		require.Contains(t, err.Error(), "such as 16MiB", v)
	}
	_, err = serverSet(&config.Server{}).Parse([]string{"--upstream-idle-timeout", "0s"}, env(nil), nil)
	require.ErrorContains(t, err, "must be positive")
}

func TestEmptyEnvMeansUnset(t *testing.T) {
	t.Parallel()
	var cfg config.Server
	_, err := serverSet(&cfg).Parse(nil, env(map[string]string{"AIGATE_HTTP_ADDRESS": ""}), nil)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", cfg.HTTPAddress)
}

// TestHelpGolden pins the server's --help text; run with -update after a
// deliberate change.
func TestHelpGolden(t *testing.T) {
	t.Parallel()
	var cfg config.Server
	var out bytes.Buffer
	_, err := serverSet(&cfg).Parse([]string{"--help"}, env(nil), &out)
	require.ErrorIs(t, err, config.ErrHelp)
	golden := filepath.Join("testdata", "server-help.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, out.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), out.String())
	for _, o := range config.ServerOptions(&cfg) {
		require.Contains(t, out.String(), "--"+o.Flag)
		require.Contains(t, out.String(), o.Env)
	}
}

// TestConfigurationDoc keeps docs/configuration.md's option table generated
// from the option table itself.
func TestConfigurationDoc(t *testing.T) {
	t.Parallel()
	const begin, end = "<!-- BEGIN server options (generated: go test ./internal/config -update) -->\n", "<!-- END server options -->"
	path := filepath.Join("..", "..", "docs", "configuration.md")
	doc, err := os.ReadFile(path)
	require.NoError(t, err)
	var cfg config.Server
	table := serverSet(&cfg).Markdown()
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	require.True(t, i >= 0 && j > i, "docs/configuration.md must hold the generated table between the markers")
	if *update {
		s = s[:i+len(begin)] + table + s[j:]
		require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
		return
	}
	require.Equal(t, table, s[i+len(begin):j], "docs/configuration.md is out of date: go test ./internal/config -update")
}

// TestSwitchesAndInterspersedFlags checks Bool options (no value needed) and
// flags given after positional arguments, as `aigate tokens create ci --user
// me` does; after "--" everything is positional.
func TestSwitchesAndInterspersedFlags(t *testing.T) {
	t.Parallel()
	var (
		on   bool
		user string
	)
	newSet := func() *config.Set {
		return &config.Set{Command: "aigate test", Options: []*config.Option{
			{Flag: "on", Bool: true, Default: "false", Description: "A switch.", Set: func(v string) error {
				b, err := strconv.ParseBool(v)
				on = b
				return err
			}},
			{Flag: "user", Arg: "USER", Default: "me", Description: "A user.", Set: func(v string) error { user = v; return nil }},
		}}
	}
	for name, tc := range map[string]struct {
		args []string
		on   bool
		user string
		rest []string
	}{
		"defaults":          {nil, false, "me", nil},
		"switch alone":      {[]string{"--on", "a"}, true, "me", []string{"a"}},
		"switch false":      {[]string{"--on=false"}, false, "me", nil},
		"flags after args":  {[]string{"a", "--user", "x", "b", "--on"}, true, "x", []string{"a", "b"}},
		"double dash stops": {[]string{"a", "--", "--user", "x"}, false, "me", []string{"a", "--user", "x"}},
	} {
		t.Run(name, func(t *testing.T) {
			rest, err := newSet().Parse(tc.args, env(nil), nil)
			require.NoError(t, err)
			require.Equal(t, tc.rest, rest)
			require.Equal(t, tc.on, on)
			require.Equal(t, tc.user, user)
		})
	}
	var out bytes.Buffer
	_, err := newSet().Parse([]string{"a", "--help"}, env(nil), &out)
	require.ErrorIs(t, err, config.ErrHelp)
	require.Contains(t, out.String(), "  --on\n")
	require.Contains(t, out.String(), "  --user USER\n")
}

// The network edge's options: metrics off with "" or off (off also from the
// environment, where "" means unset), TLS paths made absolute, trusted
// proxies as CIDRs or addresses, and an invalid entry named.
func TestEdgeOptions(t *testing.T) {
	t.Parallel()
	var cfg config.Server
	_, err := serverSet(&cfg).Parse(nil, env(nil), nil)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9464", cfg.MetricsAddress)
	require.Empty(t, cfg.TrustedProxies)
	require.Empty(t, cfg.TLSCertFile)
	require.Equal(t, 10*time.Second, cfg.HTTPHeaderTimeout)
	require.Equal(t, 2*time.Minute, cfg.HTTPBodyTimeout)
	require.Equal(t, 2*time.Minute, cfg.HTTPIdleTimeout)

	cfg = config.Server{}
	_, err = serverSet(&cfg).Parse([]string{"--metrics-address", "", "--tls-cert-file", "c.pem", "--tls-key-file", "k.pem",
		"--trusted-proxies", "10.0.0.0/8, 192.168.1.7,2001:db8::/32,10.1.2.3/16", "--http-body-timeout", "45s"}, env(nil), nil)
	require.NoError(t, err)
	require.Empty(t, cfg.MetricsAddress)
	require.True(t, filepath.IsAbs(cfg.TLSCertFile) && strings.HasSuffix(cfg.TLSCertFile, "c.pem"), cfg.TLSCertFile)
	require.True(t, filepath.IsAbs(cfg.TLSKeyFile))
	var got []string
	for _, p := range cfg.TrustedProxies {
		got = append(got, p.String())
	}
	require.Equal(t, []string{"10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32", "10.1.0.0/16"}, got)
	require.Equal(t, 45*time.Second, cfg.HTTPBodyTimeout)

	cfg = config.Server{}
	_, err = serverSet(&cfg).Parse(nil, env(map[string]string{"AIGATE_METRICS_ADDRESS": "off", "AIGATE_TRUSTED_PROXIES": "127.0.0.1/32"}), nil)
	require.NoError(t, err)
	require.Empty(t, cfg.MetricsAddress)
	require.Len(t, cfg.TrustedProxies, 1)

	_, err = serverSet(&config.Server{}).Parse([]string{"--trusted-proxies", "10.0.0.0/8,10.0.0.0/33"}, env(nil), nil)
	require.ErrorContains(t, err, `entry 2, "10.0.0.0/33", is not a CIDR`)
	require.ErrorContains(t, err, "--trusted-proxies (AIGATE_TRUSTED_PROXIES)")
	_, err = serverSet(&config.Server{}).Parse(nil, env(map[string]string{"AIGATE_TRUSTED_PROXIES": "lb.internal"}), nil)
	require.ErrorContains(t, err, `entry 1, "lb.internal", is not a CIDR`)
	_, err = serverSet(&config.Server{}).Parse([]string{"--metrics-address", "9464"}, env(nil), nil)
	require.ErrorContains(t, err, "--metrics-address (AIGATE_METRICS_ADDRESS)")
	_, err = serverSet(&config.Server{}).Parse([]string{"--http-idle-timeout", "0s"}, env(nil), nil)
	require.ErrorContains(t, err, "must be positive")
}

// The recorder's byte budget defaults to 64 MiB and takes binary units up to
// GiB.
func TestRecordQueueBytes(t *testing.T) {
	t.Parallel()
	var cfg config.Server
	_, err := serverSet(&cfg).Parse(nil, env(nil), nil)
	require.NoError(t, err)
	require.Equal(t, 64<<20, cfg.RecordQueueBytes)
	for v, want := range map[string]int{"1MiB": 1 << 20, "256MiB": 256 << 20, "2GiB": 2 << 30, "1048576": 1 << 20} {
		cfg = config.Server{}
		_, err := serverSet(&cfg).Parse([]string{"--record-queue-bytes", v}, env(nil), nil)
		require.NoError(t, err, v)
		require.Equal(t, want, cfg.RecordQueueBytes, v)
	}
	for v, want := range map[string]string{"512KiB": "must be at least 1024KiB", "65GiB": "must be at most 65536MiB", "64MB": "not a size"} {
		_, err := serverSet(&config.Server{}).Parse(nil, env(map[string]string{"AIGATE_RECORD_QUEUE_BYTES": v}), nil)
		require.Error(t, err, v)
		require.Contains(t, err.Error(), want, v)
		require.Contains(t, err.Error(), "--record-queue-bytes (AIGATE_RECORD_QUEUE_BYTES)", v)
		require.Contains(t, err.Error(), "such as 64MiB", v)
	}
}
