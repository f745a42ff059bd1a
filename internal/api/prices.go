package api

import (
	"bytes"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/pricing"
)

// PricesFrom gives the API the price book service (nil: the prices routes
// answer that no price book is loaded).
func (a *API) PricesFrom(s *pricing.Service) { a.prices = s }

// priceJSON is one price row as the API shows it: prices as decimal
// strings of US dollars per million tokens, exact.
type priceJSON struct {
	ID             uuid.UUID     `json:"id"`
	Source         string        `json:"source"`
	ProviderType   string        `json:"provider_type"`
	Model          string        `json:"model"`
	MinInputTokens int64         `json:"min_input_tokens"`
	EffectiveFrom  time.Time     `json:"effective_from"`
	Input          string        `json:"input"`
	Output         string        `json:"output"`
	CacheRead      string        `json:"cache_read"`
	CacheWrite5m   string        `json:"cache_write_5m"`
	CacheWrite1h   string        `json:"cache_write_1h"`
	Reasoning      *string       `json:"reasoning"`
	Note           string        `json:"note"`
	State          pricing.State `json:"state,omitempty"`
}

func toPriceJSON(p pricing.Price, state pricing.State) priceJSON {
	j := priceJSON{
		ID: p.ID, Source: p.Source, ProviderType: p.ProviderType, Model: p.Model, MinInputTokens: p.MinInputTokens,
		EffectiveFrom: p.EffectiveFrom.UTC(), Input: pricing.FormatUSD(p.Input), Output: pricing.FormatUSD(p.Output),
		CacheRead: pricing.FormatUSD(p.CacheRead), CacheWrite5m: pricing.FormatUSD(p.CacheWrite5m),
		CacheWrite1h: pricing.FormatUSD(p.CacheWrite1h), Note: p.Note, State: state,
	}
	if p.Reasoning != nil {
		r := pricing.FormatUSD(*p.Reasoning)
		j.Reasoning = &r
	}
	return j
}

func (a *API) priceService() (*pricing.Service, error) {
	if a.prices == nil || a.prices.Book() == nil {
		return nil, apperr.Conflict("No price book is loaded on this server.")
	}
	return a.prices, nil
}

// listPrices answers the book this replica prices requests with: every
// row, with its state now (in_effect: what a request to its model is
// priced with; overridden; superseded; scheduled), and the default book's
// date.
func (a *API) listPrices(r *http.Request, _ *auth.Principal) (any, error) {
	s, err := a.priceService()
	if err != nil {
		return nil, err
	}
	b := s.Book()
	now := a.now()
	q := r.URL.Query()
	out := []priceJSON{}
	for _, p := range b.Rows() {
		if t := q.Get("provider_type"); t != "" && p.ProviderType != t {
			continue
		}
		if src := q.Get("source"); src != "" && p.Source != src {
			continue
		}
		out = append(out, toPriceJSON(p, b.StateOf(p, now)))
	}
	var asOf *string
	if !b.AsOf.IsZero() {
		d := b.AsOf.Format(time.DateOnly)
		asOf = &d
	}
	return map[string]any{"default_as_of": asOf, "prices": out}, nil
}

// setPrice stores an override.
func (a *API) setPrice(r *http.Request, p *auth.Principal) (any, error) {
	s, err := a.priceService()
	if err != nil {
		return nil, err
	}
	var in pricing.PriceInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	got, err := s.Set(r.Context(), actorOf(p), in)
	if err != nil {
		return nil, err
	}
	return toPriceJSON(got, s.Book().StateOf(got, a.now())), nil
}

// importBody is an import: the prices, all stored or none.
type importBody struct {
	Prices []pricing.PriceInput `json:"prices"`
}

// importPrices stores several overrides in one transaction. The body is a
// JSON array of prices as PUT takes them, or {"prices": [...]}.
func (a *API) importPrices(r *http.Request, p *auth.Principal) (any, error) {
	s, err := a.priceService()
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		// The array form, read as the object form so that every element is
		// checked by the one decoder, its mistakes named prices[i].field.
		raw = append(append([]byte(`{"prices":`), raw...), '}')
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	var in importBody
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	got, err := s.Import(r.Context(), actorOf(p), in.Prices)
	if err != nil {
		return nil, err
	}
	b, now := s.Book(), a.now()
	out := make([]priceJSON, len(got))
	for i, g := range got {
		out[i] = toPriceJSON(g, b.StateOf(g, now))
	}
	return map[string]any{"prices": out}, nil
}

// deletePrice removes an override.
func (a *API) deletePrice(r *http.Request, p *auth.Principal) (any, error) {
	s, err := a.priceService()
	if err != nil {
		return nil, err
	}
	id, err := uuid.Parse(r.PathValue("price"))
	if err != nil {
		return nil, apperr.Invalid(apperr.Validation{Field: "price", Detail: "must be a price id, a UUID (see `aigate prices list`)"})
	}
	return nil, s.Delete(r.Context(), actorOf(p), id)
}
