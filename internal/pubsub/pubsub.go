package pubsub

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigate/aigate/internal/clock"
)

const (
	defaultQueueSize        = 64
	defaultReconnectBackoff = 100 * time.Millisecond
	maxReconnectBackoff     = 5 * time.Second
	defaultWatchdogTimeout  = 5 * time.Second
	// connectTimeout bounds one connection attempt when the connection
	// string sets none, so a server that accepts TCP but never answers does
	// not stall the reconnect loop.
	connectTimeout = 10 * time.Second
	// closeConnTimeout bounds the polite goodbye to the server when the
	// listener connection is dropped.
	closeConnTimeout = 5 * time.Second
	// maxChannelLen is PostgreSQL's identifier limit (NAMEDATALEN - 1): a
	// longer LISTEN name would be truncated, and pg_notify refuses it.
	maxChannelLen = 63
	// ApplicationName is the listener connection's application_name, so an
	// operator can tell it apart in pg_stat_activity.
	ApplicationName = "aigate pubsub"
)

// ErrClosed is returned by Subscribe after Close.
var ErrClosed = errors.New("pubsub is closed")

// Config says how to reach PostgreSQL and how to treat subscribers.
type Config struct {
	// ConnString is a PostgreSQL connection string. The listener opens its
	// own connection rather than taking one from the pool: LISTEN state
	// belongs to a connection. It may hold a password, so it is never logged.
	ConnString string
	Logger     *slog.Logger
	// QueueSize is how many messages each subscriber may have waiting
	// before it is sent Event{Missed: true} instead; default 64.
	QueueSize int
	// ReconnectBackoff is the delay before the first reconnect attempt,
	// doubling after each failure up to 5s; default 100ms.
	ReconnectBackoff time.Duration
	// WatchdogInterval is how often the listener proves its connection
	// alive: it sends a NOTIFY on a channel of its own over that connection
	// and waits to hear it back. 0 turns the watchdog off; the server always
	// sets it (--pubsub-watchdog-interval). Off, a connection that dies
	// without closing goes unnoticed until TCP gives up on it.
	//
	// The watchdog's timeout runs on Clock, so a test that moves a Manual
	// clock past it in one jump, while the listener has had no time to hear
	// its echo, makes it give up on a healthy connection: tests that jump
	// leave it off.
	WatchdogInterval time.Duration
	// WatchdogTimeout is how long the listener waits for that echo (and for
	// the LISTEN statements on a new connection) before it takes the
	// connection for dead: it closes it, reconnects, and every subscriber
	// gets Event{Missed: true}. Default 5s.
	WatchdogTimeout time.Duration
	// Clock times the reconnect delays and the watchdog (ReconnectTimer,
	// WatchdogTimer, WatchdogTimeoutTimer); nil is the real clock. (One
	// connection attempt is bounded by the driver's connect timeout, on the
	// real clock.)
	Clock clock.Clock
	// Registerer receives aigate_pubsub_watchdog_timeouts_total; nil
	// registers nowhere.
	Registerer prometheus.Registerer
}

// The names of the listener's timers on its Clock.
const (
	// ReconnectTimer is the wait before each reconnect attempt.
	ReconnectTimer = "pubsub.reconnect"
	// WatchdogTimer is armed for WatchdogInterval when a connection starts
	// serving, and again each time the watchdog's echo comes back.
	WatchdogTimer = "pubsub.watchdog"
	// WatchdogTimeoutTimer is armed for WatchdogTimeout when the watchdog's
	// NOTIFY is due, and when a new connection runs its LISTEN statements.
	WatchdogTimeoutTimer = "pubsub.watchdog.timeout"
)

// errNoAnswer is why a connection the watchdog gave up on was dropped.
var errNoAnswer = errors.New("the connection did not answer within the watchdog timeout")

// PubSub delivers notifications from one LISTEN connection to subscribers.
// Its methods are safe for concurrent use.
type PubSub struct {
	logger           *slog.Logger
	connConfig       *pgx.ConnConfig
	queueSize        int
	reconnectBackoff time.Duration
	watchdogInterval time.Duration
	watchdogTimeout  time.Duration
	// watchdogChannel is this PubSub's own channel, so replicas on one
	// database never hear each other's checks.
	watchdogChannel  string
	watchdogTimeouts prometheus.Counter
	clock            clock.Clock

	ctx    context.Context // lives until Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the listener goroutine has returned
	subWG  sync.WaitGroup
	pid    atomic.Uint32 // backend PID of the listener connection, 0 while disconnected

	closeOnce sync.Once

	mu     sync.Mutex
	subs   map[string]map[*subscriber]struct{} // guarded by mu; by channel
	closed bool                                // guarded by mu
	// connected is false from a connection loss until the reconnect has
	// LISTENed every channel. Guarded by mu.
	connected bool
	// dirty means subs changed since the listener last brought the
	// connection's LISTEN set in line. Guarded by mu.
	dirty bool
	// waiters are Subscribe calls waiting for their LISTEN. Guarded by mu.
	waiters []chan error
	// cancelWait interrupts the listener's WaitForNotification; nil when it
	// is not waiting. Guarded by mu.
	cancelWait context.CancelFunc
	// wd is the watchdog of the connection being served; nil between
	// connections. Guarded by mu.
	wd *watchdog
}

// watchdog is one connection's liveness check. Its fields are guarded by
// PubSub.mu.
type watchdog struct {
	// cancel ends whatever the listener waits for on the connection.
	cancel   context.CancelCauseFunc
	interval *clock.Timer
	deadline *clock.Timer // nil until the first check
	due      bool         // the NOTIFY is to be sent
	seq      uint64       // the payload of the echo awaited; 0 for none
	sent     uint64       // the last payload sent
}

// New connects the listener and starts it. It fails when that first
// connection fails; later losses are retried until Close. ctx bounds only the
// first connection.
func New(ctx context.Context, cfg Config) (*PubSub, error) {
	if cfg.ConnString == "" {
		return nil, errors.New("pubsub: ConnString is required")
	}
	connConfig, err := pgx.ParseConfig(cfg.ConnString)
	if err != nil {
		return nil, fmt.Errorf("pubsub: invalid connection string: %s", parseReason(err))
	}
	connConfig.RuntimeParams["application_name"] = ApplicationName
	if connConfig.ConnectTimeout == 0 {
		connConfig.ConnectTimeout = connectTimeout
	}
	p := &PubSub{
		logger:           cfg.Logger,
		connConfig:       connConfig,
		queueSize:        cfg.QueueSize,
		reconnectBackoff: cfg.ReconnectBackoff,
		watchdogInterval: cfg.WatchdogInterval,
		watchdogTimeout:  cfg.WatchdogTimeout,
		watchdogChannel:  "aigate_pubsub_watchdog_" + strings.ToLower(rand.Text()),
		watchdogTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aigate_pubsub_watchdog_timeouts_total",
			Help: "LISTEN connections taken for dead because they did not echo the watchdog's NOTIFY in time; each is replaced and its subscribers reload in full.",
		}),
		clock:     clock.Or(cfg.Clock),
		done:      make(chan struct{}),
		subs:      make(map[string]map[*subscriber]struct{}),
		connected: true,
		// The first connection LISTENs on the watchdog's channel before it
		// waits for anything (without a watchdog there is nothing to run).
		dirty: true,
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if p.queueSize <= 0 {
		p.queueSize = defaultQueueSize
	}
	if p.reconnectBackoff <= 0 {
		p.reconnectBackoff = defaultReconnectBackoff
	}
	if p.watchdogInterval < 0 {
		p.watchdogInterval = 0
	}
	if p.watchdogTimeout <= 0 {
		p.watchdogTimeout = defaultWatchdogTimeout
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(p.watchdogTimeouts); err != nil {
			return nil, fmt.Errorf("pubsub: register metrics: %w", err)
		}
	}
	conn, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go p.run(conn)
	return p, nil
}

// Subscribe calls fn for every notification on channel, on a goroutine of the
// subscriber's own, one event at a time and in order. fn must not call Close.
//
// Subscribe returns once the listener has run LISTEN for channel, so a
// notification committed afterwards is delivered. If the listener is
// reconnecting, it returns at once instead and fn gets Event{Missed: true}
// when the connection is back.
//
// cancel stops delivery: once it returns no further call of fn starts (one
// already running finishes). It does not wait, so fn may call it. It may be
// called more than once.
func (p *PubSub) Subscribe(channel string, fn func(ev Event)) (cancel func(), err error) {
	if channel == "" || len(channel) > maxChannelLen {
		return nil, fmt.Errorf("subscribe to %q: channel name must be 1 to %d bytes", channel, maxChannelLen)
	}
	if fn == nil {
		return nil, fmt.Errorf("subscribe to %q: nil callback", channel)
	}
	s := newSubscriber(channel, fn, p.queueSize)

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("subscribe to %q: %w", channel, ErrClosed)
	}
	set := p.subs[channel]
	if set == nil {
		set = make(map[*subscriber]struct{})
		p.subs[channel] = set
	}
	set[s] = struct{}{}
	p.subWG.Go(s.run)
	var reply chan error
	if p.connected {
		reply = make(chan error, 1)
		p.waiters = append(p.waiters, reply)
	}
	p.markDirtyLocked()
	p.mu.Unlock()

	var once sync.Once
	cancel = func() { once.Do(func() { p.unsubscribe(s) }) }
	if reply == nil {
		return cancel, nil
	}
	select {
	case err = <-reply:
	case <-p.done:
		err = ErrClosed
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("subscribe to %q: %w", channel, err)
	}
	return cancel, nil
}

func (p *PubSub) unsubscribe(s *subscriber) {
	p.mu.Lock()
	if set := p.subs[s.channel]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(p.subs, s.channel)
		}
	}
	if !p.closed {
		p.markDirtyLocked()
	}
	p.mu.Unlock()
	s.stop()
}

// markDirtyLocked records that the LISTEN set must be brought in line, and
// wakes the listener if it is waiting for a notification.
func (p *PubSub) markDirtyLocked() {
	p.dirty = true
	p.wakeLocked()
}

// wakeLocked interrupts the listener's wait for a notification, if it is
// waiting, so it looks at what changed.
func (p *PubSub) wakeLocked() {
	if p.cancelWait != nil {
		p.cancelWait()
		p.cancelWait = nil
	}
}

// Close stops the listener, cancels every subscriber and waits for their
// goroutines (so it must not be called from a callback). Further calls do
// nothing.
func (p *PubSub) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		subs := p.subs
		p.subs = make(map[string]map[*subscriber]struct{})
		p.mu.Unlock()

		p.cancel()
		<-p.done
		for _, set := range subs {
			for s := range set {
				s.stop()
			}
		}
		p.subWG.Wait()
	})
	return nil
}

// Publish sends payload on channel with pg_notify. Pass a pgx.Tx to publish
// atomically with a change: the message goes out on commit, and not at all on
// rollback.
func Publish(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, channel, payload string,
) error {
	if _, err := q.Exec(ctx, "SELECT pg_notify($1, $2)", channel, payload); err != nil {
		return fmt.Errorf("publish on %q: %w", channel, err)
	}
	return nil
}

// parseReason keeps the reason of a connection-string parse error and drops
// the part that quotes the string: pgx redacts the password there, but an
// unusual string could defeat the redaction.
func parseReason(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		return pe.Unwrap().Error()
	}
	return "it could not be parsed"
}

// connect opens a listener connection.
func (p *PubSub) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, p.connConfig)
	if err != nil {
		// pgconn's message names user, host and database, never the password.
		return nil, fmt.Errorf("pubsub: connect listener: %w", err)
	}
	p.pid.Store(conn.PgConn().PID())
	return conn, nil
}

func (p *PubSub) closeConn(conn *pgx.Conn) {
	p.pid.Store(0)
	ctx, cancel := context.WithTimeout(context.Background(), closeConnTimeout)
	defer cancel()
	_ = conn.Close(ctx) // the connection is being dropped; nothing to do on failure
}

// run is the listener goroutine: it serves a connection until it fails, then
// reconnects, until Close.
func (p *PubSub) run(conn *pgx.Conn) {
	defer close(p.done)
	listening := make(map[string]bool)
	for {
		err := p.serve(conn, listening)
		p.closeConn(conn)

		closing := p.ctx.Err() != nil
		p.mu.Lock()
		p.connected = false
		waiters := p.waiters
		p.waiters = nil
		p.mu.Unlock()
		// While disconnected, waiting Subscribe calls are released: the
		// Missed event after the reconnect covers their subscribers.
		for _, w := range waiters {
			if closing {
				w <- ErrClosed
			} else {
				w <- nil
			}
		}
		if closing {
			return
		}

		p.logger.Warn("pubsub connection lost, reconnecting", "error", err)
		conn, listening = p.reconnect()
		if conn == nil {
			return
		}
	}
}

// serve waits for notifications on conn, keeps its LISTEN set in line with
// the subscriptions and runs its watchdog. It returns when conn fails, the
// watchdog gives up on it, or Close is called.
func (p *PubSub) serve(conn *pgx.Conn, listening map[string]bool) error {
	// Every wait on conn is under connCtx, which the watchdog cancels: a
	// connection that stops answering holds nothing up for longer.
	connCtx, cancelConn := context.WithCancelCause(p.ctx)
	defer cancelConn(nil)
	w := p.startWatchdog(cancelConn)
	defer p.stopWatchdog(w)
	// failed prefers the watchdog's verdict to the error it caused.
	failed := func(err error) error {
		if cause := context.Cause(connCtx); cause != nil && p.ctx.Err() == nil {
			return cause
		}
		return err
	}
	for {
		p.mu.Lock()
		if p.dirty {
			p.dirty = false
			want := p.channelsLocked()
			waiters := p.waiters
			p.waiters = nil
			p.mu.Unlock()
			if err := p.sync(connCtx, conn, listening, want); err != nil {
				p.mu.Lock()
				p.waiters = append(p.waiters, waiters...)
				p.mu.Unlock()
				return failed(err)
			}
			for _, w := range waiters {
				w <- nil
			}
			continue
		}
		if w.due {
			w.due = false
			w.sent++
			w.seq = w.sent
			seq := w.seq
			p.mu.Unlock()
			if err := p.ping(connCtx, conn, seq); err != nil {
				return failed(err)
			}
			continue
		}
		waitCtx, cancel := context.WithCancel(connCtx)
		p.cancelWait = cancel
		p.mu.Unlock()

		n, err := conn.WaitForNotification(waitCtx)

		p.mu.Lock()
		p.cancelWait = nil
		p.mu.Unlock()
		woken := waitCtx.Err() != nil
		cancel()

		if n != nil {
			p.dispatch(n)
		}
		if err != nil {
			if p.ctx.Err() != nil {
				return p.ctx.Err()
			}
			if connCtx.Err() != nil {
				return failed(err)
			}
			if woken && !conn.IsClosed() {
				continue // our own wake-up: go and run LISTEN/UNLISTEN, or the watchdog
			}
			return err
		}
	}
}

// startWatchdog arms the first check of the connection being served; with
// the watchdog off, the watchdog it returns never becomes due.
func (p *PubSub) startWatchdog(cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{cancel: cancel}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wd = w
	if p.watchdogInterval > 0 {
		w.interval = p.clock.AfterFunc(WatchdogTimer, p.watchdogInterval, func() { p.watchdogDue(w) })
	}
	return w
}

func (p *PubSub) stopWatchdog(w *watchdog) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wd = nil
	if w.interval != nil {
		w.interval.Stop()
	}
	if w.deadline != nil {
		w.deadline.Stop()
	}
}

// watchdogDue asks the listener to send its NOTIFY, and starts the time it
// has to hear it back, whatever it is busy with.
func (p *PubSub) watchdogDue(w *watchdog) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wd != w {
		return // that connection is gone
	}
	w.due = true
	if w.deadline == nil {
		w.deadline = p.clock.AfterFunc(WatchdogTimeoutTimer, p.watchdogTimeout, func() { p.watchdogExpired(w) })
	} else {
		w.deadline.Reset(p.watchdogTimeout)
	}
	p.wakeLocked()
}

// watchdogExpired gives up on a connection whose echo did not come back in
// time.
func (p *PubSub) watchdogExpired(w *watchdog) {
	p.mu.Lock()
	awaited := p.wd == w && (w.due || w.seq != 0)
	p.mu.Unlock()
	if !awaited {
		return // the echo came in as the timer fired
	}
	p.watchdogTimeouts.Inc()
	p.logger.Warn("pubsub connection did not echo the watchdog's NOTIFY; replacing it", "timeout", p.watchdogTimeout)
	w.cancel(errNoAnswer)
}

// ping sends the watchdog's NOTIFY over the listener's own connection, which
// LISTENs on the channel: the echo proves the way there and back.
func (p *PubSub) ping(ctx context.Context, conn *pgx.Conn, seq uint64) error {
	sql := "NOTIFY " + pgx.Identifier{p.watchdogChannel}.Sanitize() + ", '" + strconv.FormatUint(seq, 10) + "'"
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("send the watchdog's NOTIFY: %w", err)
	}
	return nil
}

// pong takes the watchdog's echo: the connection is alive, and the next
// check is an interval away.
func (p *PubSub) pong(payload string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.wd
	if w == nil || w.seq == 0 || payload != strconv.FormatUint(w.seq, 10) {
		return // an echo of a check already given up on
	}
	w.seq = 0
	w.deadline.Stop()
	w.interval.Reset(p.watchdogInterval)
}

// channelsLocked returns the channels to LISTEN on: those that have
// subscribers, and the watchdog's.
func (p *PubSub) channelsLocked() map[string]bool {
	want := make(map[string]bool, len(p.subs)+1)
	for ch := range p.subs {
		want[ch] = true
	}
	if p.watchdogInterval > 0 {
		want[p.watchdogChannel] = true
	}
	return want
}

// sync runs the LISTEN and UNLISTEN statements that turn listening into want,
// in one round trip, and updates listening.
func (p *PubSub) sync(ctx context.Context, conn *pgx.Conn, listening, want map[string]bool) error {
	var sql strings.Builder
	for ch := range want {
		if !listening[ch] {
			sql.WriteString("LISTEN " + pgx.Identifier{ch}.Sanitize() + ";")
		}
	}
	for ch := range listening {
		if !want[ch] {
			sql.WriteString("UNLISTEN " + pgx.Identifier{ch}.Sanitize() + ";")
		}
	}
	if sql.Len() == 0 {
		return nil
	}
	if _, err := conn.Exec(ctx, sql.String()); err != nil {
		return fmt.Errorf("update LISTEN set: %w", err)
	}
	clear(listening)
	for ch := range want {
		listening[ch] = true
	}
	return nil
}

// dispatch hands a notification to its channel's subscribers without
// blocking.
func (p *PubSub) dispatch(n *pgconn.Notification) {
	if n.Channel == p.watchdogChannel {
		p.pong(n.Payload)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for s := range p.subs[n.Channel] {
		if s.push(n.Payload) {
			p.logger.Warn("pubsub subscriber queue full, dropping messages; it will be told to reload",
				"channel", n.Channel, "queue_size", p.queueSize)
		}
	}
}

// reconnect connects again, with backoff, and LISTENs every subscribed
// channel; then it tells every subscriber that it may have missed messages.
// It returns a nil conn when Close is called first.
func (p *PubSub) reconnect() (*pgx.Conn, map[string]bool) {
	delay := p.reconnectBackoff
	start := p.clock.Now()
	for attempt := 1; ; attempt++ {
		if clock.Sleep(p.ctx, p.clock, ReconnectTimer, delay) != nil {
			return nil, nil
		}
		conn, err := p.connect(p.ctx)
		if err == nil {
			var listening map[string]bool
			var subs []*subscriber
			listening, subs, err = p.listenAll(conn)
			if err == nil {
				p.logger.Info("pubsub reconnected", "attempts", attempt, "downtime", p.clock.Now().Sub(start).Round(time.Millisecond))
				for _, s := range subs {
					s.pushMissed()
				}
				return conn, listening
			}
			p.closeConn(conn)
		}
		if p.ctx.Err() != nil {
			return nil, nil
		}
		delay = min(delay*2, maxReconnectBackoff)
		p.logger.Warn("pubsub reconnect failed", "attempt", attempt, "retry_in", delay, "error", err)
	}
}

// listenAll LISTENs every subscribed channel on a fresh connection, again
// while subscriptions change under it, then marks the PubSub connected and
// returns the subscribers to tell about the gap. A connection that does not
// answer within the watchdog timeout is given up on.
func (p *PubSub) listenAll(conn *pgx.Conn) (map[string]bool, []*subscriber, error) {
	ctx, cancel := context.WithCancelCause(p.ctx)
	defer cancel(nil)
	if p.watchdogInterval > 0 {
		deadline := p.clock.AfterFunc(WatchdogTimeoutTimer, p.watchdogTimeout, func() {
			p.watchdogTimeouts.Inc()
			cancel(errNoAnswer)
		})
		defer deadline.Stop()
	}
	listening := make(map[string]bool)
	for first := true; ; first = false {
		p.mu.Lock()
		if !first && !p.dirty {
			p.connected = true
			var subs []*subscriber
			for _, set := range p.subs {
				for s := range set {
					subs = append(subs, s)
				}
			}
			p.mu.Unlock()
			return listening, subs, nil
		}
		p.dirty = false
		want := p.channelsLocked()
		p.mu.Unlock()
		if err := p.sync(ctx, conn, listening, want); err != nil {
			if cause := context.Cause(ctx); cause != nil && p.ctx.Err() == nil {
				return nil, nil, cause
			}
			return nil, nil, err
		}
	}
}
