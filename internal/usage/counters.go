package usage

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// MaxDistinct bounds each set of distinct IDs a replica holds: the users and
// the providers it saw since its last flush, and those it has flushed in the
// current period. An ID beyond the bound is not added, so the distinct count
// stops at MaxDistinct (a lower bound from then on, logged once a period)
// and memory stays at about 4 MB a set whatever the traffic. A replica that
// serves more than 100,000 users an hour is beyond what aigate is built for.
const MaxDistinct = 100_000

// Tokens are the tokens of one request, or a sum of them, by kind.
type Tokens struct {
	Input, Output, CacheRead, CacheWrite, Reasoning int64
}

func (t *Tokens) add(o Tokens) {
	t.Input += o.Input
	t.Output += o.Output
	t.CacheRead += o.CacheRead
	t.CacheWrite += o.CacheWrite
	t.Reasoning += o.Reasoning
}

// nonNegative keeps a parser's nonsense out of the sums: one negative count
// would make the database refuse every flush after it (the columns say >= 0).
func (t Tokens) nonNegative() Tokens {
	return Tokens{Input: max(t.Input, 0), Output: max(t.Output, 0), CacheRead: max(t.CacheRead, 0),
		CacheWrite: max(t.CacheWrite, 0), Reasoning: max(t.Reasoning, 0)}
}

// Counters is what one replica counted since its last flush. The gateway
// calls Allowed and Denied on every request; the Flusher takes what they
// added. Safe for concurrent use. A nil *Counters counts nothing, so the
// gateway needs no check.
//
// The hot path is one short critical section: a few additions and two map
// look-ups, with an insert (the only allocation, and only sometimes) the
// first time a user or provider is seen since the last flush.
type Counters struct {
	mu  sync.Mutex
	cur tally // guarded by mu
	// limit overrides MaxDistinct (tests of the bound); 0 is MaxDistinct.
	limit int
}

// NewCounters returns empty counters. The zero Counters is ready to use too.
func NewCounters() *Counters { return &Counters{} }

// Allowed counts a request the gateway sent upstream for user to provider,
// with the tokens its response reported (zero when it reported none).
func (c *Counters) Allowed(user, provider uuid.UUID, tokens Tokens) {
	if c == nil {
		return
	}
	tokens = tokens.nonNegative()
	limit := c.bound()
	c.mu.Lock()
	c.cur.allowed++
	c.cur.tokens.add(tokens)
	c.cur.users.add(user, limit)
	c.cur.providers.add(provider, limit)
	c.mu.Unlock()
}

// Denied counts a request the gateway refused (authentication; later,
// policy).
func (c *Counters) Denied() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.cur.denied++
	c.mu.Unlock()
}

// take hands over everything counted so far and starts afresh, counting
// since now. The new sets are allocated by the caller, outside the lock,
// sized like the last ones so they rarely grow on the hot path.
func (c *Counters) take(now time.Time, users, providers idSet) tally {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.cur
	c.cur = tally{since: now, users: users, providers: providers}
	return t
}

// restore gives back a tally a flush could not write, merged with what was
// counted meanwhile. It merges the newer tally (small: counted during one
// flush attempt) into the older, so a large set is not copied under the lock.
func (c *Counters) restore(t tally) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t.merge(c.cur, c.bound())
	c.cur = t
}

// bound is the most IDs a set holds.
func (c *Counters) bound() int {
	if c.limit <= 0 {
		return MaxDistinct
	}
	return c.limit
}

// tally is a set of counts: what a replica counted over some time.
type tally struct {
	allowed, denied  int64
	tokens           Tokens
	users, providers idSet
	// since is when counting began: the take that started this tally, or
	// for the first one, zero (the Flusher's start stands in).
	since time.Time
}

func (t *tally) empty() bool {
	return t.allowed == 0 && t.denied == 0 && t.tokens == Tokens{} && len(t.users.m) == 0 && len(t.providers.m) == 0
}

// merge adds o to t.
func (t *tally) merge(o tally, limit int) {
	t.allowed += o.allowed
	t.denied += o.denied
	t.tokens.add(o.tokens)
	t.users.union(o.users, limit)
	t.providers.union(o.providers, limit)
	if t.since.IsZero() || (!o.since.IsZero() && o.since.Before(t.since)) {
		t.since = o.since
	}
}

// idSet is a set of IDs bounded in size. The zero value is an empty set.
type idSet struct {
	m map[uuid.UUID]struct{}
	// capped: an ID was refused because the set was full, so len(m) is a
	// lower bound of the distinct IDs seen.
	capped bool
}

func newIDSet(size int) idSet { return idSet{m: make(map[uuid.UUID]struct{}, size)} }

func (s *idSet) add(id uuid.UUID, limit int) {
	if id == uuid.Nil {
		return
	}
	if _, ok := s.m[id]; ok {
		return
	}
	if len(s.m) >= limit {
		s.capped = true
		return
	}
	if s.m == nil {
		s.m = map[uuid.UUID]struct{}{}
	}
	s.m[id] = struct{}{}
}

func (s *idSet) union(o idSet, limit int) {
	for id := range o.m {
		s.add(id, limit)
	}
	s.capped = s.capped || o.capped
}

// unionLen is len(s ∪ o), at most limit, without building the union.
func (s idSet) unionLen(o idSet, limit int) int {
	n := len(s.m)
	for id := range o.m {
		if n >= limit {
			break
		}
		if _, ok := s.m[id]; !ok {
			n++
		}
	}
	return min(n, limit)
}
