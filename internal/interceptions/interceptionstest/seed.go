// Package interceptionstest fills a database with a realistic history of
// interceptions, their users and their usage rollups, for benchmarks of the
// reads the dashboard and the API make over a large table.
//
// Seed writes the users, the day partitions the retention service keeps, the
// interceptions (with COPY, in started_at order, as the recorder would have
// written them over the days), then runs one rollup tick and VACUUM ANALYZE,
// so the database is what a deployment that has run for those days looks
// like. The history is made by a seeded generator, so two runs with the same
// Options write the same rows (bar recorded_at, the database's clock).
package interceptionstest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/rollup"
	"github.com/aigate/aigate/internal/users/emailaddr"
)

// Options shape the history Seed writes; zero fields take the defaults.
type Options struct {
	// Interceptions is how many to write; 1,000,000 by default.
	Interceptions int
	// End is the end of the history, the benchmark's "now": the last
	// request starts before it. The current hour by default.
	End time.Time
	// Days is how far back from End the history starts; 30 by default.
	Days int
	// Users is how many users to make (rows in users, so the API resolves
	// and names them); 100 by default, at least 2. The first Owners are
	// owners, the rest members. The last one is rare: it has only about one
	// request in 50,000 (at least 1), so a listing filtered to it must find
	// a few rows among all the others.
	Users  int
	Owners int
	// Password is every seeded user's, so a benchmark can log in as any of
	// them. Required.
	Password string
	// EmailFormat makes user i's email with fmt.Sprintf(EmailFormat, i);
	// "user%03d@seed.example.com" by default. It must give distinct emails
	// that are already normalised (emailaddr.Normalize), such as lower-case
	// ASCII.
	EmailFormat string
	// RandSeed seeds the generator; the same seed makes the same history.
	RandSeed uint64
	// Logger gets a line per step with its duration; nil discards.
	Logger *slog.Logger
}

// User is a seeded user.
type User struct {
	ID    uuid.UUID
	Email string
	Role  auth.Role
	// Interceptions is how many requests of the history are theirs.
	Interceptions int
}

// Result describes what Seed wrote.
type Result struct {
	// Start and End bound the history's started_at: [Start, End).
	Start, End time.Time
	// Users in the order made: owners first, the rare user last.
	Users []User
	// ByStatus, ByModel and ByClient count the interceptions of each value.
	ByStatus map[string]int
	ByModel  map[string]int
	ByClient map[string]int
	// Buckets is how many usage_hourly rows the rollup made.
	Buckets int64
}

// Rarest returns the user with the fewest interceptions.
func (r Result) Rarest() User {
	return slices.MinFunc(r.Users, func(a, b User) int { return a.Interceptions - b.Interceptions })
}

// Typical returns the member whose interceptions are the median of the
// members', the one a benchmark of a member's pages should sign in as;
// the zero User when there is no member.
func (r Result) Typical() User {
	var ms []User
	for _, u := range r.Users {
		if u.Role == auth.RoleMember {
			ms = append(ms, u)
		}
	}
	if len(ms) == 0 {
		return User{}
	}
	slices.SortFunc(ms, func(a, b User) int { return a.Interceptions - b.Interceptions })
	return ms[len(ms)/2]
}

func (o *Options) defaults() error {
	if o.Interceptions == 0 {
		o.Interceptions = 1_000_000
	}
	if o.End.IsZero() {
		o.End = time.Now().UTC().Truncate(time.Hour)
	}
	o.End = o.End.UTC()
	if o.Days == 0 {
		o.Days = 30
	}
	if o.Users == 0 {
		o.Users = 100
	}
	if o.EmailFormat == "" {
		o.EmailFormat = "user%03d@seed.example.com"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Password == "":
		return errors.New("interceptionstest: Options.Password is empty: the seeded users need one to log in")
	case o.Interceptions < 0 || o.Days < 0:
		return fmt.Errorf("interceptionstest: Interceptions (%d) and Days (%d) must not be negative", o.Interceptions, o.Days)
	case o.Days > int(interceptions.DefaultRetention/(24*time.Hour)):
		return fmt.Errorf("interceptionstest: Days (%d) is longer than the default retention: the retention service would drop the oldest", o.Days)
	case o.Users < 2:
		return fmt.Errorf("interceptionstest: Users (%d) must be at least 2: the rare user and one other", o.Users)
	case o.Owners < 0 || o.Owners >= o.Users:
		return fmt.Errorf("interceptionstest: Owners (%d) must be between 0 and Users-1 (%d): the last user is a member", o.Owners, o.Users-1)
	}
	return nil
}

// Seed writes the users, partitions, interceptions and rollups o describes
// into db, a migrated database with no interceptions and none of the seeded
// emails. A million interceptions take about 40 seconds on two cores.
func Seed(ctx context.Context, db *database.DB, o Options) (Result, error) {
	if err := o.defaults(); err != nil {
		return Result{}, err
	}
	log := o.Logger
	step := func(name string, start time.Time, args ...any) {
		log.Info("seed: "+name, append(args, "took", time.Since(start).Round(time.Millisecond))...)
	}
	g := newGenerator(o)
	res := Result{
		Start: g.start, End: o.End,
		ByStatus: map[string]int{}, ByModel: map[string]int{}, ByClient: map[string]int{},
	}

	t := time.Now()
	if err := insertUsers(ctx, db, o, g.users); err != nil {
		return Result{}, err
	}
	step("users", t, "users", len(g.users))

	t = time.Now()
	// The partitions the retention service keeps with its defaults: the
	// days of the retention before End, and the days it makes ahead.
	retentionDays := int(interceptions.DefaultRetention / (24 * time.Hour))
	if _, err := db.Pool.Exec(ctx, `SELECT interceptions_partition_create(d::date)
		FROM generate_series($1::date - $2::integer, $1::date + $3::integer, interval '1 day') AS d`,
		o.End, retentionDays, interceptions.DefaultDaysAhead); err != nil {
		return Result{}, fmt.Errorf("create interceptions partitions: %w", err)
	}
	step("partitions", t, "days", retentionDays+interceptions.DefaultDaysAhead+1)

	t = time.Now()
	n, err := copyInterceptions(ctx, db, g, &res)
	if err != nil {
		return Result{}, err
	}
	step("interceptions", t, "rows", n)

	t = time.Now()
	svc, err := rollup.New(rollup.Config{DB: db, Logger: log, ReplicaID: uuid.New()})
	if err != nil {
		return Result{}, err
	}
	tick, err := svc.Tick(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("roll up the seeded interceptions: %w", err)
	}
	if tick.Skipped {
		return Result{}, errors.New("roll up the seeded interceptions: another session holds the usage_rollup lock; seed a database no replica rolls up yet")
	}
	res.Buckets = tick.Recomputed
	step("rollup", t, "buckets", tick.Recomputed)

	t = time.Now()
	// VACUUM as well as ANALYZE: rows just copied are not yet marked all
	// visible, so index-only scans would visit the heap for each of them,
	// and autovacuum would do this on its own in the middle of a benchmark.
	// A deployment that has run for Days has been vacuumed.
	if _, err := db.Pool.Exec(ctx, "VACUUM (ANALYZE) interceptions, usage_hourly, usage_daily, users"); err != nil {
		return Result{}, fmt.Errorf("vacuum and analyze: %w", err)
	}
	step("vacuum analyze", t)

	res.Users = make([]User, len(g.users))
	for i, u := range g.users {
		res.Users[i] = User{ID: u.id, Email: u.email, Role: u.role, Interceptions: u.rows}
	}
	return res, nil
}

func insertUsers(ctx context.Context, db *database.DB, o Options, us []*seedUser) error {
	// One hash for all: argon2id costs tens of milliseconds a call.
	hash, err := auth.HashPassword(o.Password)
	if err != nil {
		return err
	}
	rows := make([][]any, len(us))
	for i, u := range us {
		if emailaddr.Normalize(u.email) != u.email {
			return fmt.Errorf("interceptionstest: EmailFormat makes %q, which is not normalised (%q)", u.email, emailaddr.Normalize(u.email))
		}
		created := o.End.AddDate(0, 0, -o.Days-1).Add(time.Duration(i) * time.Minute)
		rows[i] = []any{pgtype.UUID{Bytes: u.id, Valid: true}, u.email, fmt.Sprintf("Seeded User %d", i), hash, string(u.role), created, created}
	}
	_, err = db.Pool.CopyFrom(ctx, pgx.Identifier{"users"},
		[]string{"id", "email", "name", "password_hash", "role", "created_at", "updated_at"}, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("insert seeded users: %w", err)
	}
	return nil
}

var copyColumns = []string{
	"id", "replica_id", "request_id", "user_id", "token_id", "provider_id", "provider_name", "provider_type",
	"model", "endpoint", "streaming", "client", "session_id", "started_at", "ended_at", "ttfb_ms", "status",
	"upstream_status", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
	"reasoning_tokens", "tool_calls", "error",
}

// copyInterceptions writes the generator's rows with one COPY, counting them
// into res.
func copyInterceptions(ctx context.Context, db *database.DB, g *generator, res *Result) (int64, error) {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	// COPY sends every value in binary, and pgx encodes in binary only the
	// types it knows: the enum is made by a migration.
	const enum = "ai_provider_type"
	if _, ok := conn.Conn().TypeMap().TypeForName(enum); !ok {
		typ, err := conn.Conn().LoadType(ctx, enum)
		if err != nil {
			return 0, fmt.Errorf("load type %s: %w", enum, err)
		}
		conn.Conn().TypeMap().RegisterType(typ)
	}
	src := &rowSource{g: g, res: res, vals: make([]any, len(copyColumns))}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"interceptions"}, copyColumns, src)
	if err != nil {
		return 0, fmt.Errorf("copy seeded interceptions: %w", err)
	}
	return n, nil
}

// rowSource feeds COPY one generated row at a time, so a million rows never
// sit in memory.
type rowSource struct {
	g    *generator
	res  *Result
	row  row
	vals []any
}

func (s *rowSource) Next() bool { return s.g.next(&s.row) }

func (s *rowSource) Values() ([]any, error) {
	r := &s.row
	s.res.ByStatus[r.status]++
	s.res.ByModel[r.model.name]++
	s.res.ByClient[r.client]++
	v := s.vals
	v[0] = pgtype.UUID{Bytes: r.id, Valid: true}
	v[1] = pgtype.UUID{Bytes: r.replica, Valid: true}
	v[2] = r.requestID
	v[3] = pgtype.UUID{Bytes: r.user.id, Valid: true}
	v[4] = r.token
	v[5] = pgtype.UUID{Bytes: r.model.provider.id, Valid: true}
	v[6] = r.model.provider.name
	v[7] = r.model.provider.typ
	v[8] = r.model.name
	v[9] = r.endpoint
	v[10] = r.streaming
	v[11] = r.client
	v[12] = r.session
	v[13] = r.started
	v[14] = r.ended
	v[15] = r.ttfb
	v[16] = r.status
	v[17] = r.upstream
	v[18] = r.input
	v[19] = r.output
	v[20] = r.cacheRead
	v[21] = r.cacheWrite
	v[22] = r.reasoning
	v[23] = r.toolCalls
	v[24] = r.errMsg
	return v, nil
}

func (s *rowSource) Err() error { return nil }

// lognormal returns a value whose logarithm is normal around ln(median).
func lognormal(rng *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*rng.NormFloat64())
}
