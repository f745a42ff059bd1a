package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Price is one row of the price book: prices are decimal strings of US
// dollars per million tokens.
type Price struct {
	ID             string    `json:"id"`
	Source         string    `json:"source"`
	ProviderType   string    `json:"provider_type"`
	Model          string    `json:"model"`
	MinInputTokens int64     `json:"min_input_tokens"`
	EffectiveFrom  time.Time `json:"effective_from"`
	Input          string    `json:"input"`
	Output         string    `json:"output"`
	CacheRead      string    `json:"cache_read"`
	CacheWrite5m   string    `json:"cache_write_5m"`
	CacheWrite1h   string    `json:"cache_write_1h"`
	Reasoning      *string   `json:"reasoning"`
	Note           string    `json:"note"`
	// State is in_effect, overridden, superseded or scheduled.
	State string `json:"state,omitempty"`
}

// PriceBook is what GET /api/v1/prices answers.
type PriceBook struct {
	DefaultAsOf *string `json:"default_as_of"`
	Prices      []Price `json:"prices"`
}

// PriceInput is an override to set; omitted optional fields take the
// server's rule (see docs/prices-and-cost.md).
type PriceInput struct {
	ProviderType   string  `json:"provider_type"`
	Model          string  `json:"model"`
	MinInputTokens int64   `json:"min_input_tokens,omitempty"`
	EffectiveFrom  string  `json:"effective_from,omitempty"`
	Input          string  `json:"input"`
	Output         string  `json:"output"`
	CacheRead      *string `json:"cache_read,omitempty"`
	CacheWrite5m   *string `json:"cache_write_5m,omitempty"`
	CacheWrite1h   *string `json:"cache_write_1h,omitempty"`
	Reasoning      *string `json:"reasoning,omitempty"`
	Note           string  `json:"note,omitempty"`
}

// ListPrices returns the price book, optionally of one provider type or
// source ("" for all).
func (c *Client) ListPrices(ctx context.Context, providerType, source string) (PriceBook, error) {
	q := url.Values{}
	if providerType != "" {
		q.Set("provider_type", providerType)
	}
	if source != "" {
		q.Set("source", source)
	}
	var b PriceBook
	err := c.Do(ctx, http.MethodGet, "/api/v1/prices", q, nil, &b)
	return b, err
}

// SetPrice sets an override.
func (c *Client) SetPrice(ctx context.Context, in PriceInput) (Price, error) {
	var p Price
	err := c.Do(ctx, http.MethodPut, "/api/v1/prices", nil, in, &p)
	return p, err
}

// ImportPrices sets several overrides, all or none; raw is the JSON array
// (or {"prices": [...]}) as read from a file, sent as it is so the server's
// validations name the element at fault.
func (c *Client) ImportPrices(ctx context.Context, raw json.RawMessage) ([]Price, error) {
	var out struct {
		Prices []Price `json:"prices"`
	}
	err := c.Do(ctx, http.MethodPost, "/api/v1/prices/import", nil, raw, &out)
	return out.Prices, err
}

// DeletePrice removes an override.
func (c *Client) DeletePrice(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, "/api/v1/prices/"+url.PathEscape(id), nil, nil, nil)
}
