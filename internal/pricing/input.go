package pricing

import (
	"fmt"
	"strings"
	"time"

	"github.com/aigate/aigate/internal/apperr"
)

// ProviderTypes are the provider types a price may name.
var ProviderTypes = []string{"openai", "anthropic", "bedrock"}

// maxModelLen bounds a model pattern, as llmwire bounds a requested model.
const maxModelLen = 1024

// parse validates in and returns its Price (ID, Source and times left to the
// caller). defaultFrom is the effective_from of an input that gives none.
// Omitted cache prices are the vendor's own rule: for Anthropic and Bedrock
// models a cache read is 0.1x input, a 5-minute write 1.25x and a 1-hour
// write 2x; OpenAI bills no cache writes and, without a cached-input price,
// cached tokens at the input price.
func (in PriceInput) parse(defaultFrom time.Time) (Price, []apperr.Validation) {
	var vs []apperr.Validation
	bad := func(field, format string, args ...any) {
		vs = append(vs, apperr.Validation{Field: field, Detail: fmt.Sprintf(format, args...)})
	}
	p := Price{ProviderType: in.ProviderType, Model: NormalizeModel(in.Model), MinInputTokens: in.MinInputTokens, Note: strings.TrimSpace(in.Note)}
	known := false
	for _, t := range ProviderTypes {
		known = known || t == in.ProviderType
	}
	if !known {
		bad("provider_type", "must be one of %s", strings.Join(ProviderTypes, ", "))
	}
	switch m := p.Model; {
	case m == "" || m == "*":
		bad("model", `is required: a model name ("gpt-4o") or a prefix ending in * ("claude-sonnet-4-5*")`)
	case len(m) > maxModelLen:
		bad("model", "is longer than %d bytes", maxModelLen)
	case strings.Contains(strings.TrimSuffix(m, "*"), "*"):
		bad("model", "may hold a * only at its end, as a prefix pattern")
	}
	if in.MinInputTokens < 0 {
		bad("min_input_tokens", "must not be negative")
	}
	p.EffectiveFrom = defaultFrom
	if in.EffectiveFrom != "" {
		t, err := time.Parse(time.RFC3339, in.EffectiveFrom)
		if err != nil {
			bad("effective_from", "must be an RFC 3339 time such as 2026-01-01T00:00:00Z")
		} else {
			p.EffectiveFrom = t.UTC().Truncate(time.Microsecond)
		}
	}
	price := func(field, v string) int64 {
		n, err := ParseUSD(v)
		if err != nil {
			bad(field, "%s", err.Error())
		}
		return n
	}
	p.Input = price("input", in.Input)
	p.Output = price("output", in.Output)
	derived := func(field string, v *string, num, den int64) int64 {
		if v != nil {
			return price(field, *v)
		}
		if in.ProviderType == "openai" {
			return p.Input
		}
		// Exact for every price ParseUSD accepts but a fraction of a
		// micro-dollar per million tokens, which rounds half up.
		return (p.Input*num + den/2) / den
	}
	p.CacheRead = derived("cache_read", in.CacheRead, 1, 10)
	p.CacheWrite5m = derived("cache_write_5m", in.CacheWrite5m, 5, 4)
	p.CacheWrite1h = derived("cache_write_1h", in.CacheWrite1h, 2, 1)
	if in.Reasoning != nil {
		r := price("reasoning", *in.Reasoning)
		p.Reasoning = &r
	}
	if len(p.Note) > 1024 {
		bad("note", "is longer than 1024 bytes")
	}
	return p, vs
}
