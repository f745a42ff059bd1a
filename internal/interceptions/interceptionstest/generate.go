package interceptionstest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/aigate/aigate/internal/auth"
)

// The shape of the history, meant to look like a team of developers using
// coding agents: most traffic in working hours on weekdays, a few heavy users
// and a long tail, each person mostly on one tool and one model, agents in
// sessions, and 2 % of requests failing.

type provider struct {
	id        uuid.UUID
	name, typ string
}

type model struct {
	name     string
	provider *provider
}

var (
	openAI    = &provider{uuid.MustParse("0195e000-0000-7000-8000-0000000000a1"), "openai", "openai"}
	anthropic = &provider{uuid.MustParse("0195e000-0000-7000-8000-0000000000a2"), "anthropic", "anthropic"}

	// Per provider: the large model first, then the small one.
	modelsOf = map[*provider][2]*model{
		openAI:    {{"gpt-5", openAI}, {"gpt-5-mini", openAI}},
		anthropic: {{"claude-sonnet-4-5", anthropic}, {"claude-haiku-4-5", anthropic}},
	}
)

// clientShares is how many users have each client as their main one.
var clientShares = []struct {
	client string
	share  float64
}{
	{"claude-code", 0.35}, {"codex", 0.25}, {"openai-sdk", 0.15}, {"anthropic-sdk", 0.10}, {"curl", 0.05}, {"other", 0.10},
}

// hourWeight is the relative traffic of an hour of the day (UTC) on a
// weekday; weekends carry a quarter of it.
var hourWeight = [24]float64{
	0.10, 0.08, 0.08, 0.08, 0.10, 0.15, 0.25, 0.50, 0.90, 1.00, 1.00, 1.00,
	0.70, 0.95, 1.00, 1.00, 1.00, 0.90, 0.70, 0.45, 0.35, 0.25, 0.20, 0.15,
}

const weekendFactor = 0.25

var toolCallSets = []string{
	`[{"id":"toolu_01","name":"Read"}]`,
	`[{"id":"toolu_01","name":"Bash"}]`,
	`[{"id":"toolu_01","name":"Edit"},{"id":"toolu_02","name":"Read"}]`,
	`[{"id":"call_01","name":"shell"},{"id":"call_02","name":"apply_patch"},{"id":"call_03","name":"shell"}]`,
}

type session struct {
	id   string
	left int
	last time.Time
}

type seedUser struct {
	id    uuid.UUID
	email string
	role  auth.Role
	rows  int

	main, second string    // clients
	provider     *provider // for the clients that speak to either
	largeShare   float64   // of their requests on the provider's large model
	tokens       []string
	sessions     map[string]*session // by client
}

// row is one generated interception; pointers are the nullable columns.
type row struct {
	id, replica                          uuid.UUID
	requestID, token                     string
	user                                 *seedUser
	model                                *model
	endpoint, client, status             string
	streaming                            bool
	session                              *string
	started, ended                       time.Time
	ttfb, upstream                       *int32
	input, output, cacheRead, cacheWrite int64
	reasoning                            int64
	toolCalls                            string
	errMsg                               *string
}

type generator struct {
	rng        *rand.Rand
	start      time.Time
	total, seq int

	users []*seedUser
	// The weighted users (all but the rare one) and their cumulative weights.
	cum  []float64
	rare *seedUser
	// Row seq goes to the rare user when seq%rareEvery == rareEvery/2, for
	// the first rareRows spans.
	rareEvery, rareRows int

	perHour []int // rows started in each hour of the history
	hour    int   // the hour being generated
	offsets []time.Duration
	pos     int
	replica [2]uuid.UUID
}

func newGenerator(o Options) *generator {
	rng := rand.New(rand.NewPCG(o.RandSeed, 0x5eed))
	g := &generator{
		rng:   rng,
		start: o.End.Add(-time.Duration(o.Days) * 24 * time.Hour),
		total: o.Interceptions,
		hour:  -1,
	}
	g.replica = [2]uuid.UUID{g.uuid(), g.uuid()}
	// A long tail: user i weighs 1/(i+1)^0.8, so of 100 users the heaviest
	// sends about 12 % of the requests and twenty times the median's.
	var sum float64
	for i := range o.Users {
		u := &seedUser{
			id: g.uuid(), email: fmt.Sprintf(o.EmailFormat, i), role: auth.RoleMember,
			largeShare: 0.6 + 0.35*rng.Float64(), sessions: map[string]*session{},
		}
		if i < o.Owners {
			u.role = auth.RoleOwner
		}
		u.main = pickClient(rng)
		for u.second = pickClient(rng); u.second == u.main; u.second = pickClient(rng) {
		}
		u.provider = openAI
		if rng.IntN(2) == 0 {
			u.provider = anthropic
		}
		for range 1 + rng.IntN(2) {
			u.tokens = append(u.tokens, fmt.Sprintf("seed%08x", rng.Uint32()))
		}
		g.users = append(g.users, u)
		if i == o.Users-1 {
			g.rare = u
			continue
		}
		sum += 1 / math.Pow(float64(i+1), 0.8)
		g.cum = append(g.cum, sum)
	}
	g.rareRows = max(1, o.Interceptions/50_000)
	g.rareEvery = max(1, o.Interceptions/g.rareRows)

	// Rows per hour by the diurnal and weekly weights, rounded on the
	// running total so they add up to exactly total.
	hours := o.Days * 24
	w := make([]float64, hours+1)
	for h := range hours {
		t := g.start.Add(time.Duration(h) * time.Hour)
		f := hourWeight[t.Hour()]
		if t.Weekday() == time.Saturday || t.Weekday() == time.Sunday {
			f *= weekendFactor
		}
		w[h+1] = w[h] + f
	}
	g.perHour = make([]int, hours)
	for h := range hours {
		g.perHour[h] = int(float64(g.total)*w[h+1]/w[hours]+0.5) - int(float64(g.total)*w[h]/w[hours]+0.5)
	}
	return g
}

func pickClient(rng *rand.Rand) string {
	x := rng.Float64()
	for _, c := range clientShares {
		if x < c.share {
			return c.client
		}
		x -= c.share
	}
	return clientShares[len(clientShares)-1].client
}

// uuid is a random (v4) UUID from the seeded generator.
func (g *generator) uuid() uuid.UUID {
	var u uuid.UUID
	a, b := g.rng.Uint64(), g.rng.Uint64()
	for i := range 8 {
		u[i], u[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// uuidV7 is a UUIDv7 of t, as the gateway makes a request's id.
func (g *generator) uuidV7(t time.Time) uuid.UUID {
	u := g.uuid()
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		u[i] = byte(ms >> (8 * (5 - i)))
	}
	u[6] = u[6]&0x0f | 0x70
	return u
}

// next generates the next row, in started_at order, into r; false when the
// history is done.
func (g *generator) next(r *row) bool {
	if g.seq >= g.total {
		return false
	}
	for g.pos >= len(g.offsets) {
		g.hour++
		if g.hour >= len(g.perHour) {
			return false
		}
		g.offsets = g.offsets[:0]
		for range g.perHour[g.hour] {
			g.offsets = append(g.offsets, time.Duration(g.rng.Int64N(int64(time.Hour/time.Microsecond)))*time.Microsecond)
		}
		slices.Sort(g.offsets)
		g.pos = 0
	}
	started := g.start.Add(time.Duration(g.hour)*time.Hour + g.offsets[g.pos])
	g.pos++
	seq := g.seq
	g.seq++

	rng := g.rng
	u := g.rare
	if rare := seq%g.rareEvery == g.rareEvery/2 && seq/g.rareEvery < g.rareRows; !rare {
		u = g.users[sort.SearchFloat64s(g.cum, rng.Float64()*g.cum[len(g.cum)-1])]
	}
	u.rows++

	*r = row{
		id: g.uuidV7(started), replica: g.replica[rng.IntN(2)], requestID: fmt.Sprintf("req-%08x", seq),
		user: u, token: u.tokens[rng.IntN(len(u.tokens))], started: started, toolCalls: "[]",
	}
	r.client = u.main
	if rng.Float64() < 0.15 {
		r.client = u.second
	}
	p := u.provider
	switch r.client {
	case "claude-code", "anthropic-sdk":
		p = anthropic
	case "codex", "openai-sdk":
		p = openAI
	}
	r.model = modelsOf[p][0]
	if rng.Float64() >= u.largeShare {
		r.model = modelsOf[p][1]
	}
	switch {
	case p == anthropic:
		r.endpoint = "messages"
	case r.client == "codex", r.client == "openai-sdk" && rng.IntN(5) < 2:
		r.endpoint = "responses"
	default:
		r.endpoint = "chat_completions"
	}
	agent := r.client == "claude-code" || r.client == "codex"
	r.streaming = agent || rng.Float64() < 0.6
	if agent {
		s := u.sessions[r.client]
		if s == nil || s.left == 0 || started.Sub(s.last) > 30*time.Minute {
			s = &session{id: g.uuid().String(), left: 5 + rng.IntN(150)}
			u.sessions[r.client] = s
		}
		s.left--
		s.last = started
		id := s.id
		r.session = &id
		if rng.Float64() < 0.45 {
			r.toolCalls = toolCallSets[rng.IntN(len(toolCallSets))]
		}
	}

	// Outcome: 2 % of requests do not end ok, nearly all upstream errors
	// and cancellations; aigate's own failures are rare, one in 10,000.
	x := rng.Float64()
	switch {
	case x < 0.014:
		r.status = "upstream_error"
		code := []int32{429, 429, 500, 503}[rng.IntN(4)]
		if p == anthropic && code == 503 {
			code = 529
		}
		r.upstream = &code
		r.ended = started.Add(time.Duration(lognormal(rng, 400, 0.6)) * time.Millisecond)
		ttfb := int32(r.ended.Sub(started).Milliseconds())
		r.ttfb = &ttfb
		msg := fmt.Sprintf("upstream answered %d", code)
		r.errMsg = &msg
		r.toolCalls = "[]"
		return true
	case x < 0.0199:
		r.status = "client_cancelled"
	case x < 0.020:
		r.status = "gateway_error"
		r.ended = started.Add(time.Duration(lognormal(rng, 2000, 1.0)) * time.Millisecond)
		msg := "upstream connection failed: connection reset by peer"
		r.errMsg = &msg
		r.toolCalls = "[]"
		return true
	default:
		r.status = "ok"
	}
	ok := int32(200)
	r.upstream = &ok

	// Agents send long contexts, mostly cached; answers are short.
	median := 4000.0
	if agent {
		median = 25000
	}
	r.input = int64(lognormal(rng, median, 0.9))
	r.output = int64(lognormal(rng, 600, 1.0))
	if agent {
		r.cacheRead = int64(float64(r.input) * (0.5 + 0.45*rng.Float64()))
		if p == anthropic {
			r.cacheWrite = int64(float64(r.input-r.cacheRead) * rng.Float64())
		}
	}
	if p == openAI && r.model == modelsOf[openAI][0] {
		r.reasoning = int64(float64(r.output) * 0.6 * rng.Float64())
	}
	lat := lognormal(rng, 2500, 0.7)
	if r.streaming {
		lat = lognormal(rng, 9000, 0.8)
	}
	ttfb := int32(lognormal(rng, 900, 0.6))
	if !r.streaming || int64(ttfb) > int64(lat) {
		ttfb = int32(lat)
	}
	r.ttfb = &ttfb
	r.ended = started.Add(time.Duration(lat) * time.Millisecond)
	if r.status == "client_cancelled" {
		// Cut off partway: the usage so far, no tool calls.
		r.ended = started.Add(time.Duration(lat*rng.Float64()) * time.Millisecond)
		r.output /= 3
		r.toolCalls = "[]"
		if r.ended.Sub(started) < time.Duration(ttfb)*time.Millisecond {
			r.ttfb = nil
		}
		msg := "the client closed the connection"
		r.errMsg = &msg
	}
	return true
}
