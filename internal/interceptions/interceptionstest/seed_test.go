package interceptionstest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/interceptions/interceptionstest"
	"github.com/aigate/aigate/internal/testdb"
)

// A seeded database holds what Result says, where a deployment would keep
// it: every row in a day partition of the window, the users real rows that
// log in, and the rollup's buckets adding up to the interceptions.
func TestSeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	end := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	const n, days = 20_000, 10
	res, err := interceptionstest.Seed(ctx, db, interceptionstest.Options{
		Interceptions: n, End: end, Days: days, Users: 12, Owners: 1, Password: "seeded password",
	})
	require.NoError(t, err)
	require.Equal(t, end.AddDate(0, 0, -days), res.Start)
	require.Len(t, res.Users, 12)
	require.Equal(t, auth.RoleOwner, res.Users[0].Role)
	require.Equal(t, auth.RoleMember, res.Users[1].Role)

	var total, outside, inDefault, notOK int
	var first, last time.Time
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE started_at < $1 OR started_at >= $2),
			count(*) FILTER (WHERE status <> 'ok'), min(started_at), max(started_at) FROM interceptions`, res.Start, res.End).
		Scan(&total, &outside, &notOK, &first, &last))
	require.Equal(t, n, total)
	require.Zero(t, outside)
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM interceptions_default`).Scan(&inDefault))
	require.Zero(t, inDefault, "every row has its day's partition")
	require.Less(t, last.Sub(first), time.Duration(days)*24*time.Hour)
	require.Greater(t, last.Sub(first), time.Duration(days-1)*24*time.Hour, "the rows span the window")
	require.InDelta(t, 0.02, float64(notOK)/n, 0.005, "about 2%% fail")
	require.Equal(t, notOK, n-res.ByStatus["ok"])

	var partitions int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'interceptions'::regclass`).Scan(&partitions))
	require.Equal(t, 90+1+7+1, partitions, "90 days back, today, 7 ahead and the default")

	// Each user's count is the table's, and the rare one has a few rows.
	sum := 0
	for _, u := range res.Users {
		var got int
		var role string
		var hash string
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM interceptions WHERE user_id = $1), role::text, password_hash
				FROM users WHERE id = $1 AND email = $2`, u.ID, u.Email).Scan(&got, &role, &hash))
		require.Equal(t, u.Interceptions, got, u.Email)
		require.Equal(t, string(u.Role), role)
		sum += got
	}
	require.Equal(t, n, sum)
	rare := res.Rarest()
	require.Equal(t, res.Users[len(res.Users)-1], rare)
	require.Equal(t, 1, rare.Interceptions, "one in 50,000, at least one")
	require.Equal(t, auth.RoleMember, res.Typical().Role)
	require.Greater(t, res.Typical().Interceptions, rare.Interceptions)

	var hash string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, rare.ID).Scan(&hash))
	ok, err := auth.VerifyPassword(hash, "seeded password")
	require.NoError(t, err)
	require.True(t, ok)

	// The rollup has run over all of it.
	var requests, errs, buckets int64
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT sum(requests), sum(errors), count(*) FROM usage_hourly`).Scan(&requests, &errs, &buckets))
	require.EqualValues(t, n, requests)
	require.EqualValues(t, notOK, errs)
	require.Equal(t, res.Buckets, buckets)
	var watermark *time.Time
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT watermark FROM usage_rollup_state`).Scan(&watermark))
	require.NotNil(t, watermark)

	// Agents' requests carry sessions, the others' none.
	var agentsWithout, othersWith int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE client IN ('claude-code', 'codex') AND session_id IS NULL),
			count(*) FILTER (WHERE client NOT IN ('claude-code', 'codex') AND session_id IS NOT NULL) FROM interceptions`).
		Scan(&agentsWithout, &othersWith))
	require.Zero(t, agentsWithout)
	require.Zero(t, othersWith)
}

func TestSeedRefusesNoPassword(t *testing.T) {
	t.Parallel()
	_, err := interceptionstest.Seed(context.Background(), nil, interceptionstest.Options{})
	require.ErrorContains(t, err, "Password is empty")
}
