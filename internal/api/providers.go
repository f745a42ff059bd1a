package api

import (
	"net/http"
	"strconv"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/providers"
)

func (a *API) listProviders(r *http.Request, _ *auth.Principal) (any, error) {
	includeDeleted := false
	if v := r.URL.Query().Get("include_deleted"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, apperr.Invalid(apperr.Validation{Field: "include_deleted", Detail: "must be true or false"})
		}
		includeDeleted = b
	}
	ps, err := a.providers.List(r.Context(), includeDeleted)
	if err != nil {
		return nil, err
	}
	return map[string]any{"providers": ps}, nil
}

func (a *API) createProvider(r *http.Request, p *auth.Principal) (any, error) {
	var in providers.Input
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return a.providers.Create(r.Context(), actorOf(p), in)
}

func (a *API) getProvider(r *http.Request, _ *auth.Principal) (any, error) {
	return a.providers.Get(r.Context(), r.PathValue("provider"))
}

func (a *API) updateProvider(r *http.Request, p *auth.Principal) (any, error) {
	var in providers.Patch
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return a.providers.Update(r.Context(), actorOf(p), r.PathValue("provider"), in)
}

func (a *API) deleteProvider(r *http.Request, p *auth.Principal) (any, error) {
	return nil, a.providers.Delete(r.Context(), actorOf(p), r.PathValue("provider"))
}

func (a *API) restoreProvider(r *http.Request, p *auth.Principal) (any, error) {
	return a.providers.Restore(r.Context(), actorOf(p), r.PathValue("provider"))
}
