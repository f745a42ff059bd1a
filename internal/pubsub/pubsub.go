package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aigate/aigate/internal/clock"
)

const (
	defaultQueueSize        = 64
	defaultReconnectBackoff = 100 * time.Millisecond
	maxReconnectBackoff     = 5 * time.Second
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
	// Clock times the reconnect delays, each a timer named ReconnectTimer;
	// nil is the real clock. (One connection attempt is bounded by the
	// driver's connect timeout, on the real clock.)
	Clock clock.Clock
}

// ReconnectTimer names the timer the listener waits on before each
// reconnect attempt.
const ReconnectTimer = "pubsub.reconnect"

// PubSub delivers notifications from one LISTEN connection to subscribers.
// Its methods are safe for concurrent use.
type PubSub struct {
	logger           *slog.Logger
	connConfig       *pgx.ConnConfig
	queueSize        int
	reconnectBackoff time.Duration
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
		clock:            clock.Or(cfg.Clock),
		done:             make(chan struct{}),
		subs:             make(map[string]map[*subscriber]struct{}),
		connected:        true,
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

// serve waits for notifications on conn and keeps its LISTEN set in line with
// the subscriptions. It returns when conn fails or Close is called.
func (p *PubSub) serve(conn *pgx.Conn, listening map[string]bool) error {
	for {
		p.mu.Lock()
		if p.dirty {
			p.dirty = false
			want := p.channelsLocked()
			waiters := p.waiters
			p.waiters = nil
			p.mu.Unlock()
			if err := p.sync(conn, listening, want); err != nil {
				p.mu.Lock()
				p.waiters = append(p.waiters, waiters...)
				p.mu.Unlock()
				return err
			}
			for _, w := range waiters {
				w <- nil
			}
			continue
		}
		waitCtx, cancel := context.WithCancel(p.ctx)
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
			if woken && !conn.IsClosed() {
				continue // our own wake-up: go and run LISTEN/UNLISTEN
			}
			return err
		}
	}
}

// channelsLocked returns the channels that have subscribers.
func (p *PubSub) channelsLocked() map[string]bool {
	want := make(map[string]bool, len(p.subs))
	for ch := range p.subs {
		want[ch] = true
	}
	return want
}

// sync runs the LISTEN and UNLISTEN statements that turn listening into want,
// in one round trip, and updates listening.
func (p *PubSub) sync(conn *pgx.Conn, listening, want map[string]bool) error {
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
	if _, err := conn.Exec(p.ctx, sql.String()); err != nil {
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
// returns the subscribers to tell about the gap.
func (p *PubSub) listenAll(conn *pgx.Conn) (map[string]bool, []*subscriber, error) {
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
		if err := p.sync(conn, listening, want); err != nil {
			return nil, nil, err
		}
	}
}
