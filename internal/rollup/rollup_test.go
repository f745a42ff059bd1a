package rollup_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/rollup"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
)

// mixedUsage is a few hundred requests over five hours: two users, two
// providers with two models each, four clients, some errors, some denied by
// a policy (no tokens, no cost), some without a byte back.
func mixedUsage() []ic {
	clients := []string{"claude-code", "codex", "openai-sdk", "curl"}
	var rows []ic
	for i := range 300 {
		r := ic{
			User:      []uuid.UUID{alice, bob}[i%2],
			Client:    clients[i%4],
			StartedAt: hour0.Add(time.Duration(i%5)*time.Hour + time.Duration(i)*7*time.Second),
			Latency:   time.Duration(1+i*37%997)*time.Millisecond + time.Duration(i%1000)*time.Microsecond,
			Input:     int64(100 + i), Output: int64(i % 50), CacheRead: int64(i % 7), CacheWrite: int64(i % 3),
			Reasoning: int64(i % 11),
		}
		if i%3 == 0 {
			r.Provider, r.Model = anthropic, []string{"claude-opus", "claude-haiku"}[i%2]
		} else {
			r.Provider, r.Model = openAI, []string{"gpt-5", "gpt-5-mini"}[i%2]
		}
		if i%4 != 1 {
			r.TTFBms = ms(int32(i * 13 % 400))
		}
		// Most requests priced; every fifth of the Anthropic ones not.
		if i%15 != 0 {
			c := int64(1000 + i*17)
			r.Cost = &c
		}
		switch i % 10 {
		case 3:
			r.Status = "upstream_error"
		case 7:
			r.Status = "client_cancelled"
		case 5, 9:
			// Refused at admission: nothing went upstream.
			r.Status = "denied"
			r.Input, r.Output, r.CacheRead, r.CacheWrite, r.Reasoning, r.Cost, r.TTFBms = 0, 0, 0, 0, 0, nil, nil
		}
		rows = append(rows, r)
	}
	return fill(rows...)
}

// model is what the buckets of rows must be, computed here the way the
// schema defines them.
func model(rows []ic) []dbsqlc.UsageHourly {
	type key struct {
		hour                 time.Time
		user, providerID     uuid.UUID
		name, typ, mdl, clnt string
	}
	byKey := map[key][]ic{}
	for _, r := range rows {
		k := key{r.StartedAt.UTC().Truncate(time.Hour), r.User, r.Provider.ID, r.Provider.Name, r.Provider.Type, r.Model, r.Client}
		byKey[k] = append(byKey[k], r)
	}
	var out []dbsqlc.UsageHourly
	for k, rs := range byKey {
		b := dbsqlc.UsageHourly{Hour: k.hour, UserID: k.user, ProviderID: k.providerID, ProviderName: k.name,
			ProviderType: dbsqlc.AiProviderType(k.typ), Model: k.mdl, Client: k.clnt, Requests: int64(len(rs))}
		var lat, ttfb []int32
		for _, r := range rs {
			switch r.Status {
			case "ok":
			case "denied":
				b.Denied++
			default:
				b.Errors++
			}
			b.InputTokens += r.Input
			b.OutputTokens += r.Output
			b.CacheReadTokens += r.CacheRead
			b.CacheWriteTokens += r.CacheWrite
			b.ReasoningTokens += r.Reasoning
			switch {
			case r.Cost != nil:
				b.CostMicros += *r.Cost
			case r.Input+r.Output+r.CacheRead+r.CacheWrite > 0:
				b.UnpricedRequests++
			}
			lat = append(lat, int32(r.Latency.Milliseconds()))
			if r.TTFBms != nil {
				ttfb = append(ttfb, *r.TTFBms)
			}
		}
		b.LatencyP50Ms, b.LatencyP95Ms = nearestRank(lat, 0.5), nearestRank(lat, 0.95)
		if len(ttfb) > 0 {
			b.TtfbP50Ms = pgtype.Int4{Int32: nearestRank(ttfb, 0.5), Valid: true}
			b.TtfbP95Ms = pgtype.Int4{Int32: nearestRank(ttfb, 0.95), Valid: true}
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b dbsqlc.UsageHourly) int {
		return strings.Compare(sortKey(a), sortKey(b))
	})
	return out
}

func sortKey(b dbsqlc.UsageHourly) string {
	return strings.Join([]string{b.Hour.UTC().Format(time.RFC3339), b.UserID.String(), b.ProviderID.String(),
		b.ProviderName, string(b.ProviderType), b.Model, b.Client}, "\x00")
}

// nearestRank is percentile_disc: the smallest value with at least q of
// the values at or below it.
func nearestRank(vs []int32, q float64) int32 {
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[int(math.Ceil(q*float64(len(s))))-1]
}

func sorted(bs []dbsqlc.UsageHourly) []dbsqlc.UsageHourly {
	out := slices.Clone(bs)
	slices.SortFunc(out, func(a, b dbsqlc.UsageHourly) int { return strings.Compare(sortKey(a), sortKey(b)) })
	return out
}

// Acceptance 2: two replicas' services tick at the same instant of one
// manual clock, each on its own pool. The test holds the lock in whichever
// got it until the other has reported its skip, so the two really meet.
func TestTwoReplicasTickingAtOnceOneWorks(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	rows := mixedUsage()
	url := testdb.URL(t)
	pools := map[string]*database.DB{"a": testdb.Open(t, url), "b": testdb.Open(t, url)}
	ids := map[string]uuid.UUID{"a": uuid.New(), "b": uuid.New()}
	insert(t, pools["a"], rows...)

	clk := clock.NewManual(time.Date(2026, 12, 1, 12, 3, 17, 0, time.UTC))
	type outcome struct {
		replica string
		res     rollup.Result
		err     error
	}
	outcomes := make(chan outcome, 4)
	locked := make(chan string, 4)
	release := make(chan struct{})
	var logs testlog.Buffer
	for _, name := range []string{"a", "b"} {
		s := newService(t, pools[name], rollup.Config{Clock: clk, ReplicaID: ids[name]}, &logs)
		s.SetAfterLockForTest(func(ctx context.Context) {
			locked <- name
			select {
			case <-release:
			case <-ctx.Done():
			}
		})
		s.SetAfterTickForTest(func(res rollup.Result, err error) { outcomes <- outcome{name, res, err} })
		runCtx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Run(runCtx)
		}()
		t.Cleanup(func() {
			stop()
			<-done
		})
	}
	next := func(armed int) time.Time {
		t.Helper()
		require.NoError(t, clk.WaitArmed(ctx, rollup.TickTimer, armed))
		at, ok := clk.Next(rollup.TickTimer)
		require.True(t, ok)
		return at
	}
	receive := func() outcome {
		t.Helper()
		select {
		case o := <-outcomes:
			require.NoError(t, o.err, o.replica)
			return o
		case <-ctx.Done():
			t.Fatal("no tick finished")
			return outcome{}
		}
	}

	at := next(2)
	require.Equal(t, time.Date(2026, 12, 1, 12, 5, 0, 0, time.UTC), at)
	clk.AdvanceTo(at)
	var winner string
	select {
	case winner = <-locked:
	case <-ctx.Done():
		t.Fatal("neither replica got the lock")
	}
	loser := map[string]string{"a": "b", "b": "a"}[winner]
	o := receive()
	require.Equal(t, loser, o.replica, "the loser finishes while the winner holds the lock")
	require.True(t, o.res.Skipped)
	require.True(t, hasLine(logs.String(), "usage rollup skipped", "replica_id="+ids[loser].String()), logs.String())
	close(release)
	o = receive()
	require.Equal(t, winner, o.replica)
	require.False(t, o.res.Skipped)
	want := model(rows)
	require.EqualValues(t, len(want), o.res.Written)
	require.Equal(t, o.res.Written, o.res.Recomputed)
	require.EqualValues(t, len(rows), o.res.Recorded)
	require.Nil(t, o.res.Since, "the first run reads everything")
	require.Empty(t, locked, "the loser never held the lock")
	require.Equal(t, at.Add(rollup.DefaultInterval), next(4))

	got := buckets(t, pools["a"])
	require.Equal(t, want, sorted(withoutUpdatedAt(got)), "the buckets are the interceptions'")
	for _, b := range got {
		require.True(t, o.res.Watermark.Equal(b.UpdatedAt), "updated_at is the writing run's watermark")
	}
	fresh := testdb.New(t)
	insert(t, fresh, rows...)
	tick(t, newService(t, fresh, rollup.Config{}, nil))
	require.Equal(t, withoutUpdatedAt(buckets(t, fresh)), withoutUpdatedAt(got), "the rows equal a single run's")

	// The next tick: whoever runs recomputes every bucket (all rows are
	// within the look-back) and writes none.
	before := versions(t, pools["a"])
	clk.AdvanceTo(at.Add(rollup.DefaultInterval))
	ran := 0
	for range 2 {
		o := receive()
		if !o.res.Skipped {
			ran++
			require.EqualValues(t, len(want), o.res.Recomputed)
			require.Zero(t, o.res.Written, o.replica)
		}
	}
	require.NotZero(t, ran)
	require.Equal(t, before, versions(t, pools["a"]), "no row version or updated_at changed")
}

func hasLine(logs string, parts ...string) bool {
	for line := range strings.SplitSeq(logs, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// A record written after the watermark counts in the hour its request
// started, however old; only the buckets it touches are recomputed.
func TestLateRowsCountInTheirHour(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	// A look-back this short leaves out, on the next tick, every row
	// written before this one: what is recomputed is what is new.
	s := newService(t, db, rollup.Config{LookBack: time.Microsecond}, nil)
	// Day partitions, as the retention service makes them, for all but the
	// oldest row's day, which goes to the default partition.
	_, err := db.Pool.Exec(context.Background(), `SELECT interceptions_partition_create(d::date)
		FROM generate_series($1::timestamptz - interval '1 day', $1::timestamptz + interval '1 day', interval '1 day') AS d`, hour0)
	require.NoError(t, err)
	insert(t, db, ic{StartedAt: hour0.Add(10 * time.Minute)}, ic{StartedAt: hour0.Add(5 * time.Hour)})
	first := tick(t, s)
	require.EqualValues(t, 2, first.Written)

	insert(t, db, ic{StartedAt: hour0.Add(59 * time.Minute), Input: 7})
	r := tick(t, s)
	require.NotNil(t, r.Since)
	require.True(t, first.Watermark.Add(-time.Microsecond).Equal(*r.Since), "the watermark minus the look-back")
	require.EqualValues(t, 1, r.Recorded, "the late row alone")
	require.EqualValues(t, 1, r.Recomputed, "only the late row's bucket")
	require.EqualValues(t, 1, r.Written)

	insert(t, db, ic{StartedAt: hour0.Add(-48 * time.Hour), Client: "curl"})
	r = tick(t, s)
	require.EqualValues(t, 1, r.Written, "a new bucket two days back")

	bs := buckets(t, db)
	require.Len(t, bs, 3)
	require.Equal(t, hour0.Add(-48*time.Hour), bs[0].Hour)
	require.Equal(t, "curl", bs[0].Client)
	require.Equal(t, hour0, bs[1].Hour)
	require.EqualValues(t, 2, bs[1].Requests)
	require.EqualValues(t, 7, bs[1].InputTokens)
	require.EqualValues(t, 1, bs[2].Requests)
}

// recorded_at is when the writing COPY began; it commits later. A tick
// whose scan begins in between does not see the row, and sets a watermark
// after its recorded_at: the next tick finds it only by looking back.
func TestLookBackFindsRowsCommittedBehindTheWatermark(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		lookBack time.Duration
		found    bool
	}{
		{"default look-back", 0, true},
		{"no look-back loses it", time.Microsecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := testdb.New(t)
			s := newService(t, db, rollup.Config{LookBack: tc.lookBack}, nil)
			tick(t, s)

			tx, err := db.Pool.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback(ctx) }()
			insertOn(t, tx, ic{})
			r := tick(t, s)
			require.Zero(t, r.Recomputed, "not committed yet")
			require.NoError(t, tx.Commit(ctx))
			var recordedAt time.Time
			require.NoError(t, db.Pool.QueryRow(ctx, "SELECT recorded_at FROM interceptions").Scan(&recordedAt))
			require.True(t, recordedAt.Before(r.Watermark), "recorded behind the watermark")

			r = tick(t, s)
			if tc.found {
				require.EqualValues(t, 1, r.Written)
				require.Len(t, buckets(t, db), 1)
			} else {
				require.Zero(t, r.Recomputed)
				require.Empty(t, buckets(t, db))
			}
		})
	}
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	var rows []ic
	// 1..100 ms in a scrambled order (37 is coprime with 100), TTFB half
	// of it; 5 of them errors.
	for i := range 100 {
		v := int32(i*37%100 + 1)
		r := ic{Latency: time.Duration(v)*time.Millisecond + 999*time.Microsecond, TTFBms: ms(v / 2), Input: 1}
		if v%20 == 0 {
			r.Status = "gateway_error"
		}
		rows = append(rows, r)
	}
	// One request, no byte back, in a bucket of its own.
	rows = append(rows, ic{Client: "curl", Latency: 1500 * time.Microsecond})
	insert(t, db, rows...)
	tick(t, newService(t, db, rollup.Config{}, nil))

	bs := buckets(t, db)
	require.Len(t, bs, 2)
	byClient := map[string]dbsqlc.UsageHourly{bs[0].Client: bs[0], bs[1].Client: bs[1]}
	b := byClient["codex"]
	require.EqualValues(t, 100, b.Requests)
	require.EqualValues(t, 5, b.Errors)
	require.EqualValues(t, 100, b.InputTokens)
	require.EqualValues(t, 50, b.LatencyP50Ms, "whole milliseconds, rounded down")
	require.EqualValues(t, 95, b.LatencyP95Ms)
	require.Equal(t, pgtype.Int4{Int32: 25, Valid: true}, b.TtfbP50Ms)
	require.Equal(t, pgtype.Int4{Int32: 47, Valid: true}, b.TtfbP95Ms)

	one := byClient["curl"]
	require.EqualValues(t, 1, one.LatencyP50Ms)
	require.EqualValues(t, 1, one.LatencyP95Ms)
	require.False(t, one.TtfbP50Ms.Valid, "no request got a byte back")
	require.False(t, one.TtfbP95Ms.Valid)
}

func TestTicksOnTheMultiplesOfTheInterval(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	db := testdb.New(t)
	clk := clock.NewManual(time.Date(2026, 12, 1, 12, 3, 17, 500_000_000, time.UTC))
	s := newService(t, db, rollup.Config{Clock: clk}, nil)
	overrun := make(chan time.Time, 1)
	s.SetAfterLockForTest(func(context.Context) {
		select {
		case to := <-overrun:
			clk.AdvanceTo(to)
		default:
		}
	})
	results := make(chan rollup.Result, 4)
	s.SetAfterTickForTest(func(r rollup.Result, err error) {
		if err != nil {
			t.Error(err)
		}
		results <- r
	})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(runCtx)
	}()
	defer func() {
		stop()
		<-done
	}()
	next := func(armed int) time.Time {
		t.Helper()
		require.NoError(t, clk.WaitArmed(ctx, rollup.TickTimer, armed))
		at, ok := clk.Next(rollup.TickTimer)
		require.True(t, ok)
		return at
	}
	at := func(h, m int) time.Time { return time.Date(2026, 12, 1, h, m, 0, 0, time.UTC) }

	require.Equal(t, at(12, 5), next(1))
	clk.Advance(at(12, 5).Sub(clk.Now()) - time.Microsecond)
	require.Empty(t, results, "not before the multiple")
	require.Equal(t, 1, clk.Armed(rollup.TickTimer))
	clk.AdvanceTo(at(12, 5))
	require.Equal(t, at(12, 10), next(2))
	require.Len(t, results, 1)

	// A tick that runs past the next multiple skips it.
	overrun <- at(12, 11).Add(30 * time.Second)
	clk.AdvanceTo(at(12, 10))
	require.Equal(t, at(12, 15), next(3))
	require.Len(t, results, 2)
}

func TestNextTick(t *testing.T) {
	t.Parallel()
	ist := time.FixedZone("IST", 5*3600+1800)
	for _, tc := range []struct {
		name     string
		now      time.Time
		interval time.Duration
		want     time.Time
	}{
		{"mid-interval", time.Date(2026, 12, 1, 12, 3, 17, 0, time.UTC), 5 * time.Minute, time.Date(2026, 12, 1, 12, 5, 0, 0, time.UTC)},
		{"on a multiple: the next one", time.Date(2026, 12, 1, 12, 5, 0, 0, time.UTC), 5 * time.Minute, time.Date(2026, 12, 1, 12, 10, 0, 0, time.UTC)},
		{"just after", time.Date(2026, 12, 1, 12, 0, 0, 1000, time.UTC), time.Hour, time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)},
		{"across midnight", time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), 5 * time.Minute, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"a half-hour zone", time.Date(2026, 12, 1, 12, 3, 17, 0, ist), 5 * time.Minute, time.Date(2026, 12, 1, 12, 5, 0, 0, ist)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.True(t, tc.want.Equal(rollup.NextTick(tc.now, tc.interval)), rollup.NextTick(tc.now, tc.interval))
		})
	}
}

func TestConfigChecks(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 24 * time.Hour} {
		require.NoError(t, rollup.CheckInterval(d), d)
	}
	for _, d := range []time.Duration{-time.Minute, 7 * time.Minute, 48 * time.Hour} {
		require.Error(t, rollup.CheckInterval(d), d)
	}
	db := &database.DB{}
	_, err := rollup.New(rollup.Config{DB: db, Interval: 7 * time.Minute})
	require.ErrorContains(t, err, "divide 24h")
	_, err = rollup.New(rollup.Config{DB: db, LookBack: -time.Second})
	require.ErrorContains(t, err, "look-back")
	_, err = rollup.New(rollup.Config{})
	require.Error(t, err)
	_, err = rollup.New(rollup.Config{DB: db})
	require.NoError(t, err)
}
