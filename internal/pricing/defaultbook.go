package pricing

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"time"
)

//go:embed defaultbook.json
var defaultBookJSON []byte

// DefaultBook is the book shipped in the binary, parsed.
type DefaultBook struct {
	AsOf   time.Time
	Source map[string]string
	Prices []Price
}

// PriceInput is a price as people write it: the API's body, the import
// file's elements and the shipped book's rows. Prices are decimal strings of
// US dollars per million tokens ("3.00"); ParseUSD reads them exactly.
type PriceInput struct {
	ProviderType   string `json:"provider_type"`
	Model          string `json:"model"`
	MinInputTokens int64  `json:"min_input_tokens,omitempty"`
	// EffectiveFrom is RFC 3339; empty is now (an override) or the book's
	// as_of (the shipped book).
	EffectiveFrom string  `json:"effective_from,omitempty"`
	Input         string  `json:"input"`
	Output        string  `json:"output"`
	CacheRead     *string `json:"cache_read,omitempty"`
	CacheWrite5m  *string `json:"cache_write_5m,omitempty"`
	CacheWrite1h  *string `json:"cache_write_1h,omitempty"`
	Reasoning     *string `json:"reasoning,omitempty"`
	Note          string  `json:"note,omitempty"`
}

type defaultBookFile struct {
	AsOf   string            `json:"as_of"`
	Source map[string]string `json:"source"`
	Note   []string          `json:"note"`
	Prices []PriceInput      `json:"prices"`
}

// LoadDefaultBook parses the shipped book. It fails only when the file
// shipped is broken, which its test catches.
func LoadDefaultBook() (DefaultBook, error) { return parseDefaultBook(defaultBookJSON) }

func parseDefaultBook(raw []byte) (DefaultBook, error) {
	var f defaultBookFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return DefaultBook{}, fmt.Errorf("parse the default price book: %w", err)
	}
	asOf, err := time.Parse(time.DateOnly, f.AsOf)
	if err != nil {
		return DefaultBook{}, fmt.Errorf("default price book: as_of %q is not a date (YYYY-MM-DD): %w", f.AsOf, err)
	}
	b := DefaultBook{AsOf: asOf, Source: f.Source}
	seen := map[string]bool{}
	for i, in := range f.Prices {
		p, vs := in.parse(asOf)
		if len(vs) > 0 {
			return DefaultBook{}, fmt.Errorf("default price book: price %d (%s %s): %s %s", i, in.ProviderType, in.Model, vs[0].Field, vs[0].Detail)
		}
		p.Source = SourceDefault
		key := fmt.Sprintf("%s|%s|%d", p.ProviderType, p.Model, p.MinInputTokens)
		if seen[key] {
			return DefaultBook{}, fmt.Errorf("default price book: %s %s (min_input_tokens %d) is listed twice", p.ProviderType, p.Model, p.MinInputTokens)
		}
		seen[key] = true
		b.Prices = append(b.Prices, p)
	}
	return b, nil
}
