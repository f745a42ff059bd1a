package api

import (
	"net/http"
	"strconv"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/providers"
)

func (a *API) listProviders(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	includeDeleted := false
	if v := r.URL.Query().Get("include_deleted"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return apperr.Invalid(apperr.Validation{Field: "include_deleted", Detail: "must be true or false"})
		}
		includeDeleted = b
	}
	ps, err := a.providers.List(r.Context(), includeDeleted)
	if err != nil {
		return err
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"providers": ps})
	return nil
}

func (a *API) createProvider(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in providers.Input
	if err := decode(r, &in); err != nil {
		return err
	}
	pr, err := a.providers.Create(r.Context(), actorOf(p), in)
	if err != nil {
		return err
	}
	httpserver.WriteJSON(w, http.StatusCreated, pr)
	return nil
}

func (a *API) getProvider(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	pr, err := a.providers.Get(r.Context(), r.PathValue("provider"))
	if err != nil {
		return err
	}
	httpserver.WriteJSON(w, http.StatusOK, pr)
	return nil
}

func (a *API) updateProvider(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in providers.Patch
	if err := decode(r, &in); err != nil {
		return err
	}
	pr, err := a.providers.Update(r.Context(), actorOf(p), r.PathValue("provider"), in)
	if err != nil {
		return err
	}
	httpserver.WriteJSON(w, http.StatusOK, pr)
	return nil
}

func (a *API) deleteProvider(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := a.providers.Delete(r.Context(), actorOf(p), r.PathValue("provider")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) restoreProvider(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	pr, err := a.providers.Restore(r.Context(), actorOf(p), r.PathValue("provider"))
	if err != nil {
		return err
	}
	httpserver.WriteJSON(w, http.StatusOK, pr)
	return nil
}
