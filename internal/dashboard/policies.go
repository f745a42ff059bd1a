package dashboard

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/aigate/aigate/internal/client"
)

// groupsData is the Groups page: the list and the create form.
type groupsData struct {
	Groups  []client.Group
	Form    client.GroupInput
	Fields  map[string]string
	Problem string
}

func (g groupsData) pageError() string { return g.Problem }

func (d *Dashboard) groups(w http.ResponseWriter, r *http.Request, s *session) {
	d.renderGroups(w, r, s, 0, groupsData{})
}

func (d *Dashboard) renderGroups(w http.ResponseWriter, r *http.Request, s *session, status int, data groupsData) {
	l, err := s.api.ListGroups(r.Context())
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	data.Groups = l.Groups
	d.render(w, r, s, status, "groups", "Groups", data)
}

func (d *Dashboard) createGroup(w http.ResponseWriter, r *http.Request, s *session) {
	in := client.GroupInput{Name: r.PostForm.Get("name"), DisplayName: r.PostForm.Get("display_name")}
	g, err := s.api.CreateGroup(r.Context(), in)
	if err != nil {
		fields, msg, ok := formErrors(err, "The group was not created")
		if !ok {
			d.fail(w, r, s, 0, err)
			return
		}
		d.renderGroups(w, r, s, statusOf(err), groupsData{Form: in, Fields: fields, Problem: msg})
		return
	}
	seeOther(w, r, "/groups/"+g.Name, "group-created")
}

// groupData is one group's page: its members and the forms that change them.
type groupData struct {
	Group   client.Group
	Email   string
	Fields  map[string]string
	Problem string
}

func (g groupData) pageError() string { return g.Problem }

func (d *Dashboard) group(w http.ResponseWriter, r *http.Request, s *session) {
	d.renderGroup(w, r, s, 0, groupData{})
}

func (d *Dashboard) renderGroup(w http.ResponseWriter, r *http.Request, s *session, status int, data groupData) {
	g, err := s.api.GetGroup(r.Context(), r.PathValue("group"))
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	data.Group = g
	d.render(w, r, s, status, "group", g.Name, data)
}

func (d *Dashboard) addGroupMember(w http.ResponseWriter, r *http.Request, s *session) {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if email == "" {
		d.renderGroup(w, r, s, http.StatusBadRequest, groupData{Problem: "No member was added: give their email.",
			Fields: map[string]string{"email": "is required"}})
		return
	}
	g, err := s.api.AddGroupMember(r.Context(), r.PathValue("group"), email)
	if err != nil {
		if client.IsStatus(err, http.StatusNotFound) {
			// The group is there (the page showed it): the user is not.
			d.renderGroup(w, r, s, http.StatusNotFound, groupData{Email: email, Problem: "No member was added: there is no user with that email.",
				Fields: map[string]string{"email": "no user has this email; add them on the Users page first"}})
			return
		}
		d.fail(w, r, s, 0, err)
		return
	}
	seeOther(w, r, "/groups/"+g.Name, "member-added")
}

func (d *Dashboard) removeGroupMember(w http.ResponseWriter, r *http.Request, s *session) {
	group := r.PathValue("group")
	if err := s.api.RemoveGroupMember(r.Context(), group, r.PathValue("user")); err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	seeOther(w, r, "/groups/"+group, "member-removed")
}

func (d *Dashboard) deleteGroup(w http.ResponseWriter, r *http.Request, s *session) {
	if err := s.api.DeleteGroup(r.Context(), r.PathValue("group")); err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	seeOther(w, r, "/groups", "group-deleted")
}

// policyRow is a policy with where its current window stands, as a page
// shows them.
type policyRow struct {
	client.Policy
	AppliesTo, Limit string
	Windows          []windowRow
	// NoStatus says why there are no windows: a models policy counts
	// nothing, and a per-member one nobody has drawn on yet.
	NoStatus string
}

type windowRow struct {
	Who, Spent, Reserved, Remaining, ResetsAt string
	Exhausted                                 bool
}

// formErrors is fieldErrors for the forms here: a list's entries
// (models[2]) are marked on the list's field, and the notice names what was
// not done.
func formErrors(err error, notDone string) (map[string]string, string, bool) {
	fields, msg, ok := fieldErrors(err)
	if !ok {
		return nil, "", false
	}
	out := map[string]string{}
	for f, detail := range fields {
		base, index, _ := strings.Cut(f, "[")
		if index != "" {
			detail = "entry " + strings.TrimSuffix(index, "]") + " " + detail
		}
		if out[base] != "" {
			out[base] += "; "
		}
		out[base] += detail
	}
	if len(out) > 0 {
		msg = notDone + ": fix the fields marked below."
	}
	return out, msg, true
}

func amount(n int64, usd string) string {
	if usd != "" {
		return "$" + usd
	}
	return formatInt(n)
}

// policyRows reads the status of each policy, as the caller may see it.
func (d *Dashboard) policyRows(r *http.Request, s *session, ps []client.Policy) ([]policyRow, error) {
	rows := make([]policyRow, 0, len(ps))
	for _, p := range ps {
		row := policyRow{Policy: p, AppliesTo: appliesTo(p), Limit: policyLimit(p)}
		if p.Kind == "models" {
			row.NoStatus = "allows " + strings.Join(p.AllowModels, ", ")
			rows = append(rows, row)
			continue
		}
		st, err := s.api.GetPolicyStatus(r.Context(), p.ID)
		if err != nil {
			return nil, err
		}
		for _, w := range st.Statuses {
			who := "shared"
			if w.Subject != "" {
				who = w.User
				if who == "" {
					who = w.Subject
				}
			}
			row.Windows = append(row.Windows, windowRow{Who: who, Spent: amount(w.Spent, w.SpentUSD), Reserved: amount(w.Reserved, w.ReservedUSD),
				Remaining: amount(w.Remaining, w.RemainingUSD), ResetsAt: resetsAt(w), Exhausted: w.Exhausted})
		}
		if len(row.Windows) == 0 {
			row.NoStatus = "no member has drawn on it in this window"
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func resetsAt(w client.PolicyWindowStatus) string {
	if w.ResetsAt.Year() >= 9999 {
		return "never (in flight now)"
	}
	return w.ResetsAt.UTC().Format("2006-01-02 15:04 UTC")
}

func appliesTo(p client.Policy) string {
	s := "everyone"
	switch {
	case p.Group != nil:
		s = "group " + *p.Group
	case p.User != nil:
		s = *p.User
	case p.Token != nil:
		s = "token " + *p.Token
	}
	if p.PerMember {
		s += ", each member"
	}
	if len(p.Providers) > 0 {
		s += "; providers " + strings.Join(p.Providers, ", ")
	}
	if len(p.Models) > 0 {
		s += "; models " + strings.Join(p.Models, ", ")
	}
	return s
}

func policyLimit(p client.Policy) string {
	unit := map[string]string{"tokens": " tokens", "requests": " requests", "concurrency": " in flight"}[p.Kind]
	per := ""
	if p.Period != nil {
		per = " per " + *p.Period
	}
	switch {
	case p.LimitUSD != nil:
		return "$" + *p.LimitUSD + per
	case p.Limit != nil:
		return formatInt(*p.Limit) + unit + per
	}
	return "-"
}

// policyForm is the create form's fields as typed.
type policyForm struct {
	Name, Description, Scope, Group, User, Token, Kind, Period, Limit, LimitUSD string
	Providers, Models, AllowModels, TimeZone                                    string
	PerMember                                                                   bool
}

type policiesData struct {
	Policies []policyRow
	Groups   []client.Group
	Form     policyForm
	Fields   map[string]string
	Problem  string
	Scopes   []string
	Kinds    []string
	Periods  []string
}

func (p policiesData) pageError() string { return p.Problem }

func (d *Dashboard) policies(w http.ResponseWriter, r *http.Request, s *session) {
	d.renderPolicies(w, r, s, 0, policiesData{Form: policyForm{Scope: "everyone", Kind: "budget", Period: "month"}})
}

func (d *Dashboard) renderPolicies(w http.ResponseWriter, r *http.Request, s *session, status int, data policiesData) {
	l, err := s.api.ListPolicies(r.Context())
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	if data.Policies, err = d.policyRows(r, s, l.Policies); err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	if s.IsOwner() {
		gs, err := s.api.ListGroups(r.Context())
		if err != nil {
			d.fail(w, r, s, 0, err)
			return
		}
		data.Groups = gs.Groups
	}
	data.Scopes = []string{"everyone", "group", "user", "token"}
	data.Kinds = []string{"budget", "tokens", "requests", "concurrency", "models"}
	data.Periods = []string{"minute", "day", "week", "month"}
	d.render(w, r, s, status, "policies", "Policies", data)
}

func splitPatterns(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (d *Dashboard) createPolicy(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	form := policyForm{Name: f.Get("name"), Description: f.Get("description"), Scope: f.Get("scope"), Group: f.Get("group"),
		User: f.Get("user"), Token: f.Get("token"), Kind: f.Get("kind"), Period: f.Get("period"), Limit: strings.TrimSpace(f.Get("limit")),
		LimitUSD: strings.TrimSpace(f.Get("limit_usd")), Providers: f.Get("providers"), Models: f.Get("models"),
		AllowModels: f.Get("allow_models"), TimeZone: f.Get("time_zone"), PerMember: f.Get("per_member") != ""}
	in := client.PolicyInput{Name: form.Name, Description: form.Description, Scope: form.Scope, PerMember: form.PerMember,
		Kind: form.Kind, TimeZone: form.TimeZone, Providers: splitPatterns(form.Providers), Models: splitPatterns(form.Models),
		AllowModels: splitPatterns(form.AllowModels)}
	// The form shows every field; only the scope's own reference and a
	// period for the kinds that count per period are sent, so a value left
	// in a hidden field does not turn into a refusal.
	switch form.Scope {
	case "group":
		in.Group = form.Group
	case "user":
		in.User = form.User
	case "token":
		in.Token = form.Token
	}
	switch form.Kind {
	case "budget", "tokens", "requests":
		in.Period = form.Period
	}
	if form.Kind != "budget" && form.Kind != "models" && form.Limit != "" {
		n, err := strconv.ParseInt(form.Limit, 10, 64)
		if err != nil {
			d.renderPolicies(w, r, s, http.StatusBadRequest, policiesData{Form: form, Problem: "The policy was not created: fix the fields marked below.",
				Fields: map[string]string{"limit": "must be a whole number, 0 or more"}})
			return
		}
		in.Limit = &n
	}
	if form.Kind == "budget" && form.LimitUSD != "" {
		in.LimitUSD = &form.LimitUSD
	}
	if _, err := s.api.CreatePolicy(r.Context(), in); err != nil {
		fields, msg, ok := formErrors(err, "The policy was not created")
		if !ok {
			d.fail(w, r, s, 0, err)
			return
		}
		d.renderPolicies(w, r, s, statusOf(err), policiesData{Form: form, Fields: fields, Problem: msg})
		return
	}
	seeOther(w, r, "/policies", "policy-created")
}

func (d *Dashboard) deletePolicy(w http.ResponseWriter, r *http.Request, s *session) {
	if err := s.api.DeletePolicy(r.Context(), r.PathValue("policy")); err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	seeOther(w, r, "/policies", "policy-deleted")
}

// budgets is a member's "My budgets": the policies that apply to them, each
// with their own window (the API narrows both).
func (d *Dashboard) budgets(w http.ResponseWriter, r *http.Request, s *session) {
	l, err := s.api.ListPolicies(r.Context())
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	rows, err := d.policyRows(r, s, l.Policies)
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	for i := range rows {
		if rows[i].PerMember && len(rows[i].Windows) == 0 && rows[i].Kind != "models" {
			rows[i].NoStatus = "nothing spent yet in this window"
		}
	}
	d.render(w, r, s, 0, "budgets", "My budgets", policiesData{Policies: rows})
}
