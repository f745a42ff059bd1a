package auth

import (
	"container/list"
	"crypto/sha256"
	"net/netip"
	"sync"
	"time"
)

// LoginThrottle slows down password guessing, per email and per client
// address. A login reserves its attempt before the password is verified, and
// the reservation counts as a failure until the attempt turns out to have
// been right, so concurrent guesses are admitted no faster than sequential
// ones: for each key, Free attempts at once, then one after BaseDelay, the
// next after twice that, and so on up to MaxDelay. An attempt either key
// refuses is answered with how long to wait, never slept on, so a flood
// cannot tie up goroutines; it is not counted and not verified.
//
// The state is per replica, forgotten after a success (for the email) or a
// Window without attempts, and bounded: past MaxEntries keys, the key whose
// last attempt is oldest is forgotten first.
type LoginThrottle struct {
	Email  ThrottleLimit // per email, as normalised by the caller
	Client ThrottleLimit // per client IPv4 address or IPv6 /64
	// Window of quiet after which a key's failures are forgotten.
	Window time.Duration
	// MaxEntries bounds the keys remembered, emails and clients together.
	MaxEntries int

	mu      sync.Mutex
	entries map[throttleKey]*list.Element // guarded by mu; values are *throttleEntry
	byAge   list.List                     // guarded by mu; most recent attempt first
}

// ThrottleLimit is how fast one key may try.
type ThrottleLimit struct {
	Free      int           // attempts admitted before any delay
	BaseDelay time.Duration // the wait after Free counted attempts; doubles with each further one
	MaxDelay  time.Duration
}

// The production settings; docs/users-and-tokens.md states them.
const (
	LoginFreePerEmail  = 5
	LoginFreePerClient = 20
	LoginBaseDelay     = time.Second
	LoginMaxDelay      = time.Minute
	LoginWindow        = 15 * time.Minute
	// LoginMaxEntries keeps the throttle at about 12 MB at most (measured),
	// however many emails and addresses a spray of guesses uses.
	LoginMaxEntries = 50_000
)

// NewLoginThrottle returns a throttle with production settings.
func NewLoginThrottle() *LoginThrottle {
	return &LoginThrottle{
		Email:      ThrottleLimit{Free: LoginFreePerEmail, BaseDelay: LoginBaseDelay, MaxDelay: LoginMaxDelay},
		Client:     ThrottleLimit{Free: LoginFreePerClient, BaseDelay: LoginBaseDelay, MaxDelay: LoginMaxDelay},
		Window:     LoginWindow,
		MaxEntries: LoginMaxEntries,
	}
}

// throttleKey is a hash, so an entry costs the same whatever the length of
// the email an attacker sends.
type throttleKey [sha256.Size]byte

type throttleEntry struct {
	key   throttleKey
	count int       // failed attempts plus attempts still in flight
	last  time.Time // when the last attempt was admitted
}

func emailKey(email string) throttleKey { return sha256.Sum256([]byte("email\x00" + email)) }

// clientKey groups IPv6 addresses by /64, the block one subscriber usually
// holds, so that rotating through it does not reset the limit. ok is false
// without an address (an in-process caller), which has no client limit.
func clientKey(ip string) (key throttleKey, ok bool) {
	if ip == "" {
		return throttleKey{}, false
	}
	if addr, err := netip.ParseAddr(ip); err == nil {
		addr = addr.Unmap().WithZone("")
		if addr.Is6() {
			addr = netip.PrefixFrom(addr, 64).Masked().Addr()
		}
		ip = addr.String()
	}
	return sha256.Sum256([]byte("client\x00" + ip)), true
}

// wait is how long an attempt on e must still wait; zero means go ahead.
func (l ThrottleLimit) wait(e *throttleEntry, now time.Time) time.Duration {
	if e == nil || e.count < l.Free {
		return 0
	}
	delay := min(l.BaseDelay<<min(e.count-l.Free, 16), l.MaxDelay)
	return max(e.last.Add(delay).Sub(now), 0)
}

// Reservation is one admitted login attempt. It counts as a failure from the
// moment it is made; Succeeded or Release take that back. Use it from one
// goroutine.
type Reservation struct {
	t             *LoginThrottle
	email, client *throttleEntry // client is nil without a client address
	done          bool
}

// Reserve admits an attempt to log in as email (already normalised) from ip,
// or returns how long to wait when the email or the client has tried too
// often. It must be called before the password is verified.
func (t *LoginThrottle) Reserve(email, ip string, now time.Time) (*Reservation, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forgetQuietLocked(now)
	ek := emailKey(email)
	ck, hasClient := clientKey(ip)
	e := t.liveLocked(ek, now)
	var c *throttleEntry
	if hasClient {
		c = t.liveLocked(ck, now)
	}
	if wait := max(t.Email.wait(e, now), t.Client.wait(c, now)); wait > 0 {
		return nil, wait
	}
	r := &Reservation{t: t, email: t.chargeLocked(ek, e, now)}
	if hasClient {
		r.client = t.chargeLocked(ck, c, now)
	}
	for t.byAge.Len() > max(t.MaxEntries, 2) {
		t.removeLocked(t.byAge.Back())
	}
	return r, 0
}

// Succeeded ends an attempt whose password was right: the email's failures
// are forgotten, and the attempt no longer counts against the client (whose
// other failures stay, so one good account cannot launder guesses at
// others).
func (r *Reservation) Succeeded() {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	if r.done {
		return
	}
	r.done = true
	if el, ok := r.t.entries[r.email.key]; ok && el.Value == r.email {
		r.t.removeLocked(el)
	}
	r.refundLocked(r.client)
}

// Release ends an attempt that proved nothing either way (the user is
// suspended, or the check itself failed): it no longer counts for the email
// or the client.
func (r *Reservation) Release() {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	if r.done {
		return
	}
	r.done = true
	r.refundLocked(r.email)
	r.refundLocked(r.client)
}

// refundLocked takes one attempt back from e. An entry forgotten meanwhile
// is no longer in the map, so changing it is harmless.
func (r *Reservation) refundLocked(e *throttleEntry) {
	if e != nil && e.count > 0 {
		e.count--
	}
}

// liveLocked returns the entry of k, or nil if it has none or its failures
// are older than the window.
func (t *LoginThrottle) liveLocked(k throttleKey, now time.Time) *throttleEntry {
	el, ok := t.entries[k]
	if !ok {
		return nil
	}
	e := el.Value.(*throttleEntry)
	if now.Sub(e.last) > t.Window {
		t.removeLocked(el)
		return nil
	}
	return e
}

// chargeLocked counts one attempt on k (whose live entry is e, or nil) and
// makes it the most recent.
func (t *LoginThrottle) chargeLocked(k throttleKey, e *throttleEntry, now time.Time) *throttleEntry {
	if t.entries == nil {
		t.entries = map[throttleKey]*list.Element{}
	}
	if e == nil {
		e = &throttleEntry{key: k}
		t.entries[k] = t.byAge.PushFront(e)
	} else {
		t.byAge.MoveToFront(t.entries[k])
	}
	e.count++
	e.last = now
	return e
}

// forgetQuietLocked drops the entries, oldest first, whose window has
// passed. Attempts are charged in clock order, so they sit at the back.
func (t *LoginThrottle) forgetQuietLocked(now time.Time) {
	for el := t.byAge.Back(); el != nil && now.Sub(el.Value.(*throttleEntry).last) > t.Window; el = t.byAge.Back() {
		t.removeLocked(el)
	}
}

func (t *LoginThrottle) removeLocked(el *list.Element) {
	delete(t.entries, el.Value.(*throttleEntry).key)
	t.byAge.Remove(el)
}

// Len is the number of keys remembered.
func (t *LoginThrottle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byAge.Len()
}
