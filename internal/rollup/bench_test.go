package rollup_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/rollup"
	"github.com/aigate/aigate/internal/testdb"
)

// BenchmarkRollupTick is one tick after 1,000 new interceptions, on top of
// 10,000 and of 1,000,000 that earlier ticks rolled up (acceptance 3; the
// figures are in docs/performance.md):
//
//	go test -run '^$' -bench RollupTick -benchtime 5x ./internal/rollup
//
// The table is partitioned by day, as migration 0007 makes it and the
// retention service keeps it: 93 partitions (90 days back, 2 ahead), so the
// watermark's scan probes the recorded_at index of each.
//
// Traffic is a steady 1,000 requests per 5-minute tick (12,000 an hour)
// spread over 100 users, 4 models and 6 clients, so the existing rows are
// the 50 minutes or 83 hours before the hour the new ones start in. Each
// iteration's 1,000 rows start in the next 5 minutes of that hour, as the
// next tick's would, and the previous iteration's rows are moved back one
// interval in recorded_at (off the clock), as if written a tick ago: the
// look-back re-reads only rows written in its last minute, and so the timed
// tick sees what a production tick sees: 1,000 new rows, plus the earlier
// rows of the buckets they touch in the current hour.
func BenchmarkRollupTick(b *testing.B) {
	for _, existing := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("existing=%d", existing), func(b *testing.B) {
			ctx := context.Background()
			db := testdb.New(b)
			// The log would be printed: benchmarks always print theirs.
			s := newService(b, db, rollup.Config{Logger: slog.New(slog.DiscardHandler)}, nil)
			const perTick = 1_000
			spacing := rollup.DefaultInterval / perTick
			// The partitions the retention service keeps: a day each, for
			// the default 90 days back and a few ahead.
			_, err := db.Pool.Exec(ctx, `SELECT interceptions_partition_create(d::date)
				FROM generate_series($1::timestamptz - interval '90 days', $1::timestamptz + interval '2 days', interval '1 day') AS d`,
				benchHour)
			require.NoError(b, err)
			// The existing rows end where the new ones begin, and were
			// written well before any tick's look-back.
			written := time.Now().Add(-2 * time.Hour)
			generate(b, db, existing, benchHour.Add(-time.Duration(existing)*spacing), spacing, 0, &written)
			_, err = db.Pool.Exec(ctx, "ANALYZE interceptions")
			require.NoError(b, err)
			// The first run reads every row (what an upgrade's first tick
			// does with the rows recorded before it).
			first := time.Now()
			tick(b, s)
			b.Logf("first rollup of %d rows: %s", existing, time.Since(first).Round(time.Millisecond))

			var recomputed, rowsWritten int64
			iter := 0
			for b.Loop() {
				b.StopTimer()
				slice := benchHour.Add(time.Duration(iter) * rollup.DefaultInterval)
				if iter > 0 {
					_, err := db.Pool.Exec(ctx, `UPDATE interceptions SET recorded_at = recorded_at - $1::bigint * interval '1 microsecond'
						WHERE started_at >= $2 AND started_at < $3`,
						rollup.DefaultInterval.Microseconds(), slice.Add(-rollup.DefaultInterval), slice)
					require.NoError(b, err)
				}
				generate(b, db, perTick, slice, spacing, existing+iter*perTick, nil)
				b.StartTimer()
				r := tick(b, s)
				recomputed += r.Recomputed
				rowsWritten += r.Written
				iter++
			}
			b.ReportMetric(float64(recomputed)/float64(iter), "buckets/op")
			b.ReportMetric(float64(rowsWritten)/float64(iter), "written/op")
		})
	}
}

// benchHour is the hour the new rows start in; any hour does.
var benchHour = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// generate inserts n interceptions starting at start, one every spacing.
// Row g of the sequence (numbered from seq) belongs to user g%100, model
// (g/100)%4 and client (g/400)%6. recordedAt nil is the database's now().
func generate(b *testing.B, db *database.DB, n int, start time.Time, spacing time.Duration, seq int, recordedAt *time.Time) {
	b.Helper()
	_, err := db.Pool.Exec(context.Background(), `
		INSERT INTO interceptions (id, replica_id, request_id, user_id, token_id, provider_id, provider_name,
			provider_type, model, endpoint, streaming, started_at, ended_at, ttfb_ms, status, input_tokens,
			output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, client, recorded_at)
		SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000000', 'req-' || g,
			('0194a000-0000-7000-8000-' || lpad(to_hex(g % 100), 12, '0'))::uuid, 'tok',
			CASE WHEN (g / 100) % 4 < 2 THEN $4::uuid ELSE $5::uuid END,
			CASE WHEN (g / 100) % 4 < 2 THEN 'openai' ELSE 'anthropic' END,
			(CASE WHEN (g / 100) % 4 < 2 THEN 'openai' ELSE 'anthropic' END)::ai_provider_type,
			(ARRAY['gpt-5', 'gpt-5-mini', 'claude-opus', 'claude-haiku'])[(g / 100) % 4 + 1],
			'responses', true,
			$2::timestamptz + (g - $1) * $3::bigint * interval '1 microsecond',
			$2::timestamptz + (g - $1) * $3::bigint * interval '1 microsecond' + (g * 37 % 5000) * interval '1 millisecond',
			CASE WHEN g % 10 = 0 THEN NULL ELSE g * 13 % 800 END,
			CASE WHEN g % 20 = 0 THEN 'upstream_error' ELSE 'ok' END,
			1000 + g % 5000, g % 700, g % 3000, g % 50, g % 200,
			(ARRAY['claude-code', 'codex', 'openai-sdk', 'anthropic-sdk', 'curl', 'other'])[(g / 400) % 6 + 1],
			coalesce($6::timestamptz, now())
		FROM generate_series($1::bigint, $1::bigint + $7::bigint - 1) AS g`,
		seq, start, spacing.Microseconds(), openAI.ID, anthropic.ID, recordedAt, n)
	require.NoError(b, err)
}
