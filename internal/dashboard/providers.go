package dashboard

import (
	"errors"
	"net/http"
	"strings"

	"github.com/aigate/aigate/internal/client"
)

// providerTypes are the types a provider may have, for the create form.
var providerTypes = []string{"openai", "anthropic", "bedrock"}

// maxNewKeys is how many key fields the forms offer (the API allows 5).
const maxNewKeys = 3

type providersData struct {
	Providers []client.Provider
	Deleted   []client.Provider
}

func (d *Dashboard) providers(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := s.api.ListProviders(r.Context(), true)
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	var data providersData
	for _, p := range list.Providers {
		if p.Deleted {
			data.Deleted = append(data.Deleted, p)
		} else {
			data.Providers = append(data.Providers, p)
		}
	}
	d.render(w, r, s, 0, "providers", "Providers", data)
}

// providerForm is the create and edit form: what was sent (so a refused form
// comes back filled, keys excepted) and the API's answer per field.
type providerForm struct {
	New      bool
	Types    []string
	Provider client.Provider
	Region   string
	Model    string
	Small    string
	NewKeys  int
	Fields   map[string]string
	Problem  string
}

func (f providerForm) pageError() string { return f.Problem }

// fieldErrors lays an API error's validations on the form's fields; what
// no field shows becomes the form's message.
func fieldErrors(err error) (fields map[string]string, msg string, ok bool) {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return nil, "", false
	}
	fields = map[string]string{}
	for _, v := range ce.Validations {
		f := v.Field
		if strings.HasPrefix(f, "api_keys") {
			f = "api_keys"
		} else if strings.HasPrefix(f, "settings.") {
			f = strings.TrimPrefix(f, "settings.")
		}
		if fields[f] != "" {
			fields[f] += "; "
		}
		fields[f] += v.Detail
	}
	msg = ce.Message
	if ce.Detail != "" {
		msg += " " + ce.Detail
	}
	if len(ce.Validations) > 0 {
		msg = "The provider was not saved: fix the fields marked below."
	}
	return fields, msg, true
}

func (d *Dashboard) newProvider(w http.ResponseWriter, r *http.Request, s *session) {
	d.render(w, r, s, 0, "provider_new", "New provider", providerForm{New: true, Types: providerTypes, NewKeys: maxNewKeys,
		Provider: client.Provider{Type: "openai", Enabled: true}})
}

// formKeys are the new keys typed into the form, blanks dropped.
func formKeys(r *http.Request) []client.ProviderKeyInput {
	var keys []client.ProviderKeyInput
	for _, k := range r.PostForm["api_key"] {
		if k != "" {
			keys = append(keys, client.NewKey(k))
		}
	}
	return keys
}

// formSettings are the Bedrock settings of a form, nil for other types.
// Empty credential fields are left out, so an edit keeps the stored ones.
func formSettings(r *http.Request, typ string) *client.ProviderSettingsInput {
	if typ != "bedrock" {
		return nil
	}
	f := r.PostForm
	set := &client.ProviderSettingsInput{}
	for _, x := range []struct {
		name string
		dst  **string
	}{{"region", &set.Region}, {"model", &set.Model}, {"small_fast_model", &set.SmallFastModel},
		{"access_key", &set.AccessKey}, {"access_key_secret", &set.AccessKeySecret}} {
		v := f.Get(x.name)
		if v == "" && (x.name == "access_key" || x.name == "access_key_secret") && f.Get("clear_credentials") == "" {
			continue
		}
		*x.dst = &v
	}
	return set
}

func (d *Dashboard) createProvider(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	enabled := f.Get("enabled") != ""
	in := client.ProviderInput{
		Name: f.Get("name"), Type: f.Get("type"), DisplayName: f.Get("display_name"), BaseURL: f.Get("base_url"),
		Enabled: &enabled, APIKeys: formKeys(r), Settings: formSettings(r, f.Get("type")),
	}
	p, err := s.api.CreateProvider(r.Context(), in)
	if err != nil {
		fields, msg, ok := fieldErrors(err)
		if !ok {
			d.fail(w, r, s, 0, err)
			return
		}
		form := providerForm{New: true, Types: providerTypes, NewKeys: maxNewKeys, Fields: fields, Problem: msg,
			Provider: client.Provider{Name: in.Name, Type: in.Type, DisplayName: in.DisplayName, BaseURL: in.BaseURL, Enabled: enabled},
			Region:   f.Get("region"), Model: f.Get("model"), Small: f.Get("small_fast_model")}
		d.render(w, r, s, statusOf(err), "provider_new", "New provider", form)
		return
	}
	seeOther(w, r, "/providers/"+p.Name, "provider-created")
}

// statusOf is the HTTP status of an API error.
func statusOf(err error) int {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Status
	}
	return http.StatusInternalServerError
}

func (d *Dashboard) provider(w http.ResponseWriter, r *http.Request, s *session) {
	p, err := s.api.GetProvider(r.Context(), r.PathValue("provider"))
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	d.render(w, r, s, 0, "provider", p.Name, editForm(p))
}

func editForm(p client.Provider) providerForm {
	form := providerForm{Provider: p, NewKeys: maxNewKeys}
	if p.Settings != nil {
		form.Region, form.Model, form.Small = p.Settings.Region, p.Settings.Model, p.Settings.SmallFastModel
	}
	if n := 5 - len(p.APIKeys); n < form.NewKeys {
		form.NewKeys = max(n, 0)
	}
	return form
}

func (d *Dashboard) updateProvider(w http.ResponseWriter, r *http.Request, s *session) {
	ref := r.PathValue("provider")
	cur, err := s.api.GetProvider(r.Context(), ref)
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	f := r.PostForm
	name, display, base := f.Get("name"), f.Get("display_name"), f.Get("base_url")
	patch := client.ProviderPatch{Name: &name, DisplayName: &display, BaseURL: &base, Settings: formSettings(r, cur.Type)}
	// The key set changes only when a key is removed or added: the API
	// takes the complete new set, in order.
	remove := map[string]bool{}
	for _, id := range f["remove_key"] {
		remove[id] = true
	}
	added := formKeys(r)
	if len(remove) > 0 || len(added) > 0 {
		keys := []client.ProviderKeyInput{}
		for _, k := range cur.APIKeys {
			if !remove[k.ID] {
				keys = append(keys, client.KeepKey(k.ID))
			}
		}
		keys = append(keys, added...)
		patch.APIKeys = &keys
	}
	p, err := s.api.UpdateProvider(r.Context(), cur.ID, patch)
	if err != nil {
		fields, msg, ok := fieldErrors(err)
		if !ok {
			d.fail(w, r, s, 0, err)
			return
		}
		form := editForm(cur)
		form.Provider.Name, form.Provider.DisplayName, form.Provider.BaseURL = name, display, base
		form.Fields, form.Problem = fields, msg
		d.render(w, r, s, statusOf(err), "provider", cur.Name, form)
		return
	}
	seeOther(w, r, "/providers/"+p.Name, "provider-updated")
}

// providerAction enables, disables, deletes or restores a provider.
func (d *Dashboard) providerAction(w http.ResponseWriter, r *http.Request, s *session) {
	ref, ctx := r.PathValue("provider"), r.Context()
	var err error
	done, to := "", "/providers/"+ref
	switch r.PathValue("action") {
	case "enable", "disable":
		on := r.PathValue("action") == "enable"
		_, err = s.api.UpdateProvider(ctx, ref, client.ProviderPatch{Enabled: &on})
		done = map[bool]string{true: "provider-enabled", false: "provider-disabled"}[on]
	case "delete":
		err = s.api.DeleteProvider(ctx, ref)
		done, to = "provider-deleted", "/providers"
	case "restore":
		_, err = s.api.RestoreProvider(ctx, ref)
		done = "provider-restored"
	default:
		d.fail(w, r, s, http.StatusNotFound, "There is no such provider action; the provider page has the buttons.")
		return
	}
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	seeOther(w, r, to, done)
}
