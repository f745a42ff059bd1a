package limits

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/pubsub"
)

// Kind is what a rule limits; the names are the policies table's.
type Kind string

// The kinds of rule.
const (
	KindBudget      Kind = "budget"      // micro-dollars per window
	KindTokens      Kind = "tokens"      // input (cache included) + output tokens per window
	KindRequests    Kind = "requests"    // requests per window
	KindConcurrency Kind = "concurrency" // requests in flight
	KindModels      Kind = "models"      // an allow-list of models, no allowance
)

// Rule is one enabled policy, as the engine enforces it. The server builds
// rules from the policies table (internal/policies), so this package knows
// nothing of scopes and groups: Applies and Subject say whom a rule counts.
type Rule struct {
	ID   uuid.UUID
	Name string
	Kind Kind
	// Limit is the allowance per window, in the kind's unit.
	Limit int64
	// Models: a request whose model is not allowed is refused.
	Allowed func(model string) bool
	// Window gives the window holding at, [start, end); concurrency rules
	// have one window that never ends.
	Window func(at time.Time) (start, end time.Time)
	// Describe says the limit for people ("$25.00 per day (UTC)").
	Describe string
	// Applies reports whether the rule counts r.
	Applies func(r *Request) bool
	// Subject is the window's subject for a user: "" for a shared pool.
	Subject func(userID uuid.UUID) string
}

// Request is what admission knows of a request before it is sent: who sends
// it where, and what it may use, estimated from its size and max_tokens.
type Request struct {
	UserID   uuid.UUID
	TokenID  string
	Provider string
	Model    string
	// Tokens is the estimate of its input and output tokens.
	Tokens int64
	// Cost is the estimate of its cost in micro-dollars; Priced is false
	// when its model has no price (a budget then cannot admit it).
	Cost   int64
	Priced bool
}

// Usage is what a request used, known once its response ended.
type Usage struct {
	Tokens int64
	Cost   int64
	Priced bool
}

// Denial is a request a rule refused. Its message is written for the client.
type Denial struct {
	Rule     string
	Kind     Kind
	Describe string
	// ResetsAt is when the window ends (zero for rules without one).
	ResetsAt time.Time
	// RetryAfter is how long the client should wait before trying again.
	RetryAfter time.Duration
	// Status is 429 for an exhausted allowance, 403 for a model not allowed.
	Status  int
	Message string
}

func (d *Denial) Error() string { return d.Message }

// ErrUnavailable is returned when admission needed the database and could
// not reach it: the request is refused (503), not let through unlimited.
var ErrUnavailable = errors.New("limits: the policy allowance could not be checked")

// The names of the engine's timers on its Clock.
const (
	// RenewTimer paces the renewal of this replica's leases, the release of
	// windows that ended, and the cleanup of old windows.
	RenewTimer = "limits.renew"
	// ReclaimTimer bounds how long a request waits for other replicas to
	// hand back idle allowance once a window is tight.
	ReclaimTimer = "limits.reclaim"
)

// Defaults.
const (
	DefaultLeaseTTL    = 30 * time.Second
	DefaultReclaimWait = 2 * time.Second
	// windowsKeptFor is how long ended windows stay in the database, for
	// the status of the last periods.
	windowsKeptFor = 40 * 24 * time.Hour
)

// The notification channels of the tight-window protocol (doc.go).
const (
	ReclaimChannel  = "aigate_policy_reclaim"
	ReturnedChannel = "aigate_policy_returned"
)

// Config configures an Engine.
type Config struct {
	DB        *database.DB
	PubSub    *pubsub.PubSub
	ReplicaID uuid.UUID
	// Load reads the enabled rules (called at start and on every change).
	Load func(ctx context.Context) ([]Rule, error)
	// ChangedChannels are notified when rules may have changed: the
	// policies' own, and the users' and tokens' (a deleted user or token
	// takes its policies and memberships with it).
	ChangedChannels []string
	// LeaseTTL is how long a lease outlives its replica's last renewal.
	LeaseTTL time.Duration
	// ReclaimWait bounds the wait for other replicas' idle allowance.
	ReclaimWait time.Duration
	Clock       clock.Clock
	Logger      *slog.Logger
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
}

// Engine admits requests against the rules, on allowance leased from
// PostgreSQL. See the package documentation for the protocol.
type Engine struct {
	cfg   Config
	clock clock.Clock
	log   *slog.Logger
	store store

	rules atomic.Pointer[[]*Rule]

	mu      sync.Mutex
	windows map[windowKey]*window // guarded by mu
	// returned is closed (and replaced) on every hand-back notification,
	// waking the requests waiting for allowance. Guarded by mu.
	returned chan struct{}

	// refills counts the leases taken from the database.
	refills atomic.Int64
	// deniedTotal counts refusals by policy; refillsTotal mirrors refills.
	deniedTotal  *prometheus.CounterVec
	refillsTotal prometheus.Counter

	ctx     context.Context // the engine's life; cancelled by Stop
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	unsubs  []func()
	stopped atomic.Bool
}

// New returns an Engine; Start loads the rules and starts its loops.
func New(cfg Config) *Engine {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.ReclaimWait <= 0 {
		cfg.ReclaimWait = DefaultReclaimWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg, clock: clock.Or(cfg.Clock), log: cfg.Logger, windows: map[windowKey]*window{},
		returned: make(chan struct{})}
	e.store = store{db: cfg.DB, replica: cfg.ReplicaID}
	e.deniedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aigate_policy_denied_total",
		Help: "Requests refused by a policy (an allowance used up, a concurrency cap, a model not allowed), by policy name and kind.",
	}, []string{"policy", "kind"})
	e.refillsTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "aigate_policy_lease_refills_total",
		Help: "Times this replica leased policy allowance from the database.",
	})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(e.deniedTotal, e.refillsTotal)
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	empty := []*Rule{}
	e.rules.Store(&empty)
	return e
}

// Start subscribes to the rule changes and the tight-window notifications,
// loads the rules, and starts the renewal loop.
func (e *Engine) Start(ctx context.Context) error {
	if e.cfg.PubSub != nil {
		subs := []struct {
			ch string
			fn func(pubsub.Event)
		}{
			{ReclaimChannel, e.onReclaim},
			{ReturnedChannel, func(pubsub.Event) { e.wake() }},
		}
		for _, ch := range e.cfg.ChangedChannels {
			subs = append(subs, struct {
				ch string
				fn func(pubsub.Event)
			}{ch, func(pubsub.Event) { e.reloadLogged() }})
		}
		for _, s := range subs {
			unsub, err := e.cfg.PubSub.Subscribe(s.ch, s.fn)
			if err != nil {
				e.unsubscribe()
				return fmt.Errorf("limits: %w", err)
			}
			e.unsubs = append(e.unsubs, unsub)
		}
	}
	if err := e.Reload(ctx); err != nil {
		e.unsubscribe()
		return err
	}
	e.wg.Add(1)
	go e.renewLoop()
	return nil
}

func (e *Engine) unsubscribe() {
	for _, u := range e.unsubs {
		u()
	}
	e.unsubs = nil
}

// Reload reads the rules again.
func (e *Engine) Reload(ctx context.Context) error {
	if e.cfg.Load == nil {
		return nil
	}
	rules, err := e.cfg.Load(ctx)
	if err != nil {
		return fmt.Errorf("limits: load policies: %w", err)
	}
	ptrs := make([]*Rule, len(rules))
	for i := range rules {
		ptrs[i] = &rules[i]
	}
	e.rules.Store(&ptrs)
	return nil
}

func (e *Engine) reloadLogged() {
	if err := e.Reload(e.ctx); err != nil && e.ctx.Err() == nil {
		e.log.Error("could not reload policies; the ones loaded before stay in force", "error", err)
	}
}

// Stop ends the loops and releases this replica's leases, handing what they
// hold back to their windows. Call it after the requests have drained and
// their interceptions (which settle what they used) are written.
func (e *Engine) Stop(ctx context.Context) error {
	if e.stopped.Swap(true) {
		return nil
	}
	e.unsubscribe()
	e.cancel()
	e.wg.Wait()
	return e.store.releaseAll(ctx)
}

// Ticket is an admitted request's hold on the windows it reserved from.
type Ticket struct {
	e     *Engine
	holds []hold
}

type hold struct {
	w    *window
	rule *Rule
	need int64
}

// Admit decides whether r may be sent. It reserves r's estimate in the
// window of every rule that applies; with the allowance in memory that is a
// few map lookups and a mutex per rule. It waits for the database only when
// a window has to be refilled right now. A refused request gets a *Denial
// (and nothing reserved); ErrUnavailable when the database was needed and
// did not answer. The Ticket is nil when no rule applies.
func (e *Engine) Admit(ctx context.Context, r *Request) (*Ticket, error) {
	t, err := e.admit(ctx, r)
	if d, ok := errors.AsType[*Denial](err); ok {
		e.deniedTotal.WithLabelValues(d.Rule, string(d.Kind)).Inc()
	}
	return t, err
}

func (e *Engine) admit(ctx context.Context, r *Request) (*Ticket, error) {
	rules := *e.rules.Load()
	if len(rules) == 0 {
		return nil, nil
	}
	var t *Ticket
	now := e.clock.Now()
	for _, rule := range rules {
		if !rule.Applies(r) {
			continue
		}
		if rule.Kind == KindModels {
			if !rule.Allowed(r.Model) {
				t.cancel()
				return nil, &Denial{Rule: rule.Name, Kind: rule.Kind, Describe: rule.Describe, Status: http.StatusForbidden,
					Message: fmt.Sprintf("model %q is not allowed by aigate policy %q (%s); ask an aigate owner to allow it", r.Model, rule.Name, rule.Describe)}
			}
			continue
		}
		need, ok := needOf(rule, r)
		if !ok {
			t.cancel()
			return nil, &Denial{Rule: rule.Name, Kind: rule.Kind, Describe: rule.Describe, Status: http.StatusForbidden,
				Message: fmt.Sprintf("model %q has no price in aigate's price book, so aigate budget policy %q (%s) cannot admit it; ask an aigate owner to set its price (aigate prices set)", r.Model, rule.Name, rule.Describe)}
		}
		start, end := rule.Window(now)
		w := e.window(windowKey{policy: rule.ID, subject: rule.Subject(r.UserID), start: start.UnixMicro()}, start, end, rule)
		if err := w.reserve(ctx, need); err != nil {
			t.cancel()
			if errors.Is(err, errShort) {
				return nil, e.denial(rule, now, end)
			}
			return nil, err
		}
		if t == nil {
			t = &Ticket{e: e}
		}
		t.holds = append(t.holds, hold{w: w, rule: rule, need: need})
	}
	return t, nil
}

// ModelAllowed reports whether the models policies that apply to r allow
// r.Model (what a model list shows the caller), and when not, the policy
// that does not.
func (e *Engine) ModelAllowed(r *Request) (bool, string) {
	for _, rule := range *e.rules.Load() {
		if rule.Kind == KindModels && rule.Applies(r) && !rule.Allowed(r.Model) {
			return false, rule.Name
		}
	}
	return true, ""
}

// needOf is what r reserves in a window of rule.
func needOf(rule *Rule, r *Request) (int64, bool) {
	switch rule.Kind {
	case KindBudget:
		return max(r.Cost, 1), r.Priced
	case KindTokens:
		return max(r.Tokens, 1), true
	default: // requests, concurrency
		return 1, true
	}
}

// usedOf is what a request that reserved need consumed of a window of rule.
func usedOf(rule *Rule, need int64, u Usage) int64 {
	switch rule.Kind {
	case KindBudget:
		if !u.Priced {
			// Its price went away in flight: the estimate stands in for it.
			return need
		}
		return u.Cost
	case KindTokens:
		return u.Tokens
	case KindRequests:
		return 1
	default: // concurrency: the slot comes back
		return 0
	}
}

func (e *Engine) denial(rule *Rule, now, end time.Time) *Denial {
	d := &Denial{Rule: rule.Name, Kind: rule.Kind, Describe: rule.Describe, Status: http.StatusTooManyRequests}
	if rule.Kind == KindConcurrency {
		d.RetryAfter = time.Second
		d.Message = fmt.Sprintf("aigate policy %q allows %s; wait for one of your requests to finish and try again", rule.Name, rule.Describe)
		return d
	}
	d.ResetsAt = end.UTC()
	d.RetryAfter = max(end.Sub(now), time.Second)
	d.Message = fmt.Sprintf("aigate policy %q (%s) is used up; it resets at %s (in %s)",
		rule.Name, rule.Describe, d.ResetsAt.Format(time.RFC3339), d.RetryAfter.Round(time.Second))
	return d
}

// cancel gives back everything t reserved, using nothing: a request refused
// by a later rule after earlier ones admitted it.
func (t *Ticket) cancel() {
	if t == nil {
		return
	}
	for _, h := range t.holds {
		h.w.release(h.need, 0)
	}
	t.holds = nil
}

// Done ends the request: each window gets back its reservation less what
// the request used, and the charges returned are what it used of each
// window, for its interception record (whose write settles them). A nil
// Ticket returns nil.
func (t *Ticket) Done(u Usage) []interceptions.Charge {
	if t == nil {
		return nil
	}
	var charges []interceptions.Charge
	for _, h := range t.holds {
		used := usedOf(h.rule, h.need, u)
		h.w.release(h.need, used)
		if used != 0 {
			charges = append(charges, interceptions.Charge{
				PolicyID: h.w.key.policy, Subject: h.w.key.subject, WindowStart: h.w.start, Amount: used,
			})
		}
	}
	t.holds = nil
	return charges
}

// window returns this replica's state of one window, made on first use.
func (e *Engine) window(k windowKey, start, end time.Time, rule *Rule) *window {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.windows[k]
	if w == nil {
		w = &window{e: e, key: k, start: start, end: end, limit: rule.Limit}
		e.windows[k] = w
	}
	w.mu.Lock()
	w.limit = rule.Limit
	w.mu.Unlock()
	return w
}

// Refills is how many times this engine leased from the database.
func (e *Engine) Refills() int64 { return e.refills.Load() }

// wake tells the requests waiting on a tight window that allowance came
// back somewhere.
func (e *Engine) wake() {
	e.mu.Lock()
	close(e.returned)
	e.returned = make(chan struct{})
	e.mu.Unlock()
}

func (e *Engine) returnedChan() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.returned
}

// go runs fn on a goroutine Stop waits for.
func (e *Engine) goTracked(fn func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		fn()
	}()
}
