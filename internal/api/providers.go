package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/gateway"
	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/providers"
)

// providerJSON is a provider as owners and auditors see it: the whole view,
// plus the URL people set in their tools to use it.
type providerJSON struct {
	providers.Provider
	GatewayBaseURL string `json:"gateway_base_url"`
}

// memberProviderJSON is a provider as a member sees it: what they need to
// point a tool at it, and nothing of how it is set up (no id, base URL,
// settings, keys, warnings or state).
type memberProviderJSON struct {
	Name           string         `json:"name"`
	Type           providers.Type `json:"type"`
	DisplayName    string         `json:"display_name"`
	GatewayBaseURL string         `json:"gateway_base_url"`
}

// The forms of a provider list, in its "form" member: a client tells by it
// which one it got (an empty list has no providers to look at).
const (
	formFull  = "full"
	formShort = "short"
)

// gatewayBaseURL is where p is reached through the server the request came
// to. The public URL is the one the server decided for the public request
// (httpserver.PublicURL), never this request's Host: the dashboard calls
// the API in process with a synthetic request. Outside the server (no
// public URL in the context) it is the path alone.
func gatewayBaseURL(ctx context.Context, p providers.Provider) string {
	return gateway.ClientBaseURL(httpserver.PublicURL(ctx), p.Name, p.Type)
}

// withGatewayURL is p as owners and auditors see it. A provider whose row is
// ready but which this replica could not load (its keys do not decrypt,
// its Bedrock settings do not make a client) is shown broken, with why: the
// row alone would say ready while every request to it gets 503.
func (a *API) withGatewayURL(ctx context.Context, p providers.Provider) providerJSON {
	if p.State == providers.StateReady && a.serving != nil {
		if err := a.serving().Problem(p.Name); err != nil {
			p.State = "broken: " + err.Error()
		}
	}
	return providerJSON{Provider: p, GatewayBaseURL: gatewayBaseURL(ctx, p)}
}

func (a *API) listProviders(r *http.Request, p *auth.Principal) (any, error) {
	includeDeleted := false
	if v := r.URL.Query().Get("include_deleted"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, apperr.Invalid(apperr.Validation{Field: "include_deleted", Detail: "must be true or false"})
		}
		includeDeleted = b
	}
	member := p.Role == auth.RoleMember
	if member && includeDeleted {
		return nil, apperr.Forbidden("Members may list only the providers they may use; deleted providers are for owners and auditors.")
	}
	ps, err := a.providers.List(r.Context(), includeDeleted)
	if err != nil {
		return nil, err
	}
	if !member {
		out := make([]providerJSON, len(ps))
		for i, pr := range ps {
			out[i] = a.withGatewayURL(r.Context(), pr)
		}
		return map[string]any{"providers": out, "form": formFull}, nil
	}
	// Every member may use every enabled provider, until per-user policies
	// exist; List has left the deleted ones out.
	out := []memberProviderJSON{}
	for _, pr := range ps {
		if !pr.Enabled || pr.Deleted {
			continue
		}
		out = append(out, memberProviderJSON{Name: pr.Name, Type: pr.Type, DisplayName: pr.DisplayName, GatewayBaseURL: gatewayBaseURL(r.Context(), pr)})
	}
	return map[string]any{"providers": out, "form": formShort}, nil
}

func (a *API) createProvider(r *http.Request, p *auth.Principal) (any, error) {
	var in providers.Input
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return a.full(r)(a.providers.Create(r.Context(), actorOf(p), in))
}

func (a *API) getProvider(r *http.Request, _ *auth.Principal) (any, error) {
	return a.full(r)(a.providers.Get(r.Context(), r.PathValue("provider")))
}

func (a *API) updateProvider(r *http.Request, p *auth.Principal) (any, error) {
	var in providers.Patch
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return a.full(r)(a.providers.Update(r.Context(), actorOf(p), r.PathValue("provider"), in))
}

func (a *API) deleteProvider(r *http.Request, p *auth.Principal) (any, error) {
	return nil, a.providers.Delete(r.Context(), actorOf(p), r.PathValue("provider"))
}

func (a *API) restoreProvider(r *http.Request, p *auth.Principal) (any, error) {
	return a.full(r)(a.providers.Restore(r.Context(), actorOf(p), r.PathValue("provider")))
}

// full turns a providers call's result into the answer owners and auditors
// get.
func (a *API) full(r *http.Request) func(providers.Provider, error) (any, error) {
	return func(p providers.Provider, err error) (any, error) {
		if err != nil {
			return nil, err
		}
		return a.withGatewayURL(r.Context(), p), nil
	}
}
