package interceptions_test

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// Generous: the machine running the tests may be busy.
const (
	waitFor = 30 * time.Second
	tick    = 10 * time.Millisecond
	// never is a FlushInterval no test reaches: batches go out when full,
	// or at shutdown.
	never = time.Hour
)

type harness struct {
	t   *testing.T
	db  *database.DB
	rec *interceptions.Recorder
	reg *prometheus.Registry
	// clk is the Recorder's clock when it is a manual one, and grace its
	// ShutdownTimeout.
	clk   *clock.Manual
	grace time.Duration
}

// setup builds a Recorder on a database of the test's own, with metrics in a
// registry of its own.
func setup(t *testing.T, cfg interceptions.Config) *harness {
	t.Helper()
	h := &harness{t: t, db: testdb.New(t), reg: prometheus.NewRegistry()}
	if cfg.Logger == nil {
		cfg.Logger = testdb.Logger(t)
	}
	cfg.Registerer = h.reg
	h.clk, _ = cfg.Clock.(*clock.Manual)
	h.grace = cmp.Or(cfg.ShutdownTimeout, interceptions.DefaultShutdownTimeout)
	h.rec = interceptions.NewRecorder(h.db, cfg)
	return h
}

// start runs the Recorder; the returned stop cancels it and waits for Run to
// return. The test's cleanup stops it too.
func (h *harness) start() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.rec.Run(ctx)
	}()
	stop = sync.OnceFunc(func() {
		if h.clk == nil {
			cancel()
			<-done
			return
		}
		// On a manual clock the shutdown bound passes only when moved: move
		// it once armed, so a test that failed with a write still waiting
		// does not hang in its cleanup.
		armed := h.clk.Armed(interceptions.ShutdownTimer)
		cancel()
		moved := make(chan struct{})
		wait, stopWaiting := context.WithCancel(context.Background())
		go func() {
			defer close(moved)
			if h.clk.WaitArmed(wait, interceptions.ShutdownTimer, armed+1) == nil {
				h.clk.Advance(h.grace)
			}
		}()
		<-done
		stopWaiting()
		<-moved
	})
	h.t.Cleanup(stop)
	return stop
}

func (h *harness) count() int {
	h.t.Helper()
	var n int
	require.NoError(h.t, h.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM interceptions").Scan(&n))
	return n
}

func (h *harness) waitCount(n int) {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.count() == n }, waitFor, tick, "want %d rows", n)
	require.Equal(h.t, n, h.count())
}

// metric sums the values of the family name whose labels include want.
func (h *harness) metric(name string, want ...string) float64 {
	h.t.Helper()
	families, err := h.reg.Gather()
	require.NoError(h.t, err)
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(want); i += 2 {
				if labels[want[i]] != want[i+1] {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
		return sum
	}
	h.t.Fatalf("no metric %s", name)
	return 0
}

// lockTable holds an ACCESS EXCLUSIVE lock on interceptions from a
// connection of its own until the returned release is called: every write
// waits behind it.
func (h *harness) lockTable() (release func()) {
	h.t.Helper()
	ctx := context.Background()
	tx, err := h.db.Pool.Begin(ctx)
	require.NoError(h.t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE interceptions IN ACCESS EXCLUSIVE MODE")
	require.NoError(h.t, err)
	var once sync.Once
	release = func() { once.Do(func() { require.NoError(h.t, tx.Commit(ctx)) }) }
	h.t.Cleanup(release)
	return release
}

// writerWaitsOnLock reports whether a session waits for a lock on the table.
func (h *harness) writerWaitsOnLock() bool {
	h.t.Helper()
	var n int
	require.NoError(h.t, h.db.Pool.QueryRow(context.Background(), `
		SELECT count(*) FROM pg_locks
		WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND relation = 'interceptions'::regclass AND NOT granted`).Scan(&n))
	return n > 0
}

// now is a timestamp as the database stores it: UTC, to the microsecond.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// record is a complete record; mods change it.
func record(mods ...func(*interceptions.Record)) interceptions.Record {
	start := now()
	r := interceptions.Record{
		ID:               uuid.Must(uuid.NewV7()),
		ReplicaID:        uuid.New(),
		RequestID:        "req-" + uuid.NewString(),
		UserID:           uuid.New(),
		TokenID:          "tok123",
		ProviderID:       uuid.New(),
		ProviderName:     "openai-main",
		ProviderType:     "openai",
		Model:            "gpt-5",
		Endpoint:         interceptions.EndpointChatCompletions,
		Streaming:        true,
		Client:           interceptions.ClientCodex,
		SessionID:        uuid.NewString(),
		StartedAt:        start,
		EndedAt:          start.Add(1234567 * time.Microsecond),
		TTFB:             250 * time.Millisecond,
		Status:           interceptions.StatusOK,
		UpstreamStatus:   200,
		InputTokens:      1000,
		OutputTokens:     200,
		CacheReadTokens:  300,
		CacheWriteTokens: 40,
		ReasoningTokens:  5,
		ToolCalls:        []interceptions.ToolCall{{ID: "call_1", Name: "get_weather"}, {ID: "call_2", Name: "search"}},
	}
	for _, m := range mods {
		m(&r)
	}
	return r
}

func TestRecordsRoundTrip(t *testing.T) {
	t.Parallel()
	// The four records below are one full batch.
	h := setup(t, interceptions.Config{BatchSize: 4, FlushInterval: never})
	ctx := context.Background()

	full := record(func(r *interceptions.Record) {
		r.ProviderType = "bedrock"
		r.Endpoint = interceptions.EndpointMessages
		r.Status = interceptions.StatusUpstreamError
		r.UpstreamStatus = 529
		r.Prompt = json.RawMessage(`{"messages": [{"role": "user", "content": "héllo \"there\""}], "system": "be brief"}`)
		r.Error = "upstream overloaded"
	})
	// Every nullable column NULL, every default taken.
	bare := interceptions.Record{
		ID: uuid.Must(uuid.NewV7()), ReplicaID: uuid.New(), UserID: uuid.New(), ProviderID: uuid.New(),
		ProviderType: "anthropic", Endpoint: interceptions.EndpointResponses, Status: interceptions.StatusClientCancelled,
		StartedAt: now(), TTFB: -1,
	}
	bare.EndedAt = bare.StartedAt
	// What a request may bring that text columns cannot hold.
	odd := record(func(r *interceptions.Record) {
		r.Model = "gpt\x00-5\xff"
		// Cut at the limit, then the invalid byte made a three-byte
		// replacement character: cut again, at a rune.
		r.SessionID = strings.Repeat("s", interceptions.MaxSessionIDLen-2) + "\x00\xff"
		r.ToolCalls = []interceptions.ToolCall{{ID: "c\x00", Name: "n"}}
		r.Error = strings.Repeat("é", interceptions.MaxErrorLen) // 2 bytes a rune
		r.TTFB = 0
		r.Status = interceptions.StatusGatewayError
	})
	// Left zero, the id is made by Record.
	noID := record(func(r *interceptions.Record) { r.ID = uuid.Nil })

	stop := h.start()
	for _, r := range []interceptions.Record{full, bare, odd, noID} {
		require.True(t, h.rec.Record(r))
	}
	h.waitCount(4)
	stop()

	got, err := interceptions.Get(ctx, h.db, full.ID)
	require.NoError(t, err)
	require.JSONEq(t, string(full.Prompt), string(got.Prompt), "jsonb keeps the document, not its spacing")
	got.Prompt = full.Prompt
	require.Equal(t, full, got)

	got, err = interceptions.Get(ctx, h.db, bare.ID)
	require.NoError(t, err)
	require.Equal(t, interceptions.ClientOther, got.Client, "no client is stored as other")
	got.Client = ""
	require.Equal(t, bare, got)
	row, err := dbsqlc.New(h.db.Pool).InterceptionGetByID(ctx, bare.ID)
	require.NoError(t, err)
	require.False(t, row.TtfbMs.Valid)
	require.False(t, row.UpstreamStatus.Valid)
	require.Nil(t, row.Prompt)
	require.Nil(t, row.Error)
	require.Nil(t, row.SessionID, "no session is NULL")
	require.JSONEq(t, `[]`, string(row.ToolCalls))
	require.False(t, row.RecordedAt.IsZero(), "recorded_at is the database's time of the write")

	got, err = interceptions.Get(ctx, h.db, odd.ID)
	require.NoError(t, err)
	require.Equal(t, "gpt-5\uFFFD", got.Model, "NUL dropped, invalid UTF-8 replaced")
	require.Equal(t, strings.Repeat("s", interceptions.MaxSessionIDLen-2), got.SessionID, "cleaned, then cut to MaxSessionIDLen bytes at a rune")
	require.Equal(t, []interceptions.ToolCall{{ID: "c", Name: "n"}}, got.ToolCalls)
	require.Equal(t, strings.Repeat("é", interceptions.MaxErrorLen/2), got.Error, "cut at a rune boundary")
	require.Equal(t, time.Duration(0), got.TTFB, "0 is a first byte at once, not none")

	var madeID uuid.UUID
	require.NoError(t, h.db.Pool.QueryRow(ctx, "SELECT id FROM interceptions WHERE request_id = $1", noID.RequestID).Scan(&madeID))
	require.Equal(t, uuid.Version(7), madeID.Version())

	_, err = interceptions.Get(ctx, h.db, uuid.New())
	require.ErrorIs(t, err, pgx.ErrNoRows)
}

func TestListByStartedAtPages(t *testing.T) {
	t.Parallel()
	h := setup(t, interceptions.Config{})
	ctx := context.Background()
	base := now()
	var batch []interceptions.Record
	for i := range 5 {
		batch = append(batch, record(func(r *interceptions.Record) {
			r.StartedAt = base.Add(time.Duration(i) * time.Second)
			r.EndedAt = r.StartedAt
		}))
	}
	require.NoError(t, h.rec.WriteForTest(ctx, batch))

	q := dbsqlc.New(h.db.Pool)
	params := dbsqlc.InterceptionListByStartedAtParams{Since: base.Add(time.Second), Until: base.Add(4 * time.Second), RowLimit: 2}
	page, err := q.InterceptionListByStartedAt(ctx, params)
	require.NoError(t, err)
	require.Len(t, page, 2)
	require.Equal(t, batch[1].ID, page[0].ID)
	require.Equal(t, batch[2].ID, page[1].ID)
	params.CursorStartedAt, params.CursorID = &page[1].StartedAt, page[1].ID
	page, err = q.InterceptionListByStartedAt(ctx, params)
	require.NoError(t, err)
	require.Len(t, page, 1, "until is exclusive")
	require.Equal(t, batch[3].ID, page[0].ID)
}

func TestConcurrentRecordsLandExactlyOnce(t *testing.T) {
	t.Parallel()
	const goroutines, perGoroutine = 16, 625
	h := setup(t, interceptions.Config{}) // the default queue holds all 10,000
	h.start()

	ids := make(chan uuid.UUID, goroutines*perGoroutine)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range perGoroutine {
				r := record()
				if h.rec.Record(r) {
					ids <- r.ID
				}
			}
		})
	}
	wg.Wait()
	close(ids)
	require.Len(t, ids, goroutines*perGoroutine, "no record dropped")
	want := map[uuid.UUID]bool{}
	for id := range ids {
		want[id] = true
	}

	h.waitCount(goroutines * perGoroutine)
	rows, err := h.db.Pool.Query(context.Background(), "SELECT id FROM interceptions")
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for _, id := range got {
		require.True(t, want[id], "unknown id %s", id)
		delete(want, id)
	}
	require.Empty(t, want, "every record written once")
	require.Zero(t, h.rec.Dropped())
	require.InDelta(t, goroutines*perGoroutine, h.metric("aigate_interceptions_written_total"), 0)
	require.Eventually(t, func() bool { return h.metric("aigate_interceptions_queue_depth") == 0 }, waitFor, tick)
}

func TestQueueFullDropsWithoutWaiting(t *testing.T) {
	t.Parallel()
	h := setup(t, interceptions.Config{QueueSize: 10, BatchSize: 5, FlushInterval: never})
	release := h.lockTable()
	h.start()

	// A full batch goes out at once, and waits behind the lock.
	for range 5 {
		require.True(t, h.rec.Record(record()))
	}
	require.Eventually(t, h.writerWaitsOnLock, waitFor, tick, "the writer is stuck on the lock")

	// The batch being written still counts: five more fit, then the queue is full.
	for range 5 {
		require.True(t, h.rec.Record(record()))
	}
	require.False(t, h.rec.Record(record()), "a full queue drops")
	require.False(t, h.rec.Record(record()))
	// Those calls returned while the writer was (and is) stuck in the database.
	require.True(t, h.writerWaitsOnLock())
	require.Equal(t, int64(2), h.rec.Dropped())
	require.InDelta(t, 2, h.metric("aigate_interceptions_dropped_total"), 0)
	require.InDelta(t, 2, h.metric("aigate_interceptions_dropped_total", "reason", "queue_full"), 0)
	require.InDelta(t, 10, h.metric("aigate_interceptions_queue_depth"), 0)

	// The lock goes: every record that was queued is written.
	release()
	h.waitCount(10)
	require.Equal(t, int64(2), h.rec.Dropped())
	require.Eventually(t, func() bool { return h.metric("aigate_interceptions_queue_depth") == 0 }, waitFor, tick)
	require.True(t, h.rec.Record(record()), "room again")
}

func TestShutdownFlushesQueue(t *testing.T) {
	t.Parallel()
	h := setup(t, interceptions.Config{BatchSize: 100, FlushInterval: never})
	stop := h.start()
	for range 250 {
		require.True(t, h.rec.Record(record()))
	}
	// Two full batches may be written already; the last 50 wait for a
	// batch that never fills, until shutdown.
	stop()
	require.Equal(t, 250, h.count())
	require.Zero(t, h.rec.Dropped())
	require.InDelta(t, 0, h.metric("aigate_interceptions_queue_depth"), 0)

	require.False(t, h.rec.Record(record()), "after Run has returned")
	require.Equal(t, int64(1), h.rec.Dropped())
	require.InDelta(t, 1, h.metric("aigate_interceptions_dropped_total", "reason", "stopped"), 0)
}

func TestShutdownFlushesRecordsQueuedBeforeRun(t *testing.T) {
	t.Parallel()
	h := setup(t, interceptions.Config{FlushInterval: never})
	for range 3 {
		require.True(t, h.rec.Record(record()))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.rec.Run(ctx)
	require.Equal(t, 3, h.count())
}

func TestShutdownTimeoutBoundsFlush(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	h := setup(t, interceptions.Config{BatchSize: 2, FlushInterval: never, Clock: clk})
	h.lockTable()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.rec.Run(ctx)
	}()
	for range 5 {
		require.True(t, h.rec.Record(record()))
	}
	require.Eventually(t, h.writerWaitsOnLock, waitFor, tick)
	// The database stays locked: shutdown gives up after ShutdownTimeout
	// and counts what it could not write.
	cancel()
	wait, stop := context.WithTimeout(context.Background(), waitFor)
	defer stop()
	require.NoError(t, clk.WaitArmed(wait, interceptions.ShutdownTimer, 1))
	next, ok := clk.Next(interceptions.ShutdownTimer)
	require.True(t, ok)
	require.Equal(t, clk.Now().Add(interceptions.DefaultShutdownTimeout), next)
	select {
	case <-done:
		t.Fatal("Run returned before ShutdownTimeout with the write still waiting")
	default:
	}
	clk.Advance(interceptions.DefaultShutdownTimeout)
	<-done
	require.Equal(t, int64(5), h.rec.Dropped())
	require.InDelta(t, 5, h.metric("aigate_interceptions_dropped_total", "reason", "shutdown_timeout"), 0)
	require.InDelta(t, 0, h.metric("aigate_interceptions_queue_depth"), 0)
}

func TestRefusedRecordDoesNotBlockBatch(t *testing.T) {
	t.Parallel()
	// The poison record is isolated by halving the batch; the others land.
	h := setup(t, interceptions.Config{BatchSize: 100, FlushInterval: never})
	var batch []interceptions.Record
	for range 96 {
		batch = append(batch, record())
	}
	negative := record(func(r *interceptions.Record) { r.InputTokens = -1 })
	backwards := record(func(r *interceptions.Record) { r.EndedAt = r.StartedAt.Add(-time.Second) })
	unknownType := record(func(r *interceptions.Record) { r.ProviderType = "mystery" })
	// jsonb refuses \u0000: the record is written without its prompt.
	badPrompt := record(func(r *interceptions.Record) { r.Prompt = json.RawMessage(`{"content": "a\u0000b"}`) })
	batch = append(batch[:10], append([]interceptions.Record{negative}, batch[10:]...)...)
	batch = append(batch[:50], append([]interceptions.Record{backwards, badPrompt}, batch[50:]...)...)
	batch = append(batch, unknownType)
	require.Len(t, batch, 100)

	h.start()
	for _, r := range batch {
		require.True(t, h.rec.Record(r))
	}
	h.waitCount(97)
	// The last poison record may still be being isolated when the 97th
	// good one lands.
	require.Eventually(t, func() bool { return h.rec.Dropped() == 3 }, waitFor, tick)
	require.Equal(t, int64(3), h.rec.Dropped())
	require.InDelta(t, 3, h.metric("aigate_interceptions_dropped_total", "reason", "rejected"), 0)
	require.InDelta(t, 97, h.metric("aigate_interceptions_written_total"), 0)
	require.Positive(t, h.metric("aigate_interceptions_write_errors_total"))

	ctx := context.Background()
	got, err := interceptions.Get(ctx, h.db, badPrompt.ID)
	require.NoError(t, err)
	require.Nil(t, got.Prompt)
	require.Equal(t, badPrompt.InputTokens, got.InputTokens, "the usage is kept")
	for _, r := range []interceptions.Record{negative, backwards, unknownType} {
		_, err := interceptions.Get(ctx, h.db, r.ID)
		require.ErrorIs(t, err, pgx.ErrNoRows)
	}
}

// A batch that does not fill goes out FlushInterval after its first record,
// on the clock.
func TestPartialBatchWaitsForFlushInterval(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	h := setup(t, interceptions.Config{Clock: clk})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	h.start()

	require.True(t, h.rec.Record(record()))
	require.NoError(t, clk.WaitArmed(ctx, interceptions.FlushTimer, 1))
	next, ok := clk.Next(interceptions.FlushTimer)
	require.True(t, ok)
	require.Equal(t, clk.Now().Add(interceptions.DefaultFlushInterval), next)
	clk.Advance(interceptions.DefaultFlushInterval - time.Microsecond)
	require.Zero(t, h.count(), "the batch waits for more records")
	clk.Advance(time.Microsecond)
	h.waitCount(1)

	// The next batch's wait starts with its own first record.
	clk.Advance(time.Minute)
	require.True(t, h.rec.Record(record()))
	require.NoError(t, clk.WaitArmed(ctx, interceptions.FlushTimer, 2))
	next, ok = clk.Next(interceptions.FlushTimer)
	require.True(t, ok)
	require.Equal(t, clk.Now().Add(interceptions.DefaultFlushInterval), next)
	clk.Advance(interceptions.DefaultFlushInterval)
	h.waitCount(2)
}

// Records dropped on the request path are warned about at most once per
// DropLogInterval, each warning counting the drops since the last.
func TestDropWarningsAreRateLimited(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	var logs testlog.Buffer
	h := setup(t, interceptions.Config{QueueSize: 1, Clock: clk, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	warnings := func() int { return strings.Count(logs.String(), "interception records dropped") }

	// Without Run the queue of one is full after the first record.
	require.True(t, h.rec.Record(record()))
	require.False(t, h.rec.Record(record()))
	require.Equal(t, 1, warnings(), "the first drop is warned about at once")
	require.False(t, h.rec.Record(record()))
	clk.Advance(interceptions.DefaultDropLogInterval - time.Microsecond)
	require.False(t, h.rec.Record(record()))
	require.Equal(t, 1, warnings())
	clk.Advance(time.Microsecond)
	require.False(t, h.rec.Record(record()))
	require.Equal(t, 2, warnings())
	require.Contains(t, logs.String(), "reason=queue_full dropped=3 dropped_total=4")
	h.rec.DrainForTest()
}

// hideTable makes every write fail (undefined table, a failure a retry may
// fix) until the returned restore is called.
func (h *harness) hideTable() (restore func()) {
	h.t.Helper()
	ctx := context.Background()
	_, err := h.db.Pool.Exec(ctx, "ALTER TABLE interceptions RENAME TO interceptions_hidden")
	require.NoError(h.t, err)
	return func() {
		_, err := h.db.Pool.Exec(ctx, "ALTER TABLE interceptions_hidden RENAME TO interceptions")
		require.NoError(h.t, err)
	}
}

// A failed write is retried after RetryBackoff, doubling up to
// MaxRetryBackoff, until it succeeds.
func TestFailingWritesAreRetried(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	h := setup(t, interceptions.Config{BatchSize: 20, FlushInterval: never, MaxAttempts: 1_000_000,
		RetryBackoff: 100 * time.Millisecond, MaxRetryBackoff: time.Second, Clock: clk})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	restore := h.hideTable()
	h.start()
	for range 50 {
		require.True(t, h.rec.Record(record()))
	}
	waits := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	for i, wait := range waits {
		require.NoError(t, clk.WaitArmed(ctx, interceptions.RetryTimer, i+1))
		next, ok := clk.Next(interceptions.RetryTimer)
		require.True(t, ok)
		require.Equal(t, clk.Now().Add(wait), next, "wait after attempt %d", i+1)
		require.InDelta(t, i+1, h.metric("aigate_interceptions_write_errors_total"), 0)
		if i == len(waits)-1 {
			restore()
		}
		clk.Advance(wait)
	}
	// 40 in two full batches; the last 10 wait for shutdown or more records.
	h.waitCount(40)
	require.InDelta(t, len(waits), h.metric("aigate_interceptions_write_errors_total"), 0)
	for range 10 {
		require.True(t, h.rec.Record(record()))
	}
	h.waitCount(60)
	require.Zero(t, h.rec.Dropped())
	require.Equal(t, len(waits), clk.Armed(interceptions.RetryTimer), "no retry once the table is back")
}

func TestWriteGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	h := setup(t, interceptions.Config{BatchSize: 10, FlushInterval: never, MaxAttempts: 3, Clock: clk})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	restore := h.hideTable()
	h.start()
	for range 10 {
		require.True(t, h.rec.Record(record()))
	}
	require.NoError(t, clk.WaitArmed(ctx, interceptions.RetryTimer, 1))
	clk.Advance(interceptions.DefaultRetryBackoff)
	require.NoError(t, clk.WaitArmed(ctx, interceptions.RetryTimer, 2))
	clk.Advance(2 * interceptions.DefaultRetryBackoff)
	require.Eventually(t, func() bool { return h.rec.Dropped() == 10 }, waitFor, tick)
	require.InDelta(t, 10, h.metric("aigate_interceptions_dropped_total", "reason", "write_failed"), 0)
	require.InDelta(t, 3, h.metric("aigate_interceptions_write_errors_total"), 0)
	require.InDelta(t, 0, h.metric("aigate_interceptions_queue_depth"), 0)
	require.Equal(t, 2, clk.Armed(interceptions.RetryTimer), "no wait after the last attempt")

	// The writer goes on with the next batch.
	restore()
	for range 10 {
		require.True(t, h.rec.Record(record()))
	}
	h.waitCount(10)
}

func TestAlreadyWrittenRecordIsNotWrittenTwice(t *testing.T) {
	t.Parallel()
	// An attempt whose commit landed but whose answer was lost is retried:
	// the retry must neither fail the batch nor write the record twice.
	h := setup(t, interceptions.Config{BatchSize: 10, FlushInterval: never})
	ctx := context.Background()
	var batch []interceptions.Record
	for range 10 {
		batch = append(batch, record())
	}
	require.NoError(t, h.rec.WriteForTest(ctx, batch[3:5]))

	h.start()
	for _, r := range batch {
		require.True(t, h.rec.Record(r))
	}
	require.Eventually(t, func() bool { return h.metric("aigate_interceptions_written_total") == 12 }, waitFor, tick)
	require.Equal(t, 10, h.count())
	require.Zero(t, h.rec.Dropped())

	// The same record twice in one batch: written once.
	dup := record()
	for range 10 {
		require.True(t, h.rec.Record(dup))
	}
	h.waitCount(11)
	require.Zero(t, h.rec.Dropped())
}

func TestRunTwiceReturns(t *testing.T) {
	t.Parallel()
	h := setup(t, interceptions.Config{BatchSize: 1})
	h.start()
	require.True(t, h.rec.Record(record()))
	h.waitCount(1) // the first Run is running
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.rec.Run(ctx) // returns at once
	require.True(t, h.rec.Record(record()), "the first Run goes on")
	h.waitCount(2)
}

// prompt is a JSON request body of about n bytes.
func prompt(n int) json.RawMessage {
	return json.RawMessage(`{"messages":[{"role":"user","content":"` + strings.Repeat("a", n) + `"}]}`)
}

// A prompt that would take the queued prompts beyond QueueBytes is left out
// of its record, which is still written with its usage; the bytes of a
// written batch go back to the budget.
func TestPromptBeyondQueueBytesIsDroppedUsageKept(t *testing.T) {
	t.Parallel()
	const budget = 36 << 20
	h := setup(t, interceptions.Config{QueueBytes: budget, BatchSize: 1, FlushInterval: never})
	ctx := context.Background()
	release := h.lockTable()
	h.start()

	held := record(func(r *interceptions.Record) { r.Prompt = prompt(8 << 20) })
	require.True(t, h.rec.Record(held))
	require.Eventually(t, h.writerWaitsOnLock, waitFor, tick, "the writer is stuck on the lock with the 8 MiB prompt")
	require.InDelta(t, len(held.Prompt), h.metric("aigate_interceptions_queue_bytes"), 0)

	big := record(func(r *interceptions.Record) {
		r.Prompt = prompt(32 << 20)
		r.InputTokens, r.OutputTokens, r.CacheReadTokens = 123_456, 789, 42
	})
	require.True(t, h.rec.Record(big), "the record is queued, without its prompt")
	require.Equal(t, int64(1), h.rec.PromptsDropped())
	require.InDelta(t, 1, h.metric("aigate_interceptions_prompts_dropped_total"), 0)
	require.Zero(t, h.rec.Dropped(), "no record is dropped")
	require.InDelta(t, len(held.Prompt), h.metric("aigate_interceptions_queue_bytes"), 0, "the dropped prompt takes no budget")

	small := record(func(r *interceptions.Record) { r.Prompt = prompt(1 << 10) })
	require.True(t, h.rec.Record(small))
	require.InDelta(t, 1, h.metric("aigate_interceptions_prompts_dropped_total"), 0, "a prompt that fits is kept")

	release()
	h.waitCount(3)
	require.Eventually(t, func() bool { return h.metric("aigate_interceptions_queue_bytes") == 0 }, waitFor, tick,
		"the written batches' bytes are back in the budget")

	got, err := interceptions.Get(ctx, h.db, big.ID)
	require.NoError(t, err)
	require.Nil(t, got.Prompt)
	require.Equal(t, big.InputTokens, got.InputTokens)
	require.Equal(t, big.OutputTokens, got.OutputTokens)
	require.Equal(t, big.CacheReadTokens, got.CacheReadTokens)
	for _, kept := range []interceptions.Record{held, small} {
		got, err := interceptions.Get(ctx, h.db, kept.ID)
		require.NoError(t, err)
		require.Greater(t, len(got.Prompt), len(kept.Prompt)-16, "the prompt that fitted is stored")
	}

	// With the budget free again a 32 MiB prompt fits.
	again := record(func(r *interceptions.Record) { r.Prompt = prompt(32 << 20) })
	require.True(t, h.rec.Record(again))
	h.waitCount(4)
	got, err = interceptions.Get(ctx, h.db, again.ID)
	require.NoError(t, err)
	require.NotNil(t, got.Prompt)
	require.Equal(t, int64(1), h.rec.PromptsDropped())
}

// The prompt bytes of a batch the writer gives up on go back to the budget
// too.
func TestDroppedBatchReleasesQueueBytes(t *testing.T) {
	t.Parallel()
	h := setup(t, interceptions.Config{QueueBytes: 1 << 20, BatchSize: 1, FlushInterval: never, MaxAttempts: 1})
	ctx := context.Background()
	restore := h.hideTable()
	h.start()

	lost := record(func(r *interceptions.Record) { r.Prompt = prompt(600 << 10) })
	require.True(t, h.rec.Record(lost))
	require.Eventually(t, func() bool { return h.rec.Dropped() == 1 }, waitFor, tick)
	require.InDelta(t, 1, h.metric("aigate_interceptions_dropped_total", "reason", "write_failed"), 0)
	require.Eventually(t, func() bool { return h.metric("aigate_interceptions_queue_bytes") == 0 }, waitFor, tick)

	restore()
	// Had the lost batch kept its 600 KiB, this one would not fit.
	next := record(func(r *interceptions.Record) { r.Prompt = prompt(900 << 10) })
	require.True(t, h.rec.Record(next))
	h.waitCount(1)
	require.Zero(t, h.rec.PromptsDropped())
	got, err := interceptions.Get(ctx, h.db, next.ID)
	require.NoError(t, err)
	require.NotNil(t, got.Prompt)
}
