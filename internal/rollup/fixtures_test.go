package rollup_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/rollup"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// waitFor bounds waits on loops and channels; generous, the machine may be
// busy.
const waitFor = 30 * time.Second

// hour0 is an hour the fixtures start in; any hour does, as the rollup never
// compares started_at with the present.
var hour0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type provider struct {
	ID         uuid.UUID
	Name, Type string
}

var (
	openAI    = provider{uuid.MustParse("0194a000-0000-7000-8000-000000000001"), "openai", "openai"}
	anthropic = provider{uuid.MustParse("0194a000-0000-7000-8000-000000000002"), "anthropic", "anthropic"}
	alice     = uuid.MustParse("0194a000-0000-7000-8000-0000000000a1")
	bob       = uuid.MustParse("0194a000-0000-7000-8000-0000000000b0")
)

// ic is an interception to insert; fill sets what is left zero.
type ic struct {
	ID        uuid.UUID
	User      uuid.UUID
	Provider  provider
	Model     string
	Client    string
	StartedAt time.Time
	Latency   time.Duration
	TTFBms    *int32 // nil: no byte came back
	Status    string

	Input, Output, CacheRead, CacheWrite, Reasoning int64
	// Cost is cost_micros: nil is unpriced.
	Cost *int64
}

func ms(v int32) *int32 { return &v }

// fill gives each row an id and defaults for its zero fields, so the same
// rows can go into two databases.
func fill(rows ...ic) []ic {
	out := make([]ic, len(rows))
	for i, r := range rows {
		if r.ID == uuid.Nil {
			r.ID = uuid.Must(uuid.NewV7())
		}
		if r.User == uuid.Nil {
			r.User = alice
		}
		if r.Provider.ID == uuid.Nil {
			r.Provider = openAI
		}
		if r.Model == "" {
			r.Model = "gpt-5"
		}
		if r.Client == "" {
			r.Client = "codex"
		}
		if r.StartedAt.IsZero() {
			r.StartedAt = hour0.Add(10 * time.Minute)
		}
		if r.Latency == 0 {
			r.Latency = 100 * time.Millisecond
		}
		if r.Status == "" {
			r.Status = "ok"
		}
		out[i] = r
	}
	return out
}

// insert writes rows (filled) as the recorder would; recorded_at is the
// database's now().
func insert(t testing.TB, db *database.DB, rows ...ic) {
	t.Helper()
	insertOn(t, db.Pool, rows...)
}

type execer interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

func insertOn(t testing.TB, conn execer, rows ...ic) {
	t.Helper()
	b := &pgx.Batch{}
	for _, r := range fill(rows...) {
		b.Queue(`INSERT INTO interceptions (id, replica_id, request_id, user_id, token_id, provider_id, provider_name,
				provider_type, model, endpoint, streaming, started_at, ended_at, ttfb_ms, status, input_tokens,
				output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, client, cost_micros)
			VALUES ($1, $2, $3, $4, 'tok', $5, $6, $7::ai_provider_type, $8, 'responses', true, $9, $10, $11, $12,
				$13, $14, $15, $16, $17, $18, $19)`,
			r.ID, uuid.Nil, "req-"+r.ID.String(), r.User, r.Provider.ID, r.Provider.Name, r.Provider.Type, r.Model,
			r.StartedAt, r.StartedAt.Add(r.Latency), r.TTFBms, r.Status,
			r.Input, r.Output, r.CacheRead, r.CacheWrite, r.Reasoning, r.Client, r.Cost)
	}
	require.NoError(t, conn.SendBatch(context.Background(), b).Close())
}

// buckets reads every usage_hourly row in key order.
func buckets(t testing.TB, db *database.DB) []dbsqlc.UsageHourly {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT * FROM usage_hourly
		ORDER BY hour, user_id, provider_id, provider_name, provider_type, model, client`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[dbsqlc.UsageHourly])
	require.NoError(t, err)
	for i := range out {
		out[i].Hour = out[i].Hour.UTC()
	}
	return out
}

// withoutUpdatedAt is buckets for comparing two databases, whose runs
// happened at different times.
func withoutUpdatedAt(bs []dbsqlc.UsageHourly) []dbsqlc.UsageHourly {
	out := append([]dbsqlc.UsageHourly(nil), bs...)
	for i := range out {
		out[i].UpdatedAt = time.Time{}
	}
	return out
}

// versions is each bucket's updated_at and row version (xmin), which a
// write changes even when it writes the same values.
func versions(t testing.TB, db *database.DB) map[string]string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT concat_ws('/', hour, user_id, provider_id, provider_name,
			provider_type, model, client), updated_at::text || ' xmin ' || xmin::text FROM usage_hourly`)
	require.NoError(t, err)
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		require.NoError(t, rows.Scan(&k, &v))
		out[k] = v
	}
	require.NoError(t, rows.Err())
	return out
}

// newService builds a rollup service on db logging to cfg.Logger, else to
// logs, else to the test log.
func newService(t testing.TB, db *database.DB, cfg rollup.Config, logs *testlog.Buffer) *rollup.Service {
	t.Helper()
	cfg.DB = db
	if cfg.ReplicaID == uuid.Nil {
		cfg.ReplicaID = uuid.New()
	}
	switch {
	case cfg.Logger != nil:
	case logs != nil:
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	default:
		cfg.Logger = testdb.Logger(t)
	}
	s, err := rollup.New(cfg)
	require.NoError(t, err)
	return s
}

func tick(t testing.TB, s *rollup.Service) rollup.Result {
	t.Helper()
	res, err := s.Tick(context.Background())
	require.NoError(t, err)
	require.False(t, res.Skipped)
	return res
}
