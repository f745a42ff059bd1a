package interceptions_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
)

const day = 24 * time.Hour

// t0 is noon UTC; the day before, today and the seven after are 03-09..03-17.
var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// days names the partitions of n days from first (YYYY-MM-DD).
func days(first string, n int) []string {
	d := at(first + "T00:00:00Z")
	out := make([]string, n)
	for i := range out {
		out[i] = "interceptions_p" + d.AddDate(0, 0, i).Format("20060102")
	}
	return out
}

func startedAt(ts time.Time) func(*interceptions.Record) {
	return func(r *interceptions.Record) { r.StartedAt, r.EndedAt = ts, ts.Add(time.Second) }
}

// partitions lists the interceptions table's partitions but the default one.
func partitions(t *testing.T, db *database.DB) []string {
	t.Helper()
	names, err := dbsqlc.New(db.Pool).InterceptionPartitionList(context.Background())
	require.NoError(t, err)
	require.Contains(t, names, "interceptions_default", "the default partition is never dropped")
	out := []string{}
	for _, n := range names {
		if n != "interceptions_default" {
			out = append(out, n)
		}
	}
	return out
}

// partitionOf is the partition holding the record with id; "" when none does.
func partitionOf(t *testing.T, db *database.DB, id uuid.UUID) string {
	t.Helper()
	var name string
	err := db.Pool.QueryRow(context.Background(), "SELECT tableoid::regclass::text FROM interceptions WHERE id = $1", id).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return ""
	}
	require.NoError(t, err)
	return name
}

func newRetention(t *testing.T, db *database.DB, cfg interceptions.RetentionConfig) *interceptions.Retention {
	t.Helper()
	cfg.DB = db
	if cfg.Logger == nil {
		cfg.Logger = testdb.Logger(t)
	}
	return interceptions.NewRetention(cfg)
}

// Acceptance: future partitions are made, old ones dropped whole, recent
// ones kept; a second run at the same time changes nothing.
func TestRetentionCreatesAheadAndDropsOld(t *testing.T) {
	t.Parallel()
	h := setup(t, interceptions.Config{})
	ctx := context.Background()
	clk := clock.NewManual(t0)
	ret := newRetention(t, h.db, interceptions.RetentionConfig{Retention: 30 * day, Clock: clk})

	res, err := ret.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, days("2026-03-09", 9), res.Created, "yesterday, today and seven days ahead")
	require.Empty(t, res.Dropped)
	require.Equal(t, days("2026-03-09", 9), partitions(t, h.db))

	oldest, old, kept := record(startedAt(at("2026-03-09T12:00:00Z"))), record(startedAt(at("2026-03-10T23:00:00Z"))),
		record(startedAt(at("2026-03-11T00:00:00Z")))
	require.NoError(t, h.rec.WriteForTest(ctx, []interceptions.Record{oldest, old, kept}))

	// The cutoff is 03-11 12:00: 03-09 and 03-10 are wholly older; 03-11
	// is not, so its row older than the cutoff stays with it (rows live at
	// most a day longer than the retention, never shorter).
	clk.AdvanceTo(at("2026-04-10T12:00:00Z"))
	res, err = ret.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, days("2026-04-09", 9), res.Created)
	require.Equal(t, days("2026-03-09", 2), res.Dropped)
	require.Zero(t, res.Pruned, "nothing is deleted row by row")
	require.Equal(t, append(days("2026-03-11", 7), days("2026-04-09", 9)...), partitions(t, h.db))
	require.Empty(t, partitionOf(t, h.db, oldest.ID))
	require.Empty(t, partitionOf(t, h.db, old.ID))
	require.Equal(t, "interceptions_p20260311", partitionOf(t, h.db, kept.ID))

	res, err = ret.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, interceptions.TickResult{}, res, "a second run at the same instant has nothing to do")
}

// Rows whose day has no partition wait in the default partition: a run
// moves those of days it makes, deletes those older than the retention, and
// leaves those beyond the days it makes ahead until their day comes near.
func TestRetentionEmptiesTheDefaultPartition(t *testing.T) {
	t.Parallel()
	h := setup(t, interceptions.Config{})
	ctx := context.Background()
	clk := clock.NewManual(t0)
	ret := newRetention(t, h.db, interceptions.RetentionConfig{Retention: 30 * day, Clock: clk})

	// Written before any run: every one lands in the default partition.
	today := record(startedAt(at("2026-03-10T09:00:00Z")))
	lastWeek := record(startedAt(at("2026-03-01T10:00:00Z")))
	tooOld := record(startedAt(t0.Add(-40 * day)))
	ahead := record(startedAt(at("2026-03-30T10:00:00Z")))
	require.NoError(t, h.rec.WriteForTest(ctx, []interceptions.Record{today, lastWeek, tooOld, ahead}))
	for _, r := range []interceptions.Record{today, lastWeek, tooOld, ahead} {
		require.Equal(t, "interceptions_default", partitionOf(t, h.db, r.ID))
	}

	res, err := ret.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, append([]string{"interceptions_p20260301"}, days("2026-03-09", 9)...), res.Created,
		"a past day within the retention gets its partition too")
	require.EqualValues(t, 2, res.Moved)
	require.EqualValues(t, 1, res.Pruned)
	require.EqualValues(t, 1, res.LeftInDefault)
	require.Equal(t, "interceptions_p20260310", partitionOf(t, h.db, today.ID))
	require.Equal(t, "interceptions_p20260301", partitionOf(t, h.db, lastWeek.ID))
	require.Empty(t, partitionOf(t, h.db, tooOld.ID))
	require.Equal(t, "interceptions_default", partitionOf(t, h.db, ahead.ID))

	clk.AdvanceTo(at("2026-03-25T12:00:00Z"))
	res, err = ret.Tick(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, res.Moved)
	require.Zero(t, res.LeftInDefault)
	require.Equal(t, "interceptions_p20260330", partitionOf(t, h.db, ahead.ID))
	got, err := interceptions.Get(ctx, h.db, ahead.ID)
	require.NoError(t, err)
	require.Equal(t, ahead, got, "a moved row is unchanged")
}

// Acceptance: two replicas at the same instant: one works, the other skips
// and says so; the partitions are those of a single run.
func TestRetentionOneReplicaAtATime(t *testing.T) {
	t.Parallel()
	h := setup(t, interceptions.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	clk := clock.NewManual(t0)
	a := newRetention(t, h.db, interceptions.RetentionConfig{Retention: 30 * day, Clock: clk, ReplicaID: uuid.New()})
	var logs testlog.Buffer
	b := newRetention(t, h.db, interceptions.RetentionConfig{Retention: 30 * day, Clock: clk, ReplicaID: uuid.New(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: h.reg})

	holding, release := make(chan struct{}), make(chan struct{})
	a.SetAfterLockForTest(sync.OnceFunc(func() {
		close(holding)
		<-release
	}))
	type result struct {
		res interceptions.TickResult
		err error
	}
	aDone := make(chan result, 1)
	go func() {
		res, err := a.Tick(ctx)
		aDone <- result{res, err}
	}()
	<-holding

	res, err := b.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, interceptions.TickResult{Skipped: true}, res)
	runCtx, stop := context.WithCancel(ctx)
	bDone := make(chan struct{})
	go func() {
		defer close(bDone)
		b.Run(runCtx)
	}()
	require.NoError(t, clk.WaitArmed(ctx, interceptions.RetentionTimer, 1))
	require.Contains(t, logs.String(), "interceptions retention skipped: another replica holds the interceptions_retention lock")
	next, ok := clk.Next(interceptions.RetentionTimer)
	require.True(t, ok)
	require.Equal(t, t0.Add(interceptions.DefaultRetentionInterval), next, "a skipped run is not a failure: the next is a day later")
	require.InDelta(t, 1, h.metric("aigate_interceptions_retention_runs_total", "result", "skipped"), 0)
	require.Empty(t, partitions(t, h.db), "nothing was done while a held the lock")

	close(release)
	got := <-aDone
	require.NoError(t, got.err)
	require.Equal(t, days("2026-03-09", 9), got.res.Created)
	require.Equal(t, days("2026-03-09", 9), partitions(t, h.db))
	stop()
	<-bDone
}

// Acceptance: rows at a partition boundary. A partition holds [00:00, next
// 00:00) UTC, so midnight opens the next day; a partition is dropped when
// its last microsecond is older than the cutoff, so a cutoff at midnight
// drops the day before and keeps the row at midnight.
func TestRetentionPartitionBoundaries(t *testing.T) {
	t.Parallel()
	h := setup(t, interceptions.Config{})
	ctx := context.Background()
	clk := clock.NewManual(t0)
	ret := newRetention(t, h.db, interceptions.RetentionConfig{Retention: 30 * day, Clock: clk})
	_, err := ret.Tick(ctx)
	require.NoError(t, err)

	first := record(startedAt(at("2026-03-10T00:00:00Z")))
	last := record(startedAt(at("2026-03-10T23:59:59.999999Z")))
	midnight := record(startedAt(at("2026-03-11T00:00:00Z")))
	local := record(startedAt(at("2026-03-11T01:30:00+02:00"))) // 03-10 23:30 UTC
	require.NoError(t, h.rec.WriteForTest(ctx, []interceptions.Record{first, last, midnight, local}))
	require.Equal(t, "interceptions_p20260310", partitionOf(t, h.db, first.ID))
	require.Equal(t, "interceptions_p20260310", partitionOf(t, h.db, last.ID))
	require.Equal(t, "interceptions_p20260311", partitionOf(t, h.db, midnight.ID))
	require.Equal(t, "interceptions_p20260310", partitionOf(t, h.db, local.ID), "days are UTC days")

	clk.AdvanceTo(at("2026-03-11T00:00:00Z").Add(30 * day))
	res, err := ret.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, days("2026-03-09", 2), res.Dropped)
	require.Empty(t, partitionOf(t, h.db, last.ID))
	require.Equal(t, "interceptions_p20260311", partitionOf(t, h.db, midnight.ID), "a row at the cutoff is not older than it")
}

// Acceptance: a COPY after midnight goes into the new day's partition, made
// ahead, even when the batch straddles midnight; and a retry of a batch
// already written is recognised by the partition's own primary key and
// writes nothing twice.
func TestCopyAfterMidnight(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(at("2026-03-10T23:59:50Z"))
	h := setup(t, interceptions.Config{BatchSize: 3, FlushInterval: never, Clock: clk})
	ctx := context.Background()
	ret := newRetention(t, h.db, interceptions.RetentionConfig{Clock: clk})
	_, err := ret.Tick(ctx)
	require.NoError(t, err)

	before := record(startedAt(clk.Now()))
	clk.Advance(20 * time.Second)
	after := record(startedAt(clk.Now()))
	require.NoError(t, h.rec.WriteForTest(ctx, []interceptions.Record{before, after}))
	require.Equal(t, "interceptions_p20260310", partitionOf(t, h.db, before.ID))
	require.Equal(t, "interceptions_p20260311", partitionOf(t, h.db, after.ID))

	// The same two again, as a retry whose first attempt landed, with a new
	// one: one batch of three.
	fresh := record(startedAt(clk.Now()))
	h.start()
	for _, r := range []interceptions.Record{before, after, fresh} {
		require.True(t, h.rec.Record(r))
	}
	h.waitCount(3)
	require.Eventually(t, func() bool { return h.metric("aigate_interceptions_written_total") == 5 }, waitFor, tick)
	require.Zero(t, h.rec.Dropped())
	require.Equal(t, "interceptions_p20260311", partitionOf(t, h.db, fresh.ID))
	var inDefault int
	require.NoError(t, h.db.Pool.QueryRow(ctx, "SELECT count(*) FROM interceptions_default").Scan(&inDefault))
	require.Zero(t, inDefault)
}

// Run runs at start, then every Interval on the clock. A step stuck behind a
// query gives up at LockTimeout without undoing the others, and the run is
// retried after RetryInterval.
func TestRetentionRun(t *testing.T) {
	t.Parallel()
	h := setup(t, interceptions.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	clk := clock.NewManual(t0)
	var logs testlog.Buffer
	ret := newRetention(t, h.db, interceptions.RetentionConfig{Retention: 2 * day, Clock: clk, LockTimeout: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: h.reg})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ret.Run(runCtx)
	}()
	defer func() {
		stop()
		<-done
	}()
	expectNext := func(after time.Duration) {
		t.Helper()
		next, ok := clk.Next(interceptions.RetentionTimer)
		require.True(t, ok)
		require.Equal(t, clk.Now().Add(after), next)
	}

	require.NoError(t, clk.WaitArmed(ctx, interceptions.RetentionTimer, 1))
	require.Equal(t, days("2026-03-09", 9), partitions(t, h.db), "the first run is at start")
	expectNext(interceptions.DefaultRetentionInterval)

	clk.Advance(interceptions.DefaultRetentionInterval)
	require.NoError(t, clk.WaitArmed(ctx, interceptions.RetentionTimer, 2))
	require.Equal(t, days("2026-03-09", 10), partitions(t, h.db), "a day later, one more day ahead")
	expectNext(interceptions.DefaultRetentionInterval)

	// A long read of 03-09 when the next run would drop it.
	reader, err := h.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = reader.Rollback(context.Background()) }()
	_, err = reader.Exec(ctx, "SELECT count(*) FROM interceptions_p20260309")
	require.NoError(t, err)

	clk.Advance(interceptions.DefaultRetentionInterval)
	require.NoError(t, clk.WaitArmed(ctx, interceptions.RetentionTimer, 3))
	require.Equal(t, days("2026-03-09", 11), partitions(t, h.db), "made ahead though the drop failed")
	require.Contains(t, logs.String(), "interceptions retention failed")
	require.Contains(t, logs.String(), "drop partition interceptions_p20260309")
	require.Contains(t, logs.String(), "55P03", "lock_timeout")
	require.InDelta(t, 1, h.metric("aigate_interceptions_retention_runs_total", "result", "failed"), 0)
	expectNext(interceptions.DefaultRetentionRetry)

	require.NoError(t, reader.Rollback(ctx))
	clk.Advance(interceptions.DefaultRetentionRetry)
	require.NoError(t, clk.WaitArmed(ctx, interceptions.RetentionTimer, 4))
	require.Equal(t, days("2026-03-10", 10), partitions(t, h.db))
	require.InDelta(t, 3, h.metric("aigate_interceptions_retention_runs_total", "result", "worked"), 0)
	expectNext(interceptions.DefaultRetentionInterval)
	require.False(t, strings.Contains(logs.String(), "left in the default partition"))
}
