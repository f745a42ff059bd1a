package providers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/embeddedpg"
	"github.com/aigate/aigate/internal/encryption"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/testdb"
)

var (
	keyA = bytes.Repeat([]byte{0xA}, encryption.KeySize)
	keyB = bytes.Repeat([]byte{0xB}, encryption.KeySize)
)

func keyring(t *testing.T, keys ...[]byte) *encryption.Keyring {
	t.Helper()
	kr, err := encryption.NewKeyring(keys...)
	require.NoError(t, err)
	return kr
}

var actor = audit.Actor{ID: uuid.NewString(), Email: "owner@example.com"}

// Secrets used below; each is long enough to be masked, and distinctive
// enough that finding it anywhere is a leak.
const (
	secret1      = "sk-test-FIRST-0123456789abcdefghijklmnop"
	secret2      = "sk-test-SECOND-0123456789abcdefghijklmno"
	secret3      = "sk-test-THIRD-0123456789abcdefghijklmnop"
	secretNew    = "sk-test-NEWKEY-0123456789abcdefghijklmno"
	awsAccessKey = "AKIATESTACCESSKEY0123"
	awsSecret    = "aws-secret-TESTSECRET-0123456789abcdef"
)

var allSecrets = []string{secret1, secret2, secret3, secretNew, awsAccessKey, awsSecret}

func ptr[T any](v T) *T { return &v }

func addKeys(keys ...string) []providers.KeyInput {
	out := make([]providers.KeyInput, len(keys))
	for i, k := range keys {
		out[i] = providers.KeyInput{APIKey: ptr(k)}
	}
	return out
}

func createOpenAI(t *testing.T, svc *providers.Service, name string, keys ...string) providers.Provider {
	t.Helper()
	p, err := svc.Create(context.Background(), actor, providers.Input{Name: name, Type: "openai", APIKeys: addKeys(keys...)})
	require.NoError(t, err)
	return p
}

func createBedrock(t *testing.T, svc *providers.Service, name string) providers.Provider {
	t.Helper()
	p, err := svc.Create(context.Background(), actor, providers.Input{Name: name, Type: "anthropic", Settings: &providers.SettingsInput{
		Region: ptr("us-east-1"), AccessKey: ptr(awsAccessKey), AccessKeySecret: ptr(awsSecret),
	}})
	require.NoError(t, err)
	return p
}

type auditRow struct {
	Action, ResourceType, ResourceID, ResourceName string
	Diff                                           map[string]audit.Change
}

func auditRows(t *testing.T, db *database.DB) []auditRow {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), "SELECT action, resource_type, resource_id, resource_name, diff FROM audit_logs ORDER BY id")
	require.NoError(t, err)
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		var raw []byte
		require.NoError(t, rows.Scan(&r.Action, &r.ResourceType, &r.ResourceID, &r.ResourceName, &raw))
		require.NoError(t, json.Unmarshal(raw, &r.Diff))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func requireNoSecrets(t *testing.T, where string, s string) {
	t.Helper()
	for _, sec := range allSecrets {
		require.NotContains(t, s, sec, "a plaintext secret in %s", where)
	}
}

func TestCreateGetList(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	svc := providers.NewService(db, keyring(t, keyA), &audit.Recorder{}, nil)
	ctx := context.Background()

	p := createOpenAI(t, svc, "openai", secret1, secret2)
	require.Equal(t, providers.OpenAI, p.Type)
	require.True(t, p.Enabled)
	require.Equal(t, providers.DefaultOpenAIBaseURL, p.BaseURL)
	require.Nil(t, p.Settings)
	require.Len(t, p.APIKeys, 2)
	require.Equal(t, providers.Mask(secret1), p.APIKeys[0].Masked)
	require.Equal(t, providers.Mask(secret2), p.APIKeys[1].Masked)

	br := createBedrock(t, svc, "anthropic")
	require.Equal(t, providers.Bedrock, br.Type)
	require.True(t, br.Settings.HasCredentials)
	require.Equal(t, "us-east-1", br.Settings.Region)
	require.Equal(t, providers.DefaultBedrockModel, br.Settings.Model)

	for _, ref := range []string{"openai", p.ID.String()} {
		got, err := svc.Get(ctx, ref)
		require.NoError(t, err)
		require.Equal(t, p.APIKeys, got.APIKeys)
	}
	list, err := svc.List(ctx, false)
	require.NoError(t, err)
	require.Equal(t, []string{"anthropic", "openai"}, []string{list[0].Name, list[1].Name})

	raw, err := json.Marshal(list)
	require.NoError(t, err)
	requireNoSecrets(t, "the provider list", string(raw))

	// Names are unique; the second create changes nothing.
	_, err = svc.Create(ctx, actor, providers.Input{Name: "openai", Type: "openai"})
	e, ok := apperr.As(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, apperr.KindConflict, e.Kind)

	// One audit entry per provider and per key, masked.
	rows := auditRows(t, db)
	require.Len(t, rows, 2+2, "two providers, two keys")
	var keyEntries int
	for _, r := range rows {
		raw, _ := json.Marshal(r.Diff)
		requireNoSecrets(t, "an audit diff", string(raw))
		if r.ResourceType == "ai_provider_key" {
			keyEntries++
			require.Equal(t, "create", r.Action)
			require.Contains(t, []any{providers.Mask(secret1), providers.Mask(secret2)}, r.Diff["api_key"].New)
		}
		if r.ResourceName == "anthropic" && r.ResourceType == "ai_provider" {
			require.Equal(t, audit.Masked, r.Diff["credentials"].New)
		}
	}
	require.Equal(t, 2, keyEntries)
}

// Acceptance 1: neither the raw columns nor a pg_dump hold a plaintext key
// or credential.
func TestNoPlaintextAtRest(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	db := testdb.Open(t, url)
	svc := providers.NewService(db, keyring(t, keyA), &audit.Recorder{}, nil)
	p := createOpenAI(t, svc, "openai", secret1, secret2, secret3)
	createBedrock(t, svc, "bedrock")
	_, err := svc.Update(context.Background(), actor, p.ID.String(), providers.Patch{APIKeys: &[]providers.KeyInput{{ID: ptr(p.APIKeys[1].ID.String())}, {APIKey: ptr(secretNew)}}})
	require.NoError(t, err)

	var raw string
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT
		(SELECT string_agg(t::text, E'\n') FROM ai_providers t) || E'\n' ||
		(SELECT string_agg(t::text, E'\n') FROM ai_provider_keys t) || E'\n' ||
		(SELECT string_agg(t::text, E'\n') FROM audit_logs t)`).Scan(&raw))
	requireNoSecrets(t, "the raw rows", raw)
	require.Contains(t, raw, providers.Mask(secret1), "the audit log names removed keys by their masked form")

	bin, err := embeddedpg.FindBinDir("", embeddedpg.DefaultSearchPath)
	require.NoError(t, err)
	out, err := exec.Command(bin+"/pg_dump", "--data-only", "--dbname="+url).Output()
	require.NoError(t, err)
	require.Contains(t, string(out), "COPY public.ai_provider_keys", "the dump holds the keys table")
	requireNoSecrets(t, "pg_dump", string(out))
	// Also no base64 or hex of them: ciphertexts are random, not encodings.
	for _, sec := range allSecrets {
		require.NotContains(t, string(out), strings.ToUpper(encodeHex(sec)))
	}
}

func encodeHex(s string) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		out = append(out, digits[s[i]>>4], digits[s[i]&15])
	}
	return string(out)
}

// Acceptance 2: [{"id": old2}, {"api_key": "new"}] leaves exactly old2 and
// new, in that order, with masked audit entries for removed and added keys.
func TestPatchRotatesKeys(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	svc := providers.NewService(db, keyring(t, keyA), &audit.Recorder{}, nil)
	ctx := context.Background()
	p := createOpenAI(t, svc, "openai", secret1, secret2)
	old1, old2 := p.APIKeys[0], p.APIKeys[1]
	before := len(auditRows(t, db))

	got, err := svc.Update(ctx, actor, "openai", providers.Patch{APIKeys: &[]providers.KeyInput{
		{ID: ptr(old2.ID.String())}, {APIKey: ptr(secretNew)},
	}})
	require.NoError(t, err)
	require.Len(t, got.APIKeys, 2)
	require.Equal(t, old2.ID, got.APIKeys[0].ID)
	require.Equal(t, old2.CreatedAt, got.APIKeys[0].CreatedAt)
	require.Equal(t, providers.Mask(secretNew), got.APIKeys[1].Masked)

	// Stored in that order, and read back the same.
	again, err := svc.Get(ctx, "openai")
	require.NoError(t, err)
	require.Equal(t, got.APIKeys, again.APIKeys)
	var positions []int
	rows, err := db.Pool.Query(ctx, "SELECT position FROM ai_provider_keys ORDER BY position")
	require.NoError(t, err)
	for rows.Next() {
		var n int
		require.NoError(t, rows.Scan(&n))
		positions = append(positions, n)
	}
	require.Equal(t, []int{0, 1}, positions)

	entries := auditRows(t, db)[before:]
	require.Len(t, entries, 3, "one per removed key, one per added key, one for the provider")
	byAction := map[string]auditRow{}
	for _, e := range entries {
		byAction[e.ResourceType+"/"+e.Action] = e
	}
	del := byAction["ai_provider_key/delete"]
	require.Equal(t, old1.ID.String(), del.ResourceID)
	require.Equal(t, providers.Mask(secret1), del.Diff["api_key"].Old)
	require.Nil(t, del.Diff["api_key"].New)
	add := byAction["ai_provider_key/create"]
	require.Equal(t, got.APIKeys[1].ID.String(), add.ResourceID)
	require.Equal(t, providers.Mask(secretNew), add.Diff["api_key"].New)
	prov := byAction["ai_provider/write"]
	require.Equal(t, []any{old1.ID.String(), old2.ID.String()}, prov.Diff["api_keys"].Old)
	require.Equal(t, []any{old2.ID.String(), got.APIKeys[1].ID.String()}, prov.Diff["api_keys"].New)

	// Reordering alone is a change; an absent api_keys leaves keys alone;
	// [] clears them.
	got, err = svc.Update(ctx, actor, "openai", providers.Patch{APIKeys: &[]providers.KeyInput{
		{ID: ptr(got.APIKeys[1].ID.String())}, {ID: ptr(got.APIKeys[0].ID.String())},
	}})
	require.NoError(t, err)
	require.Equal(t, []string{providers.Mask(secretNew), providers.Mask(secret2)}, []string{got.APIKeys[0].Masked, got.APIKeys[1].Masked})
	got, err = svc.Update(ctx, actor, "openai", providers.Patch{DisplayName: ptr("OpenAI")})
	require.NoError(t, err)
	require.Len(t, got.APIKeys, 2)
	got, err = svc.Update(ctx, actor, "openai", providers.Patch{APIKeys: &[]providers.KeyInput{}})
	require.NoError(t, err)
	require.Empty(t, got.APIKeys)
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM ai_provider_keys").Scan(&n))
	require.Zero(t, n)
}

func TestPatchValidation(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	svc := providers.NewService(db, keyring(t, keyA), &audit.Recorder{}, nil)
	ctx := context.Background()
	p := createOpenAI(t, svc, "openai", secret1, secret2)
	createBedrock(t, svc, "bedrock")
	keep := func(i int) providers.KeyInput { return providers.KeyInput{ID: ptr(p.APIKeys[i].ID.String())} }

	cases := []struct {
		name   string
		ref    string
		patch  providers.Patch
		field  string
		detail string
	}{
		{"empty patch", "openai", providers.Patch{}, "body", "at least one"},
		{"type is immutable", "openai", providers.Patch{Type: ptr("anthropic")}, "type", "cannot change"},
		{"unknown key id", "openai", providers.Patch{APIKeys: &[]providers.KeyInput{{ID: ptr(uuid.NewString())}}}, "api_keys[0].id", "no key"},
		{"key kept twice", "openai", providers.Patch{APIKeys: &[]providers.KeyInput{keep(0), keep(0)}}, "api_keys[1].id", "duplicates"},
		{"entry with both id and key", "openai", providers.Patch{APIKeys: &[]providers.KeyInput{{ID: ptr(p.APIKeys[0].ID.String()), APIKey: ptr("sk-x")}}}, "api_keys[0]", "either"},
		{"entry with neither", "openai", providers.Patch{APIKeys: &[]providers.KeyInput{{}}}, "api_keys[0]", "either"},
		{"new key equal to a kept one", "openai", providers.Patch{APIKeys: &[]providers.KeyInput{keep(0), {APIKey: ptr(secret1)}}}, "api_keys[1]", "duplicates api_keys[0]"},
		{"six keys", "openai", providers.Patch{APIKeys: &[]providers.KeyInput{keep(0), keep(1), {APIKey: ptr("sk-3")}, {APIKey: ptr("sk-4")}, {APIKey: ptr("sk-5")}, {APIKey: ptr("sk-6")}}}, "api_keys", "at most 5"},
		{"settings on openai", "openai", providers.Patch{Settings: &providers.SettingsInput{Region: ptr("us-east-1")}}, "settings", "only to bedrock"},
		{"bad name", "openai", providers.Patch{Name: ptr("Open AI")}, "name", "must match"},
		{"bad base URL", "openai", providers.Patch{BaseURL: ptr("localhost:8000")}, "base_url", "absolute"},
		{"keys on bedrock", "bedrock", providers.Patch{APIKeys: &[]providers.KeyInput{{APIKey: ptr("sk-1")}}}, "api_keys", "takes no api_keys"},
		{"bedrock loses its region", "bedrock", providers.Patch{Settings: &providers.SettingsInput{Region: ptr("")}}, "settings.region", "needs a region"},
		{"bedrock secret cleared alone", "bedrock", providers.Patch{Settings: &providers.SettingsInput{AccessKeySecret: ptr("")}}, "settings.access_key_secret", "required"},
	}
	before := len(auditRows(t, db))
	for _, c := range cases {
		_, err := svc.Update(ctx, actor, c.ref, c.patch)
		f := fields(t, err)
		require.Contains(t, f, c.field, "%s: %v", c.name, f)
		require.Contains(t, f[c.field], c.detail, c.name)
	}
	require.Len(t, auditRows(t, db), before, "failed updates write nothing")

	// A patch that changes nothing writes nothing.
	same, err := svc.Update(ctx, actor, "openai", providers.Patch{Enabled: ptr(true), BaseURL: ptr("https://api.openai.com/v1")})
	require.NoError(t, err)
	require.Equal(t, p.UpdatedAt, same.UpdatedAt)
	require.Len(t, auditRows(t, db), before)
}

func TestBedrockCredentialsAreWriteOnly(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	svc := providers.NewService(db, keyring(t, keyA), &audit.Recorder{}, nil)
	ctx := context.Background()
	createBedrock(t, svc, "bedrock")
	credsOf := func() []byte {
		var c []byte
		require.NoError(t, db.Pool.QueryRow(ctx, "SELECT credentials FROM ai_providers WHERE name = 'bedrock'").Scan(&c))
		return c
	}
	stored := credsOf()
	require.NotEmpty(t, stored)

	// A PATCH that omits them keeps them, byte for byte.
	p, err := svc.Update(ctx, actor, "bedrock", providers.Patch{Settings: &providers.SettingsInput{Model: ptr("my-model")}})
	require.NoError(t, err)
	require.Equal(t, "my-model", p.Settings.Model)
	require.True(t, p.Settings.HasCredentials)
	require.Equal(t, stored, credsOf())

	// "" resets a model to its default.
	p, err = svc.Update(ctx, actor, "bedrock", providers.Patch{Settings: &providers.SettingsInput{Model: ptr("")}})
	require.NoError(t, err)
	require.Equal(t, providers.DefaultBedrockModel, p.Settings.Model)

	// Changing the secret re-encrypts; the audit says it changed, masked.
	before := len(auditRows(t, db))
	_, err = svc.Update(ctx, actor, "bedrock", providers.Patch{Settings: &providers.SettingsInput{AccessKeySecret: ptr(secret3)}})
	require.NoError(t, err)
	require.NotEqual(t, stored, credsOf())
	entry := auditRows(t, db)[before]
	require.Equal(t, audit.Change{Old: audit.Masked, New: audit.Masked}, entry.Diff["credentials"])

	// "" for both clears them: the AWS credential chain is used instead.
	p, err = svc.Update(ctx, actor, "bedrock", providers.Patch{Settings: &providers.SettingsInput{AccessKey: ptr(""), AccessKeySecret: ptr("")}})
	require.NoError(t, err)
	require.False(t, p.Settings.HasCredentials)
	require.Nil(t, credsOf())
}

func TestDeleteAndRestore(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	svc := providers.NewService(db, keyring(t, keyA), &audit.Recorder{}, nil)
	ctx := context.Background()
	p := createOpenAI(t, svc, "openai", secret1)

	require.NoError(t, svc.Delete(ctx, actor, "openai"))
	for _, err := range []error{
		svc.Delete(ctx, actor, "openai"),
		func() error { _, err := svc.Get(ctx, "openai"); return err }(),
		func() error {
			_, err := svc.Update(ctx, actor, p.ID.String(), providers.Patch{Enabled: ptr(true)})
			return err
		}(),
	} {
		e, ok := apperr.As(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, apperr.KindNotFound, e.Kind)
	}
	list, err := svc.List(ctx, false)
	require.NoError(t, err)
	require.Empty(t, list)
	list, err = svc.List(ctx, true)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.True(t, list[0].Deleted)
	require.False(t, list[0].Enabled)

	// The name stays reserved.
	_, err = svc.Create(ctx, actor, providers.Input{Name: "openai", Type: "openai"})
	e, _ := apperr.As(err)
	require.Equal(t, apperr.KindConflict, e.Kind)
	require.Contains(t, e.Message, "restore")

	restored, err := svc.Restore(ctx, actor, "openai")
	require.NoError(t, err)
	require.True(t, restored.Enabled)
	require.False(t, restored.Deleted)
	require.Equal(t, p.APIKeys, restored.APIKeys, "keys survive a delete")
	_, err = svc.Restore(ctx, actor, "openai")
	e, _ = apperr.As(err)
	require.Equal(t, apperr.KindConflict, e.Kind)

	var actions []string
	for _, r := range auditRows(t, db) {
		if r.ResourceType == "ai_provider" {
			actions = append(actions, r.Action)
		}
	}
	require.Equal(t, []string{"create", "delete", "restore"}, actions)
}

// Every change commits its rows, audit entries and notification together:
// a failure in the last audit entry leaves nothing and notifies nobody.
func TestChangesAreAtomicAndNotified(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	db := testdb.Open(t, url)
	var failOn string
	rec := &audit.Recorder{AfterWrite: func(_ context.Context, e audit.Entry) error {
		if e.ResourceType+"/"+string(e.Action) == failOn {
			return errors.New("injected audit failure")
		}
		return nil
	}}
	svc := providers.NewService(db, keyring(t, keyA), rec, nil)
	ctx := context.Background()

	// A plain LISTEN session, as any replica's listener is.
	listener, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = listener.Close(context.Background()) })
	_, err = listener.Exec(ctx, "LISTEN "+providers.ChangesChannel)
	require.NoError(t, err)

	p := createOpenAI(t, svc, "openai", secret1)
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second) // a hang, not a slow machine
	defer cancel()
	note, err := listener.WaitForNotification(waitCtx)
	require.NoError(t, err, "no notification for a committed create")
	var c providers.Change
	require.NoError(t, json.Unmarshal([]byte(note.Payload), &c))
	require.Equal(t, providers.Change{ID: p.ID, Name: "openai", Action: "create"}, c)

	// The provider entry is written after the key entries: failing it must
	// take the key rows and key entries with it.
	failOn = "ai_provider/write"
	auditBefore := len(auditRows(t, db))
	_, err = svc.Update(ctx, actor, "openai", providers.Patch{Name: ptr("renamed"), APIKeys: &[]providers.KeyInput{{APIKey: ptr(secret2)}}})
	require.ErrorContains(t, err, "injected")
	after, err := svc.Get(ctx, "openai")
	require.NoError(t, err)
	require.Equal(t, p.APIKeys, after.APIKeys)
	require.Len(t, auditRows(t, db), auditBefore)

	failOn = "ai_provider/create"
	_, err = svc.Create(ctx, actor, providers.Input{Name: "second", Type: "openai", APIKeys: addKeys(secret3)})
	require.ErrorContains(t, err, "injected")
	var n int
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM ai_provider_keys").Scan(&n))
	require.Equal(t, 1, n)

	// A later committed change is the next thing subscribers hear.
	failOn = ""
	require.NoError(t, svc.Delete(ctx, actor, "openai"))
	note, err = listener.WaitForNotification(waitCtx)
	require.NoError(t, err, "no notification for a committed delete")
	require.NoError(t, json.Unmarshal([]byte(note.Payload), &c))
	require.Equal(t, providers.Change{ID: p.ID, Name: "openai", Action: "delete"}, c,
		"the next notification is the delete: rolled-back changes notify nobody")
}

// Acceptance 4, in-process: old ciphertexts decrypt under a keyring that
// lists the old key second; rotation moves everything to the new key; the
// old key can then go. A keyring missing a key in use is refused by name.
func TestEncryptionKeyRotation(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	oldSvc := providers.NewService(db, keyring(t, keyA), &audit.Recorder{}, nil)
	p := createOpenAI(t, oldSvc, "openai", secret1, secret2)
	createBedrock(t, oldSvc, "bedrock")
	digestA, digestB := keyring(t, keyA).ActiveDigest(), keyring(t, keyB).ActiveDigest()

	_, err := providers.NewService(db, keyring(t, keyB), &audit.Recorder{}, nil).CheckKeys(ctx)
	var missing *providers.MissingKeysError
	require.ErrorAs(t, err, &missing)
	require.Contains(t, err.Error(), digestA)
	require.Contains(t, err.Error(), "3 ciphertexts")

	both := providers.NewService(db, keyring(t, keyB, keyA), &audit.Recorder{}, nil)
	stale, err := both.CheckKeys(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 3, stale)
	got, err := both.Get(ctx, "openai")
	require.NoError(t, err)
	require.Equal(t, p.APIKeys, got.APIKeys)

	// New writes use the new key at once.
	_, err = both.Update(ctx, actor, "openai", providers.Patch{APIKeys: &[]providers.KeyInput{{ID: ptr(p.APIKeys[0].ID.String())}, {APIKey: ptr(secret3)}}})
	require.NoError(t, err)
	uses, err := both.KeyUses(ctx)
	require.NoError(t, err)
	require.Len(t, uses, 2)

	var batches []providers.RotateResult
	res, err := both.Rotate(ctx, 1, func(r providers.RotateResult) { batches = append(batches, r) })
	require.NoError(t, err)
	require.Equal(t, providers.RotateResult{Keys: 1, Credentials: 1}, res)
	require.Len(t, batches, 1)
	res, err = both.Rotate(ctx, 1, nil)
	require.NoError(t, err)
	require.Zero(t, res, "a second run finds nothing to do")

	newOnly := providers.NewService(db, keyring(t, keyB), &audit.Recorder{}, nil)
	stale, err = newOnly.CheckKeys(ctx)
	require.NoError(t, err)
	require.Zero(t, stale)
	got, err = newOnly.Get(ctx, "openai")
	require.NoError(t, err)
	require.Equal(t, []string{providers.Mask(secret1), providers.Mask(secret3)}, []string{got.APIKeys[0].Masked, got.APIKeys[1].Masked})
	var digests []string
	rows, err := db.Pool.Query(ctx, "SELECT key_digest FROM ai_provider_keys UNION ALL SELECT credentials_key_digest FROM ai_providers WHERE credentials IS NOT NULL")
	require.NoError(t, err)
	for rows.Next() {
		var d string
		require.NoError(t, rows.Scan(&d))
		digests = append(digests, d)
	}
	require.Equal(t, []string{digestB, digestB, digestB}, digests)
	last := auditRows(t, db)
	require.Equal(t, "rotate", last[len(last)-1].Action)
}

// A ciphertext moved to another row does not decrypt there: the row id is
// bound in as associated data.
func TestCiphertextBoundToItsRow(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	svc := providers.NewService(db, keyring(t, keyA), &audit.Recorder{}, nil)
	createOpenAI(t, svc, "openai", secret1, secret2)
	_, err := db.Pool.Exec(ctx, `UPDATE ai_provider_keys SET api_key = (SELECT api_key FROM ai_provider_keys WHERE position = 0) WHERE position = 1`)
	require.NoError(t, err)
	_, err = svc.Get(ctx, "openai")
	require.ErrorIs(t, err, encryption.ErrNotAuthentic)
}
