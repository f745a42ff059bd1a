package dashboard

import (
	"net/http"
	"strconv"
	"time"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/client"
)

// roleNames are the roles a user may be given, for the forms.
var roleNames = []string{string(auth.RoleMember), string(auth.RoleAuditor), string(auth.RoleOwner)}

type usersData struct {
	Users   []client.User
	Roles   []string
	Form    client.UserInput
	Fields  map[string]string
	Problem string
}

func (u usersData) pageError() string { return u.Problem }

func (d *Dashboard) users(w http.ResponseWriter, r *http.Request, s *session) {
	d.renderUsers(w, r, s, 0, usersData{Form: client.UserInput{Role: string(auth.RoleMember)}})
}

func (d *Dashboard) renderUsers(w http.ResponseWriter, r *http.Request, s *session, status int, data usersData) {
	list, err := s.api.ListUsers(r.Context())
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	data.Users, data.Roles = list.Users, roleNames
	d.render(w, r, s, status, "users", "Users", data)
}

func (d *Dashboard) createUser(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	in := client.UserInput{Email: f.Get("email"), Name: f.Get("name"), Password: f.Get("password"), Role: f.Get("role")}
	u, err := s.api.CreateUser(r.Context(), in)
	if err != nil {
		fields, msg, ok := fieldErrors(err)
		if !ok {
			d.fail(w, r, s, 0, err)
			return
		}
		in.Password = ""
		d.renderUsers(w, r, s, statusOf(err), usersData{Form: in, Fields: fields, Problem: msg})
		return
	}
	seeOther(w, r, "/users/"+u.ID, "user-created")
}

type userData struct {
	User    client.User
	Roles   []string
	Tokens  []client.Token
	Fields  map[string]string
	Problem string
	Self    bool
}

func (u userData) pageError() string { return u.Problem }

func (d *Dashboard) user(w http.ResponseWriter, r *http.Request, s *session) {
	d.renderUser(w, r, s, 0, userData{})
}

func (d *Dashboard) renderUser(w http.ResponseWriter, r *http.Request, s *session, status int, data userData) {
	ctx := r.Context()
	u, err := s.api.GetUser(ctx, r.PathValue("user"))
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	toks, err := s.api.ListTokens(ctx, u.ID)
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	data.User, data.Roles, data.Tokens, data.Self = u, roleNames, toks.Tokens, u.ID == s.User.ID
	d.render(w, r, s, status, "user", u.Email, data)
}

func (d *Dashboard) updateUser(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	email, name, role := f.Get("email"), f.Get("name"), f.Get("role")
	suspended := f.Get("suspended") != ""
	p := client.UserPatch{Email: &email, Name: &name, Role: &role, Suspended: &suspended}
	if pw := f.Get("password"); pw != "" {
		p.Password = &pw
	}
	u, err := s.api.UpdateUser(r.Context(), r.PathValue("user"), p)
	if err != nil {
		fields, msg, ok := fieldErrors(err)
		if !ok {
			d.fail(w, r, s, 0, err)
			return
		}
		d.renderUser(w, r, s, statusOf(err), userData{Fields: fields, Problem: msg})
		return
	}
	seeOther(w, r, "/users/"+u.ID, "user-updated")
}

func (d *Dashboard) deleteUser(w http.ResponseWriter, r *http.Request, s *session) {
	if err := s.api.DeleteUser(r.Context(), r.PathValue("user")); err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	seeOther(w, r, "/users", "user-deleted")
}

func (d *Dashboard) revokeUserToken(w http.ResponseWriter, r *http.Request, s *session) {
	user := r.PathValue("user")
	if err := s.api.RevokeToken(r.Context(), user, r.PathValue("token")); err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	seeOther(w, r, "/users/"+user, "token-revoked")
}

// tokensData is "My tokens": the list, and a token just made (its secret
// is on this one answer only).
type tokensData struct {
	Tokens  []client.Token
	Created *client.NewToken
	Current string // the session's own token id: revoking it signs out
	Fields  map[string]string
	Problem string
	Name    string
}

func (t tokensData) pageError() string { return t.Problem }

func (d *Dashboard) tokens(w http.ResponseWriter, r *http.Request, s *session) {
	d.renderTokens(w, r, s, 0, tokensData{})
}

func (d *Dashboard) renderTokens(w http.ResponseWriter, r *http.Request, s *session, status int, data tokensData) {
	list, err := s.api.ListTokens(r.Context(), "me")
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	data.Tokens = list.Tokens
	data.Current, _, _ = auth.ParseToken(s.token)
	d.render(w, r, s, status, "tokens", "My tokens", data)
}

// maxTokenDays bounds the expiry a form may ask for; the API has no bound,
// but a form field without one invites typos of a thousand years.
const maxTokenDays = 3650

func (d *Dashboard) createToken(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	name := f.Get("name")
	var expires *time.Time
	if v := f.Get("expires_days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxTokenDays {
			d.renderTokens(w, r, s, http.StatusBadRequest, tokensData{Name: name, Problem: "The token was not created: fix the fields marked below.",
				Fields: map[string]string{"expires_days": "must be a whole number of days from 1 to 3650, or empty for a token that does not expire"}})
			return
		}
		t := d.now().Add(time.Duration(n) * 24 * time.Hour)
		expires = &t
	}
	scopes := f["scope"]
	if scopes == nil {
		scopes = []string{} // none ticked: the API says why that is refused
	}
	nt, err := s.api.CreateToken(r.Context(), "me", name, expires, scopes)
	if err != nil {
		fields, msg, ok := fieldErrors(err)
		if !ok {
			d.fail(w, r, s, 0, err)
			return
		}
		d.renderTokens(w, r, s, statusOf(err), tokensData{Name: name, Fields: fields, Problem: msg})
		return
	}
	d.renderTokens(w, r, s, http.StatusCreated, tokensData{Created: &nt})
}

func (d *Dashboard) revokeToken(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("token")
	if err := s.api.RevokeToken(r.Context(), "me", id); err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	if cur, _, _ := auth.ParseToken(s.token); cur == id {
		// This browser's own session: it has just ended.
		d.clearSession(w, r)
		seeOther(w, r, "/signin", "signed-out")
		return
	}
	seeOther(w, r, "/tokens", "token-revoked")
}
