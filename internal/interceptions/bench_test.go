package interceptions_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/testdb"
)

// BenchmarkRecord is the cost Record adds to a request.
//
//   - serial: a record queued, its id made by the caller. The queue is
//     emptied, off the clock, whenever it fills, so no record is dropped.
//   - serial_new_id: the same, the id (UUIDv7) made by Record.
//   - parallel: GOMAXPROCS goroutines recording at once; the one that finds
//     the queue full empties it, on the clock, so an op is a send plus a
//     receive (the writer's share) and one drop in queueSize.
//   - full: the drop path alone: the queue is full (the database is away).
func BenchmarkRecord(b *testing.B) {
	// Record never touches the database; the Recorder needs a handle only.
	db := &database.DB{}
	const queueSize = 10_000
	serial := func(b *testing.B, makeID bool) {
		rec := interceptions.NewRecorder(db, interceptions.Config{QueueSize: queueSize})
		r := record()
		if makeID {
			r.ID = uuid.Nil
		}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if n++; n%queueSize == 0 {
				b.StopTimer()
				rec.DrainForTest()
				b.StartTimer()
			}
			rec.Record(r)
		}
		require.Zero(b, rec.Dropped())
	}
	b.Run("serial", func(b *testing.B) { serial(b, false) })
	b.Run("serial_new_id", func(b *testing.B) { serial(b, true) })
	b.Run("parallel", func(b *testing.B) {
		rec := interceptions.NewRecorder(db, interceptions.Config{QueueSize: queueSize, DropLogInterval: time.Hour})
		r := record()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !rec.Record(r) {
					rec.DrainForTest()
				}
			}
		})
		b.ReportMetric(float64(rec.Dropped())/float64(b.N), "dropped/op")
	})
	b.Run("full", func(b *testing.B) {
		rec := interceptions.NewRecorder(db, interceptions.Config{QueueSize: 1,
			DropLogInterval: time.Hour})
		r := record()
		rec.Record(r)
		b.ReportAllocs()
		for b.Loop() {
			rec.Record(r)
		}
		require.Equal(b, int64(b.N), rec.Dropped())
	})
}

// BenchmarkWrite is the writer's throughput: rows per second through COPY,
// in batches of the default size, with and without a captured prompt.
func BenchmarkWrite(b *testing.B) {
	for _, tc := range []struct {
		name   string
		prompt json.RawMessage
	}{
		{"no_prompt", nil},
		{"prompt_2KiB", json.RawMessage(`{"messages":[{"role":"user","content":"` + string(make2KiB()) + `"}]}`)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			db := testdb.New(b)
			rec := interceptions.NewRecorder(db, interceptions.Config{})
			ctx := context.Background()
			batch := make([]interceptions.Record, interceptions.DefaultBatchSize)
			rows := 0
			for b.Loop() {
				b.StopTimer()
				for i := range batch {
					batch[i] = record(func(r *interceptions.Record) { r.Prompt = tc.prompt })
				}
				b.StartTimer()
				require.NoError(b, rec.WriteForTest(ctx, batch))
				rows += len(batch)
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func make2KiB() []byte {
	b := make([]byte, 2048)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// BenchmarkGet is the cost of reading one record by id from a table of
// keptDays day partitions (the default retention's, with the days made
// ahead) holding perDay records each:
//
//   - its_partition: an id NewID made, read from its millisecond's
//     partition alone; what the API's detail answer costs.
//   - every_partition: the same row by id alone, probing every
//     partition's key index; what the lookup cost before ids carried the
//     start.
//   - not_from_its_start: an id from another clock reading (an older
//     server's); the millisecond's partition misses, then every one is
//     probed.
//   - unknown: an id no record has: both lookups, as for such an id.
func BenchmarkGet(b *testing.B) {
	const perDay = 2000
	db := testdb.New(b)
	ctx := context.Background()
	all := fillPartitions(b, db, perDay)
	legacy := record(startedAt(firstDay.AddDate(0, 0, 45).Add(time.Hour)))
	rec := interceptions.NewRecorder(db, interceptions.Config{})
	require.NoError(b, rec.WriteForTest(ctx, []interceptions.Record{legacy}))
	_, err := db.Pool.Exec(ctx, "ANALYZE interceptions")
	require.NoError(b, err)
	q := dbsqlc.New(db.Pool)
	b.ResetTimer()

	pick := func(i int) uuid.UUID { return all[(i*7919)%len(all)].ID }
	b.Run("its_partition", func(b *testing.B) {
		i := 0
		for b.Loop() {
			_, err := interceptions.Get(ctx, db, pick(i))
			require.NoError(b, err)
			i++
		}
	})
	b.Run("every_partition", func(b *testing.B) {
		i := 0
		for b.Loop() {
			_, err := q.InterceptionGetByID(ctx, pick(i))
			require.NoError(b, err)
			i++
		}
	})
	b.Run("not_from_its_start", func(b *testing.B) {
		for b.Loop() {
			_, err := interceptions.Get(ctx, db, legacy.ID)
			require.NoError(b, err)
		}
	})
	b.Run("unknown", func(b *testing.B) {
		unknown := interceptions.NewID(firstDay.AddDate(0, 0, 30))
		for b.Loop() {
			_, err := interceptions.Get(ctx, db, unknown)
			require.ErrorIs(b, err, pgx.ErrNoRows)
		}
	})
}
