package providerenv_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/encryption"
	"github.com/aigate/aigate/internal/providerenv"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
)

func TestMain(m *testing.M) { testdb.Main(m) }

var testKey = bytes.Repeat([]byte{9}, encryption.KeySize)

const (
	openaiKey1 = "sk-seed-openai-ONE-0123456789abcdef"
	openaiKey2 = "sk-seed-openai-TWO-0123456789abcdef"
	awsSecret  = "seed-aws-SECRET-0123456789abcdef"
)

var seedEnv = []string{
	"AIGATE_OPENAI_KEY=" + openaiKey1,
	"AIGATE_BEDROCK_REGION=us-east-1", "AIGATE_BEDROCK_ACCESS_KEY=AKIASEED0123456789", "AIGATE_BEDROCK_ACCESS_KEY_SECRET=" + awsSecret,
	"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_NAME=vllm", "AIGATE_PROVIDER_0_BASE_URL=http://127.0.0.1:8000/v1",
	"AIGATE_PROVIDER_0_KEYS=" + openaiKey1 + "," + openaiKey2,
	"AIGATE_PROVIDER_1_TYPE=copilot",
}

type seeder struct {
	db   *database.DB
	svc  *providers.Service
	logs *testlog.Buffer
	log  *slog.Logger
}

// newSeeder is one replica's seeder: its own pool on the shared database.
func newSeeder(t *testing.T, url string, rec *audit.Recorder) seeder {
	t.Helper()
	kr, err := encryption.NewKeyring(testKey)
	require.NoError(t, err)
	logs := &testlog.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db := testdb.Open(t, url)
	db = database.New(db.Pool, logger)
	if rec == nil {
		rec = &audit.Recorder{}
	}
	return seeder{db: db, svc: providers.NewService(db, kr, rec, nil), logs: logs, log: logger}
}

func (s seeder) seed(t *testing.T, environ []string) error {
	t.Helper()
	cfg, err := providerenv.Parse(environ)
	require.NoError(t, err)
	return providerenv.Seed(context.Background(), s.db, s.svc, cfg, s.log)
}

func count(t *testing.T, db *database.DB, query string) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), query).Scan(&n))
	return n
}

// snapshot is everything the seed could have written.
func snapshot(t *testing.T, db *database.DB) string {
	t.Helper()
	var s string
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT
		coalesce((SELECT string_agg(t::text, E'\n' ORDER BY id) FROM ai_providers t), '') ||
		coalesce((SELECT string_agg(t::text, E'\n' ORDER BY id) FROM ai_provider_keys t), '') ||
		coalesce((SELECT string_agg(t::text, E'\n' ORDER BY id) FROM audit_logs t), '')`).Scan(&s))
	return s
}

// Acceptance 1 and 2 (spec §6): ten seeders at once on an empty database
// all succeed and write each thing once; a second round writes nothing.
func TestConcurrentSeedersAgree(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	const n = 10
	seeders := make([]seeder, n)
	for i := range seeders {
		seeders[i] = newSeeder(t, url, nil)
	}
	run := func() {
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i, s := range seeders {
			wg.Go(func() {
				<-start
				errs[i] = s.seed(t, seedEnv)
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
	}
	run()
	db := seeders[0].db
	require.Equal(t, 3, count(t, db, "SELECT count(*) FROM ai_providers"), "openai, anthropic (bedrock), vllm; copilot skipped")
	require.Equal(t, 3, count(t, db, "SELECT count(*) FROM ai_provider_keys"))
	require.Equal(t, 3, count(t, db, "SELECT count(*) FROM audit_logs WHERE resource_type = 'ai_provider' AND action = 'create' AND actor = 'system'"))
	require.Equal(t, 3, count(t, db, "SELECT count(*) FROM audit_logs WHERE resource_type = 'ai_provider_key' AND action = 'create' AND actor = 'system'"))
	require.Equal(t, 6, count(t, db, "SELECT count(*) FROM audit_logs"))
	created := 0
	for _, s := range seeders {
		created += bytes.Count([]byte(s.logs.String()), []byte("seeded provider from environment"))
		require.Contains(t, s.logs.String(), "skipping provider of a type aigate does not store")
	}
	require.Equal(t, 3, created, "each creation is logged once, by the replica that made it")

	p, err := seeders[0].svc.Get(context.Background(), "anthropic")
	require.NoError(t, err)
	require.Equal(t, providers.Bedrock, p.Type)
	require.True(t, p.Settings.HasCredentials)
	p, err = seeders[0].svc.Get(context.Background(), "vllm")
	require.NoError(t, err)
	require.Equal(t, []string{providers.Mask(openaiKey1), providers.Mask(openaiKey2)}, []string{p.APIKeys[0].Masked, p.APIKeys[1].Masked})

	before := snapshot(t, db)
	for _, s := range seeders {
		s.logs.Reset()
	}
	run()
	require.Equal(t, before, snapshot(t, db), "a second start writes nothing")
	for _, s := range seeders {
		require.NotContains(t, s.logs.String(), "level=INFO")
		require.NotContains(t, s.logs.String(), "level=WARN msg=\"provider keys", "same keys: no key warning")
		for _, secret := range []string{openaiKey1, openaiKey2, awsSecret} {
			require.NotContains(t, s.logs.String(), secret)
		}
	}
}

// Acceptance 3 (in-process): drift fails every seeder, names the field with
// both values and the fixes, and changes nothing.
func TestDriftFailsAndChangesNothing(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	first := newSeeder(t, url, nil)
	require.NoError(t, first.seed(t, seedEnv))
	before := snapshot(t, first.db)

	drifted := append([]string{"AIGATE_OPENAI_BASE_URL=https://proxy.example/v1"}, seedEnv...)
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		s := newSeeder(t, url, nil)
		wg.Go(func() { errs[i] = s.seed(t, drifted) })
	}
	wg.Wait()
	for _, err := range errs {
		var drift *providerenv.DriftError
		require.ErrorAs(t, err, &drift)
		msg := err.Error()
		require.Contains(t, msg, `provider "openai" (from AIGATE_OPENAI_*)`)
		require.Contains(t, msg, `base_url: database "https://api.openai.com/v1/", environment "https://proxy.example/v1/"`)
		require.Contains(t, msg, "aigate providers edit openai --base-url https://proxy.example/v1/")
		require.Contains(t, msg, "remove the AIGATE_OPENAI_* variables")
		require.Contains(t, msg, "aigate providers delete openai")
		require.NotContains(t, msg, openaiKey1)
	}
	require.Equal(t, before, snapshot(t, first.db))

	// The first fix makes the next start succeed.
	_, err := first.svc.Update(context.Background(), audit.Actor{ID: "test"}, "openai", providers.Patch{BaseURL: ptr("https://proxy.example/v1/")})
	require.NoError(t, err)
	require.NoError(t, first.seed(t, drifted))
}

func ptr[T any](v T) *T { return &v }

// Acceptance 5: a failure after the first insert leaves nothing behind.
func TestSeedFailureHalfWayLeavesNothing(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	inserts := 0
	s := newSeeder(t, url, &audit.Recorder{AfterWrite: func(_ context.Context, e audit.Entry) error {
		if e.ResourceType == "ai_provider" {
			inserts++
			if inserts == 2 {
				return errors.New("injected failure in the second insert")
			}
		}
		return nil
	}})
	err := s.seed(t, seedEnv)
	require.ErrorContains(t, err, "injected failure")
	require.ErrorContains(t, err, `seed provider "openai"`, "the error names the provider (anthropic came first)")
	require.Equal(t, "", snapshot(t, s.db))
	require.NotContains(t, s.logs.String(), "seeded provider", "nothing is logged as seeded when nothing committed")
}

// Acceptance 4 (in-process): a deleted provider stays deleted, with a warning.
func TestDeletedStaysDeleted(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	s := newSeeder(t, url, nil)
	env := []string{"AIGATE_OPENAI_KEY=" + openaiKey1}
	require.NoError(t, s.seed(t, env))
	require.NoError(t, s.svc.Delete(context.Background(), audit.Actor{ID: "test"}, "openai"))
	before := snapshot(t, s.db)
	s.logs.Reset()
	require.NoError(t, s.seed(t, env))
	require.Equal(t, before, snapshot(t, s.db))
	require.Contains(t, s.logs.String(), "provider from environment was deleted in the database; not recreating it")
	require.Contains(t, s.logs.String(), "name=openai")
}

// The database wins over the environment's keys; order does not matter,
// and {"ab","c"} is not {"a","bc"}.
func TestKeysFromTheEnvironmentNeverOverwrite(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	s := newSeeder(t, url, nil)
	ctx := context.Background()
	envKeys := func(keys string) []string {
		return []string{"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_KEYS=" + keys}
	}
	require.NoError(t, s.seed(t, envKeys("ab-key-000,c-key-0000")))
	before := snapshot(t, s.db)

	s.logs.Reset()
	require.NoError(t, s.seed(t, envKeys("c-key-0000,ab-key-000")))
	require.NotContains(t, s.logs.String(), "differ", "the same keys in another order are the same set")

	s.logs.Reset()
	require.NoError(t, s.seed(t, envKeys("ab-key-00,0c-key-0000")))
	require.Contains(t, s.logs.String(), "provider keys in the environment differ from the database; the database wins")
	require.NotContains(t, s.logs.String(), "ab-key")
	require.Equal(t, before, snapshot(t, s.db), "keys are never overwritten from the environment")

	cfg, err := providerenv.Parse(envKeys("ab-key-00,0c-key-0000"))
	require.NoError(t, err)
	steps, err := providerenv.PlanFromDatabase(ctx, s.db, s.svc, cfg)
	require.NoError(t, err)
	require.Equal(t, providerenv.KeyDiffers, steps[0].Outcome)
}

func TestPlanOutcomes(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	s := newSeeder(t, url, nil)
	ctx := context.Background()
	require.NoError(t, s.seed(t, []string{"AIGATE_OPENAI_KEY=k-openai-1", "AIGATE_ANTHROPIC_KEY=k-ant-1",
		"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_NAME=gone", "AIGATE_PROVIDER_0_KEY=k"}))
	require.NoError(t, s.svc.Delete(ctx, audit.Actor{ID: "test"}, "gone"))
	before := snapshot(t, s.db)

	cfg, err := providerenv.Parse([]string{
		"AIGATE_OPENAI_KEY=k-openai-1", "AIGATE_OPENAI_BASE_URL=http://127.0.0.1:9/v1", // conflict
		"AIGATE_ANTHROPIC_KEY=k-ant-2",                                                            // key differs
		"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_NAME=gone", "AIGATE_PROVIDER_0_KEY=k", // deleted
		"AIGATE_PROVIDER_1_TYPE=openai", "AIGATE_PROVIDER_1_NAME=fresh", // create
		"AIGATE_PROVIDER_2_TYPE=copilot", // unsupported
	})
	require.NoError(t, err)
	steps, err := providerenv.PlanFromDatabase(ctx, s.db, s.svc, cfg)
	require.NoError(t, err)
	got := map[string]providerenv.Outcome{}
	for _, st := range steps {
		got[st.Provider.Spec.Name] = st.Outcome
	}
	require.Equal(t, map[string]providerenv.Outcome{
		"anthropic": providerenv.KeyDiffers, "copilot": providerenv.SkippedUnsupported, "fresh": providerenv.Create,
		"gone": providerenv.SkippedDeleted, "openai": providerenv.Conflict,
	}, got)
	require.Equal(t, before, snapshot(t, s.db), "plan writes nothing")

	// The same environment at startup fails, and still writes nothing
	// (not even "fresh").
	err = providerenv.Seed(ctx, s.db, s.svc, cfg, s.log)
	var drift *providerenv.DriftError
	require.ErrorAs(t, err, &drift)
	require.Equal(t, before, snapshot(t, s.db))
}

// The seed holds its lock only for its transaction: a seeder waiting behind
// another sees the rows the first committed.
func TestSeedWaitsForTheLock(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	a := newSeeder(t, url, nil)
	ctx := context.Background()
	tx, err := a.db.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(database.LockAIProvidersEnvSeed))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- a.seed(t, []string{"AIGATE_OPENAI_KEY=k-1234"}) }()
	select {
	case err := <-done:
		t.Fatalf("the seed ran while another session held its lock: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, tx.Rollback(ctx))
	require.NoError(t, <-done)
	require.Equal(t, 1, count(t, a.db, "SELECT count(*) FROM ai_providers"))
}

// A base URL against the vendor's convention is seeded (it may be
// deliberate) and named in one warning line per provider at every start,
// without its key.
func TestSeedWarnsOfBaseURLs(t *testing.T) {
	t.Parallel()
	s := newSeeder(t, testdb.URL(t), nil)
	environ := []string{
		"AIGATE_OPENAI_KEY=" + openaiKey1, "AIGATE_OPENAI_BASE_URL=https://llm.corp.example",
		"AIGATE_ANTHROPIC_KEY=" + openaiKey2, "AIGATE_ANTHROPIC_BASE_URL=https://api.anthropic.com/v1/",
		"AIGATE_PROVIDER_0_TYPE=openai", "AIGATE_PROVIDER_0_NAME=vllm", "AIGATE_PROVIDER_0_BASE_URL=http://127.0.0.1:8000/v1",
	}
	wantLines := []string{
		`level=WARN msg="provider base URL is likely wrong" name=anthropic variables=AIGATE_ANTHROPIC_* field=base_url detail="ends in the API version: requests go to https://api.anthropic.com/v1/v1/messages; Anthropic-type base URLs exclude it, such as https://api.anthropic.com/"`,
		`level=WARN msg="provider base URL is likely wrong" name=openai variables=AIGATE_OPENAI_* field=base_url detail="has no API version segment: requests go to https://llm.corp.example/chat/completions; OpenAI-type base URLs include the version, such as https://llm.corp.example/v1/ (ignore this if the server serves the API at its root)"`,
	}
	warnings := func() []string {
		var out []string
		for _, line := range strings.Split(s.logs.String(), "\n") {
			if strings.Contains(line, "provider base URL is likely wrong") {
				_, rest, _ := strings.Cut(line, " level=") // drop the time
				out = append(out, "level="+rest)
			}
		}
		return out
	}
	for _, round := range []string{"seeded", "matched"} {
		s.logs.Reset()
		require.NoError(t, s.seed(t, environ), round)
		require.Equal(t, wantLines, warnings(), round)
		require.NotContains(t, s.logs.String(), openaiKey1)
		require.NotContains(t, s.logs.String(), openaiKey2)
	}
	require.Equal(t, 3, count(t, s.db, "SELECT count(*) FROM ai_providers"), "warned, not refused")
}
