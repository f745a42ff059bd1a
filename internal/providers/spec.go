package providers

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/aigate/aigate/internal/apperr"
)

// Type is what a provider speaks upstream.
type Type string

// The provider types the database stores.
const (
	OpenAI    Type = "openai"
	Anthropic Type = "anthropic"
	Bedrock   Type = "bedrock" // Anthropic models through AWS Bedrock
)

// Types lists the known types, for error messages.
var Types = []Type{OpenAI, Anthropic, Bedrock}

// ParseType returns the Type named s.
func ParseType(s string) (Type, bool) {
	for _, t := range Types {
		if string(t) == s {
			return t, true
		}
	}
	return "", false
}

func typeList() string {
	names := make([]string, len(Types))
	for i, t := range Types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// Defaults applied when a field is left empty.
const (
	DefaultOpenAIBaseURL         = "https://api.openai.com/v1/"
	DefaultAnthropicBaseURL      = "https://api.anthropic.com/"
	DefaultBedrockModel          = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
	DefaultBedrockSmallFastModel = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
)

// Limits on a provider.
const (
	MaxKeys           = 5
	maxNameLength     = 63
	maxDisplayName    = 200
	maxKeyLength      = 4096
	maxSettingsLength = 512
)

// NamePattern is what a provider name, its routing name, must match.
const NamePattern = `^[a-z0-9]+(-[a-z0-9]+)*$`

var nameRE = regexp.MustCompile(NamePattern)

// ValidateName checks a provider name; the error says what a name must be.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("must match %s (lower-case letters, digits and single dashes)", NamePattern)
	}
	if len(name) > maxNameLength {
		return fmt.Errorf("must be at most %d characters", maxNameLength)
	}
	// The API takes an id or a name in the same place; a name that reads
	// as an id would be unreachable.
	if _, err := uuid.Parse(name); err == nil {
		return fmt.Errorf("must not be a UUID: the API would read it as a provider id")
	}
	return nil
}

// NormalizeBaseURL checks that raw is an absolute http(s) URL without
// credentials, query or fragment, and returns it with a lower-case scheme and
// host and a path ending in "/", so equal endpoints have equal strings (the
// canonical hash compares strings) and request paths join onto it plainly.
func NormalizeBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || raw != strings.TrimSpace(raw) {
		return "", fmt.Errorf("must be an absolute http or https URL such as %s", DefaultOpenAIBaseURL)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "HTTP" && u.Scheme != "HTTPS":
		return "", fmt.Errorf("must be an absolute http or https URL such as %s", DefaultOpenAIBaseURL)
	case u.Host == "" || u.Opaque != "":
		return "", fmt.Errorf("must be an absolute http or https URL with a host, such as %s", DefaultOpenAIBaseURL)
	case u.User != nil:
		return "", fmt.Errorf("must not hold credentials; give keys in api_keys")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("must not have a query or fragment")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u.String(), nil
}

// Settings are a Bedrock provider's non-secret settings.
type Settings struct {
	Region         string `json:"region"`
	Model          string `json:"model"`
	SmallFastModel string `json:"small_fast_model"`
}

// Credential is one AWS access key pair of a Bedrock provider. Without any,
// the provider uses the standard AWS credential chain at request time.
type Credential struct {
	AccessKey       string `json:"access_key"`
	AccessKeySecret string `json:"access_key_secret"`
}

// Spec is a provider's complete desired state, secrets in plaintext: what a
// create request or the environment seed asks for, after Normalize.
type Spec struct {
	Name        string
	Type        Type
	DisplayName string
	Enabled     bool
	BaseURL     string
	Settings    *Settings    // Bedrock only
	Credentials []Credential // Bedrock only
	Keys        []string     // openai and anthropic only, in the order tried
}

// Canonical is the part of a provider that decides where requests go. Keys,
// credentials, model IDs, display name and enabled are left out on purpose:
// they change through the API without making the environment "drift".
type Canonical struct {
	Type    Type
	BaseURL string
	Region  string
}

// Canonical returns s's canonical form.
func (s Spec) Canonical() Canonical {
	c := Canonical{Type: s.Type, BaseURL: s.BaseURL}
	if s.Settings != nil {
		c.Region = s.Settings.Region
	}
	return c
}

// Hash is a SHA-256 over a fixed-order, length-prefixed encoding, so no two
// different forms encode alike; it is computed on demand, never stored.
func (c Canonical) Hash() string {
	h := sha256.New()
	h.Write([]byte("aigate-provider-canonical-v1\x00"))
	for _, f := range []string{string(c.Type), c.BaseURL, c.Region} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// FieldDiff is one canonical field that differs between two forms: its
// value in the form Diff is called on, and in the one it is given.
type FieldDiff struct {
	Field    string // type, base_url or region
	From, To string
}

func (d FieldDiff) String() string { return fmt.Sprintf("%s: %q → %q", d.Field, d.From, d.To) }

// Diff lists the canonical fields that differ from c to o, in a fixed order.
// Only these fields, never a secret, can appear.
func (c Canonical) Diff(o Canonical) []FieldDiff {
	var d []FieldDiff
	add := func(field, a, b string) {
		if a != b {
			d = append(d, FieldDiff{Field: field, From: a, To: b})
		}
	}
	add("type", string(c.Type), string(o.Type))
	add("base_url", c.BaseURL, o.BaseURL)
	add("region", c.Region, o.Region)
	return d
}

// Normalize validates s and fills in defaults: the base URL of openai and
// anthropic, Bedrock model IDs. An anthropic provider with Bedrock settings
// is stored as type bedrock, as the environment form does. Every problem is
// reported at once, each under the field it concerns.
func (s Spec) Normalize() (Spec, error) {
	var vs []apperr.Validation
	bad := func(field, format string, args ...any) {
		vs = append(vs, apperr.Validation{Field: field, Detail: fmt.Sprintf(format, args...)})
	}
	if err := ValidateName(s.Name); err != nil {
		bad("name", "%v", err)
	}
	if _, ok := ParseType(string(s.Type)); !ok {
		bad("type", "must be one of %s", typeList())
	}
	if len(s.DisplayName) > maxDisplayName {
		bad("display_name", "must be at most %d characters", maxDisplayName)
	}
	if s.BaseURL != "" {
		u, err := NormalizeBaseURL(s.BaseURL)
		if err != nil {
			bad("base_url", "%v", err)
		} else if err := EndpointPathError(s.Type, u); err != nil {
			bad("base_url", "%v", err)
		}
		s.BaseURL = u
	}
	if s.Type == Anthropic && s.Settings != nil {
		s.Type = Bedrock
	}
	if s.Settings != nil || len(s.Credentials) > 0 {
		if s.Type != Bedrock {
			bad("settings", "Bedrock settings apply only to anthropic and bedrock providers")
		}
	}
	if s.Type == Bedrock {
		if s.Settings == nil {
			s.Settings = &Settings{}
		}
		if s.Settings.Model == "" {
			s.Settings.Model = DefaultBedrockModel
		}
		if s.Settings.SmallFastModel == "" {
			s.Settings.SmallFastModel = DefaultBedrockSmallFastModel
		}
		vs = append(vs, validateSettings(*s.Settings, s.Credentials)...)
		if s.Settings.Region == "" && s.BaseURL == "" {
			bad("settings.region", "a bedrock provider needs a region (e.g. us-east-1) or a base_url")
		}
		if len(s.Keys) > 0 {
			bad("api_keys", "a bedrock provider takes no api_keys; give AWS credentials in settings.access_key and settings.access_key_secret, or none to use the AWS credential chain")
		}
	}
	if s.BaseURL == "" {
		switch s.Type {
		case OpenAI:
			s.BaseURL = DefaultOpenAIBaseURL
		case Anthropic:
			s.BaseURL = DefaultAnthropicBaseURL
		}
	}
	vs = append(vs, ValidateKeys(s.Keys)...)
	if err := apperr.Invalid(vs...); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// ValidateKeys checks a key set: at most MaxKeys, none empty, none with
// surrounding whitespace (rejected, not trimmed: a pasted newline is a
// mistake to show, not to guess about), no duplicates.
func ValidateKeys(keys []string) []apperr.Validation {
	var vs []apperr.Validation
	if len(keys) > MaxKeys {
		vs = append(vs, apperr.Validation{Field: "api_keys", Detail: fmt.Sprintf("at most %d keys, got %d", MaxKeys, len(keys))})
	}
	seen := make(map[string]int, len(keys))
	for i, k := range keys {
		field := fmt.Sprintf("api_keys[%d]", i)
		if v := validateKey(field, k); v != nil {
			vs = append(vs, *v)
			continue
		}
		if j, dup := seen[k]; dup {
			vs = append(vs, apperr.Validation{Field: field, Detail: fmt.Sprintf("duplicates api_keys[%d]", j)})
			continue
		}
		seen[k] = i
	}
	return vs
}

func validateKey(field, k string) *apperr.Validation {
	switch {
	case k == "":
		return &apperr.Validation{Field: field, Detail: "must not be empty"}
	case strings.TrimSpace(k) != k:
		return &apperr.Validation{Field: field, Detail: "must not start or end with whitespace"}
	case len(k) > maxKeyLength:
		return &apperr.Validation{Field: field, Detail: fmt.Sprintf("must be at most %d characters", maxKeyLength)}
	}
	for _, c := range k {
		if c <= ' ' || c > '~' {
			return &apperr.Validation{Field: field, Detail: "must be printable ASCII without spaces"}
		}
	}
	return nil
}

func validateSettings(st Settings, creds []Credential) []apperr.Validation {
	var vs []apperr.Validation
	for _, f := range []struct{ field, v string }{
		{"settings.region", st.Region}, {"settings.model", st.Model}, {"settings.small_fast_model", st.SmallFastModel},
	} {
		if len(f.v) > maxSettingsLength || strings.TrimSpace(f.v) != f.v {
			vs = append(vs, apperr.Validation{Field: f.field, Detail: fmt.Sprintf("must be at most %d characters, without surrounding whitespace", maxSettingsLength)})
		}
	}
	for i, c := range creds {
		field := "settings.access_key"
		if len(creds) > 1 {
			field = fmt.Sprintf("settings.credentials[%d]", i)
		}
		switch {
		case c.AccessKey == "" && c.AccessKeySecret != "":
			vs = append(vs, apperr.Validation{Field: field, Detail: "is required when access_key_secret is set"})
		case c.AccessKey != "" && c.AccessKeySecret == "":
			vs = append(vs, apperr.Validation{Field: field + "_secret", Detail: "is required when access_key is set"})
		default:
			if v := validateKey(field, c.AccessKey); v != nil {
				vs = append(vs, *v)
			}
			if v := validateKey(field+"_secret", c.AccessKeySecret); v != nil {
				vs = append(vs, *v)
			}
		}
	}
	return vs
}

// Mask shows enough of a key to tell keys apart and nothing that helps use
// it: the first and last 4 characters of a key of 20 or more, 2 of a key of
// 10 to 19, none of a shorter one.
func Mask(key string) string {
	n := 0
	switch {
	case len(key) >= 20:
		n = 4
	case len(key) >= 10:
		n = 2
	}
	if n == 0 {
		return "********"
	}
	return key[:n] + "..." + key[len(key)-n:]
}
