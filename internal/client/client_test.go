package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aigate/aigate/internal/client"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "aig_abc_verysecretvalue"

// serve answers every request with handler, and closes the server and the
// client when the test ends.
func serve(t *testing.T, handler http.HandlerFunc) *client.Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	c, err := client.New(srv.URL+"/", token)
	require.NoError(t, err)
	t.Cleanup(func() {
		c.Close()
		srv.Close()
	})
	return c
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	// The handler runs on the server's goroutine: assert, not require.
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "Bearer "+token, r.Header.Get("Authorization"))
		assert.True(t, strings.HasPrefix(r.Header.Get("User-Agent"), "aigate-cli/"), r.Header.Get("User-Agent"))
		switch r.Method + " " + r.URL.EscapedPath() {
		case "PATCH /api/v1/users/a%2Fb@example.com":
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			var body map[string]any
			assert.NoError(t, json.NewDecoder(r.Body).Decode(&body))
			assert.Equal(t, map[string]any{"suspended": false}, body, "only the fields given are sent")
			_, _ = w.Write([]byte(`{"id":"1","email":"a/b@example.com","role":"member"}`))
		case "GET /api/v1/audit":
			assert.Equal(t, "action=create&limit=5&resource=x+y", r.URL.RawQuery)
			_, _ = w.Write([]byte(`{"entries":[{"id":7,"diff":{"name":{"new":"<b>"}}}],"next_cursor":"c1"}`))
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.EscapedPath())
		}
	})
	suspended := false
	u, err := c.UpdateUser(context.Background(), "a/b@example.com", client.UserPatch{Suspended: &suspended})
	require.NoError(t, err)
	require.Equal(t, "member", u.Role)

	page, err := c.ListAudit(context.Background(), client.AuditFilter{Action: "create", Resource: "x y", Limit: 5})
	require.NoError(t, err)
	require.Equal(t, "c1", page.NextCursor)
	require.JSONEq(t, `{"name":{"new":"<b>"}}`, string(page.Entries[0].Diff), "the diff is kept as the server sent it")
}

func TestErrors(t *testing.T) {
	t.Parallel()
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/users":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"message":"Invalid request.","validations":[{"field":"email","detail":"must be an email address"},{"field":"role","detail":"must be one of owner, auditor, member"}],"request_id":"r1"}`))
		case "/api/v1/login":
			w.Header().Set("X-Request-Id", "r2")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"message":"Internal error.","detail":"The error was logged with this request's ID."}`))
		default:
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`<html>bad gateway</html>`))
		}
	})
	ctx := context.Background()

	_, err := c.CreateUser(ctx, client.UserInput{Email: "bad", Password: "short"})
	var apiErr *client.Error
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, http.StatusBadRequest, apiErr.Status)
	require.Equal(t, "Invalid request.\n  email: must be an email address\n  role: must be one of owner, auditor, member", err.Error())
	require.True(t, client.IsStatus(err, http.StatusBadRequest))

	_, err = c.Login(ctx, "a@example.com", "pw-secret-123")
	require.Equal(t, "Internal error. The error was logged with this request's ID. (request ID r2)", err.Error())

	require.NotContains(t, err.Error(), "pw-secret-123")

	_, err = c.GetUser(ctx, "x")
	require.Contains(t, err.Error(), "502 Bad Gateway, not an aigate error")
	require.NotContains(t, err.Error(), token)
}

func TestUnreachableServerNamesURLNotToken(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	c, err := client.New(url, token)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.GetUser(context.Background(), "me")
	require.Error(t, err)
	require.Contains(t, err.Error(), "call aigate at "+url)
	require.NotContains(t, err.Error(), token)
}

func TestParseBaseURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":           "http://127.0.0.1:8080",
		"https://aigate.example.com/":     "https://aigate.example.com",
		" https://example.com/aigate//  ": "https://example.com/aigate",
	} {
		got, err := client.ParseBaseURL(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
	for _, in := range []string{"", "aigate.example.com", "ftp://example.com", "https://user:pw@example.com", "http://user:pw@exa mple.com", "http://example.com?x=1"} {
		_, err := client.ParseBaseURL(in)
		require.Error(t, err, in)
		require.NotContains(t, err.Error(), "pw@", "credentials in a URL are not echoed")
	}
}

// One Provider type decodes both forms of the list; Form tells them apart,
// even with no provider to look at.
func TestListProvidersForms(t *testing.T) {
	t.Parallel()
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.RawQuery {
		case "":
			_, _ = w.Write([]byte(`{"form":"short","providers":[{"name":"claude","type":"anthropic","display_name":"Claude","gateway_base_url":"https://gw.example/ai/claude"}]}`))
		case "include_deleted=true":
			_, _ = w.Write([]byte(`{"form":"full","providers":[{"id":"p1","name":"openai","type":"openai","enabled":true,"state":"ready","gateway_base_url":"https://gw.example/ai/openai/v1","api_keys":[{"id":"k1","masked":"sk-...x"}]}]}`))
		default:
			t.Errorf("unexpected query %q", r.URL.RawQuery)
		}
	})
	short, err := c.ListProviders(context.Background(), false)
	require.NoError(t, err)
	require.True(t, short.Short())
	require.Equal(t, []client.Provider{{Name: "claude", Type: "anthropic", DisplayName: "Claude", GatewayBaseURL: "https://gw.example/ai/claude"}}, short.Providers)
	full, err := c.ListProviders(context.Background(), true)
	require.NoError(t, err)
	require.False(t, full.Short())
	require.Equal(t, "p1", full.Providers[0].ID)
	require.Equal(t, "https://gw.example/ai/openai/v1", full.Providers[0].GatewayBaseURL)
	require.Len(t, full.Providers[0].APIKeys, 1)
	require.False(t, client.ProviderList{}.Short(), "a server before the field answered members nothing but 403")
}
