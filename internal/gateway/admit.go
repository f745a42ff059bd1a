package gateway

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/limits"
	"github.com/aigate/aigate/internal/llmwire"
)

// What admission reserves for a request is an estimate made before it is
// sent, bounded so that one request never reserves a window's worth:
//
//   - input: the body's bytes over bytesPerToken. Tokenizers give English
//     and code three to four bytes a token, and a JSON body adds its own
//     punctuation, so this rarely falls short; images and CJK text are
//     where it does, and what a request uses beyond its estimate is
//     settled all the same (docs/budgets-and-limits.md).
//   - output: the request's own max_tokens, which the model cannot exceed,
//     or defaultOutputEstimate when it sets none, and at most
//     maxOutputEstimate. Agents ask for far more than they use (Claude Code
//     sends max_tokens of 32,000 and more; a turn writes a few thousand):
//     reserving all of it would make ten parallel agents on Opus hold
//     $24 of a $25 daily cap before anything was spent, and refuse
//     requests with nearly all of it left. A response longer than the cap
//     is settled in full, the overshoot docs/budgets-and-limits.md names.
const (
	bytesPerToken         = 3
	maxInputEstimate      = 200_000
	defaultOutputEstimate = 4_096
	maxOutputEstimate     = 8_192
)

// estimate is what x may use, for admission.
func (x *exchange) estimate(req llmwire.Request) llmwire.Usage {
	out := req.MaxTokens
	if out <= 0 {
		out = defaultOutputEstimate
	}
	return llmwire.Usage{
		Input:  min(int64(len(x.body)/bytesPerToken)+1, maxInputEstimate),
		Output: min(out, maxOutputEstimate),
	}
}

// admit asks the policies whether x may go upstream, and answers the
// client when not: a 429 (403 for a model not allowed) in the provider's
// shape naming the policy, with Retry-After, counted as denied and recorded.
func (x *exchange) admit(req llmwire.Request) bool {
	est := x.estimate(req)
	lr := &limits.Request{
		UserID: x.principal.UserID, TokenID: x.principal.TokenID, Provider: x.p.name, Model: x.model,
		Tokens: est.Input + est.Output,
	}
	lr.Cost, lr.Priced = x.g.estimateCost(x, est)
	t, err := x.g.limits.Admit(x.r.Context(), lr)
	if err == nil {
		x.ticket = t
		return true
	}
	var d *limits.Denial
	switch {
	case errors.As(err, &d):
		x.g.usage.Denied()
		x.status, x.errMsg = interceptions.StatusDenied, d.Message
		h := x.w.Header()
		h.Set(AigateRequestIDHeader, httpserver.RequestID(x.r.Context()))
		h.Set("X-Aigate-Policy", d.Rule)
		if d.RetryAfter > 0 {
			h.Set("Retry-After", strconv.FormatInt(int64((d.RetryAfter+999_999_999)/1_000_000_000), 10))
		}
		// The OpenAI and Anthropic SDKs retry a 429 on their own; a budget
		// that resets tomorrow is not worth their retries.
		if d.Status != http.StatusTooManyRequests || d.RetryAfter > maxSDKRetryWait {
			h.Set("X-Should-Retry", "false")
		}
		x.g.metrics.rejected.WithLabelValues(x.p.name, statusCode(d.Status)).Inc()
		writeError(x.w, x.r, x.p.shape, d.Status, d.Message)
	case x.r.Context().Err() != nil:
		x.status = interceptions.StatusClientCancelled
	default:
		x.fail(interceptions.StatusGatewayError, "could not check the policy allowance", err)
		writeError(x.w, x.r, x.p.shape, http.StatusServiceUnavailable,
			"aigate could not check this request against its policies (its database did not answer); try again")
	}
	x.finish()
	return false
}

// maxSDKRetryWait is the longest Retry-After worth an SDK's automatic
// retry: they wait at most about a minute between tries.
const maxSDKRetryWait = 60_000_000_000

// estimateCost prices an estimate at the model's input and output prices
// (nothing counted as cached: the estimate errs high); false when the model
// has no price. A Bedrock request is priced by the model ID it will be sent
// to, as its cost will be.
func (g *Gateway) estimateCost(x *exchange, u llmwire.Usage) (int64, bool) {
	if g.prices == nil {
		return 0, false
	}
	model := x.model
	if x.p.bedrock != nil {
		if id, err := x.p.bedrock.MapModel(x.model); err == nil {
			model = id
		}
	}
	p, ok := g.prices.Book().Lookup(string(x.p.typ), model, x.start, u.Input)
	if !ok {
		return 0, false
	}
	return p.Cost(x.ep.format, u), true
}

// settle ends x's hold on its policy windows: what it used becomes the
// charges its interception carries.
func (x *exchange) settle() []interceptions.Charge {
	if x.ticket == nil {
		return nil
	}
	u := x.result.Usage
	tokens := u.Input + u.Output
	if !x.ep.format.InputIncludesCacheRead() {
		tokens += u.CacheRead + u.CacheWrite
	}
	t := x.ticket
	x.ticket = nil
	return t.Done(limits.Usage{Tokens: tokens, Cost: x.cost, Priced: x.priced})
}
