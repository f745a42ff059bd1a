package api

import (
	"net/http"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/policies"
)

func (a *API) listGroups(r *http.Request, _ *auth.Principal) (any, error) {
	gs, err := a.policies.ListGroups(r.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{"groups": gs}, nil
}

func (a *API) createGroup(r *http.Request, p *auth.Principal) (any, error) {
	var in policies.GroupInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return a.policies.CreateGroup(r.Context(), actorOf(p), in)
}

func (a *API) getGroup(r *http.Request, _ *auth.Principal) (any, error) {
	return a.policies.GetGroup(r.Context(), r.PathValue("group"))
}

func (a *API) updateGroup(r *http.Request, p *auth.Principal) (any, error) {
	var in policies.GroupPatch
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return a.policies.UpdateGroup(r.Context(), actorOf(p), r.PathValue("group"), in)
}

func (a *API) deleteGroup(r *http.Request, p *auth.Principal) (any, error) {
	return nil, a.policies.DeleteGroup(r.Context(), actorOf(p), r.PathValue("group"))
}

func (a *API) addGroupMember(r *http.Request, p *auth.Principal) (any, error) {
	return a.policies.AddMember(r.Context(), actorOf(p), r.PathValue("group"), userRef(r, p))
}

func (a *API) removeGroupMember(r *http.Request, p *auth.Principal) (any, error) {
	_, err := a.policies.RemoveMember(r.Context(), actorOf(p), r.PathValue("group"), userRef(r, p))
	return nil, err
}
