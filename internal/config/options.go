package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aigate/aigate/internal/encryption"
)

// Database says where aigate's PostgreSQL is: an external server, or the
// embedded one kept in the data dir.
type Database struct {
	PostgresURL            string
	PostgresConnectTimeout time.Duration
	DataDir                string
	EmbeddedPostgresBinDir string
}

// Logging configures the process logger.
type Logging struct {
	Level  slog.Level
	Format string // "text" or "json"
}

// Server is everything `aigate server` is configured with.
type Server struct {
	HTTPAddress     string
	ShutdownTimeout time.Duration
	// MetricsAddress is the private /metrics listener; "" turns it off.
	MetricsAddress string
	// TLSCertFile and TLSKeyFile, both or neither, serve HTTPS.
	TLSCertFile, TLSKeyFile string
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// HTTPHeaderTimeout, HTTPBodyTimeout and HTTPIdleTimeout bound reading
	// a request's headers, reading its whole body, and an idle keep-alive
	// connection.
	HTTPHeaderTimeout, HTTPBodyTimeout, HTTPIdleTimeout time.Duration
	// EncryptionKeys is the raw key list; the encryption package parses it.
	EncryptionKeys string
	// RecordPrompts stores each intercepted request body with its
	// interception.
	RecordPrompts bool
	// RecordQueueBytes bounds the prompt bytes waiting to be recorded.
	RecordQueueBytes int
	// ProviderReloadInterval is the gateway's backstop reload period.
	ProviderReloadInterval time.Duration
	// UsageFlushInterval is how often a replica writes its usage counters.
	UsageFlushInterval time.Duration
	// PolicyLeaseTTL is how long a replica's lease of policy allowance
	// outlives its last renewal.
	PolicyLeaseTTL time.Duration
	// UsageRollupInterval is the rollups' period, run at multiples of it.
	UsageRollupInterval time.Duration
	// TelemetryURL, when set, receives each usage snapshot as JSON.
	TelemetryURL string
	// InterceptionsRetention is how long interception records are kept.
	InterceptionsRetention time.Duration
	// UpstreamResponseHeaderTimeout bounds the gateway's wait for a
	// provider's response headers.
	UpstreamResponseHeaderTimeout time.Duration
	// UpstreamIdleTimeout ends a provider response silent for that long.
	UpstreamIdleTimeout time.Duration
	// MaxSSEEventSize bounds one event of a provider's stream, in bytes.
	MaxSSEEventSize int
	// PubSubWatchdogInterval and PubSubWatchdogTimeout: how often the
	// LISTEN connection checks itself, and how long it waits for the echo.
	PubSubWatchdogInterval time.Duration
	PubSubWatchdogTimeout  time.Duration
	// PostgresListenURL, when set, is the pub/sub's own connection: LISTEN
	// needs a session, which a transaction-mode pooler in front of
	// PostgresURL does not keep. "" listens over PostgresURL.
	PostgresListenURL string
	Database
	Logging
}

// ServerOptions is the option table of `aigate server`.
func ServerOptions(c *Server) []*Option {
	opts := []*Option{
		{
			Flag: "http-address", Arg: "ADDR", Env: "AIGATE_HTTP_ADDRESS", Default: "127.0.0.1:8080",
			Description: "Address the admin API, gateway and dashboard listen on.",
			Expect:      "host:port (port 0 picks a free port)",
			Set:         hostPort(&c.HTTPAddress),
		},
		{
			Flag: "metrics-address", Arg: "ADDR", Env: "AIGATE_METRICS_ADDRESS", Default: "127.0.0.1:9464",
			Description: "Address of the private listener that serves Prometheus metrics on /metrics (plain HTTP, no authentication: keep it off the public network); empty or off turns it off (an empty environment variable counts as unset, so use off there). The public listener never serves /metrics.",
			Expect:      "host:port (port 0 picks a free port), empty, or off",
			Set: func(v string) error {
				if v == "" || v == "off" {
					c.MetricsAddress = ""
					return nil
				}
				return hostPort(&c.MetricsAddress)(v)
			},
		},
		{
			Flag: "tls-cert-file", Arg: "FILE", Env: "AIGATE_TLS_CERT_FILE", Default: "",
			DefaultText: "empty: plain HTTP",
			Description: "PEM certificate chain to serve HTTPS (HTTP/2 and HTTP/1.1) with; needs --tls-key-file. Re-read when the file changes, so a renewed certificate needs no restart.",
			Expect:      "a file path",
			Set:         filePath(&c.TLSCertFile),
		},
		{
			Flag: "tls-key-file", Arg: "FILE", Env: "AIGATE_TLS_KEY_FILE", Default: "",
			DefaultText: "empty: plain HTTP",
			Description: "PEM private key of --tls-cert-file. Re-read with the certificate.",
			Expect:      "a file path",
			Set:         filePath(&c.TLSKeyFile),
		},
		{
			Flag: "trusted-proxies", Arg: "CIDRS", Env: "AIGATE_TRUSTED_PROXIES", Default: "",
			DefaultText: "empty: the client IP is the connection's peer",
			Description: "Load balancers and proxies whose X-Forwarded-For, X-Forwarded-Host and X-Forwarded-Proto headers are believed. The client IP (audit entries, logs, the login throttle) is then the right-most X-Forwarded-For address that is not itself a trusted proxy, and the server's public URL (the gateway URLs the API gives) takes its host and https from the other two; from any other peer the headers are ignored.",
			Expect:      "comma-separated CIDRs or IP addresses, such as 10.0.0.0/8,192.168.1.7",
			Set:         prefixes(&c.TrustedProxies),
		},
		{
			Flag: "http-header-timeout", Arg: "DURATION", Env: "AIGATE_HTTP_HEADER_TIMEOUT", Default: "10s",
			Description: "How long a client may take to send a request's headers.",
			Expect:      "a duration such as 10s",
			Set:         duration(&c.HTTPHeaderTimeout),
		},
		{
			Flag: "http-body-timeout", Arg: "DURATION", Env: "AIGATE_HTTP_BODY_TIMEOUT", Default: "2m",
			Description: "How long a client may take to send a whole request body, counted from the end of its headers; a slower body is refused with 408 and is never forwarded. Responses (streams included) are not limited by it.",
			Expect:      "a duration such as 30s or 2m",
			Set:         duration(&c.HTTPBodyTimeout),
		},
		{
			Flag: "http-idle-timeout", Arg: "DURATION", Env: "AIGATE_HTTP_IDLE_TIMEOUT", Default: "2m",
			Description: "How long an idle keep-alive connection is kept open. Keep it above the load balancer's own idle timeout.",
			Expect:      "a duration such as 60s or 2m",
			Set:         duration(&c.HTTPIdleTimeout),
		},
		{
			Flag: "shutdown-timeout", Arg: "DURATION", Env: "AIGATE_SHUTDOWN_TIMEOUT", Default: "30s",
			Description: "How long a stopping server lets in-flight requests and streams finish.",
			Expect:      "a duration such as 30s or 2m",
			Set:         duration(&c.ShutdownTimeout),
		},
		EncryptionKeysOption(&c.EncryptionKeys),
		{
			Flag: "record-prompts", Env: "AIGATE_RECORD_PROMPTS", Bool: true, Default: "false",
			Description: "Store each gateway request body (the prompt) with its interception record. Prompts hold source code and secrets: leave off unless policy requires it.",
			Expect:      "true or false",
			Set:         boolean(&c.RecordPrompts),
		},
		{
			Flag: "record-queue-bytes", Env: "AIGATE_RECORD_QUEUE_BYTES", Arg: "SIZE", Default: "64MiB",
			Description: "Most prompt bytes (--record-prompts) held in memory while their interception records wait to be written. Beyond it a record is written without its prompt, counted in aigate_interceptions_prompts_dropped_total; its usage is kept. Bounds the recorder's memory when the database is slow.",
			Expect:      "a size of at least 1MiB, such as 64MiB or 1GiB (units B, KiB, MiB, GiB)",
			Set:         byteSize(&c.RecordQueueBytes, 1<<20, 64<<30),
		},
		{
			Flag: "provider-reload-interval", Env: "AIGATE_PROVIDER_RELOAD_INTERVAL", Arg: "DURATION", Default: "1m",
			Description: "Backstop period for reloading AI providers. Changes apply within a second through notifications; this bounds staleness if one is ever lost.",
			Expect:      "a duration such as 30s or 1m",
			Set:         duration(&c.ProviderReloadInterval),
		},
		{
			Flag: "usage-flush-interval", Env: "AIGATE_USAGE_FLUSH_INTERVAL", Arg: "DURATION", Default: "60s",
			Description: "How often each replica writes its in-memory usage counters to the database (and once more at shutdown).",
			Expect:      "a duration such as 30s or 1m",
			Set:         duration(&c.UsageFlushInterval),
		},
		{
			Flag: "policy-lease-ttl", Env: "AIGATE_POLICY_LEASE_TTL", Arg: "DURATION", Default: "30s",
			Description: "How long the policy allowance a replica leases (budgets, rate limits, concurrency caps) outlives the replica's last renewal; a replica renews every third of it. When a replica dies, what it held returns to the other replicas after at most this long.",
			Expect:      "a duration of at least 3s, such as 30s",
			Set:         atLeast(&c.PolicyLeaseTTL, 3*time.Second),
		},
		{
			Flag: "usage-rollup-interval", Env: "AIGATE_USAGE_ROLLUP_INTERVAL", Arg: "DURATION", Default: "5m",
			Description: "Period of the hourly usage rollups, run at wall-clock multiples of it (5m: :00, :05, ...) by one replica per tick. It must divide a day (such as 1m, 5m, 15m, 1h).",
			Expect:      "a duration such as 1m or 5m",
			Set:         duration(&c.UsageRollupInterval),
		},
		{
			Flag: "telemetry-url", Env: "AIGATE_TELEMETRY_URL", Arg: "URL", Default: "",
			DefaultText: "empty: usage snapshots are kept in the database only",
			Description: "HTTP(S) endpoint that receives each usage snapshot as a JSON POST. Off unless set.",
			Expect:      "an absolute http or https URL",
			Secret:      true,
			Set:         httpURL(&c.TelemetryURL),
		},
		{
			Flag: "interceptions-retention", Env: "AIGATE_INTERCEPTIONS_RETENTION", Arg: "DURATION", Default: "90d",
			Description: "How long interception records (one per gateway request) are kept; older ones are pruned once a day. Usage rollups are kept.",
			Expect:      "a number of days such as 90d, or a duration such as 720h",
			Set:         days(&c.InterceptionsRetention),
		},
		{
			Flag: "upstream-response-header-timeout", Env: "AIGATE_UPSTREAM_RESPONSE_HEADER_TIMEOUT", Arg: "DURATION", Default: "10m",
			Description: "How long the gateway waits for a provider to start answering (its response headers) before the client gets a 504. A non-streamed completion answers only once it is complete, so keep this above the longest one; the OpenAI and Anthropic SDKs wait 10m.",
			Expect:      "a duration such as 10m",
			Set:         duration(&c.UpstreamResponseHeaderTimeout),
		},
		{
			Flag: "upstream-idle-timeout", Env: "AIGATE_UPSTREAM_IDLE_TIMEOUT", Arg: "DURATION", Default: "5m",
			Description: "How long a provider's response (a stream) may send nothing before the gateway ends it with the format's error event and records upstream_error. Reasoning models can be silent for minutes; Codex itself waits 5m.",
			Expect:      "a duration such as 5m",
			Set:         duration(&c.UpstreamIdleTimeout),
		},
		{
			Flag: "max-sse-event-size", Env: "AIGATE_MAX_SSE_EVENT_SIZE", Arg: "SIZE", Default: "16MiB",
			Description: "Largest single event of a provider's stream the gateway holds; a larger one ends the stream with the format's error event. The largest legitimate events (a Responses stream's last ones, with generated images) are a few MiB.",
			Expect:      "a size of at least 64KiB, such as 16MiB (units B, KiB, MiB)",
			Set:         byteSize(&c.MaxSSEEventSize, 64<<10, 1<<30),
		},
		{
			Flag: "pubsub-watchdog-interval", Env: "AIGATE_PUBSUB_WATCHDOG_INTERVAL", Arg: "DURATION", Default: "15s",
			Description: "How often the change-notification (LISTEN) connection sends itself a NOTIFY to prove it is alive. A connection that silently died is found within this plus --pubsub-watchdog-timeout, instead of at the provider backstop reload.",
			Expect:      "a duration such as 15s",
			Set:         duration(&c.PubSubWatchdogInterval),
		},
		{
			Flag: "pubsub-watchdog-timeout", Env: "AIGATE_PUBSUB_WATCHDOG_TIMEOUT", Arg: "DURATION", Default: "5s",
			Description: "How long the LISTEN connection waits to hear its own NOTIFY back; then it is taken for dead, replaced, and every subscriber reloads in full.",
			Expect:      "a duration such as 5s",
			Set:         duration(&c.PubSubWatchdogTimeout),
		},
		{
			Flag: "postgres-listen-url", Arg: "URL", Env: "AIGATE_POSTGRES_LISTEN_URL", Default: "",
			DefaultText: "empty: listen over --postgres-url",
			Description: "PostgreSQL connection URL for the change notifications' one LISTEN connection, when --postgres-url goes through a transaction-mode pooler (PgBouncer): LISTEN needs a session of its own, so point this straight at the database the pooler serves. Used only with --postgres-url.",
			Expect:      "postgres://user:password@db-host:5432/database?sslmode=require",
			Secret:      true,
			Set:         postgresURL(&c.PostgresListenURL),
		},
	}
	opts = append(opts, DatabaseOptions(&c.Database)...)
	return append(opts, LoggingOptions(&c.Logging)...)
}

// EncryptionKeysOption is --encryption-keys, shared by the server and the
// commands that read or write encrypted secrets.
func EncryptionKeysOption(dst *string) *Option {
	return &Option{
		Flag: "encryption-keys", Env: "AIGATE_ENCRYPTION_KEYS", Arg: "KEYS", Default: "",
		DefaultText: "empty: with the embedded PostgreSQL, a key generated into <data-dir>/encryption.key; with --postgres-url, required",
		Description: "Comma-separated base64 AES-256 keys for secrets at rest (provider keys). The first encrypts, all decrypt. Every replica must have the same keys.",
		Secret:      true,
		Set: func(v string) error {
			if v != "" {
				if _, err := encryption.ParseKeys(v); err != nil {
					return err
				}
			}
			*dst = v
			return nil
		},
	}
}

// DatabaseOptions are shared by every command that opens the database.
func DatabaseOptions(d *Database) []*Option {
	return []*Option{
		{
			Flag: "postgres-url", Arg: "URL", Env: "AIGATE_POSTGRES_URL", Default: "",
			DefaultText: "empty: run the embedded PostgreSQL in the data dir",
			Description: "PostgreSQL connection URL of an external database.",
			Expect:      "postgres://user:password@host:5432/database?sslmode=require",
			Secret:      true,
			Set:         postgresURL(&d.PostgresURL),
		},
		{
			Flag: "postgres-connect-timeout", Arg: "DURATION", Env: "AIGATE_POSTGRES_CONNECT_TIMEOUT", Default: "30s",
			Description: "How long startup keeps retrying an unreachable database before giving up.",
			Expect:      "a duration such as 30s or 2m",
			Set:         duration(&d.PostgresConnectTimeout),
		},
		{
			Flag: "data-dir", Arg: "DIR", Env: "AIGATE_DATA_DIR", Default: DefaultDataDir(),
			DefaultText: "/var/lib/aigate as root, else $XDG_DATA_HOME/aigate or ~/.local/share/aigate",
			Description: "Directory for the embedded PostgreSQL cluster and generated files.",
			Expect:      "an absolute or relative directory path",
			Set:         dirPath(&d.DataDir),
		},
		{
			Flag: "embedded-postgres-bin-dir", Arg: "DIR", Env: "AIGATE_EMBEDDED_POSTGRES_BIN_DIR", Default: "",
			DefaultText: "empty: search pg_config --bindir, PATH and /usr/lib/postgresql/*/bin",
			Description: "Directory holding the postgres and initdb binaries for the embedded PostgreSQL.",
			Expect:      "a directory path",
			Set:         plain(&d.EmbeddedPostgresBinDir),
		},
	}
}

// LoggingOptions are shared by every long-running command.
func LoggingOptions(l *Logging) []*Option {
	return []*Option{
		{
			Flag: "log-level", Arg: "LEVEL", Env: "AIGATE_LOG_LEVEL", Default: "info",
			Description: "Least severe log level written.",
			Expect:      "one of debug, info, warn, error",
			Set: func(v string) error {
				switch strings.ToLower(v) {
				case "debug":
					l.Level = slog.LevelDebug
				case "info":
					l.Level = slog.LevelInfo
				case "warn", "warning":
					l.Level = slog.LevelWarn
				case "error":
					l.Level = slog.LevelError
				default:
					return errors.New("unknown log level")
				}
				return nil
			},
		},
		{
			Flag: "log-format", Arg: "FORMAT", Env: "AIGATE_LOG_FORMAT", Default: "text",
			Description: "Log line format: text for people, json for log pipelines.",
			Expect:      "text or json",
			Set: func(v string) error {
				if v != "text" && v != "json" {
					return errors.New("unknown log format")
				}
				l.Format = v
				return nil
			},
		},
	}
}

// DefaultDataDir is /var/lib/aigate for root (a system service) and the
// user's XDG data directory otherwise.
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/aigate"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "aigate")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "aigate")
	}
	return "aigate-data"
}

func plain(p *string) func(string) error {
	return func(v string) error { *p = v; return nil }
}

// filePath reads an optional file path, made absolute so a later chdir or a
// log line names the same file.
func filePath(p *string) func(string) error {
	return func(v string) error {
		if v == "" {
			*p = ""
			return nil
		}
		abs, err := filepath.Abs(v)
		if err != nil {
			return fmt.Errorf("cannot resolve path: %w", err)
		}
		*p = abs
		return nil
	}
}

// prefixes reads comma-separated CIDRs; a bare IP address is the prefix of
// that one address. An error names the entry that is wrong.
func prefixes(p *[]netip.Prefix) func(string) error {
	return func(v string) error {
		var out []netip.Prefix
		for i, entry := range strings.Split(v, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			if pr, err := netip.ParsePrefix(entry); err == nil {
				out = append(out, pr.Masked())
				continue
			}
			if addr, err := netip.ParseAddr(entry); err == nil && addr.Zone() == "" {
				addr = addr.Unmap()
				out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
				continue
			}
			return fmt.Errorf("entry %d, %q, is not a CIDR such as 10.0.0.0/8 or an IP address such as 10.1.2.3", i+1, entry)
		}
		*p = out
		return nil
	}
}

func dirPath(p *string) func(string) error {
	return func(v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("must not be empty")
		}
		abs, err := filepath.Abs(v)
		if err != nil {
			return fmt.Errorf("cannot resolve path: %w", err)
		}
		*p = abs
		return nil
	}
}

func duration(p *time.Duration) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("not a duration")
		}
		if d <= 0 {
			return errors.New("must be positive")
		}
		*p = d
		return nil
	}
}

// atLeast reads a duration no shorter than least.
func atLeast(p *time.Duration, least time.Duration) func(string) error {
	read := duration(p)
	return func(v string) error {
		if err := read(v); err != nil {
			return err
		}
		if *p < least {
			return fmt.Errorf("must be at least %s", least)
		}
		return nil
	}
}

// days reads a duration that may also be given in days ("90d").
func days(p *time.Duration) func(string) error {
	return func(v string) error {
		if n, ok := strings.CutSuffix(v, "d"); ok {
			d, err := strconv.Atoi(n)
			if err != nil || d <= 0 {
				return errors.New("not a positive number of days")
			}
			*p = time.Duration(d) * 24 * time.Hour
			return nil
		}
		return duration(p)(v)
	}
}

// httpURL reads an absolute http or https URL, or "".
func httpURL(p *string) func(string) error {
	return func(v string) error {
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errors.New("not an absolute http or https URL")
			}
		}
		*p = v
		return nil
	}
}

// byteSize reads a size in bytes, "16MiB" or "65536", between lo and hi.
func byteSize(p *int, lo, hi int) func(string) error {
	return func(v string) error {
		num, unit := v, 1
		for _, u := range []struct {
			suffix string
			n      int
		}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
			if n, ok := strings.CutSuffix(v, u.suffix); ok {
				num, unit = strings.TrimSpace(n), u.n
				break
			}
		}
		n, err := strconv.Atoi(num)
		if err != nil || n <= 0 {
			return errors.New("not a size")
		}
		if n > hi/unit {
			return fmt.Errorf("must be at most %dMiB", hi>>20)
		}
		if n*unit < lo {
			return fmt.Errorf("must be at least %dKiB", lo>>10)
		}
		*p = n * unit
		return nil
	}
}

func boolean(p *bool) func(string) error {
	return func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("not true or false")
		}
		*p = b
		return nil
	}
}

func hostPort(p *string) func(string) error {
	return func(v string) error {
		_, port, err := net.SplitHostPort(v)
		if err != nil {
			return errors.New("not a host:port address")
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 {
			return errors.New("port must be a number from 0 to 65535")
		}
		*p = v
		return nil
	}
}

// postgresURL checks the shape only; the driver parses it fully at connect
// time. Its errors never echo the value, which may hold a password.
func postgresURL(p *string) func(string) error {
	return func(v string) error {
		if v != "" && !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") && !strings.Contains(v, "=") {
			return errors.New("not a PostgreSQL URL")
		}
		*p = v
		return nil
	}
}
