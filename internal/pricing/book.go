package pricing

import (
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

// matches reports whether the row's model covers name (normalised).
func (p Price) matches(name string) bool {
	if prefix, ok := strings.CutSuffix(p.Model, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return p.Model == name
}

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
	var sum int64
	if f.InputIncludesCacheRead() {
		cached := min(max(u.CacheRead, 0), max(u.Input, 0))
		sum += (max(u.Input, 0)-cached)*p.Input + cached*p.CacheRead
	} else {
		sum += max(u.Input, 0)*p.Input + max(u.CacheRead, 0)*p.CacheRead
	}
	write1h := min(max(u.CacheWrite1h, 0), max(u.CacheWrite, 0))
	sum += (max(u.CacheWrite, 0)-write1h)*p.CacheWrite5m + write1h*p.CacheWrite1h
	out := max(u.Output, 0)
	if p.Reasoning != nil {
		reasoning := min(max(u.Reasoning, 0), out)
		sum += (out-reasoning)*p.Output + reasoning**p.Reasoning
	} else {
		sum += out * p.Output
	}
	return (sum + perMillion/2) / perMillion
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
// on every reload, so readers need no lock.
type Book struct {
	// byType holds each provider type's rows, overrides first, then by
	// model, effective_from and tier (the order Lookup relies on is its own;
	// this is only for List).
	byType map[string][]Price
	// AsOf is the date of the default book the rows came from; zero when
	// none is loaded.
	AsOf time.Time
	// LoadedAt is when the snapshot was read.
	LoadedAt time.Time
}

// NewBook returns a Book of rows.
func NewBook(rows []Price, asOf, loadedAt time.Time) *Book {
	b := &Book{byType: map[string][]Price{}, AsOf: asOf, LoadedAt: loadedAt}
	for _, r := range rows {
		b.byType[r.ProviderType] = append(b.byType[r.ProviderType], r)
	}
	for _, rs := range b.byType {
		slices.SortFunc(rs, comparePrices)
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
	switch {
	case a.MinInputTokens < b.MinInputTokens:
		return -1
	case a.MinInputTokens > b.MinInputTokens:
		return 1
	}
	return 0
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
	if b == nil {
		return Price{}, false
	}
	rows := b.byType[providerType]
	if len(rows) == 0 {
		return Price{}, false
	}
	for _, name := range lookupNames(providerType, model) {
		for _, source := range []string{SourceOverride, SourceDefault} {
			if p, ok := lookupIn(rows, source, name, at, inputTokens); ok {
				return p, true
			}
		}
	}
	return Price{}, false
}

func lookupIn(rows []Price, source, name string, at time.Time, inputTokens int64) (Price, bool) {
	// The most specific pattern among the source's matching rows.
	best := ""
	found := false
	for _, r := range rows {
		if r.Source != source || !r.matches(name) {
			continue
		}
		if !found || moreSpecific(r.Model, best) {
			best, found = r.Model, true
		}
	}
	if !found {
		return Price{}, false
	}
	// The version in effect at at.
	var version, earliest time.Time
	haveVersion, haveEarliest := false, false
	for _, r := range rows {
		if r.Source != source || r.Model != best {
			continue
		}
		if !haveEarliest || r.EffectiveFrom.Before(earliest) {
			earliest, haveEarliest = r.EffectiveFrom, true
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
		if r.Source != source || r.Model != best || !r.EffectiveFrom.Equal(version) {
			continue
		}
		if r.MinInputTokens != 0 && r.MinInputTokens >= inputTokens {
			continue
		}
		if !haveTier || r.MinInputTokens > tier.MinInputTokens {
			tier, haveTier = r, true
		}
	}
	return tier, haveTier
}

// moreSpecific reports whether pattern a beats pattern b: an exact name
// beats any prefix, a longer prefix a shorter one.
func moreSpecific(a, b string) bool {
	ap, bp := strings.HasSuffix(a, "*"), strings.HasSuffix(b, "*")
	if ap != bp {
		return !ap
	}
	return len(a) > len(b)
}

// bedrockRegionPrefixes are the geographies of Bedrock's cross-region
// inference profiles, which prefix a model ID ("us.anthropic.claude-…").
var bedrockRegionPrefixes = []string{"us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.", "global."}

// lookupNames are the names Lookup tries for model, in order.
func lookupNames(providerType, model string) []string {
	name := NormalizeModel(model)
	if providerType != "bedrock" {
		return []string{name}
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
			return []string{name, rest}
		}
	}
	return []string{name}
}

// NormalizeModel is the one form model names are compared in: trimmed and
// lower case. Price rows are stored in it.
func NormalizeModel(model string) string {
	return strings.ToLower(strings.TrimSpace(model))
}
