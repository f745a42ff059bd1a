package dashboard_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/clock"
	"github.com/aigate/aigate/internal/servertest"
	"github.com/aigate/aigate/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// browser is a cookie-keeping HTTP client of one replica's dashboard, as a
// browser without JavaScript would use it.
type browser struct {
	t    *testing.T
	base string
	http *http.Client
	// last is the body of the last page fetched.
	last string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, base: base, http: &http.Client{Jar: jar}}
}

// get fetches a page, following redirects; it returns the final status
// and URL path.
func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.http.Get(b.base + path)
	require.NoError(b.t, err)
	return b.read(resp)
}

func (b *browser) read(resp *http.Response) (int, string) {
	b.t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	b.last = string(raw)
	return resp.StatusCode, resp.Request.URL.Path
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the last page's forms.
func (b *browser) csrf() string {
	b.t.Helper()
	m := csrfField.FindStringSubmatch(b.last)
	require.NotNil(b.t, m, "the page has a form with a CSRF token:\n%s", b.last)
	return html.UnescapeString(m[1])
}

// post sends a form as the page's own form would: from this origin, with
// the last page's CSRF token unless form sets one.
func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	if !form.Has("csrf") {
		form.Set("csrf", b.csrf())
	}
	return b.postRaw(path, form, b.base)
}

func (b *browser) postRaw(path string, form url.Values, origin string) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := b.http.Do(req)
	require.NoError(b.t, err)
	return b.read(resp)
}

// signIn signs in with the sign-in form.
func (b *browser) signIn(email, password string) {
	b.t.Helper()
	code, path := b.get("/signin")
	require.Equal(b.t, http.StatusOK, code, b.last)
	require.Equal(b.t, "/signin", path)
	code, path = b.post("/signin", url.Values{"email": {email}, "password": {password}, "next": {"/"}})
	require.Equal(b.t, http.StatusOK, code, b.last)
	require.Equal(b.t, "/", path)
}

// deployment is a replica with an owner, and API clients as the owner.
type deployment struct {
	*servertest.Replica
	owner    *client.Client
	ownerPwd string
	clock    *clock.Manual
}

func setup(t *testing.T) *deployment {
	t.Helper()
	clk := clock.NewManual(testNow)
	r := servertest.Start(t, servertest.Options{Clock: clk})
	t.Cleanup(func() { dashboardLogs(t, r) })
	c, err := client.New(r.URL, "")
	require.NoError(t, err)
	t.Cleanup(c.Close)
	sess, err := c.CreateFirstUser(context.Background(), client.UserInput{Email: "owner@example.com", Name: "Olive Owner", Password: "owner-password"})
	require.NoError(t, err)
	owner, err := client.New(r.URL, sess.Token)
	require.NoError(t, err)
	t.Cleanup(owner.Close)
	return &deployment{Replica: r, owner: owner, ownerPwd: "owner-password", clock: clk}
}

// dashboardLogs prints what the dashboard logged when a test failed: a
// page's 500 says only its request ID.
func dashboardLogs(t *testing.T, r *servertest.Replica) {
	if !t.Failed() {
		return
	}
	for _, line := range strings.Split(r.Logs.String(), "\n") {
		if strings.Contains(line, "component=dashboard") {
			t.Log(line)
		}
	}
}

func (d *deployment) addUser(t *testing.T, email, name, role string) {
	t.Helper()
	_, err := d.owner.CreateUser(context.Background(), client.UserInput{Email: email, Name: name, Password: "password-" + role, Role: role})
	require.NoError(t, err)
}
