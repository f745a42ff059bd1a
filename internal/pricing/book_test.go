package pricing_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmwire"
	"github.com/aigate/aigate/internal/pricing"
)

var (
	t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
)

// row is a price row with a fresh id; its input price in whole dollars
// names it in the assertions.
func row(source, typ, model string, from time.Time, minInput int64, dollars int64) pricing.Price {
	return pricing.Price{
		ID: uuid.New(), Source: source, ProviderType: typ, Model: model, EffectiveFrom: from, MinInputTokens: minInput,
		Input: dollars * 1_000_000, Output: 5 * dollars * 1_000_000,
	}
}

func TestLookupPrecedence(t *testing.T) {
	t.Parallel()
	const d, o = pricing.SourceDefault, pricing.SourceOverride
	book := pricing.NewBook([]pricing.Price{
		row(d, "anthropic", "claude-sonnet-4-5*", t0, 0, 3),
		row(d, "anthropic", "claude-sonnet-4-5*", t0, 200_000, 6),
		row(d, "anthropic", "claude-*", t0, 0, 100),
		row(d, "anthropic", "claude-sonnet-4-5-20250929", t0, 0, 4),
		row(d, "anthropic", "claude-haiku-4-5*", t0, 0, 1),
		row(o, "anthropic", "claude-haiku-*", t1, 0, 2),
		row(d, "openai", "gpt-4o", t0, 0, 25),
		row(d, "openai", "gpt-4o", t1, 0, 26),
		row(o, "openai", "gpt-4o-mini*", t1, 0, 7),
		row(d, "bedrock", "anthropic.claude-sonnet-4-5*", t0, 0, 30),
		row(o, "bedrock", "us.anthropic.claude-sonnet-4-5*", t0, 0, 33),
	}, t0, t0)
	after, before := t1.Add(time.Hour), t1.Add(-time.Hour)
	for _, tc := range []struct {
		name, typ, model string
		at               time.Time
		input            int64
		want             int64 // the input price in dollars; 0: no price
	}{
		{"longest prefix", "anthropic", "claude-sonnet-4-5", after, 10, 3},
		{"exact beats prefix", "anthropic", "claude-sonnet-4-5-20250929", after, 10, 4},
		{"shorter prefix", "anthropic", "claude-opus-4-5", after, 10, 100},
		{"long-context tier above its threshold", "anthropic", "claude-sonnet-4-5-x", after, 200_001, 6},
		{"normal tier at the threshold", "anthropic", "claude-sonnet-4-5-x", after, 200_000, 3},
		{"normal tier with no tokens", "anthropic", "claude-sonnet-4-5-x", after, 0, 3},
		{"override beats a more specific default", "anthropic", "claude-haiku-4-5", after, 10, 2},
		{"override not yet in effect", "anthropic", "claude-haiku-4-5", before, 10, 1},
		{"names are compared in lower case", "anthropic", " Claude-Haiku-4-5 ", after, 10, 2},
		{"latest version", "openai", "gpt-4o", after, 10, 26},
		{"older version before the newer", "openai", "gpt-4o", before, 10, 25},
		{"default before its first version", "openai", "gpt-4o", t0.Add(-time.Hour), 10, 25},
		{"override only from its date", "openai", "gpt-4o-mini", before, 10, 0},
		{"another provider type's rows", "bedrock", "gpt-4o", after, 10, 0},
		{"unknown model", "openai", "gpt-9", after, 10, 0},
		{"bedrock id", "bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", after, 10, 30},
		{"bedrock cross-region profile, normalised", "bedrock", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", after, 10, 30},
		{"bedrock profile with its own override", "bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", after, 10, 33},
		{"bedrock profile ARN", "bedrock", "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0", after, 10, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, ok := book.Lookup(tc.typ, tc.model, tc.at, tc.input)
			if tc.want == 0 {
				require.False(t, ok, "priced by %+v", p)
				return
			}
			require.True(t, ok)
			require.Equal(t, tc.want*1_000_000, p.Input)
		})
	}
	var nilBook *pricing.Book
	_, ok := nilBook.Lookup("openai", "gpt-4o", after, 1)
	require.False(t, ok, "no book prices nothing")
}

func TestCost(t *testing.T) {
	t.Parallel()
	reasoning := int64(20_000_000)
	p := pricing.Price{Input: 3_000_000, Output: 15_000_000, CacheRead: 300_000, CacheWrite5m: 3_750_000, CacheWrite1h: 6_000_000}
	withReasoning := p
	withReasoning.Reasoning = &reasoning
	for _, tc := range []struct {
		name  string
		p     pricing.Price
		f     llmwire.Format
		u     llmwire.Usage
		micro int64
	}{
		// 1000 uncached at $3 + 400 cached at $0.30 + 200 output at $15:
		// 3000 + 120 + 3000 micro-dollars.
		{"openai input includes cached", p, llmwire.OpenAIChat, llmwire.Usage{Input: 1400, CacheRead: 400, Output: 200}, 6120},
		// Reasoning is part of output, billed at output without its own price.
		{"openai reasoning as output", p, llmwire.OpenAIResponses, llmwire.Usage{Input: 1000, Output: 300, Reasoning: 200}, 3000 + 4500},
		// 100 visible output at $15 + 200 reasoning at $20.
		{"openai reasoning priced apart", withReasoning, llmwire.OpenAIResponses, llmwire.Usage{Input: 1000, Output: 300, Reasoning: 200}, 3000 + 1500 + 4000},
		// Anthropic: 1000 input + 400 cache reads + 300 5m writes + 500 1h
		// writes + 200 output: 3000 + 120 + 1125 + 3000 + 3000.
		{"anthropic cache split", p, llmwire.AnthropicMessages, llmwire.Usage{Input: 1000, CacheRead: 400, CacheWrite: 800, CacheWrite1h: 500, Output: 200}, 10245},
		// 1 input token at $3/M is 3 micro-dollars; 1 cache read at $0.30/M
		// is 0.3, and 0.3 + 0.3 rounds to 1 only once they are summed.
		{"one rounding at the end, half up", p, llmwire.AnthropicMessages, llmwire.Usage{CacheRead: 2}, 1},
		{"half rounds up", pricing.Price{Input: 500_000}, llmwire.AnthropicMessages, llmwire.Usage{Input: 1}, 1},
		{"below half rounds down", pricing.Price{Input: 499_999}, llmwire.AnthropicMessages, llmwire.Usage{Input: 1}, 0},
		{"no tokens", p, llmwire.OpenAIChat, llmwire.Usage{}, 0},
		{"cached above input is not negative", p, llmwire.OpenAIChat, llmwire.Usage{Input: 10, CacheRead: 20}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.micro, tc.p.Cost(tc.f, tc.u))
		})
	}
}

func TestParseUSD(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"3": 3_000_000, "3.00": 3_000_000, "0.075": 75_000, "0.000001": 1, "22.50": 22_500_000, ".5": 500_000,
		"007.1": 7_100_000, "1000000": 1_000_000_000_000, " 1.25 ": 1_250_000,
	} {
		got, err := pricing.ParseUSD(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-1", "+1", "1e3", "NaN", "Inf", "0.0000001", "1.2.3", "1,5", "$3", ".", "1000000.000001", "99999999", "1 000"} {
		_, err := pricing.ParseUSD(in)
		require.Error(t, err, in)
	}
	for micros, want := range map[int64]string{3_000_000: "3.00", 75_000: "0.075", 1: "0.000001", 0: "0.00", 22_500_000: "22.50", 1_234_567: "1.234567"} {
		require.Equal(t, want, pricing.FormatUSD(micros))
	}
}

// TestDefaultBook: the shipped book parses, and prices what the docs say it
// prices with Anthropic's cache multipliers.
func TestDefaultBook(t *testing.T) {
	t.Parallel()
	b, err := pricing.LoadDefaultBook()
	require.NoError(t, err)
	require.False(t, b.AsOf.IsZero())
	for _, typ := range []string{"openai", "anthropic", "bedrock"} {
		require.NotEmpty(t, b.Source[typ], "source of %s", typ)
	}
	book := pricing.NewBook(b.Prices, b.AsOf, b.AsOf)
	at := b.AsOf.Add(time.Hour)
	sonnet, ok := book.Lookup("anthropic", "claude-sonnet-4-5-20250929", at, 1000)
	require.True(t, ok)
	require.Equal(t, pricing.Price{Input: 3_000_000, Output: 15_000_000, CacheRead: 300_000, CacheWrite5m: 3_750_000, CacheWrite1h: 6_000_000},
		pricing.Price{Input: sonnet.Input, Output: sonnet.Output, CacheRead: sonnet.CacheRead, CacheWrite5m: sonnet.CacheWrite5m, CacheWrite1h: sonnet.CacheWrite1h})
	long, ok := book.Lookup("anthropic", "claude-sonnet-4-5", at, 200_001)
	require.True(t, ok)
	require.Equal(t, int64(6_000_000), long.Input)
	require.Equal(t, int64(22_500_000), long.Output)
	br, ok := book.Lookup("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", at, 10)
	require.True(t, ok)
	require.Equal(t, int64(3_000_000), br.Input)
	for _, m := range []string{"gpt-5", "gpt-5-2025-08-07", "gpt-5-mini", "gpt-4.1", "gpt-4o", "gpt-4o-mini", "o3", "o4-mini"} {
		_, ok := book.Lookup("openai", m, at, 10)
		require.True(t, ok, m)
	}
	mini, _ := book.Lookup("openai", "gpt-4o-mini-2024-07-18", at, 10)
	require.Equal(t, int64(150_000), mini.Input, "gpt-4o-mini is not priced as gpt-4o")
	_, ok = book.Lookup("openai", "gpt-5.9", at, 10)
	require.False(t, ok, "a model the book does not know is unpriced, not priced as an older one")
}
