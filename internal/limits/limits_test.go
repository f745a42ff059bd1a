package limits_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/limits"
	"github.com/aigate/aigate/internal/pubsub"
	"github.com/aigate/aigate/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// waitFor bounds waits on loops and notifications; generous, the machine
// may be busy.
const waitFor = 60 * time.Second

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

type fleet struct {
	t       testing.TB
	db      *database.DB
	url     string
	clock   *clock.Manual
	engines []*limits.Engine
	rules   []limits.Rule
}

// newFleet starts n engines (replicas) on one test database.
func newFleet(t *testing.T, n int, rules ...limits.Rule) *fleet { return startFleet(t, n, rules...) }

// newBenchFleet is one engine for a benchmark.
func newBenchFleet(b *testing.B, rules ...limits.Rule) *fleet { return startFleet(b, 1, rules...) }

func startFleet(t testing.TB, n int, rules ...limits.Rule) *fleet {
	t.Helper()
	url := testdb.URL(t)
	f := &fleet{t: t, db: testdb.Open(t, url), url: url, clock: clock.NewManual(t0), rules: rules}
	for _, r := range rules {
		insertPolicy(t, f.db, r)
	}
	for range n {
		f.engines = append(f.engines, f.start(uuid.New()))
	}
	return f
}

func (f *fleet) start(replica uuid.UUID) *limits.Engine {
	t := f.t
	ctx := context.Background()
	ps, err := pubsub.New(ctx, pubsub.Config{ConnString: f.url})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ps.Close() })
	e := limits.New(limits.Config{
		DB: f.db, PubSub: ps, ReplicaID: replica, Clock: f.clock,
		Load: func(context.Context) ([]limits.Rule, error) { return f.rules, nil },
	})
	require.NoError(t, e.Start(ctx))
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	return e
}

func insertPolicy(t testing.TB, db *database.DB, r limits.Rule) {
	t.Helper()
	period := any("minute")
	if r.Kind == limits.KindConcurrency {
		period = nil
	}
	_, err := db.Pool.Exec(context.Background(), `INSERT INTO policies (id, name, scope, kind, period, limit_value, created_at, updated_at)
		VALUES ($1, $2, 'everyone', $3, $4, $5, now(), now())`, r.ID, r.Name, string(r.Kind), period, r.Limit)
	require.NoError(t, err)
}

func everyone(*limits.Request) bool { return true }
func pool(uuid.UUID) string         { return "" }

func perMinute(at time.Time) (time.Time, time.Time) {
	s := at.UTC().Truncate(time.Minute)
	return s, s.Add(time.Minute)
}

func forever(time.Time) (time.Time, time.Time) {
	return time.Unix(0, 0).UTC(), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
}

func rule(kind limits.Kind, limit int64) limits.Rule {
	r := limits.Rule{ID: uuid.New(), Name: "test-" + string(kind), Kind: kind, Limit: limit, Window: perMinute,
		Describe: fmt.Sprintf("%d %s per minute", limit, kind), Applies: everyone, Subject: pool}
	if kind == limits.KindConcurrency {
		r.Window = forever
	}
	return r
}

// settle writes charges as the recorder does: in a transaction of their own.
func (f *fleet) settle(e *limits.Engine, charges []interceptions.Charge) {
	_, err := database.Tx(context.Background(), f.db, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		return struct{}{}, e.Settle(ctx, tx, charges)
	})
	require.NoError(f.t, err)
}

type windowRow struct{ settled, granted int64 }

func (f *fleet) window(r limits.Rule, at time.Time) windowRow {
	start, _ := r.Window(at)
	var w windowRow
	err := f.db.Pool.QueryRow(context.Background(), `SELECT settled, granted FROM policy_windows
		WHERE policy_id = $1 AND subject = '' AND window_start = $2`, r.ID, start).Scan(&w.settled, &w.granted)
	require.NoError(f.t, err)
	return w
}

func (f *fleet) leaseSum(r limits.Rule, at time.Time) int64 {
	start, _ := r.Window(at)
	var sum int64
	require.NoError(f.t, f.db.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(granted), 0) FROM policy_leases
		WHERE policy_id = $1 AND window_start = $2`, r.ID, start).Scan(&sum))
	return sum
}

// admit is e.Admit for a test on the manual clock: when the request waits
// for a replica that will never hand back (it was killed), the reclaim wait
// is moved past.
func (f *fleet) admit(ctx context.Context, e *limits.Engine, r *limits.Request) (*limits.Ticket, error) {
	type result struct {
		tk  *limits.Ticket
		err error
	}
	done := make(chan result, 1)
	go func() {
		tk, err := e.Admit(ctx, r)
		done <- result{tk, err}
	}()
	armed := make(chan struct{})
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		if f.clock.WaitArmed(wctx, limits.ReclaimTimer, 1) == nil {
			close(armed)
		}
	}()
	select {
	case res := <-done:
		return res.tk, res.err
	case <-armed:
		f.clock.Advance(limits.DefaultReclaimWait)
		res := <-done
		return res.tk, res.err
	}
}

func TestBudgetIsExactAcrossReplicasWithNoFalseDenials(t *testing.T) {
	t.Parallel()
	const limit = 1_000_000 // $1.00
	budget := rule(limits.KindBudget, limit)
	f := newFleet(t, 4, budget)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()

	// Each request reserves its estimate and costs up to it: the estimate
	// (max_tokens priced) bounds what a request can use.
	var reserved, spent, admitted, denied, falseDenials atomic.Int64
	var wg sync.WaitGroup
	for c := range 200 {
		wg.Go(func() {
			e := f.engines[c%len(f.engines)]
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for ctx.Err() == nil {
				est := 1000 + rng.Int64N(4000)
				tk, err := e.Admit(ctx, &limits.Request{Cost: est, Priced: true})
				if d, ok := errors.AsType[*limits.Denial](err); ok {
					denied.Add(1)
					if float64(spent.Load()+reserved.Load()) < 0.9*limit {
						falseDenials.Add(1)
					}
					require.Equal(t, budget.Name, d.Rule)
					return
				}
				require.NoError(t, err)
				reserved.Add(est)
				admitted.Add(1)
				cost := est - rng.Int64N(est/2)
				charges := tk.Done(limits.Usage{Cost: cost, Priced: true})
				f.settle(e, charges)
				spent.Add(cost)
				reserved.Add(-est)
			}
		})
	}
	wg.Wait()
	require.NoError(t, ctx.Err())
	w := f.window(budget, t0)
	t.Logf("admitted %d, denied %d, spent %d of %d µ$ (%.2f%%), false denials %d", admitted.Load(), denied.Load(),
		spent.Load(), limit, 100*float64(spent.Load())/limit, falseDenials.Load())
	require.Equal(t, spent.Load(), w.settled, "settled is the sum of the charges")
	require.LessOrEqual(t, w.settled, int64(limit), "no overshoot: every request cost at most its estimate")
	require.Equal(t, int64(200), denied.Load(), "every client ends denied")
	require.Zero(t, falseDenials.Load())
	require.Equal(t, f.leaseSum(budget, t0), w.granted, "granted is the sum of the leases")
}

func TestRequestsPerMinuteAdmitExactlyNInEachWindow(t *testing.T) {
	t.Parallel()
	const n = 150
	rpm := rule(limits.KindRequests, n)
	f := newFleet(t, 4, rpm)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for minute := range 2 {
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for c := range 100 {
			wg.Go(func() {
				e := f.engines[c%len(f.engines)]
				for range 4 {
					tk, err := e.Admit(ctx, &limits.Request{})
					if _, ok := errors.AsType[*limits.Denial](err); ok {
						continue
					}
					require.NoError(t, err)
					admitted.Add(1)
					f.settle(e, tk.Done(limits.Usage{}))
				}
			})
		}
		wg.Wait()
		at := t0.Add(time.Duration(minute) * time.Minute)
		require.Equal(t, int64(n), admitted.Load(), "minute %d: 400 requests for %d", minute, n)
		require.Equal(t, int64(n), f.window(rpm, at).settled)
		f.clock.Advance(time.Minute)
	}
}

func TestConcurrencyCapMovesBetweenReplicas(t *testing.T) {
	t.Parallel()
	conc := rule(limits.KindConcurrency, 3)
	f := newFleet(t, 2, conc)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	a, b := f.engines[0], f.engines[1]
	var held []*limits.Ticket
	for range 3 {
		tk, err := a.Admit(ctx, &limits.Request{})
		require.NoError(t, err)
		held = append(held, tk)
	}
	_, err := b.Admit(ctx, &limits.Request{})
	var d *limits.Denial
	require.ErrorAs(t, err, &d, "a fourth request in flight")
	require.Equal(t, 429, d.Status)
	require.Nil(t, held[0].Done(limits.Usage{}), "a slot charges nothing")
	// The slot A freed is idle on A: B gets it by the tight-window protocol.
	tk, err := b.Admit(ctx, &limits.Request{})
	require.NoError(t, err)
	tk.Done(limits.Usage{})
}

func TestLeasesOfAKilledReplicaExpire(t *testing.T) {
	t.Parallel()
	const limit = 64_000
	budget := rule(limits.KindBudget, limit)
	budget.Window = forever
	f := newFleet(t, 2, budget)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	a, b := f.engines[0], f.engines[1]
	// A holds allowance: a request in flight and an idle lease.
	_, err := a.Admit(ctx, &limits.Request{Cost: 1000, Priced: true})
	require.NoError(t, err)
	held := f.leaseSum(budget, t0)
	require.Positive(t, held)
	a.AbandonForTest() // kill -9: no hand-back, no release

	// B takes what is free; for A's part it must wait for A's lease to
	// expire, since A will never hand it back.
	var got int64
	for {
		tk, err := f.admit(ctx, b, &limits.Request{Cost: 1000, Priced: true})
		if err != nil {
			var d *limits.Denial
			require.ErrorAs(t, err, &d)
			break
		}
		got += 1000
		f.settle(b, tk.Done(limits.Usage{Cost: 1000, Priced: true}))
	}
	require.Equal(t, limit-held, got)
	f.clock.Advance(limits.DefaultLeaseTTL + time.Second)
	for {
		tk, err := f.admit(ctx, b, &limits.Request{Cost: 1000, Priced: true})
		if err != nil {
			var d *limits.Denial
			require.ErrorAs(t, err, &d)
			break
		}
		got += 1000
		f.settle(b, tk.Done(limits.Usage{Cost: 1000, Priced: true}))
	}
	require.Equal(t, int64(limit), got, "A's allowance came back when its lease expired")
	require.Equal(t, int64(limit), f.window(budget, t0).settled)
}

// A request one rule admits and a later one refuses uses nothing of the
// first: its reservation comes back whole.
func TestRefusedByALaterRuleUsesNothing(t *testing.T) {
	t.Parallel()
	rpm := rule(limits.KindRequests, 10)
	conc := rule(limits.KindConcurrency, 1)
	f := newFleet(t, 1, rpm, conc)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	e := f.engines[0]
	held, err := e.Admit(ctx, &limits.Request{})
	require.NoError(t, err)
	for range 5 {
		_, err := e.Admit(ctx, &limits.Request{})
		var d *limits.Denial
		require.ErrorAs(t, err, &d)
		require.Equal(t, conc.Name, d.Rule)
	}
	f.settle(e, held.Done(limits.Usage{}))
	// Nine more fit in the minute: the five refused used none of it.
	for i := range 9 {
		tk, err := e.Admit(ctx, &limits.Request{})
		require.NoError(t, err, "request %d", i)
		f.settle(e, tk.Done(limits.Usage{}))
	}
	require.Equal(t, int64(10), f.window(rpm, t0).settled)
}

// With the database gone, a replica admits from the allowance it holds; a
// request that needs a refill is refused as unavailable, not let through.
func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	rpm := rule(limits.KindRequests, 64)
	url := testdb.URL(t)
	db := testdb.Open(t, url)
	insertPolicy(t, db, rpm)
	ps, err := pubsub.New(context.Background(), pubsub.Config{ConnString: url})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ps.Close() })
	// The engine's own pool, closed to play a database that went away.
	own := testdb.Open(t, url)
	e := limits.New(limits.Config{DB: own, PubSub: ps, ReplicaID: uuid.New(), Clock: clock.NewManual(t0),
		Load: func(context.Context) ([]limits.Rule, error) { return []limits.Rule{rpm}, nil }})
	require.NoError(t, e.Start(context.Background()))
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	ctx := context.Background()
	tk, err := e.Admit(ctx, &limits.Request{})
	require.NoError(t, err)
	tk.Done(limits.Usage{})
	held := e.Windows()[0]
	own.Pool.Close()
	admitted := 1
	for {
		tk, err := e.Admit(ctx, &limits.Request{})
		if err != nil {
			require.ErrorIs(t, err, limits.ErrUnavailable)
			break
		}
		admitted++
		tk.Done(limits.Usage{})
	}
	require.Equal(t, int(held.Balance)+1, admitted, "the lease in memory (less the first request), and not one request more")
}
