package pricing

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/aigate/aigate/internal/llmwire"
)

// The sources of a price row.
const (
	SourceDefault  = "default"  // the book shipped in the binary (defaultbook.json)
	SourceOverride = "override" // an operator's, through the API; wins over a default
)

// Price is one row of the book: what a model's tokens cost, in micro-dollars
// (1e-6 USD) per million tokens ($3.00/M is 3_000_000).
type Price struct {
	ID           uuid.UUID
	Source       string // SourceDefault or SourceOverride
	ProviderType string // openai, anthropic, bedrock
	// Model is an exact name, or a prefix pattern ending in '*', lower case.
	Model string
	// MinInputTokens makes the row a long-context tier: it applies to
	// requests whose prompt (input including cached tokens) exceeds it. The
	// normal tier is 0.
	MinInputTokens int64
	EffectiveFrom  time.Time

	Input, Output, CacheRead, CacheWrite5m, CacheWrite1h int64
	// Reasoning is nil when reasoning tokens are billed as output.
	Reasoning *int64
	Note      string
}

// IsPrefix reports whether the row's model is a prefix pattern.
func (p Price) IsPrefix() bool { return strings.HasSuffix(p.Model, "*") }

// Cost is what u costs at p, in micro-dollars, rounded half up once at the
// end: each count times its rate is summed in micro-dollars per million
// tokens, and the sum divided by a million.
//
// The counts mean what the format says (llmwire's package doc):
//   - OpenAI (chat completions, responses): Input includes the cached
//     tokens, which are billed at CacheRead and the rest at Input; Output
//     includes Reasoning, billed at Output unless the row prices reasoning.
//   - Anthropic messages (and Bedrock): Input excludes the cache reads and
//     writes, each billed at its own rate; CacheWrite is the total of the
//     5-minute and 1-hour writes, CacheWrite1h the 1-hour part.
//
// A count another one should include but does not (a cached count above
// the input) is taken as it is, never as a negative count.
func (p Price) Cost(f llmwire.Format, u llmwire.Usage) int64 {
	var sum acc
	if f.InputIncludesCacheRead() {
		cached := min(max(u.CacheRead, 0), max(u.Input, 0))
		sum.add(max(u.Input, 0)-cached, p.Input)
		sum.add(cached, p.CacheRead)
	} else {
		sum.add(max(u.Input, 0), p.Input)
		sum.add(max(u.CacheRead, 0), p.CacheRead)
	}
	write1h := min(max(u.CacheWrite1h, 0), max(u.CacheWrite, 0))
	sum.add(max(u.CacheWrite, 0)-write1h, p.CacheWrite5m)
	sum.add(write1h, p.CacheWrite1h)
	out := max(u.Output, 0)
	if p.Reasoning != nil {
		reasoning := min(max(u.Reasoning, 0), out)
		sum.add(out-reasoning, p.Output)
		sum.add(reasoning, *p.Reasoning)
	} else {
		sum.add(out, p.Output)
	}
	return sum.micros()
}

// acc is a sum of count × rate products in 128 bits: counts come from the
// upstream's response, and no count a provider could send overflows it.
type acc struct{ hi, lo uint64 }

// add adds n × rate; both are non-negative.
func (a *acc) add(n, rate int64) {
	hi, lo := bits.Mul64(uint64(max(n, 0)), uint64(max(rate, 0)))
	var carry uint64
	a.lo, carry = bits.Add64(a.lo, lo, 0)
	a.hi += hi + carry
}

// micros divides the sum by a million, rounding half up, and saturates at
// the largest int64 (a cost no real request reaches).
func (a acc) micros() int64 {
	lo, carry := bits.Add64(a.lo, perMillion/2, 0)
	hi := a.hi + carry
	if hi >= perMillion {
		return math.MaxInt64 // the quotient would not fit 64 bits
	}
	q, _ := bits.Div64(hi, lo, perMillion)
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

const perMillion = 1_000_000

// PromptTokens is the prompt a request sent, which picks its long-context
// tier: OpenAI's input (which includes the cached tokens), Anthropic's input
// plus its cache reads and writes.
func PromptTokens(f llmwire.Format, u llmwire.Usage) int64 {
	if f.InputIncludesCacheRead() {
		return u.Input
	}
	return u.Input + u.CacheRead + u.CacheWrite
}

// Book is an immutable set of prices: a replica's snapshot, replaced whole
// on every reload, so readers need no lock. It is indexed for Lookup, which
// runs on every request: a map probe for the exact name, then the prefix
// patterns of the provider type and source, longest first.
type Book struct {
	// byType holds each provider type's rows by model, overrides first,
	// then by effective_from and tier.
	byType map[string][]Price
	// rows holds the rows of one pattern (its versions and tiers).
	rows map[patternKey][]Price
	// prefixes lists the prefix patterns (without the *) of a provider type
	// and source, longest first.
	prefixes map[sourceKey][]string
	// AsOf is the date of the default book the rows came from; zero when
	// none is loaded.
	AsOf time.Time
	// LoadedAt is when the snapshot was read.
	LoadedAt time.Time
}

type sourceKey struct{ typ, source string }

type patternKey struct {
	sourceKey
	model string // the pattern as stored, * included
}

// NewBook returns a Book of rows.
func NewBook(rows []Price, asOf, loadedAt time.Time) *Book {
	b := &Book{byType: map[string][]Price{}, rows: map[patternKey][]Price{}, prefixes: map[sourceKey][]string{},
		AsOf: asOf, LoadedAt: loadedAt}
	for _, r := range rows {
		b.byType[r.ProviderType] = append(b.byType[r.ProviderType], r)
		k := patternKey{sourceKey{r.ProviderType, r.Source}, r.Model}
		if len(b.rows[k]) == 0 && r.IsPrefix() {
			b.prefixes[k.sourceKey] = append(b.prefixes[k.sourceKey], strings.TrimSuffix(r.Model, "*"))
		}
		b.rows[k] = append(b.rows[k], r)
	}
	for _, rs := range b.byType {
		slices.SortFunc(rs, comparePrices)
	}
	for _, ps := range b.prefixes {
		slices.SortFunc(ps, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	}
	return b
}

func comparePrices(a, b Price) int {
	if c := strings.Compare(a.Model, b.Model); c != 0 {
		return c
	}
	if a.Source != b.Source {
		if a.Source == SourceOverride {
			return -1
		}
		return 1
	}
	if c := a.EffectiveFrom.Compare(b.EffectiveFrom); c != 0 {
		return c
	}
	return cmp.Compare(a.MinInputTokens, b.MinInputTokens)
}

// Rows returns every row, by provider type and model; overrides before
// defaults of the same model.
func (b *Book) Rows() []Price {
	if b == nil {
		return nil
	}
	types := make([]string, 0, len(b.byType))
	for t := range b.byType {
		types = append(types, t)
	}
	slices.Sort(types)
	var out []Price
	for _, t := range types {
		out = append(out, b.byType[t]...)
	}
	return out
}

// Lookup returns the price of a request to model on a provider of
// providerType that started at at and sent inputTokens of prompt
// (PromptTokens), and false when the model has no price. Of the rows whose
// model matches (model normalised by NormalizeModel):
//
//  1. the overrides, if any match; else the defaults;
//  2. the exact name, else the longest prefix pattern;
//  3. the latest effective_from at or before at (for the defaults, when
//     every version is later, the earliest: the first book shipped prices
//     the requests before it too, as nothing else could);
//  4. of that version, the tier with the largest min_input_tokens below
//     inputTokens (the normal tier, 0, always applies).
//
// A Bedrock model ID is tried as it is, then without its cross-region
// inference-profile prefix ("us.", "eu.", "apac.", "global.", ...), so an
// override may price a region's profile apart.
func (b *Book) Lookup(providerType, model string, at time.Time, inputTokens int64) (Price, bool) {
	if b == nil || len(b.byType[providerType]) == 0 {
		return Price{}, false
	}
	name, alt := lookupNames(providerType, model)
	for _, n := range [2]string{name, alt} {
		if n == "" {
			continue
		}
		for _, source := range [2]string{SourceOverride, SourceDefault} {
			if p, ok := b.lookupIn(providerType, source, n, at, inputTokens); ok {
				return p, true
			}
		}
	}
	return Price{}, false
}

// lookupIn is Lookup among the rows of one source, for a normalised name.
func (b *Book) lookupIn(typ, source, name string, at time.Time, inputTokens int64) (Price, bool) {
	sk := sourceKey{typ, source}
	rows := b.rows[patternKey{sk, name}]
	if len(rows) == 0 {
		for _, prefix := range b.prefixes[sk] {
			if strings.HasPrefix(name, prefix) {
				rows = b.rows[patternKey{sk, prefix + "*"}]
				break
			}
		}
	}
	if len(rows) == 0 {
		return Price{}, false
	}
	// The version in effect at at.
	var version, earliest time.Time
	haveVersion := false
	for i, r := range rows {
		if i == 0 || r.EffectiveFrom.Before(earliest) {
			earliest = r.EffectiveFrom
		}
		if !r.EffectiveFrom.After(at) && (!haveVersion || r.EffectiveFrom.After(version)) {
			version, haveVersion = r.EffectiveFrom, true
		}
	}
	if !haveVersion {
		if source != SourceDefault {
			return Price{}, false
		}
		version = earliest
	}
	// The tier.
	var tier Price
	haveTier := false
	for _, r := range rows {
		if !r.EffectiveFrom.Equal(version) || (r.MinInputTokens != 0 && r.MinInputTokens >= inputTokens) {
			continue
		}
		if !haveTier || r.MinInputTokens > tier.MinInputTokens {
			tier, haveTier = r, true
		}
	}
	return tier, haveTier
}

// bedrockRegionPrefixes are the geographies of Bedrock's cross-region
// inference profiles, which prefix a model ID ("us.anthropic.claude-…").
var bedrockRegionPrefixes = []string{"us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.", "global."}

// lookupNames are the names Lookup tries for model, in order: the name,
// and for Bedrock the ID without its cross-region prefix ("" when none).
func lookupNames(providerType, model string) (string, string) {
	name := NormalizeModel(model)
	if providerType != "bedrock" {
		return name, ""
	}
	// An inference profile's ARN ends in its ID:
	// arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-…
	if strings.HasPrefix(name, "arn:") {
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
	}
	for _, p := range bedrockRegionPrefixes {
		if rest, ok := strings.CutPrefix(name, p); ok {
			return name, rest
		}
	}
	return name, ""
}

// NormalizeModel is the one form model names are compared in: trimmed and
// lower case. Price rows are stored in it.
func NormalizeModel(model string) string {
	return strings.ToLower(strings.TrimSpace(model))
}
