package dashboard_test

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/dashboard"
	"github.com/aigate/aigate/internal/servertest"
)

var testNow = time.Date(2026, 11, 30, 15, 20, 0, 0, time.UTC)

// A fresh deployment: the dashboard sends the first visitor to create the
// first owner, who is then signed in; afterwards it asks for a sign-in.
func TestFirstOwnerThenSignIn(t *testing.T) {
	t.Parallel()
	r := servertest.Start(t, servertest.Options{Clock: clock.NewManual(testNow)})
	b := newBrowser(t, r.URL)
	code, path := b.get("/requests?status=ok")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "/setup", path, "no users: the sign-in page offers the first owner")
	code, path = b.post("/setup", url.Values{"email": {"Owner@Example.com"}, "name": {"Olive"}, "password": {"owner-password"}})
	require.Equal(t, http.StatusOK, code, b.last)
	require.Equal(t, "/", path)
	require.Contains(t, b.last, "owner@example.com", "signed in as the new owner")

	code, _ = b.post("/setup", url.Values{"email": {"x@example.com"}, "name": {"X"}, "password": {"another-password"}})
	require.NotEqual(t, http.StatusOK, code, "there is an owner now")

	other := newBrowser(t, r.URL)
	_, path = other.get("/providers")
	require.Equal(t, "/signin", path)
	code, _ = other.post("/signin", url.Values{"email": {"owner@example.com"}, "password": {"wrong-password"}, "next": {"/providers"}})
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, other.last, "Wrong email or password.")
	code, path = other.post("/signin", url.Values{"email": {"owner@example.com"}, "password": {"owner-password"}, "next": {"/providers"}})
	require.Equal(t, http.StatusOK, code, other.last)
	require.Equal(t, "/providers", path, "back where the browser was sent from")

	// Signing out ends the session: the token is revoked, so the cookie is
	// worthless even if it was copied.
	cookies := other.http.Jar.Cookies(mustURL(t, r.URL))
	code, path = other.post("/signout", url.Values{})
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "/signin", path)
	require.Contains(t, other.last, "You are signed out.")
	thief := newBrowser(t, r.URL)
	thief.http.Jar.SetCookies(mustURL(t, r.URL), cookies)
	_, path = thief.get("/")
	require.Equal(t, "/signin", path)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

// The session cookie is HttpOnly and SameSite; pages carry a strict CSP
// and are never cached.
func TestCookieAndHeaders(t *testing.T) {
	t.Parallel()
	d := setup(t)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(d.URL + "/signin")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")
	require.NotContains(t, resp.Header.Get("Content-Security-Policy"), "unsafe-inline")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var pre *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "aigate_csrf" {
			pre = ck
		}
	}
	require.NotNil(t, pre, "the sign-in form's CSRF cookie")

	form := url.Values{"email": {"owner@example.com"}, "password": {d.ownerPwd}, "csrf": {pre.Value}}
	req, err := http.NewRequest(http.MethodPost, d.URL+"/signin", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(pre)
	resp, err = c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	var sess *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "aigate_session" {
			sess = ck
		}
	}
	require.NotNil(t, sess)
	require.True(t, sess.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, sess.SameSite)
	require.False(t, sess.Secure, "plain HTTP here; behind TLS the cookie is Secure (TestSecureCookieBehindTLSProxy)")
	require.Equal(t, "/", sess.Path)
}

// Acceptance 2: a cross-site form POST is refused, with or without a
// token the attacker cannot know; the page's own form goes through.
func TestCrossSitePostRefused(t *testing.T) {
	t.Parallel()
	d := setup(t)
	b := newBrowser(t, d.URL)
	b.signIn("owner@example.com", d.ownerPwd)
	create := func() url.Values {
		return url.Values{"name": {"evil"}, "type": {"openai"}, "api_key": {"sk-attacker-key-0123456789"}, "enabled": {"1"}}
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		origin string
	}{
		{"no token, another origin", create(), "https://attacker.example"},
		{"no token, no origin", create(), ""},
		{"wrong token", func() url.Values { f := create(); f.Set("csrf", "forged"); return f }(), ""},
		{"right token, another origin", func() url.Values { b.get("/providers/new"); f := create(); f.Set("csrf", b.csrf()); return f }(), "https://attacker.example"},
		{"origin null", create(), "null"},
	} {
		code, _ := b.postRaw("/providers", tc.form, tc.origin)
		require.Equal(t, http.StatusForbidden, code, tc.name)
	}
	list, err := d.owner.ListProviders(context.Background(), true)
	require.NoError(t, err)
	require.Empty(t, list.Providers, "nothing was created")

	// Another site's page cannot sign the browser in to an account of its
	// choosing either (login CSRF).
	stranger := newBrowser(t, d.URL)
	code, _ := stranger.postRaw("/signin", url.Values{"email": {"owner@example.com"}, "password": {d.ownerPwd}}, "")
	require.Equal(t, http.StatusForbidden, code)

	b.get("/providers/new")
	code, path := b.post("/providers", create())
	require.Equal(t, http.StatusOK, code, b.last)
	require.Equal(t, "/providers/evil", path)
}

// Acceptance 4: a member reaches no admin page by URL, GET or POST, and
// sees only their own data on the pages they may use.
func TestMemberCannotReachAdminPages(t *testing.T) {
	t.Parallel()
	d := setup(t)
	d.addUser(t, "mia@example.com", "Mia Member", "member")
	d.addUser(t, "ada@example.com", "Ada Auditor", "auditor")
	ctx := context.Background()
	_, err := d.owner.CreateProvider(ctx, client.ProviderInput{Name: "openai", Type: "openai", APIKeys: []client.ProviderKeyInput{client.NewKey("sk-secret-key-0123456789abcdef")}})
	require.NoError(t, err)
	ownerUser, err := d.owner.GetUser(ctx, "me")
	require.NoError(t, err)

	member := newBrowser(t, d.URL)
	member.signIn("mia@example.com", "password-member")
	auditor := newBrowser(t, d.URL)
	auditor.signIn("ada@example.com", "password-auditor")
	fill := map[string]string{"provider": "openai", "user": ownerUser.ID, "token": "aig_x", "action": "delete", "id": "x", "session": "s",
		"group": "team", "policy": "budget"}
	routes := dashboard.Routes()
	require.NotEmpty(t, routes)
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		path = strings.TrimSuffix(path, "{$}")
		for k, v := range fill {
			path = strings.ReplaceAll(path, "{"+k+"}", v)
		}
		for _, who := range []struct {
			name    string
			b       *browser
			allowed bool
		}{{"member", member, rt.Member}, {"auditor", auditor, rt.Auditor}} {
			if who.allowed {
				continue
			}
			var code int
			if method == http.MethodGet {
				code, _ = who.b.get(path)
			} else {
				who.b.get("/tokens") // a page with the session's CSRF token
				code, _ = who.b.post(path, url.Values{})
			}
			require.Equal(t, http.StatusForbidden, code, "%s %s", who.name, rt.Pattern)
			require.Contains(t, who.b.last, "may not see this page")
			require.NotContains(t, who.b.last, "sk-secret", "%s %s", who.name, rt.Pattern)
			require.NotContains(t, who.b.last, "owner@example.com", "%s %s", who.name, rt.Pattern)
		}
	}
	// The pages a member may use show no one else: asking for the owner's
	// requests or usage is the API's 403, and the navigation offers no
	// admin page.
	code, _ := member.get("/requests?user=owner@example.com")
	require.Equal(t, http.StatusForbidden, code)
	code, _ = member.get("/?user=owner@example.com")
	require.Equal(t, http.StatusForbidden, code)
	code, _ = member.get("/")
	require.Equal(t, http.StatusOK, code)
	for _, admin := range []string{`href="/providers"`, `href="/users"`, `href="/audit"`} {
		require.NotContains(t, member.last, admin)
	}
	// An auditor reads everything and changes nothing: no forms to change
	// providers are offered, and posting one is refused above.
	code, _ = auditor.get("/providers/openai")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, auditor.last, `action="/providers/openai/delete"`)
	require.NotContains(t, auditor.last, "sk-secret-key-0123456789abcdef")
}

// Sessions end when their user is suspended, on every replica: a session is
// a token, and the suspension's notification empties every auth cache.
func TestSuspensionEndsSessionsOnEveryReplica(t *testing.T) {
	t.Parallel()
	d := setup(t)
	other := servertest.Start(t, servertest.Options{DatabaseURL: d.DatabaseURL, Clock: d.clock})
	d.addUser(t, "mia@example.com", "Mia Member", "member")
	here, there := newBrowser(t, d.URL), newBrowser(t, other.URL)
	here.signIn("mia@example.com", "password-member")
	there.signIn("mia@example.com", "password-member")
	suspended := true
	_, err := d.owner.UpdateUser(context.Background(), "mia@example.com", client.UserPatch{Suspended: &suspended})
	require.NoError(t, err)
	_, path := here.get("/")
	require.Equal(t, "/signin", path, "the replica that suspended her")
	require.Eventually(t, func() bool {
		_, path := there.get("/")
		return path == "/signin"
	}, 30*time.Second, time.Millisecond, "the other replica hears of it")
}

// Behind a TLS-terminating proxy that aigate trusts, the cookies are Secure
// and __Host- prefixed, and the Origin that must match is the https one.
func TestSecureCookieBehindTLSProxy(t *testing.T) {
	t.Parallel()
	r := servertest.Start(t, servertest.Options{Clock: clock.NewManual(testNow), TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	viaProxy := func(method, path string, body url.Values, cookies ...*http.Cookie) *http.Response {
		req, err := http.NewRequest(method, r.URL+path, strings.NewReader(body.Encode()))
		require.NoError(t, err)
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "aigate.example.com")
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "https://aigate.example.com")
		}
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	named := func(resp *http.Response, name string) *http.Cookie {
		for _, ck := range resp.Cookies() {
			if ck.Name == name {
				return ck
			}
		}
		t.Fatalf("no %s cookie among %v", name, resp.Cookies())
		return nil
	}
	resp := viaProxy(http.MethodGet, "/setup", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	pre := named(resp, "__Host-aigate_csrf")
	require.True(t, pre.Secure)
	form := url.Values{"email": {"owner@example.com"}, "name": {"Olive"}, "password": {"owner-password"}, "csrf": {pre.Value}}
	resp = viaProxy(http.MethodPost, "/setup", form, pre)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	sess := named(resp, "__Host-aigate_session")
	require.True(t, sess.Secure)
	require.True(t, sess.HttpOnly)
	require.Equal(t, "/", sess.Path)
	require.Empty(t, sess.Domain)
	resp = viaProxy(http.MethodGet, "/connect", nil, sess)
	require.Equal(t, http.StatusOK, resp.StatusCode, "signed in over https")

	// The same cookie over plain HTTP is not this browser's session: a
	// Secure cookie never travels there, and the plain name is another.
	req, err := http.NewRequest(http.MethodGet, r.URL+"/connect", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: "aigate_session", Value: "forged"})
	resp, err = c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/signin"))
}

// A provider changed on one replica's dashboard is what every replica's
// dashboard shows, and what every replica's gateway serves.
func TestProviderChangesReachEveryReplica(t *testing.T) {
	t.Parallel()
	d := setup(t)
	other := servertest.Start(t, servertest.Options{DatabaseURL: d.DatabaseURL, Clock: d.clock})
	here, there := newBrowser(t, d.URL), newBrowser(t, other.URL)
	here.signIn("owner@example.com", d.ownerPwd)
	there.signIn("owner@example.com", d.ownerPwd)
	here.get("/providers/new")
	code, _ := here.post("/providers", url.Values{"name": {"openai"}, "type": {"openai"}, "display_name": {"OpenAI"},
		"api_key": {"sk-upstream-0123456789abcdef", "", ""}, "enabled": {"1"}})
	require.Equal(t, http.StatusOK, code, here.last)
	code, _ = there.get("/providers/openai")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, there.last, `<span class="state ok">ready</span>`)
	require.Contains(t, there.last, "sk-u...cdef", "the key, masked")

	token := d.gatewayToken(t, "owner@example.com")
	gatewayStatus := func() int {
		req, err := http.NewRequest(http.MethodGet, other.URL+"/ai/openai/v1/models/none", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	here.get("/providers/openai")
	code, _ = here.post("/providers/openai/disable", url.Values{})
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, here.last, "Provider disabled.")
	code, _ = there.get("/providers")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, there.last, `<span class="state off">disabled</span>`)
	require.Eventually(t, func() bool {
		return gatewayStatus() == http.StatusNotFound || gatewayStatus() == http.StatusServiceUnavailable
	},
		waitFor, time.Millisecond, "the other replica's gateway stops serving it")
}
