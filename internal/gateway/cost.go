package gateway

import (
	"github.com/aigate/aigate/internal/llmwire"
	"github.com/aigate/aigate/internal/pricing"
)

// Prices gives the current price book (pricing.Service).
type Prices interface{ Book() *pricing.Book }

// price sets the exchange's cost from the price book, at the end of an
// intercepted request: the price in effect at its start, of the model it
// asked for (for Bedrock, the model ID it was sent to), or of the model the
// response named when the asked-for name has no price (an alias the
// provider resolved). A request without a price is unpriced: no cost, and
// its tokens are counted by aigate_unpriced_tokens_total. A request with no
// tokens (it failed) costs 0 when its model is priced.
func (x *exchange) price() {
	if !x.ep.intercepted() {
		return
	}
	u := x.result.Usage
	var book *pricing.Book
	if x.g.prices != nil {
		book = x.g.prices.Book()
	}
	typ := string(x.p.typ)
	prompt := pricing.PromptTokens(x.ep.format, u)
	model := x.model
	if x.bedrockModel != "" {
		model = x.bedrockModel
	}
	p, ok := book.Lookup(typ, model, x.start, prompt)
	if !ok && x.result.Model != "" && x.result.Model != model {
		p, ok = book.Lookup(typ, x.result.Model, x.start, prompt)
	}
	if ok {
		x.cost, x.priced = p.Cost(x.ep.format, u), true
		return
	}
	if n := unpricedTokens(x.ep.format, u); n > 0 {
		x.g.metrics.unpriced.WithLabelValues(x.g.metrics.unpricedModels.label(model)).Add(float64(n))
	}
}

// unpricedTokens counts every token a request was billed for once: OpenAI's
// input holds its cached tokens, Anthropic's leaves its cache reads and
// writes out; output holds reasoning in both.
func unpricedTokens(f llmwire.Format, u llmwire.Usage) int64 {
	return pricing.PromptTokens(f, u) + u.Output
}
