package gateway_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmmock"
	"github.com/aigate/aigate/internal/pricing"
)

// costRow is what an interception records of its cost.
type costRow struct {
	Model                        string
	Status                       string
	Input, Output, CacheRead     int64
	CacheWrite, CacheWrite1h, Rs int64
	Cost                         *int64
}

// costs returns every interception's cost fields, in start order.
func (r *replica) costs() []costRow {
	r.t.Helper()
	rows, err := r.db.Pool.Query(context.Background(), `
		SELECT model, status, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
		       cache_write_1h_tokens, reasoning_tokens, cost_micros
		FROM interceptions ORDER BY started_at, id`)
	require.NoError(r.t, err)
	defer rows.Close()
	var out []costRow
	for rows.Next() {
		var c costRow
		require.NoError(r.t, rows.Scan(&c.Model, &c.Status, &c.Input, &c.Output, &c.CacheRead, &c.CacheWrite, &c.CacheWrite1h, &c.Rs, &c.Cost))
		out = append(out, c)
	}
	require.NoError(r.t, rows.Err())
	return out
}

// lastCost sends one request and returns its interception's cost fields,
// once written (the n-th interception of the replica).
func (e *env) lastCost(t *testing.T, n int, url, authHeader, reqBody string, status int) costRow {
	t.Helper()
	resp, got := post(t, url, e.token, authHeader, reqBody, nil)
	require.Equal(t, status, resp.StatusCode, got)
	e.waitInterceptions(n)
	rows := e.costs()
	return rows[n-1]
}

func ptr[T any](v T) *T { return &v }

// micros is a hand computation's sum of tokens × rates (micro-dollars per
// million tokens), in micro-dollars rounded half up: the tests compute the
// expected cost from the price rows with it, not with pricing's Cost.
func micros(sum int64) int64 { return (sum + 500_000) / 1_000_000 }

// TestCostPerVendor (acceptance 5): each vendor's recorded usage shape,
// through the real gateway against the mocks at their vendor-default base
// URLs, streamed and not, gives the interception's cost to the micro-dollar,
// from an operator's override (OpenAI) and from the shipped default book
// (Anthropic, and Bedrock by its model ID).
func TestCostPerVendor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, options{})

	// OpenAI: input 12345 of which 8001 cached, output 3003 of which 1201
	// reasoning.
	oaUsage := llmmock.Usage{Input: 12345, CacheRead: 8001, Output: 3003, Reasoning: 1201}
	oa := llmmock.New(t, llmmock.Options{Usage: &oaUsage})
	e.addProvider("oa", "openai", oa.OpenAIBaseURL(), openAIKey)
	// gpt-4o: $2.40 input, $0.60 cached, $9.60 output; reasoning as output.
	_, err := e.Prices().Set(ctx, actor, pricing.PriceInput{ProviderType: "openai", Model: "gpt-4o", Input: "2.40", CacheRead: ptr("0.60"), Output: "9.60"})
	require.NoError(t, err)
	// gpt-5*: $1.25 input, $0.125 cached, $10 output, reasoning at $12.50.
	_, err = e.Prices().Set(ctx, actor, pricing.PriceInput{ProviderType: "openai", Model: "gpt-5*", Input: "1.25", CacheRead: ptr("0.125"), Output: "10", Reasoning: ptr("12.50")})
	require.NoError(t, err)
	gpt4o := micros((12345-8001)*2_400_000 + 8001*600_000 + 3003*9_600_000)
	gpt5 := micros((12345-8001)*1_250_000 + 8001*125_000 + (3003-1201)*10_000_000 + 1201*12_500_000)

	// Anthropic: 1500 input, 40000 cache reads, 12000 cache writes of which
	// 9000 for an hour, 777 output; the stream's message_start says only
	// the input, its closing message_delta the rest.
	anUsage := llmmock.Usage{Input: 1500, CacheRead: 40000, CacheWrite: 12000, CacheWrite1h: 9000, Output: 777}
	an := llmmock.New(t, llmmock.Options{Usage: &anUsage, StartUsage: &llmmock.Usage{Input: 1500}})
	e.addProvider("an", "anthropic", an.AnthropicBaseURL(), anthropicKey)
	// The default book's Claude Sonnet 4.5 (≤ 200K prompt): $3 input, $0.30
	// cache read, $3.75 5-minute write, $6 1-hour write, $15 output.
	sonnet := micros(1500*3_000_000 + 40000*300_000 + (12000-9000)*3_750_000 + 9000*6_000_000 + 777*15_000_000)

	// A prompt over 200K tokens (150000 + 60000 cache reads): the
	// long-context tier, $6 / $0.60 / $7.50 / $12 / $22.50.
	longUsage := llmmock.Usage{Input: 150000, CacheRead: 60000, CacheWrite: 100, CacheWrite1h: 40, Output: 901}
	long := llmmock.New(t, llmmock.Options{Usage: &longUsage})
	e.addProvider("an-long", "anthropic", long.AnthropicBaseURL(), anthropicKey)
	sonnetLong := micros(150000*6_000_000 + 60000*600_000 + 60*7_500_000 + 40*12_000_000 + 901*22_500_000)

	// Bedrock, the same usage as Anthropic's, priced by the provider's
	// Bedrock model ID (us.anthropic.claude-sonnet-4-5-…: the cross-region
	// profile, normalised to the default book's anthropic.claude-sonnet-4-5*).
	br := llmmock.NewBedrock(t, llmmock.BedrockOptions{Usage: &anUsage, StartUsage: &llmmock.Usage{Input: 1500}})
	e.addBedrock("br", br.URL, llmmock.BedrockAccessKey, llmmock.BedrockSecretKey)

	n := 0
	for _, tc := range []struct {
		name, url, auth, body string
		want                  int64
		write1h               int64
	}{
		{"openai chat", "/ai/oa/v1/chat/completions", "bearer", chatBody, gpt4o, 0},
		{"openai responses, reasoning priced apart", "/ai/oa/v1/responses", "bearer",
			`{"model":"gpt-5-2025-08-07","stream":%s,"input":"hi"}`, gpt5, 0},
		{"anthropic", "/ai/an/v1/messages", "x-api-key", messagesBody, sonnet, 9000},
		{"anthropic long context", "/ai/an-long/v1/messages", "x-api-key", messagesBody, sonnetLong, 40},
		{"bedrock", "/ai/br/v1/messages", "x-api-key", messagesBody, sonnet, 9000},
	} {
		for _, stream := range []bool{false, true} {
			n++
			got := e.lastCost(t, n, e.url+tc.url, tc.auth, body(tc.body, stream), http.StatusOK)
			require.NotNil(t, got.Cost, "%s (stream %v) is priced", tc.name, stream)
			require.Equal(t, tc.want, *got.Cost, "%s (stream %v): %+v", tc.name, stream, got)
			require.Equal(t, tc.write1h, got.CacheWrite1h, "%s (stream %v)", tc.name, stream)
		}
	}
}

// TestUnpricedIsNullNeverZero (acceptance 5): a model without a price is
// recorded with no cost, never $0, and its tokens are counted by
// aigate_unpriced_tokens_total; a failed request of a priced model costs 0,
// of an unpriced one nothing.
func TestUnpricedIsNullNeverZero(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	u := llmmock.Usage{Input: 1000, CacheRead: 100, Output: 50}
	oa := llmmock.New(t, llmmock.Options{Usage: &u})
	e.addProvider("oa", "openai", oa.OpenAIBaseURL(), openAIKey)
	failing := llmmock.New(t, llmmock.Options{Status: http.StatusInternalServerError})
	e.addProvider("down", "openai", failing.OpenAIBaseURL(), openAIKey)

	before := metricValue(t, e.replica, "aigate_unpriced_tokens_total")
	unpriced := e.lastCost(t, 1, e.url+"/ai/oa/v1/chat/completions", "bearer",
		`{"model":"ft:my-private-model","messages":[{"role":"user","content":"hi"}]}`, http.StatusOK)
	require.Nil(t, unpriced.Cost, "no price: no cost, not 0")
	require.Equal(t, before+1050, metricValue(t, e.replica, "aigate_unpriced_tokens_total"), "input (cached included) and output")

	priced := e.lastCost(t, 2, e.url+"/ai/oa/v1/chat/completions", "bearer", body(chatBody, false), http.StatusOK)
	require.NotNil(t, priced.Cost, "gpt-4o is in the default book")
	require.Positive(t, *priced.Cost)

	failed := e.lastCost(t, 3, e.url+"/ai/down/v1/chat/completions", "bearer", body(chatBody, false), http.StatusInternalServerError)
	require.Equal(t, "upstream_error", failed.Status)
	require.NotNil(t, failed.Cost)
	require.Zero(t, *failed.Cost, "a priced model's request without tokens costs 0")
	failedUnpriced := e.lastCost(t, 4, e.url+"/ai/down/v1/chat/completions", "bearer",
		`{"model":"ft:my-private-model","messages":[{"role":"user","content":"hi"}]}`, http.StatusInternalServerError)
	require.Nil(t, failedUnpriced.Cost)
	require.Equal(t, before+1050, metricValue(t, e.replica, "aigate_unpriced_tokens_total"), "no tokens, nothing counted")
}
