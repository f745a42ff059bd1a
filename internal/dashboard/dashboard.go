package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/buildinfo"
	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/httpserver"
)

//go:embed assets
var assets embed.FS

// Config is what the dashboard needs.
type Config struct {
	// API serves the admin API's routes (api.API.Handler).
	API    http.Handler
	Logger *slog.Logger
	// Now is the clock: the overview's "now", and cookie expiries.
	Now func() time.Time
	// HasUsers says whether any user exists: with none, the sign-in page
	// offers to create the first owner.
	HasUsers func(context.Context) (bool, error)
}

// Dashboard serves the pages.
type Dashboard struct {
	api      http.Handler
	anyUsers func(context.Context) (bool, error)
	logger   *slog.Logger
	now      func() time.Time
	pages    map[string]*template.Template
	static   http.Handler
}

// New parses the templates; an error is a broken build.
func New(cfg Config) (*Dashboard, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Dashboard{api: cfg.API, anyUsers: cfg.HasUsers, logger: cfg.Logger, now: cfg.Now, pages: map[string]*template.Template{}}
	names, err := fs.Glob(assets, "assets/templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "assets/templates/"), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(assets, "assets/templates/layout.html", "assets/templates/partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("parse dashboard template %s: %w", n, err)
		}
		d.pages[base] = t
	}
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		return nil, err
	}
	d.static = http.StripPrefix("/static/", http.FileServerFS(static))
	return d, nil
}

// role sets who a page is for. The API decides what each caller may see;
// this only keeps a member from an admin page's URL with a clear 403 and
// chooses the navigation.
type role []auth.Role

var (
	everyone = role{auth.RoleOwner, auth.RoleAuditor, auth.RoleMember}
	readers  = role{auth.RoleOwner, auth.RoleAuditor}
	owners   = role{auth.RoleOwner}
	// members is for a member's own views (My budgets), where an owner's
	// or auditor's API answers would be everyone's.
	members = role{auth.RoleMember}
)

// page is one row of the route table.
type page struct {
	pattern string
	who     role
	handle  func(w http.ResponseWriter, r *http.Request, s *session)
}

func (d *Dashboard) routes() []page {
	return []page{
		{"GET /{$}", everyone, d.overview},
		{"GET /requests", everyone, d.requests},
		{"GET /requests/{id}", everyone, d.request},
		{"GET /sessions/{session}", everyone, d.sessionRequests},
		{"GET /connect", everyone, d.connect},
		{"GET /tokens", everyone, d.tokens},
		{"POST /tokens", everyone, d.createToken},
		{"POST /tokens/{token}/revoke", everyone, d.revokeToken},
		{"GET /providers", readers, d.providers},
		{"GET /providers/new", owners, d.newProvider},
		{"POST /providers", owners, d.createProvider},
		{"GET /providers/{provider}", readers, d.provider},
		{"POST /providers/{provider}", owners, d.updateProvider},
		{"POST /providers/{provider}/{action}", owners, d.providerAction},
		{"GET /users", owners, d.users},
		{"POST /users", owners, d.createUser},
		{"GET /users/{user}", owners, d.user},
		{"POST /users/{user}", owners, d.updateUser},
		{"POST /users/{user}/delete", owners, d.deleteUser},
		{"POST /users/{user}/tokens/{token}/revoke", owners, d.revokeUserToken},
		{"GET /audit", readers, d.audit},
		{"GET /groups", readers, d.groups},
		{"POST /groups", owners, d.createGroup},
		{"GET /groups/{group}", readers, d.group},
		{"POST /groups/{group}/members", owners, d.addGroupMember},
		{"POST /groups/{group}/members/{user}/remove", owners, d.removeGroupMember},
		{"POST /groups/{group}/delete", owners, d.deleteGroup},
		{"GET /policies", readers, d.policies},
		{"POST /policies", owners, d.createPolicy},
		{"POST /policies/{policy}/delete", owners, d.deletePolicy},
		{"GET /budgets", members, d.budgets},
		{"GET /prices", everyone, d.prices},
		{"POST /prices", owners, d.setPrice},
		{"POST /prices/{price}/delete", owners, d.deletePrice},
	}
}

// nav is the navigation, in order; a link shows to the roles of its page.
// Budgets, prices and groups join here with the issue that builds them.
var nav = []struct {
	Path, Label string
	who         role
}{
	{"/", "Overview", everyone},
	{"/requests", "Requests", everyone},
	{"/providers", "Providers", readers},
	{"/users", "Users", owners},
	{"/audit", "Audit log", readers},
	{"/groups", "Groups", readers},
	{"/policies", "Policies", readers},
	{"/budgets", "My budgets", members},
	{"/prices", "Prices", everyone},
	{"/tokens", "My tokens", everyone},
	{"/connect", "Connect your tools", everyone},
}

// Mount registers the pages, sign-in and the assets on srv.
func (d *Dashboard) Mount(srv *httpserver.Server) {
	for _, p := range d.routes() {
		srv.Handle(p.pattern, d.guard(p))
	}
	srv.Handle("GET /signin", d.headers(http.HandlerFunc(d.signinForm)))
	srv.Handle("POST /signin", d.headers(http.HandlerFunc(d.signin)))
	srv.Handle("POST /signout", d.headers(http.HandlerFunc(d.signout)))
	srv.Handle("GET /setup", d.headers(http.HandlerFunc(d.setupForm)))
	srv.Handle("POST /setup", d.headers(http.HandlerFunc(d.setup)))
	srv.Handle("GET /static/", d.headers(http.HandlerFunc(d.serveStatic)))
}

// contentSecurityPolicy allows nothing inline and nothing from elsewhere:
// the pages' scripts and styles are files under /static/.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// headers adds the security headers every dashboard answer carries.
func (d *Dashboard) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			// Pages hold data a shared cache must never keep.
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func (d *Dashboard) serveStatic(w http.ResponseWriter, r *http.Request) {
	// The URLs carry the build version (assetURL), so a new release's files
	// are new URLs and old ones may be cached for long.
	w.Header().Set("Cache-Control", "public, max-age=86400")
	d.static.ServeHTTP(w, r)
}

// guard signs the request's session in, applies the page's role and runs it.
// POSTs must carry the session's CSRF token.
func (d *Dashboard) guard(p page) http.Handler {
	return d.headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := d.session(r)
		if errors.Is(err, errNoSession) {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			d.clearSession(w, r)
			d.fail(w, r, nil, http.StatusUnauthorized, "Your session has ended. Sign in again, then repeat what you were doing.")
			return
		}
		if err != nil {
			d.fail(w, r, nil, 0, err)
			return
		}
		if r.Method == http.MethodPost {
			if msg := d.checkPost(r, s.csrf); msg != "" {
				d.fail(w, r, s, http.StatusForbidden, msg)
				return
			}
		}
		if !slices.Contains(p.who, auth.Role(s.User.Role)) {
			d.fail(w, r, s, http.StatusForbidden, fmt.Sprintf("Your role (%s) may not see this page.", s.User.Role))
			return
		}
		p.handle(w, r, s)
	}))
}

// view is what every page template gets.
type view struct {
	Title   string
	Session *session
	Nav     []navLink
	CSRF    string
	Version string
	// Flash is a one-line notice (a change done), Error a failure to show.
	Flash, Error string
	Data         any
}

type navLink struct {
	Path, Label string
	Current     bool
}

// render writes a page with status (0 is 200).
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, s *session, status int, name, title string, data any) {
	t, ok := d.pages[name]
	if !ok {
		d.logger.Error("no dashboard template", "template", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v := view{Title: title, Session: s, Version: buildinfo.Version(), Data: data, Flash: flashes[r.URL.Query().Get("done")]}
	if s != nil {
		v.CSRF = s.csrf
		for _, n := range nav {
			if slices.Contains(n.who, auth.Role(s.User.Role)) {
				cur := r.URL.Path == n.Path || (n.Path != "/" && strings.HasPrefix(r.URL.Path, n.Path+"/"))
				v.Nav = append(v.Nav, navLink{Path: n.Path, Label: n.Label, Current: cur})
			}
		}
	}
	if e, ok := data.(interface{ pageError() string }); ok {
		v.Error = e.pageError()
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		d.logger.Error("render dashboard page", "template", name, "error", err, "request_id", httpserver.RequestID(r.Context()))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if status != 0 {
		w.WriteHeader(status)
	}
	_, _ = w.Write([]byte(b.String())) // a failed write is the browser gone
}

// problem is the error page's data.
type problem struct {
	Status  int
	Message string
}

func (p problem) pageError() string { return p.Message }

// fail answers with the error page. cause is a message for the user, or an
// error: the API's own errors are shown (they are written for users), and
// anything else is logged with the request ID and shown as that ID.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, s *session, status int, cause any) {
	msg := ""
	switch c := cause.(type) {
	case string:
		msg = c
	case error:
		var ce *client.Error
		if errors.As(c, &ce) {
			msg, status = apiMessage(ce), ce.Status
		} else {
			d.logger.Error("dashboard page failed", "path", r.URL.Path, "error", c, "request_id", httpserver.RequestID(r.Context()))
			msg = "Something went wrong on the server (request ID " + httpserver.RequestID(r.Context()) + "); the log has the cause."
			status = http.StatusInternalServerError
		}
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	d.render(w, r, s, status, "error", http.StatusText(status), problem{Status: status, Message: msg})
}

// apiMessage is an API error as one line for a page: the message, and the
// field details when there are any.
func apiMessage(e *client.Error) string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Detail != "" {
		b.WriteString(" " + e.Detail)
	}
	for _, v := range e.Validations {
		fmt.Fprintf(&b, " %s: %s.", v.Field, v.Detail)
	}
	return b.String()
}

// flashes are the notices a page shows after a change, by the code in its
// ?done= parameter: codes, not text, so a link cannot make aigate's page
// say what its sender wants.
var flashes = map[string]string{
	"provider-created":  "Provider created.",
	"provider-updated":  "Provider saved.",
	"provider-enabled":  "Provider enabled.",
	"provider-disabled": "Provider disabled.",
	"provider-deleted":  "Provider deleted. Its name stays reserved; restore it from the list of deleted providers.",
	"provider-restored": "Provider restored.",
	"user-created":      "User created.",
	"user-updated":      "User saved.",
	"user-deleted":      "User deleted.",
	"token-revoked":     "Token revoked.",
	"price-set":         "Price set. Requests from its effective date on are costed with it, on every replica.",
	"price-deleted":     "Price override deleted; the default applies again.",
	"signed-out":        "You are signed out.",
	"group-created":     "Group created.",
	"group-deleted":     "Group deleted.",
	"member-added":      "Member added.",
	"member-removed":    "Member removed.",
	"policy-created":    "Policy created. Replicas enforce it within moments.",
	"policy-deleted":    "Policy deleted.",
}

// seeOther sends the browser on after a change; done is the code of the
// notice the next page shows.
func seeOther(w http.ResponseWriter, r *http.Request, path, done string) {
	if done != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "done=" + url.QueryEscape(done)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}
