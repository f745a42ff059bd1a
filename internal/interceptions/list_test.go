package interceptions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/interceptions"
)

// newestFirst orders records as List does: by started_at, then id, both
// descending (PostgreSQL compares uuids byte by byte).
func newestFirst(rs []interceptions.Record) []interceptions.Record {
	out := slices.Clone(rs)
	slices.SortFunc(out, func(a, b interceptions.Record) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		return bytes.Compare(b.ID[:], a.ID[:])
	})
	return out
}

func ids(rs []interceptions.Record) []uuid.UUID {
	out := make([]uuid.UUID, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// listAll walks every page of f, limit rows at a time.
func listAll(t *testing.T, h *harness, f interceptions.Filter) (got []uuid.UUID, pages int) {
	t.Helper()
	cursor := ""
	for {
		rows, next, err := interceptions.List(context.Background(), h.db, f, cursor)
		require.NoError(t, err)
		pages++
		if f.Limit > 0 {
			require.LessOrEqual(t, len(rows), f.Limit)
		}
		for _, r := range rows {
			require.Nil(t, r.Prompt, "a listing carries no prompt")
			got = append(got, r.ID)
		}
		if next == "" {
			return got, pages
		}
		require.Len(t, rows, max(f.Limit, 1), "only the last page is short")
		cursor = next
	}
}

// Acceptance: newest first by (started_at, id), keyset pages, every filter,
// across day partitions and the default partition, without the prompt;
// Get has the rest.
func TestList(t *testing.T) {
	t.Parallel()
	h := setup(t, interceptions.Config{})
	ctx := context.Background()
	// Partitions for 03-09..03-17; the rows of 03-01 and 03-02 go to the
	// default partition.
	clk := clock.NewManual(t0)
	_, err := interceptions.NewRetention(interceptions.RetentionConfig{DB: h.db, Clock: clk}).Tick(ctx)
	require.NoError(t, err)

	alice, bob := uuid.New(), uuid.New()
	same := at("2026-03-10T08:00:00Z") // several rows share it: the id orders them
	var all []interceptions.Record
	add := func(mods ...func(*interceptions.Record)) interceptions.Record {
		r := record(mods...)
		all = append(all, r)
		return r
	}
	for i, spec := range []struct {
		user     uuid.UUID
		started  time.Time
		client   interceptions.Client
		session  string
		provider string
		model    string
		status   interceptions.Status
	}{
		{alice, at("2026-03-01T10:00:00Z"), interceptions.ClientClaudeCode, "s1", "anthropic-main", "claude-sonnet-4-5", interceptions.StatusOK},
		{alice, at("2026-03-02T10:00:00Z"), interceptions.ClientClaudeCode, "s1", "anthropic-main", "claude-sonnet-4-5", interceptions.StatusUpstreamError},
		{bob, at("2026-03-09T23:59:59.999999Z"), interceptions.ClientCodex, "s2", "openai-main", "gpt-5", interceptions.StatusOK},
		{bob, at("2026-03-10T00:00:00Z"), interceptions.ClientCodex, "s2", "openai-main", "gpt-5", interceptions.StatusOK},
		{alice, same, interceptions.ClientOpenAISDK, "", "openai-main", "gpt-4o", interceptions.StatusOK},
		{bob, same, interceptions.ClientCurl, "", "openai-main", "gpt-4o", interceptions.StatusGatewayError},
		{alice, same, interceptions.ClientAnthropicSDK, "", "anthropic-main", "claude-sonnet-4-5", interceptions.StatusClientCancelled},
		{alice, same, interceptions.ClientClaudeCode, "s1", "anthropic-main", "claude-sonnet-4-5", interceptions.StatusOK},
		{bob, at("2026-03-10T11:00:00Z"), interceptions.ClientOther, "", "openai-main", "gpt-5", interceptions.StatusOK},
	} {
		add(startedAt(spec.started), func(r *interceptions.Record) {
			r.UserID, r.Client, r.SessionID, r.ProviderName, r.Model, r.Status = spec.user, spec.client, spec.session, spec.provider, spec.model, spec.status
			r.Prompt = json.RawMessage(fmt.Sprintf(`{"n": %d}`, i))
		})
	}
	require.NoError(t, h.rec.WriteForTest(ctx, all))

	where := func(keep func(interceptions.Record) bool) []uuid.UUID {
		var out []interceptions.Record
		for _, r := range all {
			if keep(r) {
				out = append(out, r)
			}
		}
		return ids(newestFirst(out))
	}
	since, until := at("2026-03-09T23:59:59.999999Z"), at("2026-03-10T08:00:00Z")
	for _, tc := range []struct {
		name string
		f    interceptions.Filter
		want []uuid.UUID
	}{
		{"everything", interceptions.Filter{}, where(func(interceptions.Record) bool { return true })},
		{"user", interceptions.Filter{UserID: &alice}, where(func(r interceptions.Record) bool { return r.UserID == alice })},
		{"provider", interceptions.Filter{Provider: "openai-main"}, where(func(r interceptions.Record) bool { return r.ProviderName == "openai-main" })},
		{"model", interceptions.Filter{Model: "gpt-4o"}, where(func(r interceptions.Record) bool { return r.Model == "gpt-4o" })},
		{"client", interceptions.Filter{Client: "claude-code"}, where(func(r interceptions.Record) bool { return r.Client == interceptions.ClientClaudeCode })},
		{"session", interceptions.Filter{Session: "s1"}, where(func(r interceptions.Record) bool { return r.SessionID == "s1" })},
		{"status", interceptions.Filter{Status: "ok"}, where(func(r interceptions.Record) bool { return r.Status == interceptions.StatusOK })},
		{"since included, until not", interceptions.Filter{Since: &since, Until: &until},
			where(func(r interceptions.Record) bool { return !r.StartedAt.Before(since) && r.StartedAt.Before(until) })},
		{"a member's session", interceptions.Filter{UserID: &bob, Session: "s1"}, nil},
		{"nothing", interceptions.Filter{Model: "no-such-model"}, nil},
	} {
		for _, limit := range []int{0, 1, 2, 3} {
			// Not parallel: the test writes another row once they are done.
			t.Run(fmt.Sprintf("%s/limit %d", tc.name, limit), func(t *testing.T) {
				f := tc.f
				f.Limit = limit
				got, pages := listAll(t, h, f)
				require.Equal(t, tc.want, got)
				if limit == 0 {
					require.Equal(t, 1, pages, "DefaultLimit holds them all")
				}
			})
		}
	}

	// A row written while someone pages is newer than the first page: the
	// pages after it neither shift nor repeat.
	page, next, err := interceptions.List(ctx, h.db, interceptions.Filter{Limit: 4}, "")
	require.NoError(t, err)
	newer := add(startedAt(at("2026-03-10T11:30:00Z")))
	require.NoError(t, h.rec.WriteForTest(ctx, []interceptions.Record{newer}))
	rest, _, err := interceptions.List(ctx, h.db, interceptions.Filter{Limit: 100}, next)
	require.NoError(t, err)
	var paged []uuid.UUID
	for _, r := range append(page, rest...) {
		paged = append(paged, r.ID)
	}
	require.Equal(t, ids(newestFirst(all[:len(all)-1])), paged)

	// The listing has the whole record but the prompt; Get has the prompt.
	session := all[7]
	rows, _, err := interceptions.List(ctx, h.db, interceptions.Filter{Session: "s1", Limit: 1}, "")
	require.NoError(t, err)
	require.Len(t, rows, 1)
	want := session
	want.Prompt = nil
	require.Equal(t, want, rows[0].Record)
	require.False(t, rows[0].RecordedAt.IsZero())
	got, err := interceptions.Get(ctx, h.db, session.ID)
	require.NoError(t, err)
	require.Equal(t, interceptions.ClientClaudeCode, got.Client)
	require.Equal(t, "s1", got.SessionID)
	require.JSONEq(t, `{"n": 7}`, string(got.Prompt))
}

func TestListRefusesBadInput(t *testing.T) {
	t.Parallel()
	h := setup(t, interceptions.Config{})
	ctx := context.Background()
	for _, tc := range []struct {
		f     interceptions.Filter
		field string
	}{
		{interceptions.Filter{Client: "cursor"}, "client"},
		{interceptions.Filter{Status: "error"}, "status"},
		{interceptions.Filter{Limit: -1}, "limit"},
		{interceptions.Filter{Limit: interceptions.MaxLimit + 1}, "limit"},
	} {
		_, _, err := interceptions.List(ctx, h.db, tc.f, "")
		e, ok := apperr.As(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, apperr.KindInvalid, e.Kind)
		require.Len(t, e.Validations, 1)
		require.Equal(t, tc.field, e.Validations[0].Field)
	}
	for _, c := range []string{"not base64!", "bm9kb3Q", "MTIzLm5vdC1hLXV1aWQ"} {
		_, _, err := interceptions.List(ctx, h.db, interceptions.Filter{}, c)
		require.ErrorIs(t, err, interceptions.ErrBadCursor, c)
	}
	_, _, err := interceptions.List(ctx, h.db, interceptions.Filter{Limit: interceptions.MaxLimit}, "")
	require.NoError(t, err)
}
