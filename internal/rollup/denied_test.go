package rollup_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/rollup"
	"github.com/aigate/aigate/internal/testdb"
)

// A request a policy refused counts in requests and in denied, never in
// errors, in the hours, their days and Totals; a denial arriving late
// moves its bucket and day, and a re-run writes nothing.
func TestDenialsAreCountedApartFromErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	s := newService(t, db, rollup.Config{LookBack: time.Microsecond}, nil)
	denied := ic{Status: "denied", Latency: time.Millisecond}
	insert(t, db,
		ic{Input: 10}, ic{Input: 20}, ic{Status: "upstream_error", Input: 5}, ic{Status: "gateway_error"},
		ic{Status: "client_cancelled", Input: 3}, denied, denied,
		// Another hour of the same day: the day sums both.
		ic{StartedAt: hour0.Add(2 * time.Hour), Input: 1}, ic{StartedAt: hour0.Add(2 * time.Hour), Status: "denied"},
	)
	tick(t, s)
	bs := buckets(t, db)
	require.Len(t, bs, 2)
	require.EqualValues(t, 7, bs[0].Requests)
	require.EqualValues(t, 3, bs[0].Errors, "upstream and gateway errors, and a cancel")
	require.EqualValues(t, 2, bs[0].Denied)
	require.EqualValues(t, 1, bs[1].Denied)
	require.Zero(t, bs[1].Errors)
	requireDaysAreTheirHours(t, db)

	day := hour0.Truncate(24 * time.Hour)
	for _, q := range []rollup.Query{
		{From: hour0, To: hour0.Add(3 * time.Hour)}, // hours
		{From: day, To: day.Add(24 * time.Hour)},    // the day's row
		{From: day, To: day.Add(24 * time.Hour), GroupBy: rollup.GroupDay},
	} {
		got, err := rollup.Totals(ctx, db, q)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.EqualValues(t, 9, got[0].Requests, q)
		require.EqualValues(t, 3, got[0].Errors, q)
		require.EqualValues(t, 3, got[0].Denied, q)
	}

	r := tick(t, s)
	require.Zero(t, r.Written, "nothing new: no bucket rewritten")
	require.Zero(t, r.DaysWritten)

	insert(t, db, ic{Status: "denied", StartedAt: hour0.Add(30 * time.Minute)})
	r = tick(t, s)
	require.EqualValues(t, 1, r.Written)
	require.EqualValues(t, 1, r.DaysWritten)
	require.EqualValues(t, 3, buckets(t, db)[0].Denied)
	requireDaysAreTheirHours(t, db)

	// The change detection compares denied: rows that differ from their
	// interceptions only there are rewritten by a full recompute.
	_, err := db.Pool.Exec(ctx, `UPDATE usage_hourly SET denied = 0;
		UPDATE usage_daily SET denied = 0;
		UPDATE usage_rollup_state SET watermark = NULL, daily_watermark = NULL`)
	require.NoError(t, err)
	r = tick(t, s)
	require.EqualValues(t, 2, r.Written, "both hours")
	require.EqualValues(t, 1, r.DaysWritten, "their day")
	bs = buckets(t, db)
	require.EqualValues(t, 3, bs[0].Denied)
	require.EqualValues(t, 1, bs[1].Denied)
	requireDaysAreTheirHours(t, db)
}

// The schema refuses buckets whose errors and denials are more than their
// requests.
func TestBucketsRefuseMoreErrorsAndDenialsThanRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	insert(t, db, ic{Status: "denied"}, ic{Status: "upstream_error"})
	tick(t, newService(t, db, rollup.Config{}, nil))
	for _, table := range []string{"usage_hourly", "usage_daily"} {
		_, err := db.Pool.Exec(ctx, `UPDATE `+table+` SET denied = denied + 1`)
		require.ErrorContains(t, err, table+"_errors_denied_check")
		_, err = db.Pool.Exec(ctx, `UPDATE `+table+` SET denied = -1, errors = 0`)
		require.ErrorContains(t, err, "check constraint", table)
	}
}
