package interceptions_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/testdb"
)

// keptDays is the table of a default retention (90 days) with the days
// made ahead: about a hundred partitions, as production has.
const keptDays = 93

// firstDay is the first partition's day; fixed, so the test is the same
// every day it runs.
var firstDay = at("2026-01-01T00:00:00Z")

// fillPartitions makes keptDays day partitions from firstDay and writes
// perDay records into each, spread over the day, with ids from NewID, as
// the gateway makes them. It returns the records, oldest first.
func fillPartitions(tb testing.TB, db *database.DB, perDay int) []interceptions.Record {
	tb.Helper()
	ctx := context.Background()
	q := dbsqlc.New(db.Pool)
	rec := interceptions.NewRecorder(db, interceptions.Config{})
	var all []interceptions.Record
	batch := make([]interceptions.Record, 0, interceptions.DefaultBatchSize)
	flush := func() {
		require.NoError(tb, rec.WriteForTest(ctx, batch))
		batch = batch[:0]
	}
	step := 24 * time.Hour / time.Duration(perDay)
	for d := range keptDays {
		day := firstDay.AddDate(0, 0, d)
		_, err := q.InterceptionPartitionCreate(ctx, pgtype.Date{Time: day, Valid: true})
		require.NoError(tb, err)
		for i := range perDay {
			// Microseconds that are not a whole millisecond, so the window
			// is exercised inside its millisecond.
			r := record(startedAt(day.Add(time.Duration(i)*step + 999*time.Microsecond)))
			r.ID = interceptions.NewID(r.StartedAt)
			all = append(all, r)
			if batch = append(batch, r); len(batch) == cap(batch) {
				flush()
			}
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return all
}

// queryLog records the statements a pool runs.
type queryLog struct {
	mu   sync.Mutex
	runs []pgx.TraceQueryStartData // guarded by mu
}

func (l *queryLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs = append(l.runs, d)
	return ctx
}

func (*queryLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (l *queryLog) take() []pgx.TraceQueryStartData {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.runs
	l.runs = nil
	return out
}

// partitionsRead is how many partitions of interceptions PostgreSQL's
// plan for sql with args reads: as planned for these values, and as a
// generic plan (what a prepared statement may settle on after five runs)
// pruned when it runs. EXPLAIN takes no parameters, so the statement is
// prepared and explained with the values written out.
func partitionsRead(t *testing.T, db *database.DB, sql string, args []any) (custom, generic int) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	values := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case uuid.UUID:
			values[i] = "'" + v.String() + "'"
		case time.Time:
			values[i] = "'" + v.UTC().Format(time.RFC3339Nano) + "'"
		default:
			t.Fatalf("argument %d: a %T, which partitionsRead cannot write out", i, a)
		}
	}
	_, err = conn.Exec(ctx, "PREPARE get_by_id AS "+sql)
	require.NoError(t, err)
	defer func() { _, _ = conn.Exec(ctx, "DEALLOCATE get_by_id; RESET plan_cache_mode") }()
	count := func(mode string) int {
		_, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode)
		require.NoError(t, err)
		var plan string
		require.NoError(t, conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE get_by_id("+strings.Join(values, ", ")+")").Scan(&plan))
		return strings.Count(plan, `"Relation Name": "interceptions_`)
	}
	return count("force_custom_plan"), count("force_generic_plan")
}

// Get finds every record by its id; one NewID made is read from its own
// partition alone, one made otherwise (an older server's, a test's) still
// by probing every partition, and an unknown id is pgx.ErrNoRows.
func TestGetReadsOnePartition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testdb.URL(t))
	require.NoError(t, err)
	log := &queryLog{}
	cfg.ConnConfig.Tracer = log
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	db := database.New(pool, testdb.Logger(t))

	all := fillPartitions(t, db, 4)
	// The last microsecond of a day: its millisecond is still that day's.
	edge := record(startedAt(firstDay.AddDate(0, 0, 10).Add(-time.Microsecond)))
	edge.ID = interceptions.NewID(edge.StartedAt)
	// Ids made from another clock reading: the current time, a v4, and a
	// v7 of another day's partition.
	legacyNow := record(startedAt(firstDay.AddDate(0, 0, 3).Add(time.Hour)))
	v4 := record(startedAt(firstDay.AddDate(0, 0, 40).Add(time.Hour)))
	v4.ID = uuid.New()
	otherDay := record(startedAt(firstDay.AddDate(0, 0, 50).Add(time.Hour)))
	otherDay.ID = interceptions.NewID(firstDay.AddDate(0, 0, 20))
	rec := interceptions.NewRecorder(db, interceptions.Config{})
	require.NoError(t, rec.WriteForTest(ctx, []interceptions.Record{edge, legacyNow, v4, otherDay}))

	for _, want := range []interceptions.Record{all[0], all[len(all)/2], all[len(all)-1], edge} {
		log.take() // what came before, partitionsRead's statements included
		got, err := interceptions.Get(ctx, db, want.ID)
		require.NoError(t, err)
		require.Equal(t, want.ID, got.ID)
		require.Equal(t, want.StartedAt, got.StartedAt)
		require.Equal(t, want.ToolCalls, got.ToolCalls)
		runs := log.take()
		require.Len(t, runs, 1, "found in its millisecond: no second lookup")
		custom, generic := partitionsRead(t, db, runs[0].SQL, runs[0].Args)
		require.Equal(t, 1, custom, "the plan for these values reads one partition")
		require.Equal(t, 1, generic, "a generic plan is pruned to one when it runs")
	}
	for _, want := range []interceptions.Record{legacyNow, v4, otherDay} {
		log.take()
		got, err := interceptions.Get(ctx, db, want.ID)
		require.NoError(t, err)
		require.Equal(t, want.ID, got.ID)
		runs := log.take()
		last := runs[len(runs)-1]
		custom, _ := partitionsRead(t, db, last.SQL, last.Args)
		require.Equal(t, keptDays+1, custom, "the lookup by id alone probes every partition, the default one too")
	}
	_, err = interceptions.Get(ctx, db, interceptions.NewID(firstDay.Add(time.Hour)))
	require.True(t, errors.Is(err, pgx.ErrNoRows), "%v", err)
}

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := map[uuid.UUID]bool{}
	start := at("2026-03-04T05:06:07.123456Z")
	for i := range 10_000 {
		ts := start.Add(time.Duration(i) * 77 * time.Nanosecond)
		id := interceptions.NewID(ts)
		require.Equal(t, uuid.Version(7), id.Version())
		require.Equal(t, uuid.RFC4122, id.Variant())
		require.Equal(t, ts.UnixMilli(), int64(id.Time()/10_000)-12219292800000, "the timestamp is the start's millisecond")
		require.False(t, seen[id], "ids in one millisecond differ by their random bits")
		seen[id] = true
	}
	// Before 1970 a UUIDv7 has no timestamp to give: still a v7, of now.
	require.Equal(t, uuid.Version(7), interceptions.NewID(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)).Version())
	b, err := json.Marshal(interceptions.NewID(start))
	require.NoError(t, err)
	require.Regexp(t, `^"0[0-9a-f]{7}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"$`, string(b))
}
