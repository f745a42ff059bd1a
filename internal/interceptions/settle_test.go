package interceptions_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/interceptions"
)

// The charges of a record are settled in the transaction that writes it:
// exactly once for a record written, never for one an earlier attempt
// already wrote, and alone for one the database refuses (its usage of the
// policies is not lost with it). Settle here adds to a table of the test's
// own, which is what the policy engine's settlement does to its windows.
func TestChargesSettleWithTheirRecords(t *testing.T) {
	t.Parallel()
	settle := func(ctx context.Context, tx pgx.Tx, charges []interceptions.Charge) error {
		for _, c := range charges {
			if _, err := tx.Exec(ctx, `INSERT INTO settled (policy_id, amount) VALUES ($1, $2)`, c.PolicyID, c.Amount); err != nil {
				return err
			}
		}
		return nil
	}
	h := setup(t, interceptions.Config{BatchSize: 10, FlushInterval: never, Settle: settle})
	ctx := context.Background()
	_, err := h.db.Pool.Exec(ctx, `CREATE TABLE settled (policy_id uuid NOT NULL, amount bigint NOT NULL)`)
	require.NoError(t, err)
	policy := uuid.New()
	charged := func(amount int64) func(*interceptions.Record) {
		return func(r *interceptions.Record) {
			r.Charges = []interceptions.Charge{{PolicyID: policy, WindowStart: time.Unix(0, 0), Amount: amount}}
		}
	}
	total := func() int64 {
		var n int64
		require.NoError(t, h.db.Pool.QueryRow(ctx, `SELECT coalesce(sum(amount), 0) FROM settled`).Scan(&n))
		return n
	}

	var batch []interceptions.Record
	for i := range 10 {
		batch = append(batch, record(charged(int64(i+1))))
	}
	// Two were written by an attempt whose answer was lost: their charges
	// settled then, and must not settle again.
	require.NoError(t, h.rec.WriteForTest(ctx, batch[3:5]))
	require.Equal(t, int64(4+5), total())
	// One the database refuses.
	batch[7] = record(charged(1000), func(r *interceptions.Record) { r.InputTokens = -1 })

	h.start()
	for _, r := range batch {
		require.True(t, h.rec.Record(r))
	}
	h.waitCount(9)
	require.Eventually(t, func() bool { return h.rec.Dropped() == 1 }, waitFor, tick)
	require.Equal(t, int64(1+2+3+4+5+6+7+1000+9+10), total())
}
