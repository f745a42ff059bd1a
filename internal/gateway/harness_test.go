package gateway_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/encryption"
	"github.com/aigate/aigate/internal/gateway"
	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/pubsub"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
	"github.com/aigate/aigate/internal/users"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// waitFor bounds every wait in these tests; things normally happen in
// milliseconds, the bound only keeps a broken test from hanging.
const waitFor = 30 * time.Second

var encKey = bytes.Repeat([]byte{0x42}, encryption.KeySize)

// Provider keys the mock upstream accepts; distinctive so a leak is found.
const (
	openAIKey    = "sk-upstream-OPENAI-0123456789abcdef"
	openAIKey2   = "sk-upstream-OPENAI-SECOND-0123456789"
	anthropicKey = "sk-ant-upstream-ANTHROPIC-0123456789"
)

// replica is one gateway on a database, as a server replica runs it.
type replica struct {
	t         testing.TB
	db        *database.DB
	providers *providers.Service
	reloader  *gateway.Reloader
	recorder  *interceptions.Recorder
	reg       *prometheus.Registry
	logs      *testlog.Buffer
	url       string // http://127.0.0.1:PORT
	// shutdown stops the replica as the server does: HTTP first (ctx is
	// its shutdown timeout), then the recorder (final flush) and the
	// reloader. Later calls do nothing; cleanup calls it too.
	shutdown func(ctx context.Context)
}

type options struct {
	pubsub        bool // reload on notifications (Run) instead of by hand
	recordPrompts bool
	transport     http.RoundTripper
	// reloadInterval is the backstop period; long by default, so tests see
	// changes only through Reload or notifications.
	reloadInterval time.Duration
}

func startReplica(t testing.TB, db *database.DB, o options) *replica {
	t.Helper()
	ctx := context.Background()
	kr, err := encryption.NewKeyring(encKey)
	require.NoError(t, err)
	r := &replica{t: t, db: db, providers: providers.NewService(db, kr, &audit.Recorder{}, nil), reg: prometheus.NewRegistry(), logs: &testlog.Buffer{}}
	logger := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var ps *pubsub.PubSub
	if o.pubsub {
		ps, err = pubsub.New(ctx, pubsub.Config{ConnString: db.Pool.Config().ConnString(), Logger: logger})
		require.NoError(t, err)
		t.Cleanup(func() { _ = ps.Close() })
	}
	r.reloader, err = gateway.NewReloader(ctx, gateway.ReloaderConfig{Providers: r.providers, PubSub: ps, Interval: cmp.Or(o.reloadInterval, time.Hour), Logger: logger, Registerer: r.reg})
	require.NoError(t, err)
	t.Cleanup(r.reloader.Close)
	r.recorder = interceptions.NewRecorder(db, interceptions.Config{FlushInterval: 10 * time.Millisecond, Logger: logger, Registerer: r.reg})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { r.recorder.Run(runCtx); done <- struct{}{} }()
	go func() { r.reloader.Run(runCtx); done <- struct{}{} }()

	// The gateway's upstream connections are closed with the replica, so
	// the leak check at the end of the package sees none of them.
	transport := o.transport
	if transport == nil {
		tr := gateway.NewTransport()
		t.Cleanup(tr.CloseIdleConnections)
		transport = tr
	}
	srv := httpserver.New(logger, r.reg, nil)
	gateway.New(gateway.Config{
		Auth: auth.NewAuthenticator(db, nil, logger), Snapshots: r.reloader, Recorder: r.recorder,
		ReplicaID: uuid.New(), RecordPrompts: o.recordPrompts, Transport: transport, Logger: logger, Registerer: r.reg,
	}).Mount(srv)
	addr, err := srv.Listen("127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	r.url = "http://" + addr.String()
	var once sync.Once
	r.shutdown = func(sctx context.Context) {
		once.Do(func() {
			err := srv.Shutdown(sctx)
			if sctx.Err() == nil {
				require.NoError(t, err)
			}
			require.NoError(t, <-served)
			stop()
			<-done
			<-done
		})
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, waitFor)
		defer cancel()
		r.shutdown(sctx)
	})
	return r
}

// env is a database with a user, a token and one gateway replica.
type env struct {
	*replica
	token  string
	userID uuid.UUID
}

func setup(t testing.TB, o options) *env {
	t.Helper()
	db := testdb.New(t)
	r := startReplica(t, db, o)
	us := users.NewService(db, auth.NewAuthenticator(db, nil, nil), &audit.Recorder{}, nil)
	u, token, err := us.CreateFirst(context.Background(), users.Input{Email: "dev@example.com", Name: "Dev", Password: "correct horse battery"})
	require.NoError(t, err)
	return &env{replica: r, token: token, userID: u.ID}
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
	require.NoError(r.t, err)
	require.NoError(r.t, r.reloader.Reload(context.Background()))
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
		       input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, tool_calls, ttfb_ms, prompt, error
		FROM interceptions ORDER BY started_at, id`)
	require.NoError(r.t, err)
	defer rows.Close()
	var out []interception
	for rows.Next() {
		var i interception
		var tools []byte
		require.NoError(r.t, rows.Scan(&i.UserID, &i.TokenID, &i.ProviderName, &i.Model, &i.Endpoint, &i.Streaming, &i.Status, &i.UpstreamStatus,
			&i.Input, &i.Output, &i.CacheRead, &i.CacheWrite, &i.Rs, &tools, &i.TTFBMs, &i.Prompt, &i.Error))
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
