package pubsub_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/pubsub"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
)

// proxy is a TCP proxy on loopback in front of PostgreSQL whose links can
// be frozen: a frozen link stays open but carries nothing more, either way,
// as a connection does whose peer vanished without a word (a NAT entry
// dropped, a host that lost power). Links made after a freeze carry
// traffic.
type proxy struct {
	ln            net.Listener
	network, addr string // PostgreSQL's
	connString    string // the database's, through the proxy
	mu            sync.Mutex
	links         []*link // guarded by mu
	wg            sync.WaitGroup
	closeOnce     sync.Once
}

type link struct {
	client, server net.Conn
	frozen         atomic.Bool
}

// newProxy starts a proxy to the database at connString, closed when the
// test ends.
func newProxy(t *testing.T, connString string) *proxy {
	t.Helper()
	cfg, err := pgx.ParseConfig(connString)
	require.NoError(t, err)
	p := &proxy{network: "tcp", addr: net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))}
	if strings.HasPrefix(cfg.Host, "/") {
		p.network, p.addr = "unix", fmt.Sprintf("%s/.s.PGSQL.%d", cfg.Host, cfg.Port)
	}
	p.ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	host, port, _ := net.SplitHostPort(p.ln.Addr().String())
	if u, err := url.Parse(connString); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Del("host")
		q.Del("port")
		u.RawQuery = q.Encode()
		u.Host = p.ln.Addr().String()
		p.connString = u.String()
	} else {
		// In the keyword/value form a later keyword wins.
		p.connString = connString + " host=" + host + " port=" + port
	}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial(p.network, p.addr)
		if err != nil {
			_ = c.Close()
			continue
		}
		l := &link{client: c, server: s}
		p.mu.Lock()
		p.links = append(p.links, l)
		p.mu.Unlock()
		p.wg.Go(func() { l.pipe(s, c) })
		p.wg.Go(func() { l.pipe(c, s) })
	}
}

// pipe copies src to dst, dropping what a frozen link receives, until
// either side closes.
func (l *link) pipe(dst, src net.Conn) {
	defer func() {
		_ = l.client.Close()
		_ = l.server.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !l.frozen.Load() {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// freeze makes every link open now carry nothing more.
func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.links {
		l.frozen.Store(true)
	}
}

func (p *proxy) close() {
	p.closeOnce.Do(func() {
		_ = p.ln.Close()
		p.mu.Lock()
		for _, l := range p.links {
			_ = l.client.Close()
			_ = l.server.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
}

// The watchdog's check of a healthy connection goes unnoticed: every
// interval a NOTIFY goes out and comes back, the connection stays, no
// subscriber hears of it, and the next check is an interval later.
func TestWatchdogKeepsAHealthyConnection(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	const interval = 15 * time.Second
	e := setup(t, pubsub.Config{Clock: clk, Registerer: reg, WatchdogInterval: interval})
	c := newCollector()
	c.subscribe(t, e.ps, "healthy")
	pid := e.ps.ListenerPID()
	ctx, cancel := context.WithTimeout(context.Background(), deliveryTimeout)
	defer cancel()
	for i := 1; i <= 3; i++ {
		require.NoError(t, clk.WaitArmed(ctx, pubsub.WatchdogTimer, i))
		next, ok := clk.Next(pubsub.WatchdogTimer)
		require.True(t, ok)
		require.Equal(t, clk.Now().Add(interval), next, "check %d is an interval after the last", i)
		clk.AdvanceTo(next)
		require.Equal(t, i, clk.Armed(pubsub.WatchdogTimeoutTimer), "check %d waits for its echo", i)
		// Re-armed once the echo is in, and the wait for it is over.
		require.NoError(t, clk.WaitArmed(ctx, pubsub.WatchdogTimer, i+1))
		_, waiting := clk.Next(pubsub.WatchdogTimeoutTimer)
		require.False(t, waiting, "check %d: the echo stopped the timeout", i)
	}
	require.Equal(t, pid, e.ps.ListenerPID(), "the same connection all along")
	require.Zero(t, watchdogTimeouts(t, reg))
	require.Empty(t, c, "subscribers never see the watchdog")
	publish(t, e.db, "healthy", "still here")
	require.Equal(t, pubsub.Event{Payload: "still here"}, c.next(t).Event)
	require.NotContains(t, e.log.String(), "did not echo")
}

// Without an interval there is no watchdog: no timer, nothing sent.
func TestWatchdogOff(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	e := setup(t, pubsub.Config{Clock: clk})
	c := newCollector()
	c.subscribe(t, e.ps, "off")
	publish(t, e.db, "off", "x")
	require.Equal(t, pubsub.Event{Payload: "x"}, c.next(t).Event)
	clk.Advance(time.Hour)
	require.Zero(t, clk.Armed(pubsub.WatchdogTimer))
	require.Zero(t, clk.Armed(pubsub.WatchdogTimeoutTimer))
}

// watchdogTimeouts is the registry's aigate_pubsub_watchdog_timeouts_total.
func watchdogTimeouts(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "aigate_pubsub_watchdog_timeouts_total" {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("aigate_pubsub_watchdog_timeouts_total is not registered")
	return 0
}

// Issue 15, acceptance 5: a LISTEN connection that stops answering without
// closing (here a proxy that silently drops everything on it) is found by the
// watchdog once its NOTIFY goes unanswered for the timeout, replaced, and the
// subscribers are told to reload: a change made while it was dead arrives.
// Only the manual clock moves; nothing waits on the wall clock.
func TestWatchdogReplacesAConnectionThatStopsAnswering(t *testing.T) {
	t.Parallel()
	const interval, timeout = 15 * time.Second, 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deliveryTimeout)
	defer cancel()
	dbURL := testdb.URL(t)
	db := testdb.Open(t, dbURL)
	_, err := db.Pool.Exec(ctx, "CREATE TABLE setting (value text NOT NULL); INSERT INTO setting VALUES ('initial')")
	require.NoError(t, err)
	change := func(value string) {
		t.Helper()
		_, err := database.Tx(ctx, db, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
			if _, err := tx.Exec(ctx, "UPDATE setting SET value = $1", value); err != nil {
				return struct{}{}, err
			}
			return struct{}{}, pubsub.Publish(ctx, tx, "setting", value)
		})
		require.NoError(t, err)
	}

	px := newProxy(t, dbURL)
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	logs := &testlog.Buffer{}
	ps, err := pubsub.New(ctx, pubsub.Config{
		ConnString: px.connString, Clock: clk, Registerer: reg,
		WatchdogInterval: interval, WatchdogTimeout: timeout,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, ps.Close())
		t.Logf("pubsub log:\n%s", logs.String())
	})

	// The subscriber keeps a copy of the setting, as the providers' reloader
	// keeps its snapshot: a notification names the new value, a Missed
	// event makes it read the table again.
	type seen struct {
		missed bool
		value  string
	}
	got := make(chan seen, 100)
	_, err = ps.Subscribe("setting", func(ev pubsub.Event) {
		if !ev.Missed {
			got <- seen{value: ev.Payload}
			return
		}
		var v string
		if err := db.Pool.QueryRow(context.Background(), "SELECT value FROM setting").Scan(&v); err != nil {
			v = "reload failed: " + err.Error()
		}
		got <- seen{missed: true, value: v}
	})
	require.NoError(t, err)
	next := func() seen {
		t.Helper()
		select {
		case s := <-got:
			return s
		case <-time.After(deliveryTimeout):
			t.Fatal("the subscriber heard nothing")
			return seen{}
		}
	}
	change("live")
	require.Equal(t, seen{value: "live"}, next(), "delivered through the proxy")
	pid := ps.ListenerPID()

	require.NoError(t, clk.WaitArmed(ctx, pubsub.WatchdogTimer, 1))
	px.freeze()
	change("made while the connection was dead")

	clk.Advance(interval)
	require.Equal(t, 1, clk.Armed(pubsub.WatchdogTimeoutTimer), "the check is due: its echo is awaited")
	require.Empty(t, got, "nothing gets through a dead connection")
	clk.Advance(timeout - time.Microsecond)
	require.NotContains(t, logs.String(), "did not echo", "not before the timeout")

	clk.Advance(time.Microsecond)
	require.NoError(t, clk.WaitArmed(ctx, pubsub.ReconnectTimer, 1), "given up on: a reconnect is scheduled")
	require.Contains(t, logs.String(), "did not echo the watchdog's NOTIFY")
	require.Contains(t, logs.String(), "pubsub connection lost")
	require.EqualValues(t, 1, watchdogTimeouts(t, reg))
	reconnect, ok := clk.Next(pubsub.ReconnectTimer)
	require.True(t, ok)
	clk.AdvanceTo(reconnect)

	require.Equal(t, seen{missed: true, value: "made while the connection was dead"}, next(),
		"the reload the Missed event asks for brings the change made meanwhile")
	require.NotEqual(t, pid, ps.ListenerPID(), "a new connection")
	var name string
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT application_name FROM pg_stat_activity WHERE pid = $1", int32(ps.ListenerPID())).Scan(&name))
	require.Equal(t, pubsub.ApplicationName, name)

	// The new connection delivers, and its watchdog runs.
	change("after")
	require.Equal(t, seen{value: "after"}, next())
	require.NoError(t, clk.WaitArmed(ctx, pubsub.WatchdogTimer, 2))
	check, ok := clk.Next(pubsub.WatchdogTimer)
	require.True(t, ok)
	clk.AdvanceTo(check)
	require.NoError(t, clk.WaitArmed(ctx, pubsub.WatchdogTimer, 3), "the new connection echoes")
	require.EqualValues(t, 1, watchdogTimeouts(t, reg))
	require.Empty(t, got)
}
