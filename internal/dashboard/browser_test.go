package dashboard_test

import (
	"context"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/chromedp/chromedp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/browsertest"
	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/servertest"
)

const upstreamKey = "sk-upstream-BROWSER-0123456789abcdef"

// screenshot writes the page to docs/images/NAME.png when the screenshots
// are being updated (AIGATE_UPDATE_SCREENSHOTS=1).
func screenshot(t *testing.T, b *browsertest.Browser, name string) {
	t.Helper()
	if !browsertest.UpdateScreenshots() {
		return
	}
	_, file, _, _ := runtime.Caller(0)
	b.Screenshot(t, filepath.Join(filepath.Dir(file), "..", "..", "docs", "images", name+".png"))
}

// number reads a page's number such as "1,234" or "5".
func number(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 10, 64)
	require.NoError(t, err, "a number: %q", s)
	return n
}

// newToken creates a gateway token on My tokens and returns its secret,
// read from the page that shows it once.
func newToken(t *testing.T, b *browsertest.Browser, base, name string) string {
	t.Helper()
	b.Navigate(t, base+"/tokens")
	b.FillLabelled(t, `Name (what it is for, e.g. "laptop claude code")`, name)
	require.Equal(t, int64(http.StatusCreated), b.ClickButtonAndWait(t, "Create token"))
	secret := browsertest.Get(t, b, chromedp.Value(chromedp.CSS("[data-new-token]")))
	require.True(t, strings.HasPrefix(secret, "aig_"), secret)
	return secret
}

// openAI is the official SDK configured as Connect your tools says.
func openAI(t *testing.T, baseURL, token string) openai.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return openai.NewClient(option.WithBaseURL(baseURL), option.WithAPIKey(token), option.WithHTTPClient(&http.Client{Transport: tr}),
		option.WithMaxRetries(0))
}

func chatWith(t *testing.T, c openai.Client, model string, n int) {
	t.Helper()
	for range n {
		_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		})
		require.NoError(t, err)
	}
}

// Acceptance 1: an owner's whole first day in a real browser, against a
// real server and PostgreSQL: create the first owner, add a provider and a
// member, connect a tool the way the page says, send requests, see them on
// the overview (the usage API's numbers) and in the log, revoke a token,
// and the member's restricted view.
func TestBrowserOwnerAndMember(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	clk := clock.NewManual(testNow)
	r := servertest.Start(t, servertest.Options{Clock: clk})
	t.Cleanup(func() { dashboardLogs(t, r) })
	d := &deployment{Replica: r, clock: clk}
	mock := llmmock.New(t, llmmock.Options{Keys: []string{upstreamKey}})

	// The first visit creates the first owner.
	b.Navigate(t, r.URL+"/")
	require.True(t, strings.HasSuffix(b.URL(t), "/setup"), b.URL(t))
	b.FillLabelled(t, "Email", "owner@example.com")
	b.FillLabelled(t, "Name", "Olive Owner")
	b.FillLabelled(t, "Password", "owner-password")
	b.ClickButtonAndWait(t, "Create owner and sign in")
	require.Equal(t, "Overview", b.Text(t, "h1"))
	b.RequireNoConsoleErrors(t)

	// A provider, created as an operator would: the vendor's own base URL
	// form (OPENAI_BASE_URL, with /v1) on the mock.
	b.Navigate(t, r.URL+"/providers")
	b.Run(t, chromedp.Click(chromedp.CSS(`a[href="/providers/new"]`)), chromedp.WaitVisible(chromedp.CSS("#name")))
	b.FillLabelled(t, "Name (the gateway path: /ai/NAME/)", "openai")
	b.SelectLabelled(t, "Type", "openai")
	b.FillLabelled(t, "Display name", "OpenAI")
	b.FillLabelled(t, "Base URL (empty for the vendor's default)", mock.OpenAIBaseURL())
	b.FillLabelled(t, "New API key 1", upstreamKey)
	require.Equal(t, int64(http.StatusOK), b.ClickButtonAndWait(t, "Create provider"))
	require.Equal(t, "Provider created.", b.Text(t, ".flash"))
	require.Equal(t, "ready", b.Text(t, `[data-stat="state"]`))
	require.NotContains(t, b.Text(t, "main"), upstreamKey, "keys are shown masked")

	// A member.
	b.Navigate(t, r.URL+"/users")
	b.FillLabelled(t, "Email", "mia@example.com")
	b.FillLabelled(t, "Name", "Mia Member")
	b.SelectLabelled(t, "Role", "member")
	b.FillLabelled(t, "Initial password", "password-member")
	require.Equal(t, int64(http.StatusOK), b.ClickButtonAndWait(t, "Add user"))
	require.Equal(t, "User created.", b.Text(t, ".flash"))

	// An Anthropic provider too, through the API this time.
	owner := pageAPI(t, r, "owner@example.com", "owner-password")
	_, err := owner.CreateProvider(context.Background(), client.ProviderInput{Name: "anthropic", Type: "anthropic", DisplayName: "Anthropic",
		BaseURL: mock.AnthropicBaseURL(), APIKeys: []client.ProviderKeyInput{client.NewKey(upstreamKey)}})
	require.NoError(t, err)

	// The owner's tools, set up from Connect your tools.
	ownerToken := newToken(t, b, r.URL, "laptop codex")
	b.Navigate(t, r.URL+"/connect")
	baseURL := b.Text(t, `[data-provider="openai"] [data-base-url]`)
	require.Equal(t, r.URL+"/ai/openai/v1", baseURL)
	require.Contains(t, b.Text(t, `[data-provider="openai"] [data-snippet="openai-sdk"]`), "OPENAI_BASE_URL="+baseURL)
	claudeURL := b.Text(t, `[data-provider="anthropic"] [data-base-url]`)
	require.Equal(t, r.URL+"/ai/anthropic", claudeURL)
	require.Contains(t, b.Text(t, `[data-provider="anthropic"] [data-snippet="claude-code"]`), "ANTHROPIC_BASE_URL="+claudeURL)
	screenshot(t, b, "dashboard-connect")
	ownerSDK := openAI(t, baseURL, ownerToken)
	chatWith(t, ownerSDK, "gpt-4.1", 3)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	claude := anthropic.NewClient(aoption.WithBaseURL(claudeURL), aoption.WithAuthToken(ownerToken),
		aoption.WithHTTPClient(&http.Client{Transport: tr}), aoption.WithMaxRetries(0))
	_, err = claude.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: "claude-sonnet-4-5", MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello"))},
	})
	require.NoError(t, err, "Claude Code's way: ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN (a bearer token)")
	clk.Advance(time.Minute) // the member's requests come later

	// The member, in a browser of her own.
	m := browsertest.New(t)
	m.Navigate(t, r.URL+"/providers")
	require.True(t, strings.Contains(m.URL(t), "/signin?next="), m.URL(t))
	m.FillLabelled(t, "Email", "mia@example.com")
	m.FillLabelled(t, "Password", "password-member")
	m.ClickButtonAndWait(t, "Sign in")
	require.Equal(t, "Forbidden", m.Text(t, "h1"), "back to /providers, which members may not see")
	memberToken := newToken(t, m, r.URL, "mia's claude")
	m.Navigate(t, r.URL+"/connect")
	require.Equal(t, baseURL, m.Text(t, `[data-provider="openai"] [data-base-url]`), "members see the providers they may use")
	chatWith(t, openAI(t, baseURL, memberToken), "gpt-4.1-mini", 2)

	d.settle(t, 6)

	// The overview shows the usage API's numbers.
	b.Navigate(t, r.URL+"/?range=24h")
	from, to := dayWindow(clk.Now())
	usage, err := owner.GetUsage(context.Background(), client.UsageFilter{From: &from, To: &to})
	require.NoError(t, err)
	require.Equal(t, int64(6), usage.Total.Requests)
	require.Equal(t, usage.Total.Requests, number(t, b.Text(t, `[data-stat="requests"]`)))
	require.Equal(t, usage.Total.InputTokens, number(t, b.Text(t, `[data-stat="input-tokens"]`)))
	require.Equal(t, usage.Total.OutputTokens, number(t, b.Text(t, `[data-stat="output-tokens"]`)))
	require.Equal(t, "0.0%", b.Text(t, `[data-stat="error-rate"]`))
	require.Equal(t, usage.Total.Denied, number(t, b.Text(t, `[data-stat="denied"]`)))
	require.Equal(t, []string{"gpt-4.1", "gpt-4.1-mini", "claude-sonnet-4-5"}, b.Texts(t, `[data-table="model"] tbody th`))
	require.Equal(t, []string{"openai", "anthropic"}, b.Texts(t, `[data-table="provider"] tbody th`))
	require.Equal(t, []string{"owner@example.com", "mia@example.com"}, b.Texts(t, `[data-table="user"] tbody th`))
	b.Run(t, chromedp.WaitVisible(chromedp.CSS(`.chart[data-chart="requests"][data-drawn="true"] canvas`)))
	b.RequireNoConsoleErrors(t)
	screenshot(t, b, "dashboard-overview")

	// The log: six requests, newest first; a filter; one request.
	b.Navigate(t, r.URL+"/requests")
	rows := b.Texts(t, `[data-table="requests"] tbody tr`)
	require.Len(t, rows, 6)
	require.Contains(t, rows[0], "mia@example.com")
	require.Contains(t, rows[5], "owner@example.com")
	screenshot(t, b, "dashboard-requests")
	b.FillLabelled(t, "Model", "gpt-4.1-mini")
	b.ClickButtonAndWait(t, "Filter")
	require.Len(t, b.Texts(t, `[data-table="requests"] tbody tr`), 2)
	require.Contains(t, b.URL(t), "model=gpt-4.1-mini", "the filter is in the URL")
	b.Run(t, chromedp.Click(chromedp.CSS(`[data-table="requests"] tbody tr a`)), chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	page, err := owner.ListInterceptions(context.Background(), client.InterceptionFilter{Model: "gpt-4.1-mini", Limit: 1})
	require.NoError(t, err)
	require.Equal(t, strconv.FormatInt(page.Interceptions[0].InputTokens, 10), b.Text(t, `[data-stat="input-tokens"]`))
	b.RequireNoConsoleErrors(t)

	// The member sees only her own, and no admin page.
	m.Navigate(t, r.URL+"/?range=24h")
	require.Equal(t, "My usage", m.Text(t, "h1"))
	require.Equal(t, int64(2), number(t, m.Text(t, `[data-stat="requests"]`)))
	require.Equal(t, []string{"Overview", "Requests", "My budgets", "Prices", "My tokens", "Connect your tools"}, m.Texts(t, `header nav a`))
	m.Navigate(t, r.URL+"/requests")
	require.Len(t, m.Texts(t, `[data-table="requests"] tbody tr`), 2)
	for _, admin := range []string{"/users", "/audit", "/providers/openai", "/requests?user=owner@example.com"} {
		require.Equal(t, int64(http.StatusForbidden), m.Navigate(t, r.URL+admin), admin)
		require.Regexp(t, `may not see this page|may see only their own`, m.Text(t, "main"))
	}
	onlyRefusals(t, m)

	// Revoking the owner's tool token stops it at once.
	b.Navigate(t, r.URL+"/tokens")
	require.Equal(t, int64(http.StatusOK), b.ClickButtonAndWait(t, "Revoke laptop codex"))
	require.Equal(t, "Token revoked.", b.Text(t, ".flash"))
	require.NotContains(t, b.Text(t, `[data-table="tokens"]`), "laptop codex")
	_, err = ownerSDK.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4.1", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
	})
	var apiErr *openai.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
	b.RequireNoConsoleErrors(t)
}

// onlyRefusals checks that the only console errors of a browser are the
// 403s of the pages it was refused, which Chromium logs as failed loads.
func onlyRefusals(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	for _, m := range b.ConsoleErrors() {
		require.Contains(t, m.Text, "status of 403 (Forbidden)", "a console error: %s", m)
	}
}

// pageAPI is an API client signed in as email, to compare pages with.
func pageAPI(t *testing.T, r *servertest.Replica, email, password string) *client.Client {
	t.Helper()
	anon, err := client.New(r.URL, "")
	require.NoError(t, err)
	defer anon.Close()
	s, err := anon.Login(context.Background(), email, password)
	require.NoError(t, err)
	c, err := client.New(r.URL, s.Token)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// dayWindow is the overview's 24h range at now.
func dayWindow(now time.Time) (time.Time, time.Time) {
	now = now.UTC()
	return now.Truncate(time.Hour).Add(-23 * time.Hour), now
}

// Acceptance 2 in a real browser: on every page the hostile names show as
// text, and no script of theirs runs (an alert would be a console error,
// and an inline script a CSP violation).
func TestBrowserHostileNamesRunNoScript(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	h := setupHostile(t)
	page, err := h.owner.ListInterceptions(context.Background(), client.InterceptionFilter{})
	require.NoError(t, err)
	require.Len(t, page.Interceptions, 1)

	b.Navigate(t, h.URL+"/signin")
	b.FillLabelled(t, "Email", "owner@example.com")
	b.FillLabelled(t, "Password", h.ownerPwd)
	b.ClickButtonAndWait(t, "Sign in")
	for _, tc := range []struct{ path, css, want string }{
		{"/?range=24h", `[data-table="model"] tbody th`, xssModel},
		{"/?range=24h", `[data-table="user"] tbody th`, "mallory@example.com"},
		{"/requests", `[data-table="requests"] tbody tr`, xssModel},
		{"/requests/" + page.Interceptions[0].ID, "dl.facts", xssModel},
		{"/providers", `[data-table="providers"] tbody td`, xssProvider},
		{"/providers/openai", "dl.facts", xssProvider},
		{"/users", `[data-table="users"] tbody td`, xssUser},
		{"/users/" + h.user.ID, "#name", ""},
		{"/connect", `[data-provider="openai"] h2`, xssProvider},
		{"/audit", `[data-table="audit"]`, "mallory@example.com"},
		{"/groups", `[data-table="groups"] tbody td`, xssProvider},
		{"/groups/team", `[data-table="members"] tbody td`, xssUser},
		{"/policies", `[data-table="policies"] tbody td`, "models " + xssPattern},
	} {
		require.Equal(t, int64(http.StatusOK), b.Navigate(t, h.URL+tc.path), tc.path)
		if tc.want != "" {
			require.Contains(t, strings.Join(b.Texts(t, tc.css), "\n"), tc.want, tc.path)
		} else {
			require.Equal(t, xssUser, browsertest.Get(t, b, chromedp.Value(chromedp.CSS(tc.css))), "%s: the form field holds the name as it is", tc.path)
		}
		require.Empty(t, browsertest.Get(t, b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("img")).map(i => i.src)`)),
			"%s: no element was made from a name", tc.path)
	}
	b.RequireNoConsoleErrors(t)

	m := browsertest.New(t)
	m.Navigate(t, h.URL+"/signin")
	m.FillLabelled(t, "Email", "mallory@example.com")
	m.FillLabelled(t, "Password", "password-member")
	m.ClickButtonAndWait(t, "Sign in")
	require.Contains(t, m.Text(t, "header .user"), xssUser)
	m.Navigate(t, h.URL+"/budgets")
	require.Contains(t, m.Text(t, `[data-policy="team-daily"]`), "models "+xssPattern)
	m.Navigate(t, h.URL+"/tokens")
	m.RequireNoConsoleErrors(t)
}

// The pages read at a phone's width without sideways scrolling (tables
// scroll in their own box), and can be used by keyboard alone: sign-in
// here is Tab, typing and Enter.
func TestBrowserPhoneAndKeyboard(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t, browsertest.Phone())
	d := setup(t)

	b.Navigate(t, d.URL+"/signin")
	b.TabTo(t, "#email")
	b.Run(t, chromedp.SendKeys(chromedp.CSS("#email"), "owner@example.com"))
	b.TabTo(t, "#password")
	b.Run(t, chromedp.SendKeys(chromedp.CSS("#password"), d.ownerPwd))
	require.Equal(t, int64(http.StatusOK), b.PressEnterAndWait(t))
	require.Equal(t, "Overview", b.Text(t, "h1"))
	for _, path := range []string{"/", "/requests", "/providers", "/providers/new", "/users", "/audit", "/tokens", "/connect", "/groups", "/policies"} {
		require.Equal(t, int64(http.StatusOK), b.Navigate(t, d.URL+path), path)
		b.RequireNoHorizontalScroll(t)
	}
	b.RequireNoConsoleErrors(t)
}
