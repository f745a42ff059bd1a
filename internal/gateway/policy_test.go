package gateway_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/policies"
)

// addPolicy creates a policy and has this replica's engine load it.
func (e *env) addPolicy(t testing.TB, in policies.Input) {
	t.Helper()
	ctx := context.Background()
	_, err := policies.NewService(e.db, &audit.Recorder{}, time.Now).Create(ctx, actor, in)
	require.NoError(t, err)
	require.NoError(t, e.Limits().Reload(ctx))
}

func limit(n int64) *int64 { return &n }

// A request a policy refuses gets the provider's own 429 through the
// official SDKs, naming the policy and when it resets, never reaches the
// provider, is recorded as denied and counted as denied.
func TestPolicyDenialsInTheProvidersShape(t *testing.T) {
	t.Parallel()
	mock := llmmock.New(t, llmmock.Options{})
	e := setup(t, options{})
	e.addProvider("oa", "openai", mock.OpenAIBaseURL(), openAIKey)
	e.addProvider("an", "anthropic", mock.AnthropicBaseURL(), anthropicKey)
	e.addPolicy(t, policies.Input{Name: "two-a-minute", Scope: policies.ScopeEveryone, Kind: policies.KindRequests,
		Period: policies.PeriodMinute, Limit: limit(2), Providers: []string{"oa"}})
	e.addPolicy(t, policies.Input{Name: "claude-tokens", Scope: policies.ScopeUser, User: "dev@example.com",
		Kind: policies.KindTokens, Period: policies.PeriodDay, Limit: limit(500), Providers: []string{"an"}})
	e.addPolicy(t, policies.Input{Name: "sonnet-only", Scope: policies.ScopeEveryone, Kind: policies.KindModels,
		AllowModels: []string{"claude-sonnet-*"}, Providers: []string{"an"}})
	ctx := context.Background()

	oa := e.openAI(t, "oa")
	chat := func() error {
		_, err := oa.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		return err
	}
	require.NoError(t, chat())
	require.NoError(t, chat())
	err := chat()
	var oerr *openai.Error
	require.ErrorAs(t, err, &oerr)
	require.Equal(t, http.StatusTooManyRequests, oerr.StatusCode)
	require.Equal(t, "rate_limit_exceeded", oerr.Code)
	require.Contains(t, oerr.Message, `aigate policy "two-a-minute" (2 requests per minute) is used up; it resets at`)
	retry := oerr.Response.Header.Get("Retry-After")
	require.NotEmpty(t, retry)
	require.Empty(t, oerr.Response.Header.Get("X-Should-Retry"), "a rate limit is worth the SDK's retry")
	require.Equal(t, "two-a-minute", oerr.Response.Header.Get("X-Aigate-Policy"))
	require.Len(t, mock.Requests(), 2, "the denied request never reached the provider")

	an := e.anthropic(t, "an")
	message := func(model string, maxTokens int64) error {
		_, err := an.Messages.New(ctx, anthropic.MessageNewParams{
			Model: model, MaxTokens: maxTokens,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
		})
		return err
	}
	var aerr *anthropic.Error
	require.ErrorAs(t, message("claude-opus-4-1", 100), &aerr)
	require.Equal(t, http.StatusForbidden, aerr.StatusCode)
	require.Contains(t, aerr.Error(), "permission_error")
	require.Contains(t, aerr.Error(), `model \"claude-opus-4-1\" is not allowed by aigate policy \"sonnet-only\" (models allowed: claude-sonnet-*)`)
	// A look-alike of an allowed name (the long s, a full-width letter) is
	// another name.
	for _, lookAlike := range []string{"claude-ſonnet-4-5", "claude-ｓonnet-4-5"} {
		require.ErrorAs(t, message(lookAlike, 100), &aerr, lookAlike)
		require.Equal(t, http.StatusForbidden, aerr.StatusCode, lookAlike)
	}

	// 500 tokens a day: the first request reserves its max_tokens and the
	// body, and settles what the mock reports (21 + 34, and the cache's 13).
	require.NoError(t, message("claude-sonnet-4-5", 100))
	err = message("claude-sonnet-4-5", 1000)
	require.ErrorAs(t, err, &aerr)
	require.Equal(t, http.StatusTooManyRequests, aerr.StatusCode)
	require.Contains(t, aerr.Error(), "rate_limit_error")
	require.Contains(t, aerr.Error(), `aigate policy \"claude-tokens\" (500 tokens per day)`)
	require.Equal(t, "false", aerr.Response.Header.Get("X-Should-Retry"), "the window resets tomorrow: not worth an SDK retry")

	recs := e.waitInterceptions(8)
	var statuses []string
	for _, r := range recs {
		statuses = append(statuses, r.Status)
	}
	require.Equal(t, []string{"ok", "ok", "denied", "denied", "denied", "denied", "ok", "denied"}, statuses)
	require.Contains(t, *recs[2].Error, "two-a-minute")
	require.Nil(t, recs[2].UpstreamStatus)

	// The settled windows are the recorded requests' charges: two requests,
	// and the tokens of the one Claude request.
	var reqs, tokens int64
	require.Eventually(t, func() bool {
		require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT
			coalesce(sum(w.settled) FILTER (WHERE p.name = 'two-a-minute'), 0),
			coalesce(sum(w.settled) FILTER (WHERE p.name = 'claude-tokens'), 0)
			FROM policy_windows w JOIN policies p ON p.id = w.policy_id`).Scan(&reqs, &tokens))
		return reqs == 2 && tokens > 0
	}, waitFor, 5*time.Millisecond)
	u := llmmock.FixedUsage
	require.Equal(t, u.Input+u.Output+u.CacheRead+u.CacheWrite, tokens)

	// The model list shows what the allow-list allows; the OpenAI
	// provider has no models policy, so its list is whole.
	page, err := an.Models.List(ctx, anthropic.ModelListParams{})
	require.NoError(t, err)
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	require.Equal(t, []string{"claude-sonnet-4-5"}, ids, "claude-haiku-4-5 is not allowed")
	require.Equal(t, "claude-sonnet-4-5", page.FirstID)
	opage, err := oa.Models.List(ctx)
	require.NoError(t, err)
	require.Len(t, opage.Data, 3)

	// One model by id: refused when its policy does not allow it.
	e.addPolicy(t, policies.Input{Name: "mini-only", Scope: policies.ScopeEveryone, Kind: policies.KindModels,
		AllowModels: []string{"gpt-4o-mini"}, Providers: []string{"oa"}})
	m, err := oa.Models.Get(ctx, "gpt-4o-mini")
	require.NoError(t, err)
	require.Equal(t, "gpt-4o-mini", m.ID)
	_, err = oa.Models.Get(ctx, "gpt-4o")
	require.ErrorAs(t, err, &oerr)
	require.Equal(t, http.StatusForbidden, oerr.StatusCode)
	require.Contains(t, oerr.Message, `model "gpt-4o" is not allowed by aigate policy "mini-only"`)
	opage, err = oa.Models.List(ctx)
	require.NoError(t, err)
	require.Len(t, opage.Data, 1)
}
