package migrate_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/database/migrate"
	"github.com/aigate/aigate/internal/testdb"
)

// TestInterceptionsPartitioned: 0007 turns the interceptions an older aigate
// wrote into a table partitioned by day, every row kept, each in its UTC
// day's partition (a row at midnight opens the next day), with client
// "other" and no session, and nothing left in the default partition.
func TestInterceptionsPartitioned(t *testing.T) {
	t.Parallel()
	const name = "0007_interceptions_partitioned.sql"
	db := testdb.Open(t, testdb.EmptyURL(t))
	all := migrate.Embedded()
	i := 0
	for i < len(all) && all[i].Name != name {
		i++
	}
	require.Less(t, i, len(all), "no migration %s", name)
	ctx := context.Background()
	_, err := migrate.New(db, all[:i], "v-old").Up(ctx)
	require.NoError(t, err)

	starts := map[uuid.UUID]time.Time{}
	for _, s := range []string{
		"2026-01-01T23:59:59.999999Z", "2026-01-02T00:00:00Z", "2026-01-02T13:30:00+02:00", "2026-03-15T08:00:00Z",
	} {
		at, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		id := uuid.New()
		starts[id] = at.UTC()
		_, err = db.Pool.Exec(ctx, `INSERT INTO interceptions (id, replica_id, request_id, user_id, token_id, provider_id,
    provider_name, provider_type, model, endpoint, streaming, started_at, ended_at, status, input_tokens, prompt)
VALUES ($1, $2, 'req', $3, 'tok', $4, 'openai-main', 'openai', 'gpt-5', 'responses', true, $5, $5, 'ok', 42, '{"a": 1}')`,
			id, uuid.New(), uuid.New(), uuid.New(), at)
		require.NoError(t, err)
	}

	applied, err := migrate.New(db, all, "v-new").Up(ctx)
	require.NoError(t, err)
	require.Equal(t, name, applied[0].Name)

	rows, err := db.Pool.Query(ctx, `SELECT id, tableoid::regclass::text, started_at, client, session_id IS NULL, input_tokens, prompt::text
FROM interceptions`)
	require.NoError(t, err)
	got := map[uuid.UUID]string{}
	for rows.Next() {
		var (
			id        uuid.UUID
			partition string
			started   time.Time
			client    string
			noSession bool
			input     int64
			prompt    string
		)
		require.NoError(t, rows.Scan(&id, &partition, &started, &client, &noSession, &input, &prompt))
		require.Equal(t, starts[id], started.UTC())
		require.Equal(t, "other", client)
		require.True(t, noSession)
		require.EqualValues(t, 42, input)
		require.JSONEq(t, `{"a": 1}`, prompt)
		got[id] = partition
	}
	require.NoError(t, rows.Err())
	want := map[uuid.UUID]string{}
	for id, at := range starts {
		want[id] = "interceptions_p" + at.Format("20060102")
	}
	require.Equal(t, want, got, "every row kept, in its UTC day's partition")
	var partitioned bool
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT relkind = 'p' FROM pg_class WHERE relname = 'interceptions'`).Scan(&partitioned))
	require.True(t, partitioned)
	var inDefault int
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM interceptions_default").Scan(&inDefault))
	require.Zero(t, inDefault)
	var leftOver bool
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT to_regclass('interceptions_0004') IS NOT NULL").Scan(&leftOver))
	require.False(t, leftOver, "the copy of the old rows is gone")
}
