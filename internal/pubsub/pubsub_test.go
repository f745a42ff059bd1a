package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/pubsub"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
)

// deliveryTimeout bounds every wait for an event that must come.
const deliveryTimeout = 10 * time.Second

func TestMain(m *testing.M) { testdb.Main(m) }

type env struct {
	db  *database.DB
	ps  *pubsub.PubSub
	log *testlog.Buffer
}

// setup gives the test its own database, a pool on it, and a PubSub on it
// that is closed when the test ends.
func setup(t *testing.T, cfg pubsub.Config) env {
	t.Helper()
	url := testdb.URL(t)
	db := testdb.Open(t, url)
	buf := &testlog.Buffer{}
	cfg.ConnString = url
	cfg.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ps, err := pubsub.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, ps.Close())
		t.Logf("pubsub log:\n%s", buf.String())
	})
	return env{db: db, ps: ps, log: buf}
}

// received is an event with the time its callback ran.
type received struct {
	pubsub.Event
	at time.Time
}

// collector is a callback that never blocks and hands events to the test.
type collector chan received

func newCollector() collector { return make(collector, 1000) }

func (c collector) fn(ev pubsub.Event) { c <- received{Event: ev, at: time.Now()} }

func (c collector) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(deliveryTimeout):
		t.Fatalf("no event within %s", deliveryTimeout)
		return received{}
	}
}

func (c collector) subscribe(t *testing.T, ps *pubsub.PubSub, channel string) (cancel func()) {
	t.Helper()
	cancel, err := ps.Subscribe(channel, c.fn)
	require.NoError(t, err)
	return cancel
}

func publish(t *testing.T, db *database.DB, channel, payload string) {
	t.Helper()
	require.NoError(t, pubsub.Publish(context.Background(), db.Pool, channel, payload))
}

// Each committed NOTIFY reaches the callback, in order. How fast is
// BenchmarkDeliveryLatency's business; here it is only logged.
func TestDeliveryAfterCommit(t *testing.T) {
	t.Parallel()
	e := setup(t, pubsub.Config{})
	c := newCollector()
	c.subscribe(t, e.ps, "latency")

	ctx := context.Background()
	for i := range 5 {
		payload := strconv.Itoa(i)
		var start time.Time
		_, err := database.Tx(ctx, e.db, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
			start = time.Now() // just before the NOTIFY; the commit follows
			return struct{}{}, pubsub.Publish(ctx, tx, "latency", payload)
		})
		require.NoError(t, err)
		r := c.next(t)
		require.Equal(t, pubsub.Event{Payload: payload}, r.Event)
		t.Logf("commit to callback: %s", r.at.Sub(start))
	}
}

// BenchmarkDeliveryLatency measures the time from a NOTIFY (committed just
// after) to its callback.
func BenchmarkDeliveryLatency(b *testing.B) {
	url := testdb.URL(b)
	db := testdb.Open(b, url)
	ps, err := pubsub.New(context.Background(), pubsub.Config{ConnString: url})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, ps.Close()) })
	got := make(chan time.Time, 1)
	_, err = ps.Subscribe("latency", func(pubsub.Event) { got <- time.Now() })
	require.NoError(b, err)
	ctx := context.Background()
	latencies := make([]time.Duration, 0, b.N)
	for b.Loop() {
		var start time.Time
		_, err := database.Tx(ctx, db, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
			start = time.Now()
			return struct{}{}, pubsub.Publish(ctx, tx, "latency", "x")
		})
		require.NoError(b, err)
		latencies = append(latencies, (<-got).Sub(start))
	}
	slices.Sort(latencies)
	b.ReportMetric(ms(latencies[len(latencies)/2]), "p50-ms")
	b.ReportMetric(ms(latencies[len(latencies)*99/100]), "p99-ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func TestPublishInTransaction(t *testing.T) {
	t.Parallel()
	e := setup(t, pubsub.Config{})
	c := newCollector()
	c.subscribe(t, e.ps, "tx")

	ctx := context.Background()
	errRollback := errors.New("roll back")
	_, err := database.Tx(ctx, e.db, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		require.NoError(t, pubsub.Publish(ctx, tx, "tx", "rolled back"))
		return struct{}{}, errRollback
	})
	require.ErrorIs(t, err, errRollback)
	_, err = database.Tx(ctx, e.db, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		return struct{}{}, pubsub.Publish(ctx, tx, "tx", "committed")
	})
	require.NoError(t, err)

	// Notifications arrive in commit order, so had the rolled-back one been
	// sent it would come first.
	require.Equal(t, pubsub.Event{Payload: "committed"}, c.next(t).Event)
}

// killListener ends the listener's backend as a server restart or a network
// cut would, through conn.
func killListener(t *testing.T, conn interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, ps *pubsub.PubSub) {
	t.Helper()
	pid := ps.ListenerPID()
	require.NotZero(t, pid)
	var name string
	require.NoError(t, conn.QueryRow(context.Background(),
		"SELECT application_name FROM pg_stat_activity WHERE pid = $1", int32(pid)).Scan(&name))
	require.Equal(t, pubsub.ApplicationName, name)
	var killed bool
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&killed))
	require.True(t, killed)
}

// After the listener's connection is lost it reconnects ReconnectBackoff
// later on the clock, LISTENs again, and tells every subscriber it may have
// missed messages.
func TestReconnectAfterBackendKilled(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	e := setup(t, pubsub.Config{Clock: clk, ReconnectBackoff: 100 * time.Millisecond})
	c := newCollector()
	c.subscribe(t, e.ps, "reconnect")
	other := newCollector()
	other.subscribe(t, e.ps, "reconnect other")

	publish(t, e.db, "reconnect", "before")
	require.Equal(t, pubsub.Event{Payload: "before"}, c.next(t).Event)

	pid := e.ps.ListenerPID()
	killListener(t, e.db.Pool, e.ps)
	ctx, cancel := context.WithTimeout(context.Background(), deliveryTimeout)
	defer cancel()
	require.NoError(t, clk.WaitArmed(ctx, pubsub.ReconnectTimer, 1))
	next, ok := clk.Next(pubsub.ReconnectTimer)
	require.True(t, ok)
	require.Equal(t, clk.Now().Add(100*time.Millisecond), next, "the first attempt waits ReconnectBackoff")
	require.Contains(t, e.log.String(), "pubsub connection lost")
	require.Empty(t, c, "nothing is said before the connection is back")

	clk.Advance(100 * time.Millisecond)
	require.Equal(t, pubsub.Event{Missed: true}, c.next(t).Event)
	require.Equal(t, pubsub.Event{Missed: true}, other.next(t).Event)
	require.Contains(t, e.log.String(), "pubsub reconnected")
	require.NotEqual(t, pid, e.ps.ListenerPID())
	require.Equal(t, 1, clk.Armed(pubsub.ReconnectTimer), "the first attempt succeeded")

	// The Missed event comes after every channel is LISTENed again.
	publish(t, e.db, "reconnect", "after")
	require.Equal(t, pubsub.Event{Payload: "after"}, c.next(t).Event)
	publish(t, e.db, "reconnect other", "after")
	require.Equal(t, pubsub.Event{Payload: "after"}, other.next(t).Event)
}

// While the server refuses connections, each failed attempt doubles the wait
// before the next, up to 5 s; the attempt that succeeds ends the gap.
func TestReconnectBacksOff(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	e := setup(t, pubsub.Config{Clock: clk, ReconnectBackoff: 100 * time.Millisecond})
	c := newCollector()
	c.subscribe(t, e.ps, "backoff")
	ctx, cancel := context.WithTimeout(context.Background(), deliveryTimeout)
	defer cancel()
	// PostgreSQL lets no session disallow connections to its own database:
	// this one is on the maintenance database.
	admin := e.db.Pool.Config().ConnConfig.Copy()
	database := admin.Database
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	allow := func(ok bool) {
		_, err := conn.Exec(context.Background(), fmt.Sprintf("ALTER DATABASE %s ALLOW_CONNECTIONS %t", pgx.Identifier{database}.Sanitize(), ok))
		require.NoError(t, err)
	}
	allow(false)
	defer allow(true)
	killListener(t, conn, e.ps)

	ms := time.Millisecond
	for i, wait := range []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5000 * ms, 5000 * ms} {
		require.NoError(t, clk.WaitArmed(ctx, pubsub.ReconnectTimer, i+1))
		next, ok := clk.Next(pubsub.ReconnectTimer)
		require.True(t, ok)
		require.Equal(t, clk.Now().Add(wait), next, "wait before attempt %d", i+1)
		if i == 7 {
			allow(true)
		}
		clk.Advance(wait)
	}
	require.Equal(t, pubsub.Event{Missed: true}, c.next(t).Event)
	require.Contains(t, e.log.String(), `msg="pubsub reconnected" attempts=8 downtime=16.3s`)
	require.Equal(t, 7, strings.Count(e.log.String(), "pubsub reconnect failed"))
}

func TestSlowSubscriberOverflows(t *testing.T) {
	t.Parallel()
	e := setup(t, pubsub.Config{QueueSize: 2})

	entered := make(chan string, 100)
	unblock := make(chan struct{})
	release := sync.OnceFunc(func() { close(unblock) })
	defer release() // else a failing test would hang in Close
	slow := newCollector()
	_, err := e.ps.Subscribe("busy", func(ev pubsub.Event) {
		entered <- ev.Payload
		<-unblock
		slow.fn(ev)
	})
	require.NoError(t, err)
	fast := newCollector()
	fast.subscribe(t, e.ps, "busy")

	// Publish one at a time and wait for the fast subscriber each time, so
	// its own queue of 2 never fills, while the slow one stays stuck in its
	// first callback.
	for i := 1; i <= 10; i++ {
		publish(t, e.db, "busy", strconv.Itoa(i))
		require.Equal(t, pubsub.Event{Payload: strconv.Itoa(i)}, fast.next(t).Event, "fast subscriber, message %d", i)
		if i == 1 {
			select {
			case p := <-entered:
				require.Equal(t, "1", p)
			case <-time.After(deliveryTimeout):
				t.Fatal("slow subscriber never got the first message")
			}
		}
	}
	// The listener handles notifications one after another, so once a
	// marker on another channel has arrived, every "busy" message has been
	// handed to the slow subscriber too.
	marker := newCollector()
	marker.subscribe(t, e.ps, "busy marker")
	publish(t, e.db, "busy marker", "done")
	require.Equal(t, pubsub.Event{Payload: "done"}, marker.next(t).Event)
	release()

	require.Equal(t, pubsub.Event{Payload: "1"}, slow.next(t).Event)
	require.Equal(t, pubsub.Event{Missed: true}, slow.next(t).Event)
	require.Contains(t, e.log.String(), "queue full")

	// Once it has caught up, it gets messages again.
	publish(t, e.db, "busy", "11")
	require.Equal(t, pubsub.Event{Payload: "11"}, slow.next(t).Event)
	require.Equal(t, pubsub.Event{Payload: "11"}, fast.next(t).Event)
}

func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	e := setup(t, pubsub.Config{})
	a, b := newCollector(), newCollector()
	cancelA := a.subscribe(t, e.ps, "unsub")
	cancelB := b.subscribe(t, e.ps, "unsub")

	publish(t, e.db, "unsub", "1")
	require.Equal(t, pubsub.Event{Payload: "1"}, a.next(t).Event)
	require.Equal(t, pubsub.Event{Payload: "1"}, b.next(t).Event)

	cancelA()
	cancelA() // idempotent
	publish(t, e.db, "unsub", "2")
	require.Equal(t, pubsub.Event{Payload: "2"}, b.next(t).Event)
	require.Empty(t, a, "a cancelled subscriber gets nothing")

	// The last subscriber leaving UNLISTENs; a new one LISTENs again.
	cancelB()
	c := newCollector()
	c.subscribe(t, e.ps, "unsub")
	publish(t, e.db, "unsub", "3")
	require.Equal(t, pubsub.Event{Payload: "3"}, c.next(t).Event)
	require.Empty(t, a)
	require.Empty(t, b)
}

func TestChannelsAreSeparate(t *testing.T) {
	t.Parallel()
	e := setup(t, pubsub.Config{})
	alpha, beta := newCollector(), newCollector()
	alpha.subscribe(t, e.ps, "alpha")
	beta.subscribe(t, e.ps, `Beta "quoted"`)

	_, err := database.Tx(context.Background(), e.db, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		for i := 1; i <= 2; i++ {
			if err := pubsub.Publish(ctx, tx, "alpha", fmt.Sprint("a", i)); err != nil {
				return struct{}{}, err
			}
			if err := pubsub.Publish(ctx, tx, `Beta "quoted"`, fmt.Sprint("b", i)); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	require.NoError(t, err)

	require.Equal(t, pubsub.Event{Payload: "a1"}, alpha.next(t).Event)
	require.Equal(t, pubsub.Event{Payload: "a2"}, alpha.next(t).Event)
	require.Equal(t, pubsub.Event{Payload: "b1"}, beta.next(t).Event)
	require.Equal(t, pubsub.Event{Payload: "b2"}, beta.next(t).Event)
}

func TestCloseIsIdempotent(t *testing.T) {
	t.Parallel()
	e := setup(t, pubsub.Config{})
	c := newCollector()
	cancel := c.subscribe(t, e.ps, "close")

	require.NoError(t, e.ps.Close())
	require.NoError(t, e.ps.Close())
	cancel() // after Close: harmless
	_, err := e.ps.Subscribe("close", c.fn)
	require.ErrorIs(t, err, pubsub.ErrClosed)
}

func TestSubscribeRejectsBadInput(t *testing.T) {
	t.Parallel()
	e := setup(t, pubsub.Config{})
	for name, channel := range map[string]string{"empty": "", "too long": string(make([]byte, 64))} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := e.ps.Subscribe(channel, func(pubsub.Event) {})
			require.Error(t, err)
		})
	}
	_, err := e.ps.Subscribe("ok", nil)
	require.Error(t, err)
}

func TestNewFailsWhenFirstConnectFails(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	const password = "s3cr3t-Pa55word"
	_, err = pubsub.New(context.Background(), pubsub.Config{
		ConnString: "postgres://alice:" + password + "@" + addr + "/aigate?connect_timeout=5",
	})
	require.Error(t, err)
	require.NotContains(t, err.Error(), password)

	_, err = pubsub.New(context.Background(), pubsub.Config{ConnString: "postgres://bob:" + password + "@host:notaport/db"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), password)
}
