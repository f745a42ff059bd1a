package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/gateway"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/servertest"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
	"github.com/aigate/aigate/internal/users"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// waitFor bounds every wait in these tests; things normally happen in
// milliseconds, the bound only keeps a broken test from hanging.
const waitFor = 30 * time.Second

// Provider keys the mock upstream accepts; distinctive so a leak is found.
const (
	openAIKey    = "sk-upstream-OPENAI-0123456789abcdef"
	openAIKey2   = "sk-upstream-OPENAI-SECOND-0123456789"
	anthropicKey = "sk-ant-upstream-ANTHROPIC-0123456789"
)

// replica is one aigate replica, the System that `aigate server` runs,
// with the parts the tests reach into.
type replica struct {
	*servertest.Replica
	t         testing.TB
	db        *database.DB
	providers *providers.Service
	reloader  *gateway.Reloader
	reg       *prometheus.Registry
	logs      *testlog.Buffer
	url       string // http://127.0.0.1:PORT
}

type options struct {
	recordPrompts bool
	transport     http.RoundTripper
	clock         clock.Clock
	// reloadInterval is the backstop period; an hour by default, so tests
	// see changes only through notifications or Reload.
	reloadInterval time.Duration
	// shutdownTimeout is --shutdown-timeout.
	shutdownTimeout time.Duration
}

// startReplica starts a replica on the database at dbURL ("" for a new one).
func startReplica(t testing.TB, dbURL string, o options) *replica {
	t.Helper()
	// The gateway's upstream connections are closed with the replica, so
	// the leak check at the end of the package sees none of them.
	sr := servertest.Start(t, servertest.Options{
		DatabaseURL: dbURL, Clock: o.clock, Transport: o.transport, RecordPrompts: o.recordPrompts,
		ReloadInterval: o.reloadInterval, ShutdownTimeout: o.shutdownTimeout,
	})
	return &replica{
		Replica: sr, t: t, db: sr.DB(), providers: sr.Providers(), reloader: sr.Reloader(),
		reg: sr.Registry, logs: sr.Logs, url: sr.URL,
	}
}

// env is a database with a user, their tokens and one gateway replica.
type env struct {
	*replica
	// token is a gateway token, as a user would make for their agent;
	// apiToken is the first owner's login token (api scope only).
	token, apiToken string
	userID          uuid.UUID
}

func setup(t testing.TB, o options) *env {
	t.Helper()
	r := startReplica(t, "", o)
	ctx := context.Background()
	u, apiToken, err := r.Users().CreateFirst(ctx, users.Input{Email: "dev@example.com", Name: "Dev", Password: "correct horse battery"})
	require.NoError(t, err)
	me := audit.Actor{ID: u.ID.String(), Email: u.Email}
	tok, token, err := r.Users().CreateToken(ctx, me, u.ID.String(), users.TokenInput{Name: "agent"})
	require.NoError(t, err)
	require.Equal(t, users.DefaultTokenScopes, tok.Scopes)
	return &env{replica: r, token: token, apiToken: apiToken, userID: u.ID}
}

var actor = audit.Actor{ID: uuid.NewString(), Email: "owner@example.com"}

// addProvider creates a provider and reloads this replica's snapshot.
func (r *replica) addProvider(name, typ, baseURL string, keys ...string) providers.Provider {
	r.t.Helper()
	in := providers.Input{Name: name, Type: typ, BaseURL: baseURL}
	for _, k := range keys {
		in.APIKeys = append(in.APIKeys, providers.KeyInput{APIKey: &k})
	}
	p, err := r.providers.Create(context.Background(), actor, in)
	require.NoError(r.t, err) // served from here on: the replica reloads on its own commits
	return p
}

// interception is a row of the interceptions table, the fields tests check.
type interception struct {
	UserID                                   uuid.UUID
	TokenID, ProviderName, Model, Endpoint   string
	Streaming                                bool
	Status                                   string
	UpstreamStatus                           *int32
	Input, Output, CacheRead, CacheWrite, Rs int64
	ToolCalls                                []interceptions.ToolCall
	TTFBMs                                   *int32
	Prompt                                   json.RawMessage
	Error                                    *string
	Client                                   string
	Session                                  *string
}

// waitInterceptions waits until n interceptions are written and returns them
// in start order.
func (r *replica) waitInterceptions(n int) []interception {
	r.t.Helper()
	var out []interception
	require.Eventually(r.t, func() bool {
		out = r.interceptions()
		return len(out) >= n
	}, waitFor, 5*time.Millisecond)
	require.Len(r.t, out, n, "more interceptions than requests")
	return out
}

func (r *replica) interceptions() []interception {
	rows, err := r.db.Pool.Query(context.Background(), `
		SELECT user_id, token_id, provider_name, model, endpoint, streaming, status::text, upstream_status,
		       input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, tool_calls, ttfb_ms, prompt, error,
		       client, session_id
		FROM interceptions ORDER BY started_at, id`)
	require.NoError(r.t, err)
	defer rows.Close()
	var out []interception
	for rows.Next() {
		var i interception
		var tools []byte
		require.NoError(r.t, rows.Scan(&i.UserID, &i.TokenID, &i.ProviderName, &i.Model, &i.Endpoint, &i.Streaming, &i.Status, &i.UpstreamStatus,
			&i.Input, &i.Output, &i.CacheRead, &i.CacheWrite, &i.Rs, &tools, &i.TTFBMs, &i.Prompt, &i.Error, &i.Client, &i.Session))
		require.NoError(r.t, json.Unmarshal(tools, &i.ToolCalls))
		out = append(out, i)
	}
	require.NoError(r.t, rows.Err())
	return out
}

// metricValue sums a counter or gauge over all its label values.
func metricValue(t *testing.T, r *replica, name string) float64 {
	t.Helper()
	families, err := r.reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
