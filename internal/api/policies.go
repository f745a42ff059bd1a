package api

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/policies"
)

// UsePolicies gives the API its groups and policies service; set it before
// the routes serve.
func (a *API) UsePolicies(ps *policies.Service) { a.policies = ps }

func (a *API) listPolicies(r *http.Request, p *auth.Principal) (any, error) {
	var (
		vs  []policies.View
		err error
	)
	if p.Role == auth.RoleMember {
		vs, err = a.policies.ListFor(r.Context(), p.UserID)
	} else {
		vs, err = a.policies.List(r.Context())
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"policies": vs}, nil
}

// visiblePolicy is the policy the {policy} path value names, as the caller
// may see it: a member sees only the enabled policies that apply to them,
// and gets the 404 of an unknown policy for any other.
func (a *API) visiblePolicy(r *http.Request, p *auth.Principal) (policies.View, error) {
	if p.Role == auth.RoleMember {
		return a.policies.GetFor(r.Context(), r.PathValue("policy"), p.UserID)
	}
	return a.policies.Get(r.Context(), r.PathValue("policy"))
}

func (a *API) getPolicy(r *http.Request, p *auth.Principal) (any, error) {
	return a.visiblePolicy(r, p)
}

func (a *API) createPolicy(r *http.Request, p *auth.Principal) (any, error) {
	var in policies.Input
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return a.policies.Create(r.Context(), actorOf(p), in)
}

func (a *API) updatePolicy(r *http.Request, p *auth.Principal) (any, error) {
	var in policies.Patch
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return a.policies.Update(r.Context(), actorOf(p), r.PathValue("policy"), in)
}

func (a *API) deletePolicy(r *http.Request, p *auth.Principal) (any, error) {
	return nil, a.policies.Delete(r.Context(), actorOf(p), r.PathValue("policy"))
}

// policyStatus answers where the policy's current window stands: its pool,
// or every member's window of a per-member policy; a member gets their own
// alone.
func (a *API) policyStatus(r *http.Request, p *auth.Principal) (any, error) {
	v, err := a.visiblePolicy(r, p)
	if err != nil {
		return nil, err
	}
	only := uuid.Nil
	if p.Role == auth.RoleMember {
		only = p.UserID
	}
	sts, err := a.policies.Statuses(r.Context(), v, a.now(), only)
	if err != nil {
		return nil, err
	}
	return map[string]any{"policy": v.Name, "kind": v.Kind, "per_member": v.PerMember, "statuses": sts}, nil
}
