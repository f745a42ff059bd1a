package dashboard_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/llmmock"
)

var (
	requestRow = regexp.MustCompile(`<a href="/requests/([0-9a-f-]{36})">`)
	olderLink  = regexp.MustCompile(`<a href="/requests(\?[^"]+)" rel="next">Older</a>`)
)

// The log pages by the API's cursor, keeping the filter, and its pages
// together hold every request once, in the API's order.
func TestRequestsLogPages(t *testing.T) {
	t.Parallel()
	d := setup(t)
	mock := llmmock.New(t, llmmock.Options{})
	_, err := d.owner.CreateProvider(context.Background(), client.ProviderInput{Name: "openai", Type: "openai",
		BaseURL: mock.OpenAIBaseURL(), APIKeys: []client.ProviderKeyInput{client.NewKey("sk-upstream-0123456789abcdef")}})
	require.NoError(t, err)
	token := d.gatewayToken(t, "owner@example.com")
	chat(t, d.URL+"/ai/openai/v1", token, "gpt-4.1", 55)
	chat(t, d.URL+"/ai/openai/v1", token, "gpt-4.1-mini", 3)
	d.settle(t, 58)

	b := newBrowser(t, d.URL)
	b.signIn("owner@example.com", d.ownerPwd)
	var seen []string
	path := "/requests?model=gpt-4.1"
	for range 3 {
		code, _ := b.get(path)
		require.Equal(t, http.StatusOK, code, b.last)
		for _, m := range requestRow.FindAllStringSubmatch(b.last, -1) {
			seen = append(seen, m[1])
		}
		next := olderLink.FindStringSubmatch(b.last)
		if next == nil {
			break
		}
		path = "/requests" + html.UnescapeString(next[1])
		require.Contains(t, path, "model=gpt-4.1", "the filter stays")
	}
	require.Len(t, seen, 55, "two pages, every gpt-4.1 request once")
	var want []string
	f := client.InterceptionFilter{Model: "gpt-4.1", Limit: 500}
	page, err := d.owner.ListInterceptions(context.Background(), f)
	require.NoError(t, err)
	for _, i := range page.Interceptions {
		want = append(want, i.ID)
	}
	require.Equal(t, want, seen, "in the API's order")
	require.True(t, strings.Contains(b.last, `href="/requests?model=gpt-4.1">Newest</a>`), "a way back to the first page")
}
