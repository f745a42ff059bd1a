package api

import (
	"net/http"
	"time"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/users"
)

type userInput struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

func (a *API) createFirstUser(r *http.Request, _ *auth.Principal) (any, error) {
	var in userInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	u, token, err := a.users.CreateFirst(r.Context(), users.Input{Email: in.Email, Name: in.Name, Password: in.Password})
	if err != nil {
		return nil, err
	}
	return map[string]any{"user": u, "token": token}, nil
}

func (a *API) login(r *http.Request, _ *auth.Principal) (any, error) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	u, token, err := a.users.Login(r.Context(), in.Email, in.Password, httpserver.ClientIP(r.Context()))
	if err != nil {
		return nil, err
	}
	return map[string]any{"user": u, "token": token}, nil
}

func (a *API) listUsers(r *http.Request, _ *auth.Principal) (any, error) {
	us, err := a.users.List(r.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{"users": us}, nil
}

func (a *API) createUser(r *http.Request, p *auth.Principal) (any, error) {
	var in userInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return a.users.Create(r.Context(), actorOf(p), users.Input(in))
}

func (a *API) getUser(r *http.Request, p *auth.Principal) (any, error) {
	return a.users.Get(r.Context(), userRef(r, p))
}

func (a *API) updateUser(r *http.Request, p *auth.Principal) (any, error) {
	var in struct {
		Email     *string `json:"email"`
		Name      *string `json:"name"`
		Password  *string `json:"password"`
		Role      *string `json:"role"`
		Suspended *bool   `json:"suspended"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return a.users.Update(r.Context(), actorOf(p), userRef(r, p), users.Patch(in))
}

func (a *API) deleteUser(r *http.Request, p *auth.Principal) (any, error) {
	return nil, a.users.Delete(r.Context(), actorOf(p), userRef(r, p))
}

func (a *API) listTokens(r *http.Request, p *auth.Principal) (any, error) {
	ts, err := a.users.ListTokens(r.Context(), userRef(r, p))
	if err != nil {
		return nil, err
	}
	return map[string]any{"tokens": ts}, nil
}

func (a *API) createToken(r *http.Request, p *auth.Principal) (any, error) {
	var in struct {
		Name      string     `json:"name"`
		ExpiresAt *time.Time `json:"expires_at"`
		// Absent or null: users.DefaultTokenScopes.
		Scopes []string `json:"scopes"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	t, secret, err := a.users.CreateToken(r.Context(), actorOf(p), userRef(r, p), users.TokenInput(in))
	if err != nil {
		return nil, err
	}
	return map[string]any{"api_token": t, "token": secret}, nil
}

func (a *API) revokeToken(r *http.Request, p *auth.Principal) (any, error) {
	return nil, a.users.RevokeToken(r.Context(), actorOf(p), userRef(r, p), r.PathValue("token"))
}
