package database

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// PlanPerCall returns db running each query as an unnamed statement, which
// PostgreSQL plans for the values it is given. pgx otherwise prepares a
// statement per connection, and after five runs PostgreSQL may settle on one
// generic plan for all values. For a query with optional filters written
// "filter IS NULL OR column = filter" that plan keeps every OR, and so can
// use neither the filter's index nor skip partitions by a time bound: a
// member's usage (sqlc's UsageTotals) scans every user's buckets of the
// window, and a deep page of one session's requests (InterceptionList) reads
// the table from its newest row. The pool's default mode (see Connect)
// already does this; the wrapper keeps it for a pool configured otherwise.
// It must not be QueryExecModeDescribeExec: that describes in one round trip
// and binds the unnamed statement in a second, which a transaction-mode
// pooler may send to another server connection.
func PlanPerCall(db dbsqlc.DBTX) dbsqlc.DBTX { return planPerCall{db} }

type planPerCall struct{ dbsqlc.DBTX }

func (p planPerCall) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return p.DBTX.Query(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
}

func (p planPerCall) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return p.DBTX.QueryRow(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
}

func (p planPerCall) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return p.DBTX.Exec(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
}
