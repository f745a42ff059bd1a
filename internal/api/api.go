// Package api is the admin REST API under /api/v1: the route table with each
// route's access rule (the one place roles are checked) and success status
// (the one place a success status is chosen), caller authentication, JSON
// decoding and the mapping of domain errors to HTTP answers. Handlers are
// thin layers over the domain packages.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/gateway"
	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/policies"
	"github.com/aigate/aigate/internal/pricing"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/users"
)

// API holds the handlers' dependencies.
type API struct {
	db        *database.DB
	authn     *auth.Authenticator
	users     *users.Service
	providers *providers.Service
	policies  *policies.Service // see UsePolicies
	logger    *slog.Logger
	now       func() time.Time
	// serving is the replica's current provider snapshot (nil: none), for
	// the providers' state as this replica serves them.
	serving func() *gateway.Snapshot
	// prices is the price book service (nil: none); see PricesFrom.
	prices *pricing.Service
}

// New returns the API. now is the clock ("today" in usage questions).
func New(db *database.DB, authn *auth.Authenticator, us *users.Service, ps *providers.Service, logger *slog.Logger, now func() time.Time) *API {
	if now == nil {
		now = time.Now
	}
	return &API{db: db, authn: authn, users: us, providers: ps, logger: logger, now: now}
}

// ServeFrom makes the providers' state say what the snapshot that current
// returns can serve: this replica's gateway (gateway.Reloader.Snapshot).
func (a *API) ServeFrom(current func() *gateway.Snapshot) { a.serving = current }

// rule decides whether p may call a route; r gives access to path values
// for "self" rules, which may look the user up (hence the error). p is nil
// for unauthenticated callers.
type rule func(p *auth.Principal, r *http.Request) (bool, error)

// public routes need no token.
var public rule = nil

// roles allows the listed roles.
func roles(allowed ...auth.Role) rule {
	return func(p *auth.Principal, _ *http.Request) (bool, error) {
		for _, a := range allowed {
			if p.Role == a {
				return true, nil
			}
		}
		return false, nil
	}
}

// selfOr allows the user named by the {user} path value, and the listed
// roles. "Named" is decided by user ID, never by comparing spellings: the
// path value ("me", an id, or an email normalised by the one email rule) is
// looked up, and the {user} path value is then replaced by the ID found, so
// the handler acts on exactly the user this rule checked, even if an email
// changes hands in between.
func (a *API) selfOr(allowed ...auth.Role) rule {
	byRole := roles(allowed...)
	return func(p *auth.Principal, r *http.Request) (bool, error) {
		id, err := a.resolveUser(r.Context(), p, r.PathValue("user"))
		if err != nil {
			return false, err
		}
		if id != uuid.Nil {
			r.SetPathValue("user", id.String())
			if id == p.UserID {
				return true, nil
			}
		}
		return byRole(p, r)
	}
}

// resolveUser returns the ID of the user ref names, or uuid.Nil if there is
// none: callers who may not see other users then get the same 403 whether
// or not the user exists, and owners get the handler's 404.
func (a *API) resolveUser(ctx context.Context, p *auth.Principal, ref string) (uuid.UUID, error) {
	if ref == "me" {
		return p.UserID, nil
	}
	id, err := a.users.Resolve(ctx, ref)
	if e, ok := apperr.As(err); ok && e.Kind == apperr.KindNotFound {
		return uuid.Nil, nil
	}
	return id, err
}

// handler does a route's work and returns the body to answer with; wrap
// writes it with the route's status.
type handler func(r *http.Request, p *auth.Principal) (any, error)

// route is one row of the route table: the pattern, who may call it, the
// status it answers with when it succeeds (the one status, also recorded in
// the audit entries the request writes: domain packages know nothing of
// HTTP), and the handler.
type route struct {
	pattern string
	allow   rule
	status  int
	handle  handler
}

func (a *API) routes() []route {
	owner, auditor, member := auth.RoleOwner, auth.RoleAuditor, auth.RoleMember
	ok, created, noContent := http.StatusOK, http.StatusCreated, http.StatusNoContent
	return []route{
		{"POST /api/v1/users/first", public, created, a.createFirstUser},
		{"POST /api/v1/login", public, ok, a.login},
		{"GET /api/v1/users", roles(owner), ok, a.listUsers},
		{"POST /api/v1/users", roles(owner), created, a.createUser},
		{"GET /api/v1/users/{user}", a.selfOr(owner), ok, a.getUser},
		{"PATCH /api/v1/users/{user}", roles(owner), ok, a.updateUser},
		{"DELETE /api/v1/users/{user}", roles(owner), noContent, a.deleteUser},
		{"GET /api/v1/users/{user}/tokens", a.selfOr(owner), ok, a.listTokens},
		{"POST /api/v1/users/{user}/tokens", a.selfOr(owner), created, a.createToken},
		{"DELETE /api/v1/users/{user}/tokens/{token}", a.selfOr(owner), noContent, a.revokeToken},
		// Members too: the handler answers them the enabled providers only,
		// in the short form.
		{"GET /api/v1/providers", roles(owner, auditor, member), ok, a.listProviders},
		{"POST /api/v1/providers", roles(owner), created, a.createProvider},
		{"GET /api/v1/providers/{provider}", roles(owner, auditor), ok, a.getProvider},
		{"PATCH /api/v1/providers/{provider}", roles(owner), ok, a.updateProvider},
		{"DELETE /api/v1/providers/{provider}", roles(owner), noContent, a.deleteProvider},
		{"POST /api/v1/providers/{provider}/restore", roles(owner), ok, a.restoreProvider},
		{"GET /api/v1/audit", roles(owner, auditor), ok, a.listAudit},
		// Members too: the handlers narrow what a member sees to their own.
		{"GET /api/v1/usage", roles(owner, auditor, member), ok, a.getUsage},
		{"GET /api/v1/interceptions", roles(owner, auditor, member), ok, a.listInterceptions},
		// A member asking for someone else's gets the 404 of an unknown id.
		{"GET /api/v1/interceptions/{interception}", roles(owner, auditor, member), ok, a.getInterception},
		{"GET /api/v1/groups", roles(owner, auditor), ok, a.listGroups},
		{"POST /api/v1/groups", roles(owner), created, a.createGroup},
		{"GET /api/v1/groups/{group}", roles(owner, auditor), ok, a.getGroup},
		{"PATCH /api/v1/groups/{group}", roles(owner), ok, a.updateGroup},
		{"DELETE /api/v1/groups/{group}", roles(owner), noContent, a.deleteGroup},
		{"PUT /api/v1/groups/{group}/members/{user}", roles(owner), ok, a.addGroupMember},
		{"DELETE /api/v1/groups/{group}/members/{user}", roles(owner), noContent, a.removeGroupMember},
		// Members too: the handlers show a member only the policies that
		// apply to them, and of a per-member policy their own window.
		{"GET /api/v1/policies", roles(owner, auditor, member), ok, a.listPolicies},
		{"POST /api/v1/policies", roles(owner), created, a.createPolicy},
		{"GET /api/v1/policies/{policy}", roles(owner, auditor, member), ok, a.getPolicy},
		{"PATCH /api/v1/policies/{policy}", roles(owner), ok, a.updatePolicy},
		{"DELETE /api/v1/policies/{policy}", roles(owner), noContent, a.deletePolicy},
		{"GET /api/v1/policies/{policy}/status", roles(owner, auditor, member), ok, a.policyStatus},
		// Members too: what their requests cost is no secret to them.
		{"GET /api/v1/prices", roles(owner, auditor, member), ok, a.listPrices},
		{"PUT /api/v1/prices", roles(owner), ok, a.setPrice},
		{"POST /api/v1/prices/import", roles(owner), ok, a.importPrices},
		{"DELETE /api/v1/prices/{price}", roles(owner), noContent, a.deletePrice},
	}
}

// Mount registers every route on srv.
func (a *API) Mount(srv *httpserver.Server) {
	for _, rt := range a.routes() {
		srv.Handle(rt.pattern, a.wrap(rt))
	}
}

// Handler serves the API's routes alone, for callers in this process: the
// dashboard calls the API through it (client.NewInProcess), so a page shows
// exactly what the API answers under exactly the API's access rules, with
// no second reading of roles, filters or validation. The request's context
// must come from the public server (request ID, client IP).
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.routes() {
		mux.Handle(rt.pattern, a.wrap(rt))
	}
	return mux
}

// wrap runs a route: it checks the path and query values, authenticates the
// caller and applies the route's access rule before the handler runs, and
// answers with the route's status.
func (a *API) wrap(rt route) http.Handler {
	pathNames := wildcards(rt.pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := audit.WithMeta(r.Context(), audit.Meta{
			RequestID: httpserver.RequestID(r.Context()), IP: httpserver.ClientIP(r.Context()), UserAgent: recordable(r.UserAgent(), maxUserAgent),
			StatusCode: rt.status,
		})
		r = r.WithContext(ctx)
		// Before authentication, which looks the token up: a request the
		// API refuses reaches neither the database nor an access rule.
		if err := checkParams(r, pathNames); err != nil {
			a.writeErr(w, r, err)
			return
		}
		var p *auth.Principal
		if rt.allow != nil {
			principal, err := a.authenticate(r)
			if err != nil {
				a.writeErr(w, r, err)
				return
			}
			// Before the route's rule, which may look a user up: a token
			// without the api scope gets one answer on every route,
			// whatever its user's role.
			if !principal.HasScope(auth.ScopeAPI) {
				a.writeErr(w, r, apperr.Forbidden("This token may not be used on the admin API: it lacks the api scope (its scopes: %s). "+
					"Use the token `aigate login` stores, or create one with `aigate tokens create NAME --scope api`.", auth.JoinScopes(principal.Scopes)))
				return
			}
			p = &principal
			r = r.WithContext(auth.WithPrincipal(r.Context(), principal))
			allowed, err := rt.allow(p, r)
			if err != nil {
				a.writeErr(w, r, err)
				return
			}
			if !allowed {
				a.writeErr(w, r, apperr.Forbidden("Your role (%s) may not do this.", p.Role))
				return
			}
		}
		body, err := rt.handle(r, p)
		switch {
		case err != nil:
			a.writeErr(w, r, err)
		case rt.status == http.StatusNoContent:
			w.WriteHeader(rt.status)
		default:
			httpserver.WriteJSON(w, rt.status, body)
		}
	})
}

func (a *API) authenticate(r *http.Request) (auth.Principal, error) {
	token := auth.TokenFromRequest(r)
	if token == "" {
		return auth.Principal{}, apperr.Unauthorized("Authentication required: send an aigate API token as 'Authorization: Bearer <token>'.")
	}
	p, err := a.authn.Authenticate(r.Context(), token)
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, auth.ErrSuspendedUser):
		return auth.Principal{}, apperr.Unauthorized("This token's user is suspended.")
	case errors.Is(err, auth.ErrExpiredToken):
		return auth.Principal{}, apperr.Unauthorized("This token has expired; log in again or create a new token.")
	case errors.Is(err, auth.ErrMalformedToken), errors.Is(err, auth.ErrUnknownToken):
		return auth.Principal{}, apperr.Unauthorized("This token is not valid.")
	default:
		return auth.Principal{}, err
	}
}

var kindStatus = map[apperr.Kind]int{
	apperr.KindInvalid:      http.StatusBadRequest,
	apperr.KindUnauthorized: http.StatusUnauthorized,
	apperr.KindForbidden:    http.StatusForbidden,
	apperr.KindNotFound:     http.StatusNotFound,
	apperr.KindConflict:     http.StatusConflict,
	apperr.KindThrottled:    http.StatusTooManyRequests,
}

// writeErr answers a domain error with its status and message; anything
// else is logged with the request ID and answered with a bare 500.
func (a *API) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := apperr.As(err); ok {
		vs := make([]httpserver.Validation, len(e.Validations))
		for i, v := range e.Validations {
			vs[i] = httpserver.Validation{Field: v.Field, Detail: v.Detail}
		}
		if e.Kind == apperr.KindThrottled {
			w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds()+0.999)))
		}
		httpserver.WriteError(w, r, kindStatus[e.Kind], e.Message, "", vs...)
		return
	}
	if errors.Is(err, httpserver.ErrBodyTimeout) {
		httpserver.WriteBodyTimeout(w, r, err)
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away; nobody reads an answer
	}
	a.logger.Error("request failed", "request_id", httpserver.RequestID(r.Context()), "method", r.Method, "path", r.URL.Path, "error", err)
	httpserver.WriteError(w, r, http.StatusInternalServerError, "Internal error.", "The error was logged with this request's ID.")
}

func actorOf(p *auth.Principal) audit.Actor {
	return audit.Actor{ID: p.UserID.String(), Email: p.Email}
}

// userRef is the {user} path value with "me" resolved. On selfOr routes the
// rule has already replaced it by the ID of the user it checked.
func userRef(r *http.Request, p *auth.Principal) string {
	ref := r.PathValue("user")
	if ref == "me" && p != nil {
		return p.UserID.String()
	}
	return ref
}
