package migrate_test

import (
	"context"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/migrate"
	"github.com/aigate/aigate/internal/database/migrations"
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
	for _, m := range ms {
		_, hasStep := migrations.Steps[m.Name]
		require.Equal(t, hasStep, m.Go != nil, "%s gets its Go step", m.Name)
	}
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

// migratedTo returns a database with the embedded migrations up to and
// including the one named, as an aigate of that version left it.
func migratedTo(t *testing.T, name string) (*database.DB, []migrate.Migration) {
	t.Helper()
	db := testdb.Open(t, testdb.EmptyURL(t))
	all := migrate.Embedded()
	for i, m := range all {
		if m.Name == name {
			_, err := migrate.New(db, all[:i+1], "v-old").Up(context.Background())
			require.NoError(t, err)
			return db, all
		}
	}
	t.Fatalf("no migration %s", name)
	return nil, nil
}

func insertUser(t *testing.T, db *database.DB, email string, created time.Time) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := db.Pool.Exec(context.Background(), `INSERT INTO users (id, email, name, password_hash, role, created_at, updated_at)
VALUES ($1, $2, 'U', 'x', 'member', $3, $3)`, id, email, created)
	require.NoError(t, err)
	return id
}

func userEmails(t *testing.T, db *database.DB) map[uuid.UUID]string {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), "SELECT id, email FROM users")
	require.NoError(t, err)
	out := map[uuid.UUID]string{}
	for rows.Next() {
		var id uuid.UUID
		var email string
		require.NoError(t, rows.Scan(&id, &email))
		out[id] = email
	}
	require.NoError(t, rows.Err())
	return out
}

// TestEmailNormalizationCollisionFails: two users that the old rule
// (lowercase) kept apart and the new one (NFKC, case folding) makes one
// person stop the upgrade, named, with nothing changed and nothing merged.
func TestEmailNormalizationCollisionFails(t *testing.T) {
	t.Parallel()
	db, all := migratedTo(t, "0004_interceptions.sql")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sam := insertUser(t, db, "sam@example.com", t0)
	longS := insertUser(t, db, "ſam@example.com", t0.Add(time.Minute))
	fullWidth := insertUser(t, db, "ｓａｍ@example.com", t0.Add(2*time.Minute))
	ada := insertUser(t, db, "ada@example.com", t0)
	adaFull := insertUser(t, db, "ａｄａ@example.com", t0.Add(time.Minute))
	bob := insertUser(t, db, "ｂob@example.com", t0)
	before := userEmails(t, db)

	_, err := migrate.New(db, all, "v-new").Up(context.Background())
	var me *migrate.MigrationError
	require.ErrorAs(t, err, &me)
	require.Equal(t, "0005_users_email_normalized.sql", me.Name)
	var collision *migrations.EmailCollisionError
	require.ErrorAs(t, err, &collision)
	require.Equal(t, map[string][]migrations.CollidingUser{
		"sam@example.com": {{ID: sam, Email: "sam@example.com"}, {ID: longS, Email: "ſam@example.com"}, {ID: fullWidth, Email: "ｓａｍ@example.com"}},
		"ada@example.com": {{ID: ada, Email: "ada@example.com"}, {ID: adaFull, Email: "ａｄａ@example.com"}},
	}, collision.Collisions)
	for _, id := range []uuid.UUID{sam, longS, fullWidth, ada, adaFull} {
		require.Contains(t, err.Error(), id.String(), "the message names every colliding user")
	}
	require.NotContains(t, err.Error(), bob.String(), "a user who collides with nobody is not named")
	require.Contains(t, err.Error(), "never merges accounts")
	t.Log(err)

	require.Equal(t, before, userEmails(t, db), "no email changed, no user merged or removed")
	require.Equal(t, []int32{1, 2, 3, 4}, appliedVersions(t, db), "the schema stays at the version before")
}

// TestEmailNormalizationRewritesRows: without collisions every stored email
// takes its normal form, audited as a change by system, and the unique index
// then refuses a second spelling of the same person.
func TestEmailNormalizationRewritesRows(t *testing.T) {
	t.Parallel()
	db, all := migratedTo(t, "0004_interceptions.sql")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	longS := insertUser(t, db, "ſam@example.com", t0)
	fullWidth := insertUser(t, db, "ａｄａ@ｅｘａｍｐｌｅ.com", t0)
	cherokee := insertUser(t, db, "ꭰ@example.com", t0)
	plain := insertUser(t, db, "bob@example.com", t0)

	applied, err := migrate.New(db, all, "v-new").Up(context.Background())
	require.NoError(t, err)
	require.Equal(t, "0005_users_email_normalized.sql", applied[0].Name)
	require.Equal(t, map[uuid.UUID]string{
		longS: "sam@example.com", fullWidth: "ada@example.com", cherokee: "Ꭰ@example.com", plain: "bob@example.com",
	}, userEmails(t, db))

	ctx := context.Background()
	var diff string
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT diff::text FROM audit_logs
WHERE actor = 'system' AND action = 'write' AND resource_type = 'user' AND resource_id = $1 AND resource_name = 'sam@example.com'`,
		longS.String()).Scan(&diff))
	require.JSONEq(t, `{"email": {"old": "ſam@example.com", "new": "sam@example.com"}}`, diff)
	var audited int
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM audit_logs WHERE actor = 'system'").Scan(&audited))
	require.Equal(t, 3, audited, "one entry per changed email, none for the unchanged one")

	_, err = db.Pool.Exec(ctx, `INSERT INTO users (id, email, name, password_hash, role, created_at, updated_at)
VALUES ($1, 'sam@example.com', 'Dup', 'x', 'member', now(), now())`, uuid.New())
	require.ErrorContains(t, err, "users_email_idx", "the unique index holds the normal form")
}
