package dashboard_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/browsertest"
	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/llmmock"
)

// In a real browser: the overview shows the cost and warns while a model
// is unpriced; an owner sets an override on the Prices page and sees it win
// over the default; the requests log shows each request's cost, and
// "unpriced" where there is none.
func TestBrowserPrices(t *testing.T) {
	t.Parallel()
	d := setup(t)
	b := browsertest.New(t)
	// A million input tokens and a hundred thousand output per request:
	// gpt-4o's default $2.50 and $10.00 per million make $3.50.
	usage := llmmock.Usage{Input: 1_000_000, Output: 100_000}
	mock := llmmock.New(t, llmmock.Options{Keys: []string{upstreamKey}, Usage: &usage})
	_, err := d.owner.CreateProvider(context.Background(), client.ProviderInput{Name: "openai", Type: "openai",
		BaseURL: mock.OpenAIBaseURL(), APIKeys: []client.ProviderKeyInput{client.NewKey(upstreamKey)}})
	require.NoError(t, err)
	me, err := d.owner.GetUser(context.Background(), "me")
	require.NoError(t, err)
	token := d.gatewayToken(t, me.ID)
	base := d.URL + "/ai/openai/v1"
	chat(t, base, token, "gpt-4o", 1)
	d.clock.Advance(time.Second) // the log's order is the requests' starts
	chat(t, base, token, "ft:our-private-model", 1)
	d.settle(t, 2)

	b.Navigate(t, d.URL+"/signin")
	b.FillLabelled(t, "Email", "owner@example.com")
	b.FillLabelled(t, "Password", d.ownerPwd)
	b.ClickButtonAndWait(t, "Sign in")
	b.Navigate(t, d.URL+"/?range=24h")
	require.Equal(t, "$3.50", b.Text(t, `[data-stat="cost"]`))
	banner := b.Text(t, `[data-banner="unpriced"]`)
	require.Contains(t, banner, "openai ft:our-private-model", "the unpriced model is named")
	require.Contains(t, b.Text(t, `[data-table="model"]`), "$3.50")

	b.Navigate(t, d.URL+"/prices?provider_type=openai")
	require.Equal(t, "in_effect", stateOf(t, b, "default", "gpt-4o"))
	b.SelectLabelled(t, "Provider type", "openai")
	b.FillLabelled(t, "Model (exact, or a prefix ending in *)", "gpt-4o")
	b.FillLabelled(t, "Input, USD per million tokens", "1.00")
	b.FillLabelled(t, "Output, USD per million tokens", "2.00")
	b.FillLabelled(t, "Note", "negotiated")
	require.Equal(t, int64(http.StatusOK), b.ClickButtonAndWait(t, "Set price"))
	require.Contains(t, b.Text(t, ".flash"), "Price set.")
	require.Equal(t, "in_effect", stateOf(t, b, "override", "gpt-4o"))
	require.Equal(t, "overridden", stateOf(t, b, "default", "gpt-4o"))
	b.RequireNoConsoleErrors(t)

	// The override prices the next request: $1.00 + $0.20.
	d.clock.Advance(time.Second)
	chat(t, base, token, "gpt-4o", 1)
	d.settle(t, 3)
	b.Navigate(t, d.URL+"/requests")
	rows := b.Texts(t, `[data-table="requests"] tbody td[data-cost]`)
	require.Equal(t, []string{"$1.20", "unpriced", "$3.50"}, rows, "newest first")
	b.RequireNoConsoleErrors(t)
}

// stateOf is the data-state of the Prices page's row of source and model.
func stateOf(t *testing.T, b *browsertest.Browser, source, model string) string {
	t.Helper()
	states := browsertest.Get(t, b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('tr[data-source="`+source+`"]'))
		.filter(tr => tr.querySelector('th code').textContent === `+"`"+model+"`"+`)
		.map(tr => tr.dataset.state)`))
	require.Len(t, states, 1, "one %s row of %s", source, model)
	return states[0]
}
