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

func (a *API) createFirstUser(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var in userInput
	if err := decode(r, &in); err != nil {
		return err
	}
	u, token, err := a.users.CreateFirst(r.Context(), users.Input{Email: in.Email, Name: in.Name, Password: in.Password})
	if err != nil {
		return err
	}
	httpserver.WriteJSON(w, http.StatusCreated, map[string]any{"user": u, "token": token})
	return nil
}

func (a *API) login(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	u, token, err := a.users.Login(r.Context(), in.Email, in.Password, clientIP(r))
	if err != nil {
		return err
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"user": u, "token": token})
	return nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	us, err := a.users.List(r.Context())
	if err != nil {
		return err
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"users": us})
	return nil
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in userInput
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := a.users.Create(r.Context(), actorOf(p), users.Input(in))
	if err != nil {
		return err
	}
	httpserver.WriteJSON(w, http.StatusCreated, u)
	return nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	u, err := a.users.Get(r.Context(), userRef(r, p))
	if err != nil {
		return err
	}
	httpserver.WriteJSON(w, http.StatusOK, u)
	return nil
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in struct {
		Email     *string `json:"email"`
		Name      *string `json:"name"`
		Password  *string `json:"password"`
		Role      *string `json:"role"`
		Suspended *bool   `json:"suspended"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := a.users.Update(r.Context(), actorOf(p), userRef(r, p), users.Patch(in))
	if err != nil {
		return err
	}
	httpserver.WriteJSON(w, http.StatusOK, u)
	return nil
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := a.users.Delete(r.Context(), actorOf(p), userRef(r, p)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ts, err := a.users.ListTokens(r.Context(), userRef(r, p))
	if err != nil {
		return err
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"tokens": ts})
	return nil
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in struct {
		Name      string     `json:"name"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	t, secret, err := a.users.CreateToken(r.Context(), actorOf(p), userRef(r, p), in.Name, in.ExpiresAt)
	if err != nil {
		return err
	}
	httpserver.WriteJSON(w, http.StatusCreated, map[string]any{"api_token": t, "token": secret})
	return nil
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := a.users.RevokeToken(r.Context(), actorOf(p), userRef(r, p), r.PathValue("token")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
