package usage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// Summary is the sum of every replica's usage_counters row.
type Summary struct {
	// Replicas is how many replica rows were summed.
	Replicas int
	// CountedSince is the earliest time any summed count was made from; nil
	// when no replica had counted anything.
	CountedSince    *time.Time
	RequestsAllowed int64
	RequestsDenied  int64
	Tokens          Tokens
	// DistinctUsers and DistinctProviders sum the replicas' own distinct
	// counts: exact with one replica, an upper bound with several.
	DistinctUsers     int64
	DistinctProviders int64
}

// TakeSummary is GetAndResetUsageSummary: it sums and deletes every
// usage_counters row in one statement, inside tx. It takes the
// usage_counters lock in tx first (a no-op when tx holds it already, as the
// Snapshotter's does), so no caller can forget it and split a flush across
// two periods.
func TakeSummary(ctx context.Context, tx pgx.Tx) (Summary, error) {
	q := dbsqlc.New(tx)
	if err := q.AdvisoryXactLock(ctx, int64(database.LockUsageCounters)); err != nil {
		return Summary{}, fmt.Errorf("lock usage counters: %w", err)
	}
	row, err := q.UsageSummaryGetAndReset(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("take usage summary: %w", err)
	}
	s := Summary{
		Replicas:        int(row.Replicas),
		RequestsAllowed: row.RequestsAllowed,
		RequestsDenied:  row.RequestsDenied,
		Tokens: Tokens{Input: row.InputTokens, Output: row.OutputTokens, CacheRead: row.CacheReadTokens,
			CacheWrite: row.CacheWriteTokens, Reasoning: row.ReasoningTokens},
		DistinctUsers:     row.DistinctUsers,
		DistinctProviders: row.DistinctProviders,
	}
	if row.Replicas > 0 {
		since := row.CountedSince.UTC()
		s.CountedSince = &since
	}
	return s, nil
}

// GetAndResetSummary runs TakeSummary in a transaction of its own under the
// usage_counters lock (tests; the Snapshotter calls TakeSummary in its
// claim's transaction).
func GetAndResetSummary(ctx context.Context, db *database.DB) (Summary, error) {
	return database.LockedTx(ctx, db, database.LockUsageCounters, TakeSummary)
}
