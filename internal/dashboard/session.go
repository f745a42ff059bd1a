package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/users"
)

// session is a signed-in browser: its user as the API showed it, and a
// client of the API as that user.
type session struct {
	User  client.User
	api   *client.Client
	token string
	csrf  string
}

// IsOwner and the like let templates offer only what the role may do.
func (s *session) IsOwner() bool   { return s.User.Role == string(auth.RoleOwner) }
func (s *session) IsReader() bool  { return s.IsOwner() || s.User.Role == string(auth.RoleAuditor) }
func (s *session) IsMember() bool  { return s.User.Role == string(auth.RoleMember) }
func (s *session) UserID() string  { return s.User.ID }
func (s *session) Email() string   { return s.User.Email }
func (s *session) Display() string { return s.User.Name }

var errNoSession = errors.New("no session")

// maxFormBytes bounds a dashboard form; the largest holds a few API keys.
const maxFormBytes = 64 << 10

// Cookie names. Over HTTPS the __Host- prefix makes the browser refuse a
// cookie of that name unless it is Secure, host-only and for the whole
// path, so neither a sibling subdomain nor plain HTTP can plant one.
const (
	sessionCookie       = "aigate_session"
	secureSessionCookie = "__Host-aigate_session"
	csrfCookie          = "aigate_csrf"
	secureCSRFCookie    = "__Host-aigate_csrf"
)

// https reports whether the browser reached aigate over HTTPS, directly or
// through a trusted proxy that said so.
func https(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(publicURL(r), "https:")
}

func cookieName(r *http.Request, plain, secure string) string {
	if https(r) {
		return secure
	}
	return plain
}

func (d *Dashboard) setCookie(w http.ResponseWriter, r *http.Request, plain, secure, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: cookieName(r, plain, secure), Value: value, Path: "/", HttpOnly: true, Secure: https(r),
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else if maxAge > 0 {
		c.MaxAge = int(maxAge.Seconds())
		c.Expires = d.now().Add(maxAge)
	}
	http.SetCookie(w, c)
}

func (d *Dashboard) clearSession(w http.ResponseWriter, r *http.Request) {
	d.setCookie(w, r, sessionCookie, secureSessionCookie, "", -1)
}

// apiAs is a client of the API as token's user (none for "").
func (d *Dashboard) apiAs(r *http.Request, token string) *client.Client {
	return client.NewInProcess(d.api, token, r.UserAgent())
}

// session is the request's signed-in browser, or errNoSession. It asks the
// API who the token's user is on every request: the auth cache makes that
// cheap, and a suspended, deleted or revoked session ends at once.
func (d *Dashboard) session(r *http.Request) (*session, error) {
	c, err := r.Cookie(cookieName(r, sessionCookie, secureSessionCookie))
	if err != nil || c.Value == "" {
		return nil, errNoSession
	}
	if _, _, ok := auth.ParseToken(c.Value); !ok {
		return nil, errNoSession
	}
	api := d.apiAs(r, c.Value)
	u, err := api.GetUser(r.Context(), "me")
	if client.IsStatus(err, http.StatusUnauthorized) || client.IsStatus(err, http.StatusForbidden) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	return &session{User: u, api: api, token: c.Value, csrf: sessionCSRF(c.Value)}, nil
}

// sessionCSRF is a signed-in browser's CSRF token: derived from the session
// token, which only that browser and this server know, so nothing needs
// storing and every replica computes the same.
func sessionCSRF(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("aigate dashboard csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// preSessionCSRF is the sign-in and setup forms' CSRF token: a random value
// in a cookie, repeated in the form (double submit). It keeps another site
// from signing a browser in to an account of the attacker's.
func (d *Dashboard) preSessionCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(cookieName(r, csrfCookie, secureCSRFCookie)); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	v := base64.RawURLEncoding.EncodeToString(b)
	d.setCookie(w, r, csrfCookie, secureCSRFCookie, v, 0)
	return v
}

// checkPost refuses a POST from another site or without the CSRF token
// want; it parses the form. The answer is a message for the user, "" if
// the POST may go on.
func (d *Dashboard) checkPost(r *http.Request, want string) string {
	const stale = "This form's security token is missing or out of date. Reload the page and send the form again."
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return "This form was sent from another site, so it was refused. Use aigate's own pages."
	}
	if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(r, origin) {
		return "This form was sent from another site, so it was refused. Use aigate's own pages."
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return "The form could not be read: " + formError(err)
	}
	got := r.PostForm.Get("csrf")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return stale
	}
	return ""
}

func formError(err error) string {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return "it is larger than 64 KiB."
	}
	return "it is not a valid form."
}

// sameOrigin reports whether a browser's Origin header is this server as
// the browser reached it.
func sameOrigin(r *http.Request, origin string) bool {
	o, err := url.Parse(origin)
	if err != nil || o.Host == "" {
		return false
	}
	if pub, err := url.Parse(publicURL(r)); err == nil && pub.Host != "" {
		return strings.EqualFold(o.Host, pub.Host) && o.Scheme == pub.Scheme
	}
	return strings.EqualFold(o.Host, r.Host)
}

// safeNext is where to go after signing in: a path on this server only, so
// the sign-in page cannot send anyone elsewhere.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\x00\r\n\t") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

// signinData is the sign-in form's data.
type signinData struct {
	CSRF, Email, Next, Problem string
}

func (s signinData) pageError() string { return s.Problem }

func (d *Dashboard) signinForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, err := d.session(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if some, err := d.hasUsers(r); err == nil && !some {
		http.Redirect(w, r, "/setup", http.StatusSeeOther)
		return
	}
	d.render(w, r, nil, 0, "signin", "Sign in", signinData{CSRF: d.preSessionCSRF(w, r), Next: next})
}

func (d *Dashboard) signin(w http.ResponseWriter, r *http.Request) {
	want := ""
	if c, err := r.Cookie(cookieName(r, csrfCookie, secureCSRFCookie)); err == nil {
		want = c.Value
	}
	form := signinData{CSRF: d.preSessionCSRF(w, r)}
	if msg := d.checkPost(r, want); msg != "" {
		form.Problem = msg
		d.render(w, r, nil, http.StatusForbidden, "signin", "Sign in", form)
		return
	}
	form.Email, form.Next = r.PostForm.Get("email"), safeNext(r.PostForm.Get("next"))
	sess, err := d.apiAs(r, "").Login(r.Context(), form.Email, r.PostForm.Get("password"))
	var ce *client.Error
	if errors.As(err, &ce) {
		form.Problem = apiMessage(ce)
		d.render(w, r, nil, ce.Status, "signin", "Sign in", form)
		return
	}
	if err != nil {
		d.fail(w, r, nil, 0, err)
		return
	}
	d.setCookie(w, r, sessionCookie, secureSessionCookie, sess.Token, users.LoginTokenLifetime)
	http.Redirect(w, r, form.Next, http.StatusSeeOther)
}

func (d *Dashboard) signout(w http.ResponseWriter, r *http.Request) {
	s, err := d.session(r)
	if err != nil {
		d.clearSession(w, r)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	if msg := d.checkPost(r, s.csrf); msg != "" {
		d.fail(w, r, s, http.StatusForbidden, msg)
		return
	}
	id, _, _ := auth.ParseToken(s.token) // session checked it
	if err := s.api.RevokeToken(r.Context(), "me", id); err != nil && !client.IsStatus(err, http.StatusNotFound) {
		d.fail(w, r, s, 0, err)
		return
	}
	d.clearSession(w, r)
	seeOther(w, r, "/signin", "signed-out")
}

// setupData is the first-owner form's data.
type setupData struct {
	CSRF, Email, Name, Problem string
}

func (s setupData) pageError() string { return s.Problem }

func (d *Dashboard) hasUsers(r *http.Request) (bool, error) {
	if d.anyUsers == nil {
		return true, nil
	}
	return d.anyUsers(r.Context())
}

func (d *Dashboard) setupForm(w http.ResponseWriter, r *http.Request) {
	if some, err := d.hasUsers(r); err != nil || some {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	d.render(w, r, nil, 0, "setup", "Create the first owner", setupData{CSRF: d.preSessionCSRF(w, r)})
}

func (d *Dashboard) setup(w http.ResponseWriter, r *http.Request) {
	want := ""
	if c, err := r.Cookie(cookieName(r, csrfCookie, secureCSRFCookie)); err == nil {
		want = c.Value
	}
	form := setupData{CSRF: d.preSessionCSRF(w, r)}
	if msg := d.checkPost(r, want); msg != "" {
		form.Problem = msg
		d.render(w, r, nil, http.StatusForbidden, "setup", "Create the first owner", form)
		return
	}
	form.Email, form.Name = r.PostForm.Get("email"), r.PostForm.Get("name")
	sess, err := d.apiAs(r, "").CreateFirstUser(r.Context(), client.UserInput{Email: form.Email, Name: form.Name, Password: r.PostForm.Get("password")})
	var ce *client.Error
	if errors.As(err, &ce) {
		form.Problem = apiMessage(ce)
		if ce.Status == http.StatusConflict {
			form.Problem = "This aigate already has users: sign in instead."
		}
		d.render(w, r, nil, ce.Status, "setup", "Create the first owner", form)
		return
	}
	if err != nil {
		d.fail(w, r, nil, 0, err)
		return
	}
	d.setCookie(w, r, sessionCookie, secureSessionCookie, sess.Token, users.LoginTokenLifetime)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
