// Command aigate-bench is the end-to-end benchmark behind `make bench-e2e`:
// aigate (the real `aigate server` binary, recording on, on a private
// PostgreSQL) against a tuned httputil.ReverseProxy, both in child processes
// so each one's CPU time and memory are its own, in front of the same mock
// upstream with no delay. The measurements are in internal/benche2e; the
// method and a real run's table are in docs/performance.md.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aigate/aigate/internal/benche2e"
	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/embeddedpg"
	"github.com/aigate/aigate/internal/llmmock"
)

// upstreamKey is the provider key both proxies send the mock.
const upstreamKey = "sk-bench-upstream-key"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "aigate-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("aigate-bench", flag.ContinueOnError)
	aigateBin := fs.String("aigate", "", "the aigate binary to measure (go build -o bin/aigate ./cmd/aigate)")
	rounds := fs.Int("rounds", 2, "how often each measurement is repeated, the proxies taking turns")
	seconds := fs.Float64("seconds", 3, "length of each latency, throughput and streaming measurement, in seconds")
	slow := fs.String("slow-streams", "1000,5000", "comma-separated counts of concurrent slow streams to measure memory with; empty for none")
	proxyChild := fs.String("proxy-child", "", "internal: run the bare reverse proxy to this upstream URL")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	raiseFileLimit()
	if *proxyChild != "" {
		return runProxy(*proxyChild)
	}
	if *aigateBin == "" {
		return errors.New("-aigate is required: build the server with `go build -o bin/aigate ./cmd/aigate` and pass -aigate bin/aigate (or run `make bench-e2e`)")
	}
	var slowCounts []int
	for s := range strings.SplitSeq(*slow, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("-slow-streams %q: %q is not a positive count; give counts such as 1000,5000", *slow, s)
		}
		slowCounts = append(slowCounts, n)
	}
	if *rounds < 1 || *seconds <= 0 {
		return errors.New("-rounds must be at least 1 and -seconds positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return bench(ctx, *aigateBin, *rounds, *seconds, slowCounts)
}

// raiseFileLimit lifts the soft open-file limit to the hard one: thousands
// of streams hold a client, a proxy and an upstream socket each. (The Go
// runtime does this too since 1.19; children inherit the raised limit.)
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func bench(ctx context.Context, aigateBin string, rounds int, seconds float64, slowCounts []int) error {
	started := time.Now()
	dir, err := os.MkdirTemp("", "aigate-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	// The cluster may run as the postgres user (when run as root).
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}

	fmt.Fprintln(os.Stderr, "starting PostgreSQL ...")
	pg, err := embeddedpg.Start(ctx, embeddedpg.Options{
		DataDir: dir + "/pg", NoSync: true,
		Settings: map[string]string{"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "300"},
	})
	if err != nil {
		return err
	}
	defer func() { _ = pg.Stop(context.WithoutCancel(ctx)) }()
	admin, err := pgxpool.New(ctx, pg.ConnString("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close()
	var pgVersion string
	if err := admin.QueryRow(ctx, "SHOW server_version").Scan(&pgVersion); err != nil {
		return err
	}

	mock := llmmock.NewServer(llmmock.Options{Events: 20})
	defer mock.Close()
	upstream := func(slowOn bool) {
		if slowOn {
			mock.SetOptions(llmmock.Options{Events: slowEvents, EventDelay: time.Second})
		} else {
			mock.SetOptions(llmmock.Options{Events: 20})
		}
	}

	var children []*child
	defer func() {
		for _, c := range children {
			c.stop()
		}
	}()
	gw, err := startAigate(ctx, aigateBin, dir, pg, admin, mock, "aigate", false)
	if err != nil {
		return err
	}
	children = append(children, gw.child)
	gwPrompts, err := startAigate(ctx, aigateBin, dir, pg, admin, mock, "aigate_prompts", true)
	if err != nil {
		return err
	}
	children = append(children, gwPrompts.child)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	px, err := startChild(ctx, dir+"/proxy.log", exec.Command(self, "-proxy-child", mock.URL))
	if err != nil {
		return fmt.Errorf("start the bare proxy: %w", err)
	}
	children = append(children, px)

	proxy := &benche2e.Target{Name: "bare proxy", URL: px.url, PID: px.cmd.Process.Pid, SlowStreams: true}
	gw.target.SlowStreams = true
	targets := []*benche2e.Target{proxy, gw.target, gwPrompts.target}

	d := time.Duration(seconds * float64(time.Second))
	cfg := benche2e.Config{
		Rounds: rounds, Warmup: 500,
		Rate: 500, RateRequests: int(500 * seconds),
		Workers: 50, ThroughputTime: d,
		StreamRate: 100, Streams: int(100 * seconds),
		SlowStreams: slowCounts, SlowDelay: time.Second,
		Upstream: upstream,
		Settle:   11 * time.Second,
		Log:      os.Stderr,
	}
	results, err := benche2e.Run(ctx, cfg, targets)
	if err != nil {
		return err
	}

	fmt.Printf("aigate end-to-end benchmark, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("machine: %d CPUs, %s %s/%s, PostgreSQL %s (fsync off), aigate %s\n",
		runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, pgVersion, aigateVersion(ctx, aigateBin))
	fmt.Printf("each measurement %v, %d rounds interleaved; %d gateway tokens in turn; slow streams: %d events, 1 s apart\n\n",
		d, rounds, len(gw.target.Tokens), slowEvents)
	names := make([]string, len(results))
	for k, r := range results {
		names[k] = r.Target.Name
	}
	fmt.Print(benche2e.Format(names, benche2e.Rows(cfg, results)))
	fmt.Printf("\nrecording: interceptions are always recorded (no option turns them off); the third column adds prompt capture (--record-prompts).\n")
	fmt.Printf("round trips: the pool's acquires (aigate_db_pool_acquires_total) and the database's xact_commit + xact_rollback (pg_stat_database), over the measured rounds and the 11 s after them, background work included.\n")
	fmt.Printf("took %v\n", time.Since(started).Round(time.Second))
	return nil
}

// slowEvents is how many events, one a second, each slow stream carries: long
// enough that every stream is open at once while its memory is read.
const slowEvents = 10

func aigateVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return "(unknown version)"
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

type gateway struct {
	child  *child
	target *benche2e.Target
}

// startAigate runs `aigate server` on its own database of the cluster, with
// an openai provider on the mock, and makes its first owner and 20 gateway
// tokens.
func startAigate(ctx context.Context, bin, dir string, pg *embeddedpg.Server, admin *pgxpool.Pool, mock *llmmock.Server, db string, prompts bool) (*gateway, error) {
	if err := pg.EnsureDatabase(ctx, db); err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cmd := exec.Command(bin, "server", "--http-address", httpAddr, "--metrics-address", metricsAddr,
		"--log-level", "warn", "--record-prompts="+strconv.FormatBool(prompts), "--data-dir", dir+"/"+db)
	cmd.Env = append(withoutAigateEnv(os.Environ()),
		"AIGATE_POSTGRES_URL="+pg.ConnString(db),
		"AIGATE_ENCRYPTION_KEYS="+base64.StdEncoding.EncodeToString(key),
		"AIGATE_OPENAI_KEY="+upstreamKey,
		"AIGATE_OPENAI_BASE_URL="+mock.OpenAIBaseURL(),
	)
	c := &child{cmd: cmd, url: "http://" + httpAddr}
	if err := c.start(dir + "/" + db + ".log"); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, c, c.url+"/readyz"); err != nil {
		c.stop()
		return nil, err
	}
	api, err := client.New(c.url, "")
	if err != nil {
		c.stop()
		return nil, err
	}
	defer api.Close()
	s, err := api.CreateFirstUser(ctx, client.UserInput{Email: "bench@example.com", Name: "Bench", Password: "bench password 0123456789"})
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("%s: create the first owner: %w", db, err)
	}
	owner, err := client.New(c.url, s.Token)
	if err != nil {
		c.stop()
		return nil, err
	}
	defer owner.Close()
	name := "aigate"
	if prompts {
		name = "aigate --record-prompts"
	}
	t := &benche2e.Target{Name: name, URL: c.url, PID: cmd.Process.Pid}
	for i := range 20 {
		tok, err := owner.CreateToken(ctx, s.User.ID, fmt.Sprintf("agent-%d", i), nil, nil)
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("%s: create a gateway token: %w", db, err)
		}
		t.Tokens = append(t.Tokens, tok.Token)
	}
	metricsURL := "http://" + metricsAddr + "/metrics"
	t.PoolAcquires = func(ctx context.Context) (float64, error) {
		return benche2e.Scrape(ctx, metricsURL, benche2e.PoolAcquiresMetric)
	}
	t.Transactions = func(ctx context.Context) (int64, error) {
		var n int64
		err := admin.QueryRow(ctx, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", db).Scan(&n)
		return n, err
	}
	return &gateway{child: c, target: t}, nil
}

// withoutAigateEnv drops the caller's AIGATE_* variables, so an operator's
// own configuration cannot change what is measured.
func withoutAigateEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AIGATE_") {
			out = append(out, kv)
		}
	}
	return out
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

func waitReady(ctx context.Context, c *child, readyURL string) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if c.exited() {
			return fmt.Errorf("aigate exited during startup; its log:\n%s", c.logTail())
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, readyURL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("aigate was not ready within a minute; its log:\n%s", c.logTail())
}

// child is a process under test; its stderr goes to a log file.
type child struct {
	cmd  *exec.Cmd
	url  string
	log  string
	done chan struct{}
}

func (c *child) start(logPath string) error {
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	c.log = logPath
	c.cmd.Stdout, c.cmd.Stderr = f, f
	// The child dies with the benchmark, even when the benchmark is killed.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		_ = f.Close()
		return err
	}
	c.done = make(chan struct{})
	go func() {
		_ = c.cmd.Wait()
		_ = f.Close()
		close(c.done)
	}()
	return nil
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *child) logTail() string {
	raw, _ := os.ReadFile(c.log)
	if len(raw) > 4000 {
		raw = raw[len(raw)-4000:]
	}
	return string(raw)
}

func (c *child) stop() {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// startChild starts the bare proxy and reads the address it listens on
// from its first line of output.
func startChild(ctx context.Context, logPath string, cmd *exec.Cmd) (*child, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, err
	}
	c := &child{cmd: cmd, log: logPath, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		_ = f.Close()
		close(c.done)
	}()
	select {
	case a := <-addr:
		if a == "" {
			c.stop()
			return nil, fmt.Errorf("the proxy printed no address; its log:\n%s", c.logTail())
		}
		c.url = "http://" + a
		return c, nil
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
}

// runProxy is the -proxy-child mode: the bare proxy on a loopback port,
// printed on stdout, until SIGTERM.
func runProxy(upstream string) error {
	u, err := url.Parse(upstream)
	if err != nil {
		return fmt.Errorf("-proxy-child %q: not a URL: %w", upstream, err)
	}
	h, tr := benche2e.NewProxy(u, upstreamKey)
	defer tr.CloseIdleConnections()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Println(l.Addr().String())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
