// Package migrate applies aigate's embedded schema migrations, one replica at
// a time, and refuses to run against a schema newer than the binary.
//
// All pending migrations are applied in one transaction that first takes the
// migrations advisory lock. Replicas that start together queue on the lock;
// the first applies everything, the rest find nothing left to do. A failing
// migration rolls back the whole batch, so the schema is never half-migrated.
// A migration may have a Go step (migrations.Steps) for what SQL cannot
// express; it runs right after its file, in the same transaction.
package migrate

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
	"github.com/aigate/aigate/internal/database/migrations"
)

//go:embed bootstrap.sql
var bootstrapSQL string

// Migration is one embedded SQL file and its Go step, if it has one.
type Migration struct {
	Version int32
	Name    string // file name, e.g. 0001_initial.sql
	SQL     string
	Go      migrations.Step // nil for most
}

var fileName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// Load reads the migrations from fsys, checking that they are numbered 1..N
// without gaps or duplicates: a gap means a file went missing from the build.
func Load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		if e.IsDir() || e.Name() == "" || e.Name()[0] == '.' {
			continue
		}
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			if len(e.Name()) > 4 && e.Name()[len(e.Name())-4:] == ".sql" {
				return nil, fmt.Errorf("migration file %q is not named NNNN_lowercase_words.sql", e.Name())
			}
			continue
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: int32(v), Name: e.Name(), SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != int32(i+1) {
			return nil, fmt.Errorf("migration %s: expected version %04d (versions must run 1..N without gaps or duplicates)", m.Name, i+1)
		}
	}
	return out, nil
}

// Embedded returns the migrations compiled into this binary, with their Go
// steps.
func Embedded() []Migration {
	ms, err := Load(migrations.FS)
	if err == nil {
		err = attachSteps(ms, migrations.Steps)
	}
	if err != nil {
		// The files and steps are fixed at build time and checked by tests.
		panic(err)
	}
	return ms
}

// attachSteps gives each migration its Go step. A step whose file is missing
// would silently never run, so it is an error.
func attachSteps(ms []Migration, steps map[string]migrations.Step) error {
	attached := 0
	for i := range ms {
		if step, ok := steps[ms[i].Name]; ok {
			ms[i].Go = step
			attached++
		}
	}
	if attached != len(steps) {
		return fmt.Errorf("%d Go migration step(s) name no migration file", len(steps)-attached)
	}
	return nil
}

// SchemaTooNewError is returned when the database holds migrations this
// binary does not know: an older binary must not run against a newer schema.
type SchemaTooNewError struct {
	DatabaseVersion int32
	DatabaseName    string
	AppliedBy       string
	BinaryVersion   int32
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("database schema is at migration %d (%s, applied by aigate %s) but this aigate binary knows migrations up to %d only; run aigate %s or newer, or restore the database from a backup taken before the upgrade",
		e.DatabaseVersion, e.DatabaseName, e.AppliedBy, e.BinaryVersion, e.AppliedBy)
}

// MigrationError names the migration that failed and PostgreSQL's SQLSTATE.
type MigrationError struct {
	Name string
	Err  error
}

func (e *MigrationError) Error() string {
	var pgErr *pgconn.PgError
	if errors.As(e.Err, &pgErr) {
		return fmt.Sprintf("apply migration %s: %s (SQLSTATE %s); nothing from this run was applied", e.Name, pgErr.Message, pgErr.Code)
	}
	return fmt.Sprintf("apply migration %s: %v; nothing from this run was applied", e.Name, e.Err)
}

func (e *MigrationError) Unwrap() error { return e.Err }

// Migrator applies a fixed list of migrations.
type Migrator struct {
	db            *database.DB
	migrations    []Migration
	binaryVersion string
	now           func() time.Time
}

// New returns a Migrator for ms (usually Embedded()). binaryVersion is
// recorded with each applied migration so a too-new schema can say which
// aigate applied it.
func New(db *database.DB, ms []Migration, binaryVersion string) *Migrator {
	return &Migrator{db: db, migrations: ms, binaryVersion: binaryVersion, now: db.Now}
}

// Status is one migration and whether the database has it.
type Status struct {
	Version   int32
	Name      string
	Applied   bool
	AppliedAt time.Time
	AppliedBy string
}

// Up applies every pending migration and returns the ones it applied.
func (m *Migrator) Up(ctx context.Context) ([]Migration, error) {
	return database.LockedTx(ctx, m.db, database.LockMigrations, func(ctx context.Context, tx pgx.Tx) ([]Migration, error) {
		if _, err := tx.Exec(ctx, bootstrapSQL); err != nil {
			return nil, fmt.Errorf("create schema_migrations: %w", err)
		}
		q := dbsqlc.New(tx)
		applied, err := q.SchemaMigrationList(ctx)
		if err != nil {
			return nil, fmt.Errorf("list applied migrations: %w", err)
		}
		if err := m.checkNotNewer(applied); err != nil {
			return nil, err
		}
		done := make(map[int32]bool, len(applied))
		for _, a := range applied {
			done[a.Version] = true
		}
		var ran []Migration
		for _, mig := range m.migrations {
			if done[mig.Version] {
				continue
			}
			// Exec without arguments uses the simple protocol, which runs
			// a file of several statements in one round trip.
			if _, err := tx.Exec(ctx, mig.SQL); err != nil {
				return nil, &MigrationError{Name: mig.Name, Err: err}
			}
			if mig.Go != nil {
				if err := mig.Go(ctx, tx, m.now().UTC()); err != nil {
					return nil, &MigrationError{Name: mig.Name, Err: err}
				}
			}
			if err := q.SchemaMigrationInsert(ctx, dbsqlc.SchemaMigrationInsertParams{
				Version: mig.Version, Name: mig.Name, AppliedAt: m.now().UTC(), AigateVersion: m.binaryVersion,
			}); err != nil {
				return nil, fmt.Errorf("record migration %s: %w", mig.Name, err)
			}
			ran = append(ran, mig)
		}
		return ran, nil
	})
}

// Status lists every migration the binary or the database knows. Unlike Up
// it takes no lock and changes nothing.
func (m *Migrator) Status(ctx context.Context) ([]Status, error) {
	return database.Tx(ctx, m.db, func(ctx context.Context, tx pgx.Tx) ([]Status, error) {
		applied, err := m.applied(ctx, tx)
		if err != nil {
			return nil, err
		}
		byVersion := make(map[int32]dbsqlc.SchemaMigration, len(applied))
		for _, a := range applied {
			byVersion[a.Version] = a
		}
		var out []Status
		for _, mig := range m.migrations {
			s := Status{Version: mig.Version, Name: mig.Name}
			if a, ok := byVersion[mig.Version]; ok {
				s.Applied, s.AppliedAt, s.AppliedBy = true, a.AppliedAt, a.AigateVersion
				delete(byVersion, mig.Version)
			}
			out = append(out, s)
		}
		for _, a := range applied {
			if _, unknown := byVersion[a.Version]; unknown {
				out = append(out, Status{Version: a.Version, Name: a.Name + " (unknown to this binary)", Applied: true, AppliedAt: a.AppliedAt, AppliedBy: a.AigateVersion})
			}
		}
		return out, nil
	})
}

// CheckCurrent returns nil when every migration this binary knows is applied
// and the database has none it does not know; /readyz uses it.
func (m *Migrator) CheckCurrent(ctx context.Context) error {
	max, err := dbsqlc.New(m.db.Pool).SchemaMigrationMaxVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	head := m.head()
	if max != head {
		return fmt.Errorf("schema is at migration %d, this binary expects %d", max, head)
	}
	return nil
}

func (m *Migrator) head() int32 {
	if len(m.migrations) == 0 {
		return 0
	}
	return m.migrations[len(m.migrations)-1].Version
}

func (m *Migrator) applied(ctx context.Context, tx pgx.Tx) ([]dbsqlc.SchemaMigration, error) {
	exists, err := dbsqlc.New(tx).SchemaMigrationTableExists(ctx)
	if err != nil {
		return nil, fmt.Errorf("look for schema_migrations: %w", err)
	}
	if !exists {
		return nil, nil
	}
	applied, err := dbsqlc.New(tx).SchemaMigrationList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list applied migrations: %w", err)
	}
	return applied, nil
}

func (m *Migrator) checkNotNewer(applied []dbsqlc.SchemaMigration) error {
	if len(applied) == 0 {
		return nil
	}
	last := applied[len(applied)-1]
	if last.Version > m.head() {
		return &SchemaTooNewError{DatabaseVersion: last.Version, DatabaseName: last.Name, AppliedBy: last.AigateVersion, BinaryVersion: m.head()}
	}
	return nil
}
