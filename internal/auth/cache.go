package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/pubsub"
)

// The token check, and how it stays off the database:
//
//	Authenticate ──hit──▶ LRU entry (hash compared, expiry checked) ──▶ use noted
//	     │ miss
//	     ▼
//	flight for the token id: the first caller runs the one SELECT, the
//	others wait for its answer; a result stored only if no invalidation
//	came while the SELECT ran
//
//	users: revoke / update / delete ──same tx──▶ NOTIFY ChangesChannel
//	     ──▶ every replica: drop the token (kept as a tombstone: a revoked id
//	         never comes back) or every token of the user
//	pubsub Missed (reconnect, watchdog, overflow) ──▶ drop everything
//
//	uses noted ──every TouchInterval and at shutdown──▶ one UPDATE of
//	last_used_at for all of them
//
// Entries live CacheTTL: the backstop should a notification be lost with no
// Missed event to say so.

// CacheTTL is how long a checked token is trusted without asking the
// database again. Revocations, suspensions and deletions do not wait for it:
// they are pushed to every replica on ChangesChannel. It is the backstop
// should a notification be lost without pubsub noticing.
const CacheTTL = 5 * time.Minute

// DefaultMaxCached bounds the cache; past it, the least recently used
// token is dropped.
const DefaultMaxCached = 10_000

// DefaultTouchInterval is how often the uses of tokens are written to
// last_used_at.
const DefaultTouchInterval = 30 * time.Second

// touchShutdownTimeout bounds the last last_used_at write at shutdown.
const touchShutdownTimeout = 10 * time.Second

// ChangesChannel is the NOTIFY channel users changes that take rights away
// are announced on, in their transaction (PublishTokenRevoked,
// PublishUserChanged).
const ChangesChannel = "aigate_auth_changed"

// The names of the Authenticator's timers on its Clock.
const (
	// TouchTimer is armed for the TouchInterval at the start of Run and
	// again after each last_used_at write.
	TouchTimer = "auth.touch.flush"
	// TouchShutdownTimer bounds the last write when Run's context ends.
	TouchShutdownTimer = "auth.touch.shutdown"
)

// Config configures an Authenticator.
type Config struct {
	DB *database.DB
	// Clock is "now" for expiries and the cache, and times the
	// last_used_at writes (TouchTimer, TouchShutdownTimer); nil is the
	// real clock.
	Clock  clock.Clock
	Logger *slog.Logger
	// Registerer receives the aigate_auth_* metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// TTL is CacheTTL if 0.
	TTL time.Duration
	// MaxEntries is DefaultMaxCached if 0.
	MaxEntries int
	// TouchInterval is DefaultTouchInterval if 0.
	TouchInterval time.Duration
}

// entry is one cached token: what the database said about it.
type entry struct {
	id         string
	hash       []byte
	principal  Principal
	expiresAt  *time.Time // the token's own expiry
	suspended  bool
	revoked    bool      // a tombstone: the token was deleted
	validUntil time.Time // when the entry must be re-checked

	prev, next *entry // the LRU list, most recent first
	// lastUse is the last good check since the last write of last_used_at;
	// pending says the entry is in Authenticator.used. Guarded by mu.
	lastUse time.Time
	pending bool
}

// flight is one lookup in progress, shared by every caller that misses on
// the same token id meanwhile.
type flight struct {
	done    chan struct{}
	waiters int    // callers besides the one looking up; guarded by mu
	e       *entry // nil: no such token; set before done is closed
	err     error
	// abandoned: err came from the context of the caller that looked up.
	abandoned bool
}

// Authenticator checks API tokens. Safe for concurrent use.
type Authenticator struct {
	db            *database.DB
	clock         clock.Clock
	logger        *slog.Logger
	ttl           time.Duration
	maxEntries    int
	touchInterval time.Duration

	mu      sync.Mutex
	entries map[string]*entry // by token id
	lru     entry             // sentinel: lru.next is the most recent
	flights map[string]*flight
	// gen counts invalidations: a lookup that started before one may have
	// read what it invalidated, so its result is not stored.
	gen uint64
	// used are the entries checked since the last write of last_used_at
	// (an evicted one stays until then); guarded by mu. A slice, not a map,
	// so a hit costs no hashing beyond the cache's own.
	used []*entry
	// flushMu serialises writes of last_used_at.
	flushMu sync.Mutex

	// lookups counts the database lookups, for the metric and for tests.
	lookups atomic.Uint64
	metrics cacheMetrics
}

type cacheMetrics struct {
	lookups                  prometheus.CounterFunc
	evictions, flushFailures prometheus.Counter
	invalidations            *prometheus.CounterVec
}

// NewAuthenticator returns an Authenticator. It serves from its cache
// alone only once Listen has subscribed it to ChangesChannel; until then it
// is correct only on the replica that makes the changes. Run writes
// last_used_at.
func NewAuthenticator(cfg Config) *Authenticator {
	a := &Authenticator{
		db: cfg.DB, clock: clock.Or(cfg.Clock), logger: cfg.Logger, ttl: cfg.TTL, maxEntries: cfg.MaxEntries,
		touchInterval: cfg.TouchInterval, entries: map[string]*entry{}, flights: map[string]*flight{},
	}
	a.lru.next, a.lru.prev = &a.lru, &a.lru
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.ttl <= 0 {
		a.ttl = CacheTTL
	}
	if a.maxEntries <= 0 {
		a.maxEntries = DefaultMaxCached
	}
	if a.touchInterval <= 0 {
		a.touchInterval = DefaultTouchInterval
	}
	a.metrics = cacheMetrics{
		lookups: prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aigate_auth_token_lookups_total",
			Help: "Token checks that asked the database (cache misses; concurrent misses for one token count once)."},
			func() float64 { return float64(a.lookups.Load()) }),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{Name: "aigate_auth_cache_evictions_total",
			Help: "Cached tokens dropped because the cache was full (least recently used first)."}),
		flushFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "aigate_auth_last_used_flush_failures_total",
			Help: "Writes of tokens' last_used_at that failed (the uses are kept for the next write)."}),
		invalidations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aigate_auth_cache_invalidations_total",
			Help: "Cache invalidations, by kind: token (revoked), user (changed or deleted), all (notifications may have been missed)."},
			[]string{"kind"}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(a.metrics.lookups, a.metrics.evictions, a.metrics.flushFailures, a.metrics.invalidations)
	}
	return a
}

// Authenticate returns the principal a token belongs to. A cache hit costs a
// SHA-256 and a map lookup; a miss costs one indexed query, shared with
// every concurrent miss on the same token.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (Principal, error) {
	id, secret, ok := ParseToken(token)
	if !ok {
		return Principal{}, ErrMalformedToken
	}
	// Hashed from a stack copy: []byte(secret) would allocate (a secret is
	// longer than the conversion's stack buffer), and a hit allocates
	// nothing else.
	var buf [64]byte
	hash := sha256.Sum256(buf[:copy(buf[:], secret)])
	now := a.clock.Now()

	var f *flight
	for {
		a.mu.Lock()
		if e := a.entries[id]; e != nil && now.Before(e.validUntil) {
			a.moveFrontLocked(e)
			p, err := a.checkLocked(e, hash[:], now)
			a.mu.Unlock()
			return p, err
		}
		f = a.flights[id]
		if f != nil {
			f.waiters++
			a.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return Principal{}, ctx.Err()
			}
		} else {
			f = &flight{done: make(chan struct{})}
			a.flights[id] = f
			gen := a.gen
			a.mu.Unlock()
			a.lookup(ctx, id, f, gen, now)
		}
		// The lookup runs under its first caller's context; when that
		// caller went away, the others look up again rather than fail.
		if f.abandoned && ctx.Err() == nil {
			continue
		}
		break
	}
	if f.err != nil {
		return Principal{}, f.err
	}
	if f.e == nil {
		return Principal{}, ErrUnknownToken
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.checkLocked(f.e, hash[:], now)
}

// checkLocked judges a token by what the database said about it; a good
// one's use is noted for last_used_at.
func (a *Authenticator) checkLocked(e *entry, hash []byte, now time.Time) (Principal, error) {
	// The stored hash of an id never changes, so a wrong secret is refused
	// from the cache too.
	if e.revoked || subtle.ConstantTimeCompare(e.hash, hash) != 1 {
		return Principal{}, ErrUnknownToken
	}
	if e.suspended {
		return Principal{}, ErrSuspendedUser
	}
	if e.expiresAt != nil && !now.Before(*e.expiresAt) {
		return Principal{}, ErrExpiredToken
	}
	if !e.pending {
		e.pending = true
		a.used = append(a.used, e)
	}
	if now.After(e.lastUse) {
		e.lastUse = now
	}
	return e.principal, nil
}

// lookup reads the token for flight f and answers everyone waiting on it.
func (a *Authenticator) lookup(ctx context.Context, id string, f *flight, gen uint64, now time.Time) {
	row, err := dbsqlc.New(a.db.Pool).APITokenGetWithUser(ctx, id)
	a.lookups.Add(1)
	abandoned := err != nil && ctx.Err() != nil
	var e *entry
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// Not cached: a token id is random and never reused, so an
		// unknown one is a mistake or a guess, and a cache of them would
		// only let guesses push real tokens out.
		err = nil
	case err != nil:
		err = fmt.Errorf("look up token: %w", err)
	default:
		e = &entry{
			id: id, hash: row.ApiToken.SecretHash, expiresAt: row.ApiToken.ExpiresAt, suspended: row.UserSuspended,
			principal: Principal{UserID: row.ApiToken.UserID, Email: row.UserEmail, Role: Role(row.UserRole), TokenID: id,
				Scopes: ScopesFromStrings(row.ApiToken.Scopes)},
			validUntil: now.Add(a.ttl),
		}
	}
	a.mu.Lock()
	if a.flights[id] == f {
		delete(a.flights, id)
	}
	if e != nil && a.gen == gen {
		a.storeLocked(e)
	}
	f.e, f.err, f.abandoned = e, err, abandoned
	close(f.done)
	a.mu.Unlock()
}

func (a *Authenticator) storeLocked(e *entry) {
	if old := a.entries[e.id]; old != nil {
		a.unlinkLocked(old)
	} else {
		for len(a.entries) >= a.maxEntries {
			victim := a.lru.prev
			a.unlinkLocked(victim)
			delete(a.entries, victim.id)
			a.metrics.evictions.Inc()
		}
	}
	a.entries[e.id] = e
	a.linkFrontLocked(e)
}

func (a *Authenticator) linkFrontLocked(e *entry) {
	e.prev, e.next = &a.lru, a.lru.next
	a.lru.next.prev = e
	a.lru.next = e
}

func (a *Authenticator) unlinkLocked(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (a *Authenticator) moveFrontLocked(e *entry) {
	if a.lru.next != e {
		a.unlinkLocked(e)
		a.linkFrontLocked(e)
	}
}

// invalidateLocked makes every lookup under way unable to store what it
// read, and new callers start a lookup of their own.
func (a *Authenticator) invalidateLocked() {
	a.gen++
	clear(a.flights)
}

// ForgetToken drops a revoked token from this replica's cache. A revoked id
// never comes back, so it stays as a tombstone for the TTL: a client that
// keeps sending it is refused without asking the database.
func (a *Authenticator) ForgetToken(id string) {
	a.metrics.invalidations.WithLabelValues("token").Inc()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.invalidateLocked()
	a.storeLocked(&entry{id: id, revoked: true, validUntil: a.clock.Now().Add(a.ttl)})
}

// ForgetUser drops every cached token of a user whose rights changed
// (suspended, deleted, role or email changed).
func (a *Authenticator) ForgetUser(userID uuid.UUID) {
	a.metrics.invalidations.WithLabelValues("user").Inc()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.invalidateLocked()
	for id, e := range a.entries {
		if !e.revoked && e.principal.UserID == userID {
			a.unlinkLocked(e)
			delete(a.entries, id)
		}
	}
}

// ForgetAll empties the cache: change notifications may have been missed.
func (a *Authenticator) ForgetAll() {
	a.metrics.invalidations.WithLabelValues("all").Inc()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.invalidateLocked()
	clear(a.entries)
	a.lru.next, a.lru.prev = &a.lru, &a.lru
}

// Payload prefixes on ChangesChannel.
const (
	tokenPayload = "token:"
	userPayload  = "user:"
)

// PublishTokenRevoked tells every replica, on commit of tx, that token id is
// gone.
func PublishTokenRevoked(ctx context.Context, tx pgx.Tx, id string) error {
	return pubsub.Publish(ctx, tx, ChangesChannel, tokenPayload+id)
}

// PublishUserChanged tells every replica, on commit of tx, that the user's
// tokens must be checked again (suspended, deleted, role or email changed).
func PublishUserChanged(ctx context.Context, tx pgx.Tx, userID uuid.UUID) error {
	return pubsub.Publish(ctx, tx, ChangesChannel, userPayload+userID.String())
}

// Listen subscribes the cache to ChangesChannel. Call it before the
// Authenticator serves: a change committed after Listen returns reaches the
// cache. Closing ps ends the subscription.
func (a *Authenticator) Listen(ps *pubsub.PubSub) error {
	_, err := ps.Subscribe(ChangesChannel, func(ev pubsub.Event) {
		if ev.Missed {
			a.logger.Info("token change notifications may have been missed; emptying the token cache")
			a.ForgetAll()
			return
		}
		a.apply(ev.Payload)
	})
	if err != nil {
		return fmt.Errorf("subscribe to token changes: %w", err)
	}
	return nil
}

func (a *Authenticator) apply(payload string) {
	if id, ok := strings.CutPrefix(payload, tokenPayload); ok {
		a.ForgetToken(id)
		return
	}
	if s, ok := strings.CutPrefix(payload, userPayload); ok {
		if id, err := uuid.Parse(s); err == nil {
			a.ForgetUser(id)
			return
		}
	}
	// From a newer version, perhaps: forgetting everything is always safe.
	a.logger.Warn("unknown token change notification; emptying the token cache", "payload", payload)
	a.ForgetAll()
}

// Run writes the uses of tokens to last_used_at every TouchInterval until
// ctx ends, then once more (bounded by TouchShutdownTimer): cancel it after
// the HTTP server has drained and before the database closes.
func (a *Authenticator) Run(ctx context.Context) {
	// Re-armed after each write rather than a ticker, so a test sees a
	// write done when the timer is armed again.
	t := a.clock.NewTimer(TouchTimer, a.touchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			bound := a.clock.AfterFunc(TouchShutdownTimer, touchShutdownTimeout, cancel)
			if n, err := a.FlushUses(fctx); err != nil {
				a.logger.Warn("could not record the last use of tokens at shutdown", "tokens", n, "error", err)
			}
			bound.Stop()
			cancel()
			return
		case <-t.C:
			if n, err := a.FlushUses(ctx); err != nil && ctx.Err() == nil {
				a.logger.Warn("could not record the last use of tokens; kept for the next write", "tokens", n, "error", err)
			}
			t.Reset(a.touchInterval)
		}
	}
}

// FlushUses writes the uses noted since the last write in one statement and
// returns how many tokens it covered. On failure the uses are kept for the
// next write.
func (a *Authenticator) FlushUses(ctx context.Context) (int, error) {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	a.mu.Lock()
	used := a.used
	a.used = nil
	// One row per id: an entry replaced since (looked up again after its
	// TTL) leaves two, and UPDATE ... FROM would apply either.
	latest := make(map[string]time.Time, len(used))
	for _, e := range used {
		if at, ok := latest[e.id]; !ok || e.lastUse.After(at) {
			latest[e.id] = e.lastUse
		}
		e.pending = false
	}
	a.mu.Unlock()
	ids := make([]string, 0, len(latest))
	times := make([]time.Time, 0, len(latest))
	for id, at := range latest {
		ids, times = append(ids, id), append(times, at.UTC())
	}
	if len(used) == 0 {
		return 0, nil
	}
	err := dbsqlc.New(a.db.Pool).APITokenTouchBatch(ctx, dbsqlc.APITokenTouchBatchParams{Ids: ids, UsedAt: times})
	if err == nil {
		return len(ids), nil
	}
	a.metrics.flushFailures.Inc()
	// Back in the set: a use noted meanwhile is later, and wins.
	a.mu.Lock()
	for _, e := range used {
		if !e.pending {
			e.pending = true
			a.used = append(a.used, e)
		}
	}
	a.mu.Unlock()
	return len(ids), fmt.Errorf("write last_used_at: %w", err)
}
