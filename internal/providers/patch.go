package providers

import (
	"fmt"

	"github.com/aigate/aigate/internal/apperr"
)

func (p Patch) empty() bool {
	return p.Name == nil && p.Type == nil && p.DisplayName == nil && p.Enabled == nil && p.BaseURL == nil &&
		p.Settings == nil && p.APIKeys == nil
}

// Spec turns in into a validated Spec.
func (in Input) Spec() (Spec, error) {
	spec := Spec{Name: in.Name, Type: Type(in.Type), DisplayName: in.DisplayName, Enabled: in.Enabled == nil || *in.Enabled,
		BaseURL: in.BaseURL}
	keys, vs := newKeys(in.APIKeys)
	spec.Keys = keys
	if in.Settings != nil {
		st, creds, svs := applySettings(nil, nil, in.Settings)
		vs = append(vs, svs...)
		spec.Settings, spec.Credentials = st, creds
	}
	norm, err := spec.Normalize()
	if err != nil {
		e, _ := apperr.As(err)
		vs = append(vs, e.Validations...)
	}
	if err := apperr.Invalid(vs...); err != nil {
		return Spec{}, err
	}
	return norm, nil
}

// newKeys reads a create request's api_keys, which may only add keys.
func newKeys(in []KeyInput) ([]string, []apperr.Validation) {
	var vs []apperr.Validation
	keys := make([]string, 0, len(in))
	for i, k := range in {
		if k.ID != nil || k.APIKey == nil {
			vs = append(vs, apperr.Validation{Field: fmt.Sprintf("api_keys[%d]", i), Detail: `must be {"api_key": "..."}; a new provider has no keys to keep`})
			continue
		}
		keys = append(keys, *k.APIKey)
	}
	return keys, vs
}

// applySettings merges si into st and creds.
func applySettings(st *Settings, creds []Credential, si *SettingsInput) (*Settings, []Credential, []apperr.Validation) {
	next := Settings{}
	if st != nil {
		next = *st
	}
	if si.Region != nil {
		next.Region = *si.Region
	}
	if si.Model != nil {
		next.Model = *si.Model
	}
	if si.SmallFastModel != nil {
		next.SmallFastModel = *si.SmallFastModel
	}
	if si.AccessKey == nil && si.AccessKeySecret == nil {
		return &next, creds, nil
	}
	if len(creds) > 1 && (si.AccessKey == nil || si.AccessKeySecret == nil) {
		return nil, nil, []apperr.Validation{{Field: "settings.access_key", Detail: fmt.Sprintf(
			"this provider holds %d credential pairs; give access_key and access_key_secret together to replace them", len(creds))}}
	}
	var pair Credential
	if len(creds) == 1 {
		pair = creds[0]
	}
	if si.AccessKey != nil {
		pair.AccessKey = *si.AccessKey
	}
	if si.AccessKeySecret != nil {
		pair.AccessKeySecret = *si.AccessKeySecret
	}
	if pair == (Credential{}) {
		return &next, nil, nil
	}
	return &next, []Credential{pair}, nil
}

// patched returns the state p asks for, validated, and the key set.
func (r record) patched(p Patch) (Spec, []keySlot, error) {
	cur := r.spec()
	var vs []apperr.Validation
	next := cur
	if p.Type != nil && *p.Type != string(cur.Type) {
		vs = append(vs, apperr.Validation{Field: "type", Detail: fmt.Sprintf("is %s and cannot change; create a new provider of the other type instead", cur.Type)})
	}
	if p.Name != nil {
		next.Name = *p.Name
	}
	if p.DisplayName != nil {
		next.DisplayName = *p.DisplayName
	}
	if p.Enabled != nil {
		next.Enabled = *p.Enabled
	}
	if p.BaseURL != nil {
		next.BaseURL = *p.BaseURL
	}
	if p.Settings != nil {
		if cur.Type != Bedrock {
			vs = append(vs, apperr.Validation{Field: "settings", Detail: "Bedrock settings apply only to bedrock providers; the type is immutable, so create a bedrock provider instead"})
		} else {
			st, creds, svs := applySettings(cur.Settings, cur.Credentials, p.Settings)
			vs = append(vs, svs...)
			if svs == nil {
				// A model set to "" is back to its default: Normalize fills it in.
				next.Settings, next.Credentials = st, creds
			}
		}
	}
	slots := r.slots()
	if p.APIKeys != nil {
		var kvs []apperr.Validation
		slots, kvs = keySlots(*p.APIKeys, r.keys)
		vs = append(vs, kvs...)
	}
	next.Keys = make([]string, len(slots))
	for i, sl := range slots {
		next.Keys[i] = sl.plain
	}
	if len(vs) == 0 {
		norm, err := next.Normalize()
		if err != nil {
			return Spec{}, nil, err
		}
		next = norm
	}
	if err := apperr.Invalid(vs...); err != nil {
		return Spec{}, nil, err
	}
	return next, slots, nil
}
