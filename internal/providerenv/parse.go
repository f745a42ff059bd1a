// Package providerenv is the one-shot migration of AI providers from
// environment variables into the database: the parser for the simple
// (AIGATE_OPENAI_KEY, ...) and indexed (AIGATE_PROVIDER_<N>_<FIELD>) forms,
// and the startup seed and its read-only plan, which reconcile what the
// environment asks for with what the database holds.
package providerenv

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/providers"
)

// Copilot is a type the environment form knows but the database does not
// store; such providers are skipped with a warning, never a failure.
const Copilot = "copilot"

// envTypes are the TYPE values the parser accepts.
var envTypes = []string{string(providers.OpenAI), string(providers.Anthropic), string(providers.Bedrock), Copilot}

const indexedPrefix = "AIGATE_PROVIDER_"

// indexedFields are the fields of AIGATE_PROVIDER_<N>_<FIELD>.
var indexedFields = []string{
	"TYPE", "NAME", "BASE_URL", "KEY", "KEYS",
	"BEDROCK_REGION", "BEDROCK_BASE_URL", "BEDROCK_MODEL", "BEDROCK_SMALL_FAST_MODEL",
	"BEDROCK_ACCESS_KEY", "BEDROCK_ACCESS_KEYS", "BEDROCK_ACCESS_KEY_SECRET", "BEDROCK_ACCESS_KEY_SECRETS",
}

// Provider is one provider the environment asks for.
type Provider struct {
	// Spec is the normalized provider; for an unsupported type only its
	// Name is set.
	Spec providers.Spec
	// Source says which variables it came from, for messages:
	// "AIGATE_OPENAI_*" or "AIGATE_PROVIDER_2_*".
	Source string
	// Unsupported is a type the parser knows but the database does not
	// store (e.g. copilot); the seed skips it with a warning.
	Unsupported string
}

// Warning is something odd but harmless in the environment, to be logged:
// a variable that looks meant for aigate but that no part of it reads.
type Warning struct {
	Message  string // the whole sentence, naming the variable
	Variable string
	// Suggestion is the known name closest to Variable; empty when none is
	// close.
	Suggestion string
}

// Config is the parsed environment.
type Config struct {
	Providers []Provider // in name order
	Warnings  []Warning
}

// Empty reports whether the environment configures no provider at all.
func (c Config) Empty() bool { return len(c.Providers) == 0 }

// env reads variables; an empty value counts as unset, so `KEY=` in a
// compose file means "not configured".
type env map[string]string

func (e env) get(name string) string { return strings.TrimSpace(e[name]) }

// Parse reads the provider variables of environ ("NAME=value" entries, as
// os.Environ returns). It touches no database. Every problem is reported
// at once, each naming its variable and how to fix it.
func Parse(environ []string) (Config, error) {
	e := env{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "AIGATE_") && strings.TrimSpace(v) != "" {
			e[k] = v
		}
	}
	p := &parser{env: e}
	newStrictChecker().check(p, environ)
	simple := p.simple()
	indexed := p.indexed()
	byName := map[string]Provider{}
	var order []string
	for _, pr := range simple {
		byName[pr.Spec.Name] = pr
		order = append(order, pr.Spec.Name)
	}
	for _, pr := range indexed {
		prev, seen := byName[pr.Spec.Name]
		switch {
		case !seen:
			byName[pr.Spec.Name] = pr
			order = append(order, pr.Spec.Name)
		case !strings.HasPrefix(prev.Source, indexedPrefix):
			p.errf("indexed provider %q (%s) conflicts with the provider from %s; remove one or the other",
				pr.Spec.Name, pr.Source, simpleVar(prev))
		case !same(prev, pr):
			p.errf("%s and %s both define provider %q, differently; give one of them another AIGATE_PROVIDER_<N>_NAME or remove it",
				prev.Source, pr.Source, pr.Spec.Name)
		}
	}
	p.escalate(slices.Concat(simple, indexed))
	if len(p.errs) > 0 {
		return Config{}, errors.Join(p.errs...)
	}
	sort.Strings(order)
	cfg := Config{Warnings: p.warnings}
	for _, name := range order {
		cfg.Providers = append(cfg.Providers, byName[name])
	}
	return cfg, nil
}

// simpleVar names the variable that created a simple-form provider.
func simpleVar(p Provider) string {
	if p.Spec.Type == providers.Bedrock {
		return "AIGATE_BEDROCK_*"
	}
	return "AIGATE_" + strings.ToUpper(p.Spec.Name) + "_KEY"
}

// same reports whether two providers ask for the same thing.
func same(a, b Provider) bool {
	a.Source, b.Source = "", ""
	return a.Unsupported == b.Unsupported && specEqual(a.Spec, b.Spec)
}

func specEqual(a, b providers.Spec) bool {
	if a.Name != b.Name || a.Type != b.Type || a.BaseURL != b.BaseURL || a.DisplayName != b.DisplayName || a.Enabled != b.Enabled ||
		!slices.Equal(a.Keys, b.Keys) || !slices.Equal(a.Credentials, b.Credentials) {
		return false
	}
	if (a.Settings == nil) != (b.Settings == nil) {
		return false
	}
	return a.Settings == nil || *a.Settings == *b.Settings
}

type parser struct {
	env      env
	errs     []error
	warnings []Warning
}

func (p *parser) errf(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

// bedrockInput is the Bedrock part of a provider, simple or indexed.
type bedrockInput struct {
	region, baseURL, model, smallFastModel string
	creds                                  []providers.Credential
}

// configured follows the spec: region, base URL or credentials count;
// model IDs never do, as they always have defaults.
func (b bedrockInput) configured() bool {
	return b.region != "" || b.baseURL != "" || len(b.creds) > 0
}

func (p *parser) simple() []Provider {
	var out []Provider
	if key := p.env.get(envOpenAIKey); key != "" {
		out = append(out, p.finish(Provider{Source: "AIGATE_OPENAI_*", Spec: providers.Spec{
			Name: "openai", Type: providers.OpenAI, Enabled: true,
			BaseURL: p.baseURL(envOpenAIBaseURL, providers.DefaultOpenAIBaseURL), Keys: p.keys(envOpenAIKey, "")}}))
	}
	br := bedrockInput{
		region: p.env.get(envBedrockRegion), baseURL: p.baseURL(envBedrockBaseURL, ""),
		model: p.env.get(envBedrockModel), smallFastModel: p.env.get(envBedrockSmallFastModel),
		creds: p.credentials(envBedrockAccessKey, "", envBedrockAccessSecret, ""),
	}
	anthropicKey := p.env.get(envAnthropicKey)
	switch {
	case anthropicKey != "" && br.configured():
		p.errf("AIGATE_ANTHROPIC_KEY and AIGATE_BEDROCK_* are mutually exclusive: the provider \"anthropic\" either calls Anthropic with a key or Bedrock with AWS credentials; unset one of them")
	case anthropicKey != "":
		out = append(out, p.finish(Provider{Source: "AIGATE_ANTHROPIC_*", Spec: providers.Spec{
			Name: "anthropic", Type: providers.Anthropic, Enabled: true,
			BaseURL: p.baseURL(envAnthropicBaseURL, providers.DefaultAnthropicBaseURL), Keys: p.keys(envAnthropicKey, "")}}))
	case br.configured():
		// Named "anthropic" so client URLs (/ai/anthropic/...) stay the same
		// whether Anthropic is reached directly or through Bedrock.
		out = append(out, p.finish(Provider{Source: "AIGATE_BEDROCK_*", Spec: bedrockSpec("anthropic", br)}))
	}
	return out
}

func bedrockSpec(name string, br bedrockInput) providers.Spec {
	return providers.Spec{Name: name, Type: providers.Bedrock, Enabled: true, BaseURL: br.baseURL,
		Settings:    &providers.Settings{Region: br.region, Model: br.model, SmallFastModel: br.smallFastModel},
		Credentials: br.creds}
}

// baseURL reads an optional base URL variable.
func (p *parser) baseURL(name, def string) string {
	v := p.env.get(name)
	if v == "" {
		return def
	}
	u, err := providers.NormalizeBaseURL(v)
	if err != nil {
		p.errf("invalid %s %q: %v", name, v, err)
		return def
	}
	return u
}

// keys reads a single key (one) or a comma list (many); at most one of the
// two may be set. List entries are trimmed; empty and duplicate entries and
// more than providers.MaxKeys are errors.
func (p *parser) keys(one, many string) []string {
	k1, kn := p.env.get(one), ""
	if many != "" {
		kn = p.env.get(many)
	}
	switch {
	case k1 != "" && kn != "":
		p.errf("%s and %s are both set; set only one (%s takes a comma-separated list)", one, many, many)
		return nil
	case k1 != "":
		return []string{k1}
	case kn == "":
		return nil
	}
	var out []string
	for i, k := range strings.Split(kn, ",") {
		k = strings.TrimSpace(k)
		switch {
		case k == "":
			p.errf("%s has an empty entry (entry %d); remove the extra comma", many, i+1)
			return nil
		case slices.Contains(out, k):
			p.errf("%s lists the same key twice (entry %d); remove the duplicate", many, i+1)
			return nil
		}
		out = append(out, k)
	}
	if len(out) > providers.MaxKeys {
		p.errf("%s lists %d keys; at most %d are allowed", many, len(out), providers.MaxKeys)
		return nil
	}
	return out
}

// credentials reads Bedrock access key pairs.
func (p *parser) credentials(key, keys, secret, secrets string) []providers.Credential {
	ks := p.keys(key, keys)
	ss := p.keys(secret, secrets)
	if len(ks) != len(ss) {
		kName, sName := key, secret
		if keys != "" {
			kName, sName = key+"(S)", secret+"(S)"
		}
		p.errf("%s gives %d access keys but %s gives %d secrets; give one secret per access key, in the same order",
			kName, len(ks), sName, len(ss))
		return nil
	}
	out := make([]providers.Credential, len(ks))
	for i := range ks {
		out[i] = providers.Credential{AccessKey: ks[i], AccessKeySecret: ss[i]}
	}
	return out
}

// finish normalizes a provider's spec; a problem the checks above did not
// catch is reported against the provider's variables.
func (p *parser) finish(pr Provider) Provider {
	spec, err := pr.Spec.Normalize()
	if err != nil {
		var details []string
		if e, ok := apperr.As(err); ok {
			for _, v := range e.Validations {
				details = append(details, v.Field+" "+v.Detail)
			}
		}
		p.errf("provider %q (%s) is invalid: %s", pr.Spec.Name, pr.Source, strings.Join(details, "; "))
		return pr
	}
	pr.Spec = spec
	return pr
}

// indexed reads AIGATE_PROVIDER_<N>_<FIELD>.
func (p *parser) indexed() []Provider {
	fieldsByIndex := map[int]map[string]bool{}
	for name := range p.env {
		rest, ok := strings.CutPrefix(name, indexedPrefix)
		if !ok {
			continue
		}
		// Anything else under the prefix (an unknown field, an index that
		// is not a number, the option AIGATE_PROVIDER_RELOAD_INTERVAL) is
		// the strict check's to report or accept.
		if !isIndexedVar(name) {
			continue
		}
		num, field, _ := strings.Cut(rest, "_")
		n, err := strconv.Atoi(num)
		if err != nil || strconv.Itoa(n) != num {
			p.errf("%s: %q is not a provider index; name indexed variables AIGATE_PROVIDER_<N>_<FIELD> with N = 0, 1, 2, ...", name, num)
			continue
		}
		if fieldsByIndex[n] == nil {
			fieldsByIndex[n] = map[string]bool{}
		}
		fieldsByIndex[n][field] = true
	}
	indices := make([]int, 0, len(fieldsByIndex))
	for n := range fieldsByIndex {
		indices = append(indices, n)
	}
	sort.Ints(indices) // numeric order: 10 comes after 2
	var out []Provider
	for want, n := range indices {
		if n != want {
			p.errf("AIGATE_PROVIDER_%d_* is missing but AIGATE_PROVIDER_%d_* is set; number indexed providers 0, 1, 2, ... without gaps", want, n)
			break
		}
		if pr, ok := p.indexedProvider(n); ok {
			out = append(out, pr)
		}
	}
	return out
}

func (p *parser) indexedProvider(n int) (Provider, bool) {
	prefix := fmt.Sprintf("%s%d_", indexedPrefix, n)
	v := func(field string) string { return p.env.get(prefix + field) }
	source := prefix + "*"
	errsBefore := len(p.errs)

	typ := v("TYPE")
	if typ == "" {
		p.errf("%sTYPE is required; set it to one of: %s", prefix, strings.Join(envTypes, ", "))
		return Provider{}, false
	}
	if !slices.Contains(envTypes, typ) {
		p.errf("unknown TYPE %q for %sTYPE (expected one of: %s)", typ, prefix, strings.Join(envTypes, ", "))
		return Provider{}, false
	}
	name := v("NAME")
	if name == "" {
		name = typ
	}
	if err := providers.ValidateName(name); err != nil {
		p.errf("invalid provider name %q in %sNAME: %v", name, prefix, err)
		return Provider{}, false
	}
	if typ == Copilot {
		return Provider{Source: source, Unsupported: typ, Spec: providers.Spec{Name: name}}, true
	}

	keys := p.keys(prefix+"KEY", prefix+"KEYS")
	br := bedrockInput{
		region: v("BEDROCK_REGION"), baseURL: p.baseURL(prefix+"BEDROCK_BASE_URL", ""),
		model: v("BEDROCK_MODEL"), smallFastModel: v("BEDROCK_SMALL_FAST_MODEL"),
		creds: p.credentials(prefix+"BEDROCK_ACCESS_KEY", prefix+"BEDROCK_ACCESS_KEYS", prefix+"BEDROCK_ACCESS_KEY_SECRET", prefix+"BEDROCK_ACCESS_KEY_SECRETS"),
	}
	var bedrockVars []string
	for _, f := range indexedFields {
		if strings.HasPrefix(f, "BEDROCK_") && v(f) != "" {
			bedrockVars = append(bedrockVars, prefix+f)
		}
	}
	if len(p.errs) > errsBefore {
		return Provider{}, false
	}

	switch typ {
	case string(providers.OpenAI):
		if len(bedrockVars) > 0 {
			p.errf("%s is set on a provider of TYPE %s; Bedrock fields apply only to TYPE anthropic or bedrock", strings.Join(bedrockVars, ", "), typ)
			return Provider{}, false
		}
		return p.finish(Provider{Source: source, Spec: providers.Spec{Name: name, Type: providers.OpenAI, Enabled: true,
			BaseURL: p.baseURL(prefix+"BASE_URL", providers.DefaultOpenAIBaseURL), Keys: keys}}), true
	case string(providers.Anthropic):
		if !br.configured() {
			return p.finish(Provider{Source: source, Spec: providers.Spec{Name: name, Type: providers.Anthropic, Enabled: true,
				BaseURL: p.baseURL(prefix+"BASE_URL", providers.DefaultAnthropicBaseURL), Keys: keys}}), true
		}
		if len(keys) > 0 {
			p.errf("%sKEY(S) and Bedrock fields (%s) are both set; an anthropic provider uses either an Anthropic key or Bedrock, not both",
				prefix, strings.Join(bedrockVars, ", "))
			return Provider{}, false
		}
	case string(providers.Bedrock):
		if !br.configured() {
			p.errf("%sTYPE is bedrock but no Bedrock field is configured; set %sBEDROCK_REGION (or BEDROCK_BASE_URL, or access keys)", prefix, prefix)
			return Provider{}, false
		}
		if len(keys) > 0 {
			p.errf("%sKEY(S) is set on a bedrock provider, which takes no API keys; give AWS credentials in %sBEDROCK_ACCESS_KEY(S) and %sBEDROCK_ACCESS_KEY_SECRET(S), or none to use the AWS credential chain",
				prefix, prefix, prefix)
			return Provider{}, false
		}
	}
	if u := v("BASE_URL"); u != "" {
		p.errf("%sBASE_URL does not apply to a Bedrock provider; set %sBEDROCK_BASE_URL instead", prefix, prefix)
		return Provider{}, false
	}
	return p.finish(Provider{Source: source, Spec: bedrockSpec(name, br)}), true
}
