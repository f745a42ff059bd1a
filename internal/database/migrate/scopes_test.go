package migrate_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/database/migrate"
	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/servertest"
	"github.com/aigate/aigate/internal/testdb"
)

// TestTokenScopesKeepOldTokensWorking: a token an aigate without scopes
// handed out (the owner's login token, which people pasted into their
// agents) still works on the admin API and on the gateway after the upgrade,
// which the server applies at start, as in production. Tokens made after
// it must name their scopes.
func TestTokenScopesKeepOldTokensWorking(t *testing.T) {
	t.Parallel()
	const name = "0009_token_scopes.sql"
	url := testdb.EmptyURL(t)
	db := testdb.Open(t, url)
	all := migrate.Embedded()
	require.Equal(t, name, all[8].Name, "0009 is the migration under test")
	ctx := context.Background()
	_, err := migrate.New(db, all[:8], "v-old").Up(ctx)
	require.NoError(t, err)

	owner := uuid.New()
	_, err = db.Pool.Exec(ctx, `INSERT INTO users (id, email, name, password_hash, role, created_at, updated_at)
VALUES ($1, 'old@example.com', 'Old', 'x', 'owner', now(), now())`, owner)
	require.NoError(t, err)
	id, token, hash, err := auth.NewToken()
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `INSERT INTO api_tokens (id, user_id, name, secret_hash, expires_at, created_at)
VALUES ($1, $2, 'login 2026-01-01T00:00:00Z', $3, now() + interval '30 days', now())`, id, owner, hash)
	require.NoError(t, err)

	r := servertest.Start(t, servertest.Options{DatabaseURL: url})
	require.Equal(t, []int32{1, 2, 3, 4, 5, 6, 7, 8, 9}, appliedVersions(t, db)[:9], "the server applied %s", name)
	var scopes []string
	require.NoError(t, db.Pool.QueryRow(ctx, "SELECT scopes FROM api_tokens WHERE id = $1", id).Scan(&scopes))
	require.Equal(t, []string{"gateway", "api"}, scopes)

	mock := llmmock.New(t, llmmock.Options{})
	_, err = r.Providers().Create(ctx, audit.Actor{ID: owner.String(), Email: "old@example.com"}, providers.Input{
		Name: "oa", Type: "openai", BaseURL: mock.OpenAIBaseURL(), APIKeys: []providers.KeyInput{{APIKey: ptr("sk-migrate-0123456789abcdef")}},
	})
	require.NoError(t, err)

	send := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, r.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode, string(raw)
	}
	code, body := send("GET", "/api/v1/users", "")
	require.Equal(t, http.StatusOK, code, "the old token works on the admin API: %s", body)
	code, body = send("POST", "/ai/oa/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, code, "and on the gateway: %s", body)
	require.Len(t, mock.Requests(), 1)

	_, err = db.Pool.Exec(ctx, `INSERT INTO api_tokens (id, user_id, name, secret_hash, created_at)
VALUES ('newtokenwith0', $1, 'n', '\x00', $2)`, owner, time.Now())
	require.ErrorContains(t, err, `"scopes"`, "the default only filled the old rows")
}

func ptr[T any](v T) *T { return &v }
