package rollup_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/rollup"
	"github.com/aigate/aigate/internal/testdb"
)

// requireDaysAreTheirHours fails unless usage_daily holds exactly one row
// per (day, key) of usage_hourly, equal to the sum of its hours.
func requireDaysAreTheirHours(t *testing.T, db *database.DB) {
	t.Helper()
	const hoursPerDay = `SELECT date_trunc('day', hour, 'UTC') AS day, user_id, provider_id, provider_name, provider_type,
			model, client, sum(requests)::bigint, sum(errors)::bigint, sum(input_tokens)::bigint,
			sum(output_tokens)::bigint, sum(cache_read_tokens)::bigint, sum(cache_write_tokens)::bigint,
			sum(reasoning_tokens)::bigint, sum(latency_p50_ms::bigint * requests)::bigint,
			sum(latency_p95_ms::bigint * requests)::bigint,
			coalesce(sum(requests) FILTER (WHERE ttfb_p50_ms IS NOT NULL), 0)::bigint,
			coalesce(sum(ttfb_p50_ms::bigint * requests), 0)::bigint, coalesce(sum(ttfb_p95_ms::bigint * requests), 0)::bigint,
			sum(cost_micros)::bigint, sum(unpriced_requests)::bigint, sum(denied)::bigint
		FROM usage_hourly GROUP BY 1, 2, 3, 4, 5, 6, 7`
	const days = `SELECT day, user_id, provider_id, provider_name, provider_type, model, client, requests, errors,
			input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
			latency_p50_weighted, latency_p95_weighted, ttfb_requests, ttfb_p50_weighted, ttfb_p95_weighted,
			cost_micros, unpriced_requests, denied
		FROM usage_daily`
	var missing, extra, total int
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM (`+hoursPerDay+` EXCEPT ALL `+days+`) AS m),
			(SELECT count(*) FROM (`+days+` EXCEPT ALL `+hoursPerDay+`) AS e),
			(SELECT count(*) FROM usage_daily)`).Scan(&missing, &extra, &total))
	require.Zero(t, missing, "days whose sum is missing or wrong")
	require.Zero(t, extra, "days that are not the sum of their hours")
	require.NotZero(t, total)
}

// Every tick leaves each day equal to its hours, with rows arriving late
// into old days, across midnight, and a tick that changes nothing.
func TestDaysFollowTheirHours(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	s := newService(t, db, rollup.Config{LookBack: time.Microsecond}, nil)
	midnight := hour0.Truncate(24 * time.Hour).Add(24 * time.Hour)
	insert(t, db, mixedUsage()...)
	first := tick(t, s)
	require.NotZero(t, first.DaysRecomputed)
	require.Equal(t, first.DaysRecomputed, first.DaysWritten, "every day new")
	requireDaysAreTheirHours(t, db)

	insert(t, db, ic{StartedAt: midnight.Add(-time.Minute), Input: 5}, ic{StartedAt: midnight.Add(time.Minute), Input: 6})
	r := tick(t, s)
	require.EqualValues(t, 2, r.DaysRecomputed, "the two days either side of midnight")
	require.EqualValues(t, 2, r.DaysWritten)
	requireDaysAreTheirHours(t, db)

	insert(t, db, ic{StartedAt: hour0.Add(-72 * time.Hour), Client: "curl"}, ic{StartedAt: hour0.Add(10 * time.Minute), Output: 3})
	r = tick(t, s)
	require.EqualValues(t, 2, r.DaysRecomputed, "a new day three days back, and hour0's day of alice's codex")
	require.EqualValues(t, 2, r.DaysWritten)
	requireDaysAreTheirHours(t, db)

	r = tick(t, s)
	require.Zero(t, r.DaysRecomputed, "nothing changed")
	require.Zero(t, r.DaysWritten)
	requireDaysAreTheirHours(t, db)
}

// During a rolling upgrade a replica of the version before usage_daily
// still ticks: it recomputes hours and moves the watermark, not the days.
// The next tick of this version sums the days of those hours too, however
// many ticks the older replica made in between.
func TestDaysCatchUpWithAnOlderReplicasTicks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	// A look-back this short leaves the older ticks' interceptions out of
	// this version's next tick: only their hours' updated_at tell.
	s := newService(t, db, rollup.Config{LookBack: time.Microsecond}, nil)
	insert(t, db, mixedUsage()...)
	tick(t, s)
	requireDaysAreTheirHours(t, db)

	// What a tick of the version before did: the hours, then the
	// watermark alone.
	olderTick := func() {
		_, err := database.Tx(ctx, db, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
			q := dbsqlc.New(tx)
			require.NoError(t, q.UsageRollupPlanSettings(ctx))
			st, err := q.UsageRollupStateGet(ctx)
			require.NoError(t, err)
			since := st.Watermark.Add(-rollup.DefaultLookBack)
			span, err := q.UsageHourlyTouchedSpan(ctx, &since)
			require.NoError(t, err)
			_, err = q.UsageHourlyRecompute(ctx, dbsqlc.UsageHourlyRecomputeParams{
				Since: &since, FromHour: span.FirstStartedAt.UTC().Truncate(time.Hour),
				ToHour: span.LastStartedAt.UTC().Truncate(time.Hour).Add(time.Hour),
			})
			require.NoError(t, err)
			_, err = tx.Exec(ctx, `UPDATE usage_rollup_state SET watermark = now(), updated_at = now()`)
			return struct{}{}, err
		})
		require.NoError(t, err)
	}
	// Two of them, one changing an hour of an existing day, the other a
	// new day.
	insert(t, db, ic{StartedAt: hour0.Add(30 * time.Minute), Input: 11})
	olderTick()
	insert(t, db, ic{StartedAt: hour0.Add(-30 * time.Hour), Model: "gpt-5-mini"})
	olderTick()

	r := tick(t, s)
	require.Zero(t, r.Recorded, "the older replica rolled the interceptions up")
	require.EqualValues(t, 2, r.DaysWritten, "the days of both older ticks' hours")
	require.EqualValues(t, 8+2, r.DaysRecomputed, "and, inside the look-back, those of the last tick of this version")
	r = tick(t, s)
	require.Zero(t, r.DaysRecomputed, "caught up: the watermarks agree again")
	requireDaysAreTheirHours(t, db)
}

// Over a window of whole days and hours either side, Totals gives what the
// hours alone give, latencies included: the days are only a faster sum.
func TestTotalsOverDaysAreTheHours(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	day := hour0.Truncate(24 * time.Hour)
	rows := mixedUsage()
	// The hour before the day, the day, and the hours after it, with a
	// TTFB or not.
	rows = append(rows, fill(
		ic{StartedAt: day.Add(-30 * time.Minute), Latency: 70 * time.Millisecond, TTFBms: ms(9)},
		ic{StartedAt: day.Add(-90 * time.Minute), User: bob, Latency: 20 * time.Millisecond},
		ic{StartedAt: day.Add(24*time.Hour + 10*time.Minute), Latency: 40 * time.Millisecond, TTFBms: ms(3)},
		ic{StartedAt: day.Add(26*time.Hour + 10*time.Minute), Model: "gpt-5-mini", Latency: 15 * time.Millisecond},
		ic{StartedAt: day.Add(23*time.Hour + 59*time.Minute), Latency: 90 * time.Millisecond, TTFBms: ms(30)},
	)...)
	insert(t, db, rows...)
	tick(t, newService(t, db, rollup.Config{}, nil))

	// The hours' answer: every bucket of [from, to) read from usage_hourly.
	fromHours := func(from, to time.Time, g rollup.GroupBy) map[string][4]float64 {
		key := map[rollup.GroupBy]string{
			rollup.GroupNone: "''", rollup.GroupModel: "model", rollup.GroupUser: "user_id::text",
			rollup.GroupDay: "to_char(date_trunc('day', hour, 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
		}[g]
		rs, err := db.Pool.Query(ctx, `SELECT `+key+`, sum(latency_p50_ms::bigint * requests)::float8 / sum(requests),
				sum(latency_p95_ms::bigint * requests)::float8 / sum(requests),
				coalesce(sum(ttfb_p50_ms::bigint * requests)::float8 / nullif(sum(requests) FILTER (WHERE ttfb_p50_ms IS NOT NULL), 0), -1),
				sum(requests)::float8
			FROM usage_hourly WHERE hour >= $1 AND hour < $2 GROUP BY 1`, from, to)
		require.NoError(t, err)
		out := map[string][4]float64{}
		for rs.Next() {
			var k string
			var v [4]float64
			require.NoError(t, rs.Scan(&k, &v[0], &v[1], &v[2], &v[3]))
			out[k] = v
		}
		require.NoError(t, rs.Err())
		return out
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
	}{
		{"hours, a day, hours", day.Add(-2 * time.Hour), day.Add(27*time.Hour + 30*time.Minute)},
		{"a day exactly", day, day.Add(24 * time.Hour)},
		{"a day but its last hour", day, day.Add(23 * time.Hour)},
		{"from inside an hour, to inside an hour", day.Add(-90 * time.Minute), day.Add(24*time.Hour + 5*time.Minute)},
		{"three days", day.Add(-24 * time.Hour), day.Add(48 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, g := range []rollup.GroupBy{rollup.GroupNone, rollup.GroupModel, rollup.GroupUser, rollup.GroupDay} {
				got, err := rollup.Totals(ctx, db, rollup.Query{From: tc.from, To: tc.to, GroupBy: g})
				require.NoError(t, err)
				require.Equal(t, withoutLatency(sums(rows, g, tc.from, tc.to, nil)), withoutLatency(got), g)
				want := fromHours(tc.from, tc.to, g)
				require.Len(t, got, len(want), g)
				for _, r := range got {
					k := map[rollup.GroupBy]string{
						rollup.GroupNone: "", rollup.GroupModel: r.Model, rollup.GroupUser: r.UserID.String(),
						rollup.GroupDay: r.Start.Format(time.DateOnly),
					}[g]
					w, ok := want[k]
					require.True(t, ok, "%s %q", g, k)
					require.InDelta(t, w[0], r.LatencyP50Ms, 1e-9, "%s %q", g, k)
					require.InDelta(t, w[1], r.LatencyP95Ms, 1e-9, "%s %q", g, k)
					if w[2] < 0 {
						require.Nil(t, r.TTFBP50Ms)
					} else {
						require.NotNil(t, r.TTFBP50Ms)
						require.InDelta(t, w[2], *r.TTFBP50Ms, 1e-9, "%s %q", g, k)
					}
					require.EqualValues(t, w[3], r.Requests)
				}
			}
		})
	}
}

func TestWholeDays(t *testing.T) {
	t.Parallel()
	d := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name             string
		from, to         time.Time
		daysFrom, daysTo time.Time
	}{
		{"a day", d, d.AddDate(0, 0, 1), d, d.AddDate(0, 0, 1)},
		{"its last hour starting just before to", d, d.Add(23*time.Hour + time.Microsecond), d, d.AddDate(0, 0, 1)},
		{"its last hour left out", d, d.Add(23 * time.Hour), d.Add(23 * time.Hour), d.Add(23 * time.Hour)},
		{"from a microsecond after midnight", d.Add(time.Microsecond), d.AddDate(0, 0, 2), d.AddDate(0, 0, 1), d.AddDate(0, 0, 2)},
		{"hours either side", d.Add(-90 * time.Minute), d.Add(24*time.Hour + 30*time.Minute), d, d.AddDate(0, 0, 1)},
		{"thirty days from mid-morning", d.Add(10 * time.Hour), d.Add(30*24*time.Hour + 10*time.Hour), d.AddDate(0, 0, 1), d.AddDate(0, 0, 30)},
		{"less than a day", d.Add(time.Hour), d.Add(20 * time.Hour), d.Add(20 * time.Hour), d.Add(20 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			from, to := rollup.WholeDays(tc.from, tc.to)
			require.Equal(t, tc.daysFrom, from)
			require.Equal(t, tc.daysTo, to)
		})
	}
}
