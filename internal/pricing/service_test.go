package pricing_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/pricing"
	"github.com/aigate/aigate/internal/pubsub"
	"github.com/aigate/aigate/internal/testdb"
)

const waitFor = 30 * time.Second

var owner = audit.Actor{ID: uuid.NewString(), Email: "owner@example.com"}

func book(asOf time.Time, input int64) *pricing.DefaultBook {
	return &pricing.DefaultBook{AsOf: asOf, Prices: []pricing.Price{
		{ProviderType: "anthropic", Model: "claude-x*", Input: input, Output: 5 * input},
	}}
}

func newService(t *testing.T, db *database.DB, ps *pubsub.PubSub, def *pricing.DefaultBook) *pricing.Service {
	t.Helper()
	s := pricing.New(pricing.Config{
		DB: db, PubSub: ps, Audit: &audit.Recorder{}, Default: def, ReplicaID: uuid.New(),
		Clock: clock.NewManual(t1.Add(24 * time.Hour)), Logger: testdb.Logger(t),
	})
	return s
}

func count(t *testing.T, db *database.DB, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// TestLoadDefault: the shipped book is stored once; the same book again is
// a no-op; a newer one replaces the default rows from its date on and keeps
// the older book's for the requests before it; an older one changes nothing.
func TestLoadDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)

	stored, err := newService(t, db, nil, book(t0, 3_000_000)).LoadDefault(ctx)
	require.NoError(t, err)
	require.True(t, stored)
	stored, err = newService(t, db, nil, book(t0, 3_000_000)).LoadDefault(ctx)
	require.NoError(t, err)
	require.False(t, stored, "the same book again")
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM model_prices`))

	s := newService(t, db, nil, book(t1, 4_000_000))
	stored, err = s.LoadDefault(ctx)
	require.NoError(t, err)
	require.True(t, stored, "a newer book")
	stored, err = newService(t, db, nil, book(t0, 1_000_000)).LoadDefault(ctx)
	require.NoError(t, err)
	require.False(t, stored, "an older book")
	require.Equal(t, 2, count(t, db, `SELECT count(*) FROM model_prices WHERE source = 'default'`))

	require.NoError(t, s.Start(ctx))
	b := s.Book()
	require.Equal(t, t1, b.AsOf.UTC())
	p, ok := b.Lookup("anthropic", "claude-x-1", t1.Add(time.Hour), 10)
	require.True(t, ok)
	require.EqualValues(t, 4_000_000, p.Input)
	p, ok = b.Lookup("anthropic", "claude-x-1", t1.Add(-time.Hour), 10)
	require.True(t, ok)
	require.EqualValues(t, 3_000_000, p.Input, "the older book for a request before the newer one")
}

// TestOverrides: an override is stored audited, wins over the default on
// this replica at once and on another through the notification, is
// replaced by a second Set of the same key, refuses bad input with the
// field named, and is deleted; a default row cannot be.
func TestOverrides(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	listen := func() *pubsub.PubSub {
		ps, err := pubsub.New(ctx, pubsub.Config{ConnString: db.Pool.Config().ConnString(), Logger: testdb.Logger(t)})
		require.NoError(t, err)
		t.Cleanup(func() { _ = ps.Close() })
		return ps
	}
	a := newService(t, db, listen(), book(t0, 3_000_000))
	_, err := a.LoadDefault(ctx)
	require.NoError(t, err)
	require.NoError(t, a.Start(ctx))
	t.Cleanup(a.Close)
	b := newService(t, db, listen(), nil)
	require.NoError(t, b.Start(ctx))
	t.Cleanup(b.Close)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); b.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	at := t1.Add(48 * time.Hour)
	inputOf := func(s *pricing.Service) int64 {
		p, ok := s.Book().Lookup("anthropic", "claude-x-1", at, 10)
		require.True(t, ok)
		return p.Input
	}
	require.EqualValues(t, 3_000_000, inputOf(a))

	set, err := a.Set(ctx, owner, pricing.PriceInput{ProviderType: "anthropic", Model: "Claude-X-1", Input: "2.50", Output: "12.50", Note: "negotiated"})
	require.NoError(t, err)
	require.Equal(t, "claude-x-1", set.Model, "stored normalised")
	require.EqualValues(t, 250_000, set.CacheRead, "Anthropic's cache read: 0.1x input")
	require.EqualValues(t, 3_125_000, set.CacheWrite5m)
	require.EqualValues(t, 5_000_000, set.CacheWrite1h)
	require.EqualValues(t, 2_500_000, inputOf(a), "this replica at once")
	require.Eventually(t, func() bool { return inputOf(b) == 2_500_000 }, waitFor, time.Millisecond, "the other on the notification")

	again, err := a.Set(ctx, owner, pricing.PriceInput{ProviderType: "anthropic", Model: "claude-x-1", Input: "2.00", Output: "10", EffectiveFrom: set.EffectiveFrom.Format(time.RFC3339Nano)})
	require.NoError(t, err)
	require.Equal(t, set.ID, again.ID, "the same key is the same override")
	require.EqualValues(t, 2_000_000, inputOf(a))
	require.Equal(t, 2, count(t, db, `SELECT count(*) FROM audit_logs WHERE resource_type = 'price' AND resource_id = $1`, set.ID.String()))

	_, err = a.Set(ctx, owner, pricing.PriceInput{ProviderType: "azure", Model: "x*y", Input: "-1", Output: "1.0000001"})
	ae, ok := apperr.As(err)
	require.True(t, ok, "%v", err)
	fields := map[string]bool{}
	for _, v := range ae.Validations {
		fields[v.Field] = true
	}
	require.Equal(t, map[string]bool{"provider_type": true, "model": true, "input": true, "output": true}, fields)

	_, err = a.Import(ctx, owner, []pricing.PriceInput{
		{ProviderType: "openai", Model: "gpt-x", Input: "1", Output: "2"},
		{ProviderType: "openai", Model: "gpt-y", Input: "1", Output: "2.0000001"},
	})
	require.Error(t, err)
	require.Zero(t, count(t, db, `SELECT count(*) FROM model_prices WHERE model = 'gpt-x'`), "all or none")

	require.NoError(t, a.Delete(ctx, owner, set.ID))
	require.EqualValues(t, 3_000_000, inputOf(a), "the default again")
	var defaultID uuid.UUID
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT id FROM model_prices WHERE source = 'default'`).Scan(&defaultID))
	_, isConflict := apperr.As(a.Delete(ctx, owner, defaultID))
	require.True(t, isConflict)
	require.Eventually(t, func() bool { return inputOf(b) == 3_000_000 }, waitFor, time.Millisecond)
}
