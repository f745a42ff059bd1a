package dashboard

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/aigate/aigate/internal/client"
)

type pricesData struct {
	Book    client.PriceBook
	Types   []string
	Form    client.PriceInput
	Tier    string // the form's min_input_tokens, as typed
	Fields  map[string]string
	Problem string
}

func (p pricesData) pageError() string { return p.Problem }

// priceTypes are the provider types a price may name, for the form.
var priceTypes = []string{"anthropic", "openai", "bedrock"}

func (d *Dashboard) prices(w http.ResponseWriter, r *http.Request, s *session) {
	d.renderPrices(w, r, s, 0, pricesData{Form: client.PriceInput{ProviderType: "anthropic"}})
}

func (d *Dashboard) renderPrices(w http.ResponseWriter, r *http.Request, s *session, status int, data pricesData) {
	b, err := s.api.ListPrices(r.Context(), r.URL.Query().Get("provider_type"), "")
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	data.Book, data.Types = b, priceTypes
	d.render(w, r, s, status, "prices", "Prices", data)
}

// optional is a form field that may be left empty: then the server's rule
// applies (the cache multipliers, reasoning as output).
func optional(v string) *string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	return &v
}

func (d *Dashboard) setPrice(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	in := client.PriceInput{
		ProviderType: f.Get("provider_type"), Model: f.Get("model"), Input: f.Get("input"), Output: f.Get("output"),
		CacheRead: optional(f.Get("cache_read")), CacheWrite5m: optional(f.Get("cache_write_5m")),
		CacheWrite1h: optional(f.Get("cache_write_1h")), Reasoning: optional(f.Get("reasoning")),
		EffectiveFrom: strings.TrimSpace(f.Get("effective_from")), Note: f.Get("note"),
	}
	tier := strings.TrimSpace(f.Get("min_input_tokens"))
	if tier != "" {
		n, err := strconv.ParseInt(tier, 10, 64)
		if err != nil || n < 0 {
			d.renderPrices(w, r, s, http.StatusBadRequest, pricesData{Form: in, Tier: tier,
				Fields: map[string]string{"min_input_tokens": "must be a whole number of tokens"}, Problem: "The price was not set."})
			return
		}
		in.MinInputTokens = n
	}
	if _, err := s.api.SetPrice(r.Context(), in); err != nil {
		fields, msg, ok := fieldErrors(err)
		if !ok {
			d.fail(w, r, s, 0, err)
			return
		}
		d.renderPrices(w, r, s, statusOf(err), pricesData{Form: in, Tier: tier, Fields: fields, Problem: msg})
		return
	}
	seeOther(w, r, "/prices", "price-set")
}

func (d *Dashboard) deletePrice(w http.ResponseWriter, r *http.Request, s *session) {
	if err := s.api.DeletePrice(r.Context(), r.PathValue("price")); err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	seeOther(w, r, "/prices", "price-deleted")
}
