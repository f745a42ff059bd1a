package rollup_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/rollup"
	"github.com/aigate/aigate/internal/testdb"
)

// sums is what Totals must give for rows, per group, computed from the
// interceptions themselves; latencies are checked on their own.
func sums(rows []ic, g rollup.GroupBy, from, to time.Time, user *uuid.UUID) []rollup.Row {
	byKey := map[rollup.Row]*rollup.Row{}
	for _, r := range rows {
		hour := r.StartedAt.UTC().Truncate(time.Hour)
		if hour.Before(from) || !hour.Before(to) || (user != nil && r.User != *user) {
			continue
		}
		var k rollup.Row
		switch g {
		case rollup.GroupUser:
			k.UserID = r.User
		case rollup.GroupProvider:
			k.ProviderID, k.ProviderName, k.ProviderType = r.Provider.ID, r.Provider.Name, r.Provider.Type
		case rollup.GroupModel:
			k.Model = r.Model
		case rollup.GroupClient:
			k.Client = r.Client
		case rollup.GroupHour:
			k.Start = hour
		case rollup.GroupDay:
			k.Start = hour.Truncate(24 * time.Hour)
		}
		s := byKey[k]
		if s == nil {
			c := k
			s = &c
			byKey[k] = s
		}
		s.Requests++
		switch r.Status {
		case "ok":
		case "denied":
			s.Denied++
		default:
			s.Errors++
		}
		s.InputTokens += r.Input
		s.OutputTokens += r.Output
		s.CacheReadTokens += r.CacheRead
		s.CacheWriteTokens += r.CacheWrite
		s.ReasoningTokens += r.Reasoning
		switch {
		case r.Cost != nil:
			s.CostMicros += *r.Cost
		case r.Input+r.Output+r.CacheRead+r.CacheWrite > 0:
			s.UnpricedRequests++
		}
	}
	var out []rollup.Row
	for _, s := range byKey {
		out = append(out, *s)
	}
	return out
}

// withoutLatency keeps what sums computes, in a fixed order.
func withoutLatency(rows []rollup.Row) []rollup.Row {
	out := make([]rollup.Row, len(rows))
	for i, r := range rows {
		r.LatencyP50Ms, r.LatencyP95Ms, r.TTFBP50Ms, r.TTFBP95Ms = 0, 0, nil, nil
		out[i] = r
	}
	slices.SortFunc(out, func(a, b rollup.Row) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return compareKeys(a, b)
	})
	return out
}

func compareKeys(a, b rollup.Row) int {
	for _, c := range []int{
		slices.Compare(a.UserID[:], b.UserID[:]), slices.Compare(a.ProviderID[:], b.ProviderID[:]),
		compareStrings(a.ProviderName, b.ProviderName), compareStrings(a.Model, b.Model), compareStrings(a.Client, b.Client),
	} {
		if c != 0 {
			return c
		}
	}
	return 0
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestTotals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	rows := mixedUsage()
	// Two days: the fixtures' five hours, and a request the next day.
	rows = append(rows, fill(ic{User: bob, StartedAt: hour0.Add(26 * time.Hour), Input: 1000})...)
	insert(t, db, rows...)
	rolledUpTo := tick(t, newService(t, db, rollup.Config{}, nil)).Watermark
	w, err := rollup.Watermark(ctx, db)
	require.NoError(t, err)
	require.NotNil(t, w)
	require.True(t, rolledUpTo.Equal(*w), "the last run's")
	require.Equal(t, time.UTC, w.Location())

	all := [2]time.Time{hour0.Add(-24 * time.Hour), hour0.Add(48 * time.Hour)}
	for _, tc := range []struct {
		name     string
		group    rollup.GroupBy
		from, to time.Time
		user     *uuid.UUID
	}{
		{"total", rollup.GroupNone, all[0], all[1], nil},
		{"per user", rollup.GroupUser, all[0], all[1], nil},
		{"per provider", rollup.GroupProvider, all[0], all[1], nil},
		{"per model", rollup.GroupModel, all[0], all[1], nil},
		{"per client", rollup.GroupClient, all[0], all[1], nil},
		{"per hour", rollup.GroupHour, all[0], all[1], nil},
		{"per day", rollup.GroupDay, all[0], all[1], nil},
		{"one user per model", rollup.GroupModel, all[0], all[1], &bob},
		// A bucket counts when its hour starts in [from, to).
		{"from inside an hour leaves it out", rollup.GroupHour, hour0.Add(30 * time.Minute), all[1], nil},
		{"to inside an hour keeps it", rollup.GroupHour, all[0], hour0.Add(2*time.Hour + time.Minute), nil},
		{"to on an hour leaves it out", rollup.GroupHour, all[0], hour0.Add(2 * time.Hour), nil},
		{"today", rollup.GroupModel, hour0.Truncate(24 * time.Hour), hour0.Truncate(24 * time.Hour).Add(24 * time.Hour), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := rollup.Totals(ctx, db, rollup.Query{From: tc.from, To: tc.to, UserID: tc.user, GroupBy: tc.group})
			require.NoError(t, err)
			require.Equal(t, withoutLatency(sums(rows, tc.group, tc.from, tc.to, tc.user)), withoutLatency(got))
			for i := 1; i < len(got); i++ {
				if tc.group == rollup.GroupHour || tc.group == rollup.GroupDay {
					require.True(t, got[i-1].Start.Before(got[i].Start), "in time order")
				} else {
					require.GreaterOrEqual(t, got[i-1].Requests, got[i].Requests, "busiest first")
				}
			}
		})
	}

	t.Run("nothing in the window", func(t *testing.T) {
		t.Parallel()
		got, err := rollup.Totals(ctx, db, rollup.Query{From: all[1], To: all[1].Add(time.Hour)})
		require.NoError(t, err)
		require.Empty(t, got)
	})
}

// Latency over several buckets is the requests-weighted mean of their
// percentiles; over one bucket it is the bucket's.
func TestTotalsLatency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	insert(t, db,
		ic{Latency: 10 * time.Millisecond, TTFBms: ms(4)},
		ic{Latency: 10 * time.Millisecond, TTFBms: ms(4)},
		ic{Latency: 10 * time.Millisecond, TTFBms: ms(4)},
		ic{StartedAt: hour0.Add(time.Hour), Latency: 50 * time.Millisecond, TTFBms: ms(8)},
		// No byte back: counts for latency, not for TTFB.
		ic{StartedAt: hour0.Add(2 * time.Hour), Latency: 30 * time.Millisecond, Status: "upstream_error"},
	)
	tick(t, newService(t, db, rollup.Config{}, nil))
	q := rollup.Query{From: hour0, To: hour0.Add(3 * time.Hour)}

	got, err := rollup.Totals(ctx, db, q)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.InDelta(t, (3*10+50+30)/5.0, got[0].LatencyP50Ms, 1e-9)
	require.InDelta(t, (3*10+50+30)/5.0, got[0].LatencyP95Ms, 1e-9)
	require.NotNil(t, got[0].TTFBP50Ms)
	require.InDelta(t, (3*4+8)/4.0, *got[0].TTFBP50Ms, 1e-9, "weighted over the requests that had one")
	require.EqualValues(t, 1, got[0].Errors)

	q.GroupBy = rollup.GroupHour
	got, err = rollup.Totals(ctx, db, q)
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, hour0, got[0].Start)
	require.InDelta(t, 10, got[0].LatencyP50Ms, 1e-9)
	require.InDelta(t, 50, got[1].LatencyP95Ms, 1e-9)
	require.Nil(t, got[2].TTFBP50Ms)
	require.Nil(t, got[2].TTFBP95Ms)
}

func TestTotalsBeforeAnyRollup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	insert(t, db, ic{})
	got, err := rollup.Totals(ctx, db, rollup.Query{From: hour0, To: hour0.Add(time.Hour)})
	require.NoError(t, err)
	require.Empty(t, got, "interceptions count once rolled up")
	w, err := rollup.Watermark(ctx, db)
	require.NoError(t, err)
	require.Nil(t, w)
}

func TestTotalsRefusesABadQuery(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	for _, tc := range []struct {
		name   string
		q      rollup.Query
		fields []string
	}{
		{"no window", rollup.Query{}, []string{"from", "to"}},
		{"to before from", rollup.Query{From: hour0, To: hour0.Add(-time.Hour)}, []string{"to"}},
		{"empty window", rollup.Query{From: hour0, To: hour0}, []string{"to"}},
		{"unknown grouping", rollup.Query{From: hour0, To: hour0.Add(time.Hour), GroupBy: "week"}, []string{"group_by"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := rollup.Totals(context.Background(), db, tc.q)
			e, ok := apperr.As(err)
			require.True(t, ok, err)
			require.Equal(t, apperr.KindInvalid, e.Kind)
			var fields []string
			for _, v := range e.Validations {
				fields = append(fields, v.Field)
			}
			require.Equal(t, tc.fields, fields)
		})
	}
}

func TestToday(t *testing.T) {
	t.Parallel()
	from, to := rollup.Today(time.Date(2026, 12, 1, 1, 30, 0, 0, time.FixedZone("CET", 3600)))
	require.Equal(t, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), from, "the UTC day: 00:30 UTC")
	require.Equal(t, time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), to)
	from, _ = rollup.Today(time.Date(2026, 12, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)))
	require.Equal(t, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), from, "still the 30th in UTC")
}
