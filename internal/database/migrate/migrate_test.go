package migrate_test

import (
	"context"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/migrate"
	"github.com/aigate/aigate/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func TestLoadRejectsBadSets(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		files fstest.MapFS
		err   string
	}{
		"gap":       {fstest.MapFS{"0001_a.sql": {}, "0003_c.sql": {}}, "expected version 0002"},
		"duplicate": {fstest.MapFS{"0001_a.sql": {}, "0001_b.sql": {}}, "expected version 0002"},
		"bad name":  {fstest.MapFS{"0001_a.sql": {}, "2_b.sql": {}}, `"2_b.sql" is not named`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := migrate.Load(tc.files)
			require.ErrorContains(t, err, tc.err)
		})
	}
	ms, err := migrate.Load(fstest.MapFS{"0002_b.sql": {Data: []byte("b")}, "0001_a.sql": {Data: []byte("a")}, "README": {}})
	require.NoError(t, err)
	require.Equal(t, []string{"0001_a.sql", "0002_b.sql"}, []string{ms[0].Name, ms[1].Name})
}

func TestEmbeddedMigrationsLoad(t *testing.T) {
	t.Parallel()
	ms := migrate.Embedded()
	require.NotEmpty(t, ms)
	require.Equal(t, "0001_initial.sql", ms[0].Name)
}

func appliedVersions(t *testing.T, db *database.DB) []int32 {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), "SELECT version FROM schema_migrations ORDER BY version")
	require.NoError(t, err)
	var out []int32
	for rows.Next() {
		var v int32
		require.NoError(t, rows.Scan(&v))
		out = append(out, v)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestUpAppliesOnceThenNothing(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.EmptyURL(t))
	ctx := context.Background()
	m := migrate.New(db, migrate.Embedded(), "v-test")

	applied, err := m.Up(ctx)
	require.NoError(t, err)
	require.Len(t, applied, len(migrate.Embedded()))
	require.NoError(t, m.CheckCurrent(ctx))

	applied, err = m.Up(ctx)
	require.NoError(t, err)
	require.Empty(t, applied)

	statuses, err := m.Status(ctx)
	require.NoError(t, err)
	for _, s := range statuses {
		require.True(t, s.Applied, s.Name)
		require.Equal(t, "v-test", s.AppliedBy)
	}
}

// TestUpConcurrent starts several migrators at once on separate pools, as
// replicas starting together would: every one succeeds and each migration is
// applied exactly once.
func TestUpConcurrent(t *testing.T) {
	t.Parallel()
	url := testdb.EmptyURL(t)
	ms := append(migrate.Embedded(), migrate.Migration{
		Version: int32(len(migrate.Embedded()) + 1), Name: "9999_slow.sql",
		// Holding the lock a little while makes the others really wait.
		SQL: "SELECT pg_sleep(0.2); CREATE TABLE extra (id int);",
	})
	const n = 6
	results := make([][]migrate.Migration, n)
	var wg sync.WaitGroup
	for i := range n {
		db := testdb.Open(t, url)
		wg.Go(func() {
			var err error
			results[i], err = migrate.New(db, ms, "v-test").Up(context.Background())
			require.NoError(t, err)
		})
	}
	wg.Wait()
	total := 0
	for _, r := range results {
		total += len(r)
	}
	require.Equal(t, len(ms), total, "each migration applied by exactly one migrator")
	require.Len(t, appliedVersions(t, testdb.Open(t, url)), len(ms))
}

func TestUpFailureRollsBackEverything(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.EmptyURL(t))
	ms := []migrate.Migration{
		{Version: 1, Name: "0001_good.sql", SQL: "CREATE TABLE good (id int);"},
		{Version: 2, Name: "0002_bad.sql", SQL: "CREATE TABLE bad (id int); SELEC oops;"},
	}
	_, err := migrate.New(db, ms, "v-test").Up(context.Background())
	require.Error(t, err)
	var me *migrate.MigrationError
	require.ErrorAs(t, err, &me)
	require.Contains(t, err.Error(), "0002_bad.sql")
	require.Contains(t, err.Error(), "SQLSTATE 42601")

	var tables int
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		"SELECT count(*) FROM pg_tables WHERE tablename IN ('good', 'bad', 'schema_migrations')").Scan(&tables))
	require.Zero(t, tables, "nothing from the failed run may remain")
}

func TestUpRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	db := testdb.New(t) // fully migrated
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, "INSERT INTO schema_migrations VALUES (999, '0999_future.sql', now(), 'v9.9.9')")
	require.NoError(t, err)

	m := migrate.New(db, migrate.Embedded(), "v-test")
	_, err = m.Up(ctx)
	var tooNew *migrate.SchemaTooNewError
	require.ErrorAs(t, err, &tooNew)
	require.Contains(t, err.Error(), "0999_future.sql")
	require.Contains(t, err.Error(), "v9.9.9")
	require.Error(t, m.CheckCurrent(ctx))
}
