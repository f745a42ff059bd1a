package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/api"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/servertest"
)

// Upstream keys the mocks accept; never in an answer a member gets.
const (
	upstreamOpenAIKey    = "sk-upstream-MEMBERS-openai-0123456789"
	upstreamAnthropicKey = "sk-ant-upstream-MEMBERS-0123456789"
)

// providerFixture creates, as owner, the providers every test here lists:
// one of each type on the mocks, a disabled one and a deleted one.
func providerFixture(t *testing.T, r *replica, owner string) (*llmmock.Server, *llmmock.Bedrock) {
	t.Helper()
	mock := llmmock.New(t, llmmock.Options{Events: 3, Keys: []string{upstreamOpenAIKey, upstreamAnthropicKey}})
	bedrock := llmmock.NewBedrock(t, llmmock.BedrockOptions{Events: 3})
	for _, body := range []map[string]any{
		{"name": "openai-main", "type": "openai", "base_url": mock.OpenAIBaseURL(), "api_keys": []any{map[string]any{"api_key": upstreamOpenAIKey}}},
		{"name": "claude", "type": "anthropic", "display_name": "Claude (corp)", "base_url": mock.AnthropicBaseURL(),
			"api_keys": []any{map[string]any{"api_key": upstreamAnthropicKey}}},
		{"name": "br", "type": "bedrock", "base_url": bedrock.URL, "settings": map[string]any{
			"region": llmmock.BedrockRegion, "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
			"access_key": llmmock.BedrockAccessKey, "access_key_secret": llmmock.BedrockSecretKey}},
		{"name": "old", "type": "openai", "enabled": false, "api_keys": []any{map[string]any{"api_key": upstreamOpenAIKey}}},
		{"name": "gone", "type": "anthropic", "api_keys": []any{map[string]any{"api_key": upstreamAnthropicKey}}},
	} {
		code, resp := r.do("POST", "/api/v1/providers", owner, body)
		require.Equal(t, http.StatusCreated, code, resp)
	}
	code, resp := r.do("DELETE", "/api/v1/providers/gone", owner, nil)
	require.Equal(t, http.StatusNoContent, code, resp)
	return mock, bedrock
}

// memberView is the short form a member gets for each enabled provider of
// providerFixture, on a server reached at base.
func memberView(base string) []any {
	return []any{
		map[string]any{"name": "br", "type": "bedrock", "display_name": "", "gateway_base_url": base + "/ai/br"},
		map[string]any{"name": "claude", "type": "anthropic", "display_name": "Claude (corp)", "gateway_base_url": base + "/ai/claude"},
		map[string]any{"name": "openai-main", "type": "openai", "display_name": "", "gateway_base_url": base + "/ai/openai-main/v1"},
	}
}

// A member lists the enabled providers, each with exactly its name, type,
// display name and gateway base URL; deleted providers and single
// providers stay for owners and auditors, who get the gateway base URL on
// every provider they see.
func TestMemberListsTheProvidersTheyMayUse(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	member := addUser(t, r, owner, "m@example.com", "member")
	auditor := addUser(t, r, owner, "a@example.com", "auditor")
	providerFixture(t, r, owner)

	for _, q := range []string{"", "?include_deleted=false"} {
		code, body := r.do("GET", "/api/v1/providers"+q, member, nil)
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, map[string]any{"form": "short", "providers": memberView(r.base)}, body, q)
	}
	for _, c := range []struct {
		path string
		want int
	}{
		{"/api/v1/providers?include_deleted=true", http.StatusForbidden},
		{"/api/v1/providers?include_deleted=1", http.StatusForbidden},
		{"/api/v1/providers?include_deleted=maybe", http.StatusBadRequest},
		{"/api/v1/providers/claude", http.StatusForbidden},
		{"/api/v1/providers/gone", http.StatusForbidden},
	} {
		code, body := r.do("GET", c.path, member, nil)
		require.Equal(t, c.want, code, "%s: %v", c.path, body)
	}

	for _, who := range []string{owner, auditor} {
		code, body := r.do("GET", "/api/v1/providers?include_deleted=true", who, nil)
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, "full", body["form"])
		urls := map[string]any{}
		for _, p := range body["providers"].([]any) {
			m := p.(map[string]any)
			require.NotEmpty(t, m["id"], "the full form")
			require.Contains(t, m, "api_keys")
			urls[m["name"].(string)] = m["gateway_base_url"]
		}
		require.Equal(t, map[string]any{
			"br": r.base + "/ai/br", "claude": r.base + "/ai/claude", "openai-main": r.base + "/ai/openai-main/v1",
			"old": r.base + "/ai/old/v1", "gone": r.base + "/ai/gone",
		}, urls)
		code, body = r.do("GET", "/api/v1/providers/openai-main", who, nil)
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, r.base+"/ai/openai-main/v1", body["gateway_base_url"])
	}
	// Every answer that returns a provider carries it.
	code, body := r.do("PATCH", "/api/v1/providers/old", owner, map[string]any{"display_name": "Old", "enabled": true})
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, r.base+"/ai/old/v1", body["gateway_base_url"])
	code, body = r.do("POST", "/api/v1/providers/gone/restore", owner, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, r.base+"/ai/gone", body["gateway_base_url"])
	code, body = r.do("POST", "/api/v1/providers", owner, map[string]any{"name": "new", "type": "openai"})
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, r.base+"/ai/new/v1", body["gateway_base_url"])

	// Once restored or enabled, a provider is a member's to use.
	code, body = r.do("PATCH", "/api/v1/providers/claude", owner, map[string]any{"enabled": false})
	require.Equal(t, http.StatusOK, code, body)
	code, body = r.do("GET", "/api/v1/providers", member, nil)
	require.Equal(t, http.StatusOK, code, body)
	var names []string
	for _, p := range body["providers"].([]any) {
		names = append(names, p.(map[string]any)["name"].(string))
	}
	require.Equal(t, []string{"br", "gone", "new", "old", "openai-main"}, names)

	r.mu.Lock()
	defer r.mu.Unlock()
	for _, resp := range r.responses {
		require.NotContains(t, resp, upstreamOpenAIKey)
		require.NotContains(t, resp, upstreamAnthropicKey)
		require.NotContains(t, resp, llmmock.BedrockSecretKey)
	}
}

// The URLs a member is given are ones the gateway serves: the official
// SDKs, configured with nothing but the URL and a gateway token, get their
// answers from the mocks, for each provider type.
func TestGatewayBaseURLsServe(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	member := addUser(t, r, owner, "m@example.com", "member")
	mock, bedrock := providerFixture(t, r, owner)
	code, body := r.do("POST", "/api/v1/users/me/tokens", member, map[string]any{"name": "agent"})
	require.Equal(t, http.StatusCreated, code, body)
	gatewayToken := body["token"].(string)
	code, body = r.do("GET", "/api/v1/providers", member, nil)
	require.Equal(t, http.StatusOK, code, body)
	urls := map[string]string{}
	for _, p := range body["providers"].([]any) {
		m := p.(map[string]any)
		urls[m["name"].(string)] = m["gateway_base_url"].(string)
	}
	require.Len(t, urls, 3)

	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	ctx := context.Background()

	oc := openai.NewClient(option.WithBaseURL(urls["openai-main"]), option.WithAPIKey(gatewayToken),
		option.WithHTTPClient(hc), option.WithMaxRetries(0))
	chat, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	require.NoError(t, err)
	require.Equal(t, llmmock.Text(3), chat.Choices[0].Message.Content)
	models, err := oc.Models.List(ctx)
	require.NoError(t, err, "a pass-through endpoint under the same base URL")
	require.NotNil(t, models)

	params := anthropic.MessageNewParams{
		Model: "claude-sonnet-4-5", MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	}
	for _, name := range []string{"claude", "br"} {
		ac := anthropic.NewClient(anthropicoption.WithBaseURL(urls[name]), anthropicoption.WithAPIKey(gatewayToken),
			anthropicoption.WithHTTPClient(hc), anthropicoption.WithMaxRetries(0))
		msg, err := ac.Messages.New(ctx, params)
		require.NoError(t, err, name)
		require.Len(t, msg.Content, 1, name)
		require.Equal(t, llmmock.Text(3), msg.Content[0].Text, name)
	}

	var paths []string
	for _, s := range mock.Requests() {
		paths = append(paths, s.Method+" "+s.Path)
	}
	require.Equal(t, []string{"POST /v1/chat/completions", "GET /v1/models", "POST /v1/messages"}, paths, "what the vendors' APIs serve")
	require.Len(t, bedrock.Requests(), 1)
}

// getWith sends a GET with extra headers and decodes the JSON answer.
func getWith(t *testing.T, url, token string, header ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, out
}

// Behind a trusted proxy the URLs are on the address people reached the
// proxy at; the same headers from anyone else change nothing.
func TestGatewayBaseURLBehindAProxy(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	member := addUser(t, r, owner, "m@example.com", "member")
	providerFixture(t, r, owner)
	proxied := servertest.Start(t, servertest.Options{DatabaseURL: r.DatabaseURL, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})

	forwarded := []string{"X-Forwarded-Host", "aigate.example.com", "X-Forwarded-Proto", "https"}
	code, body := getWith(t, proxied.URL+"/api/v1/providers", member, forwarded...)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, memberView("https://aigate.example.com"), body["providers"])

	code, body = getWith(t, r.base+"/api/v1/providers", member, forwarded...)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, memberView(r.base), body["providers"], "a forged X-Forwarded-Host from an untrusted peer")

	code, body = getWith(t, proxied.URL+"/api/v1/providers", member, "X-Forwarded-Host", "aigate.example.com@evil.example/x")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, memberView(proxied.URL), body["providers"], "a host that is not a plain host is not reflected")
}

// The dashboard's way to the API: a page served on the public server calls
// the API in process (api.API.Handler, client.NewInProcess) with its own
// request's context. The URLs are on the address the browser reached, not
// on the in-process request's made-up host.
func TestGatewayBaseURLInProcess(t *testing.T) {
	t.Parallel()
	r, _, owner := setup(t)
	member := addUser(t, r, owner, "m@example.com", "member")
	providerFixture(t, r, owner)

	a := api.New(r.db, auth.NewAuthenticator(auth.Config{DB: r.db}), r.Users(), r.Providers(), slog.New(slog.DiscardHandler), nil)
	srv, err := httpserver.New(slog.New(slog.DiscardHandler), prometheus.NewRegistry(), nil, httpserver.Options{})
	require.NoError(t, err)
	handler := a.Handler()
	srv.Handle("GET /page", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c := client.NewInProcess(handler, member, "dashboard-test")
		defer c.Close()
		l, err := c.ListProviders(req.Context(), false)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		httpserver.WriteJSON(w, http.StatusOK, l)
	}))
	addr, err := srv.Listen("127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown(context.Background()))
		require.NoError(t, <-done)
	})

	req, err := http.NewRequest(http.MethodGet, "http://"+addr.String()+"/page", nil)
	require.NoError(t, err)
	req.Host = "dashboard.example:8443"
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	var l client.ProviderList
	require.NoError(t, json.Unmarshal(raw, &l))
	require.True(t, l.Short())
	require.Len(t, l.Providers, 3)
	for _, p := range l.Providers {
		require.True(t, strings.HasPrefix(p.GatewayBaseURL, "http://dashboard.example:8443/ai/"+p.Name), p.GatewayBaseURL)
		require.Empty(t, p.ID)
	}
}
