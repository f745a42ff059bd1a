package dashboard_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/llmmock"
)

// Markup an attacker would put in names, to run script in an owner's
// browser.
const (
	xssProvider = `<script>alert("provider")</script>`
	xssUser     = `"><img src=x onerror=alert("user")>`
	xssModel    = `<script>alert("model")</script>`
	xssPattern  = `<script>alert(1)</script>*`
)

// hostile is a deployment whose provider display name, user name and model
// name are markup, and one request of that user to that model.
type hostile struct {
	*deployment
	mock *llmmock.Server
	user client.User
}

func setupHostile(t *testing.T) *hostile {
	t.Helper()
	d := setup(t)
	ctx := context.Background()
	mock := llmmock.New(t, llmmock.Options{Keys: []string{"sk-upstream-0123456789abcdef"}})
	_, err := d.owner.CreateProvider(ctx, client.ProviderInput{Name: "openai", Type: "openai", DisplayName: xssProvider,
		BaseURL: mock.OpenAIBaseURL(), APIKeys: []client.ProviderKeyInput{client.NewKey("sk-upstream-0123456789abcdef")}})
	require.NoError(t, err)
	u, err := d.owner.CreateUser(ctx, client.UserInput{Email: "mallory@example.com", Name: xssUser, Password: "password-member", Role: "member"})
	require.NoError(t, err)
	// A team named in markup, the user in it, and a budget for it whose
	// model pattern is markup too; it names a provider that does not exist,
	// so it limits none of the requests here.
	_, err = d.owner.CreateGroup(ctx, client.GroupInput{Name: "team", DisplayName: xssProvider})
	require.NoError(t, err)
	_, err = d.owner.AddGroupMember(ctx, "team", u.ID)
	require.NoError(t, err)
	limit := "5"
	_, err = d.owner.CreatePolicy(ctx, client.PolicyInput{Name: "team-daily", Scope: "group", Group: "team", PerMember: true, Kind: "budget",
		Period: "day", LimitUSD: &limit, Providers: []string{"nowhere"}, Models: []string{xssPattern}})
	require.NoError(t, err)
	chat(t, d.URL+"/ai/openai/v1", d.gatewayToken(t, u.ID), xssModel, 1)
	d.settle(t, 1)
	return &hostile{deployment: d, mock: mock, user: u}
}

// rawMarkup finds the hostile strings unescaped in a page.
var rawMarkup = regexp.MustCompile(`<script>alert|<img src=x onerror`)

// Acceptance 2, server side: every page shows the names as text. The
// browser test checks the same pages run no script.
func TestHostileNamesRenderAsText(t *testing.T) {
	t.Parallel()
	h := setupHostile(t)
	b := newBrowser(t, h.URL)
	b.signIn("owner@example.com", h.ownerPwd)
	page, err := h.owner.ListInterceptions(context.Background(), client.InterceptionFilter{})
	require.NoError(t, err)
	require.Len(t, page.Interceptions, 1)
	id := page.Interceptions[0].ID
	for _, tc := range []struct {
		path string
		want []string // what must show, escaped
	}{
		{"/?range=24h", []string{"&lt;script&gt;alert(&#34;model&#34;)&lt;/script&gt;"}},
		{"/requests", []string{"&lt;script&gt;alert(&#34;model&#34;)&lt;/script&gt;"}},
		{"/requests?model=" + strings.ReplaceAll(xssModel, `"`, "%22"), []string{"&lt;script&gt;alert(&#34;model&#34;)&lt;/script&gt;"}},
		{"/requests/" + id, []string{"&lt;script&gt;alert(&#34;model&#34;)&lt;/script&gt;"}},
		{"/providers", []string{"&lt;script&gt;alert(&#34;provider&#34;)&lt;/script&gt;"}},
		{"/providers/openai", []string{"&lt;script&gt;alert(&#34;provider&#34;)&lt;/script&gt;"}},
		{"/connect", []string{"&lt;script&gt;alert(&#34;provider&#34;)&lt;/script&gt;"}},
		{"/users", []string{"&#34;&gt;&lt;img src=x onerror=alert(&#34;user&#34;)&gt;"}},
		{"/users/" + h.user.ID, []string{"&#34;&gt;&lt;img src=x onerror=alert(&#34;user&#34;)&gt;"}},
		{"/audit", []string{"mallory@example.com"}},
		{"/groups", []string{"&lt;script&gt;alert(&#34;provider&#34;)&lt;/script&gt;"}},
		{"/groups/team", []string{"&#34;&gt;&lt;img src=x onerror=alert(&#34;user&#34;)&gt;"}},
		{"/policies", []string{"models &lt;script&gt;alert(1)&lt;/script&gt;*"}},
	} {
		code, _ := b.get(tc.path)
		require.Equal(t, http.StatusOK, code, "%s: %s", tc.path, b.last)
		require.Nil(t, rawMarkup.FindStringIndex(b.last), "%s shows markup unescaped", tc.path)
		for _, w := range tc.want {
			require.Contains(t, b.last, w, tc.path)
		}
	}
	// The member's own pages too: their name is in the header.
	m := newBrowser(t, h.URL)
	m.signIn("mallory@example.com", "password-member")
	for _, path := range []string{"/", "/requests", "/tokens", "/connect", "/budgets"} {
		code, _ := m.get(path)
		require.Equal(t, http.StatusOK, code, path)
		require.Nil(t, rawMarkup.FindStringIndex(m.last), "%s shows markup unescaped", path)
	}
}
