package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// UsageFilter selects the usage to total; zero fields take the server's
// defaults (today so far, in UTC; every user the caller may see).
type UsageFilter struct {
	From, To *time.Time
	GroupBy  string // user, provider, model, client, day, hour; "" for one total
	User     string // an id or email
}

// UsageCounts are the totals of a set of requests.
type UsageCounts struct {
	// Requests counts every request, the denied ones included; Errors the
	// admitted ones that did not end ok; Denied those a policy refused.
	Requests         int64 `json:"requests"`
	Errors           int64 `json:"errors"`
	Denied           int64 `json:"denied"`
	InputTokens      int64 `json:"input_tokens"`
	OutputTokens     int64 `json:"output_tokens"`
	CacheReadTokens  int64 `json:"cache_read_tokens"`
	CacheWriteTokens int64 `json:"cache_write_tokens"`
	ReasoningTokens  int64 `json:"reasoning_tokens"`
	// CostMicros and CostUSD are the priced requests' cost; the
	// UnpricedRequests (tokens, no price) are not in it.
	CostMicros       int64  `json:"cost_micros"`
	CostUSD          string `json:"cost_usd"`
	UnpricedRequests int64  `json:"unpriced_requests"`
}

// Admitted is the requests that were not denied: what an error rate is
// of (Errors / Admitted), so that a policy refusing requests does not read
// as the gateway or a provider failing.
func (c UsageCounts) Admitted() int64 { return c.Requests - c.Denied }

// UnpricedModel is a model whose requests in a usage window had no price.
type UnpricedModel struct {
	ProviderType     string `json:"provider_type"`
	Model            string `json:"model"`
	UnpricedRequests int64  `json:"unpriced_requests"`
}

// UsageRow is the usage of one group.
type UsageRow struct {
	Key       string `json:"key"`
	UserEmail string `json:"user_email,omitempty"`
	UsageCounts
}

// Usage is what GET /api/v1/usage answers.
type Usage struct {
	From    time.Time   `json:"from"`
	To      time.Time   `json:"to"`
	GroupBy string      `json:"group_by"`
	Rows    []UsageRow  `json:"rows"`
	Total   UsageCounts `json:"total"`
	// RolledUpTo is how far the rollups have read: requests recorded after
	// it are not counted yet.
	RolledUpTo *time.Time `json:"rolled_up_to"`
	// UnpricedModels names the models with unpriced requests in the window.
	UnpricedModels []UnpricedModel `json:"unpriced_models"`
}

// GetUsage totals usage.
func (c *Client) GetUsage(ctx context.Context, f UsageFilter) (Usage, error) {
	q := url.Values{}
	if f.From != nil {
		q.Set("from", f.From.Format(time.RFC3339))
	}
	if f.To != nil {
		q.Set("to", f.To.Format(time.RFC3339))
	}
	if f.GroupBy != "" {
		q.Set("group_by", f.GroupBy)
	}
	if f.User != "" {
		q.Set("user", f.User)
	}
	var u Usage
	err := c.Do(ctx, http.MethodGet, "/api/v1/usage", q, nil, &u)
	return u, err
}

// InterceptionFilter selects interceptions; zero fields do not filter.
type InterceptionFilter struct {
	User, Provider, Model, Client, Session, Status string
	Since, Until                                   *time.Time
	Limit                                          int
	Cursor                                         string
}

// Interception is one gateway request as the API lists it.
type Interception struct {
	ID               string    `json:"id"`
	StartedAt        time.Time `json:"started_at"`
	EndedAt          time.Time `json:"ended_at"`
	UserID           string    `json:"user_id"`
	UserEmail        string    `json:"user_email,omitempty"`
	Provider         string    `json:"provider"`
	Model            string    `json:"model"`
	Endpoint         string    `json:"endpoint"`
	Streaming        bool      `json:"streaming"`
	Client           string    `json:"client"`
	Session          string    `json:"session,omitempty"`
	Status           string    `json:"status"`
	UpstreamStatus   *int      `json:"upstream_status"`
	TTFBMs           *int      `json:"ttfb_ms"`
	InputTokens      int64     `json:"input_tokens"`
	OutputTokens     int64     `json:"output_tokens"`
	CacheReadTokens  int64     `json:"cache_read_tokens"`
	CacheWriteTokens int64     `json:"cache_write_tokens"`
	ReasoningTokens  int64     `json:"reasoning_tokens"`
	// CacheWrite1hTokens is the part of CacheWriteTokens written for an hour.
	CacheWrite1hTokens int64 `json:"cache_write_1h_tokens"`
	// CostMicros and CostUSD are nil when the model had no price.
	CostMicros *int64  `json:"cost_micros"`
	CostUSD    *string `json:"cost_usd"`
	Error      string  `json:"error,omitempty"`
}

// InterceptionPage is one page of interceptions, newest first.
type InterceptionPage struct {
	Interceptions []Interception `json:"interceptions"`
	NextCursor    string         `json:"next_cursor"`
}

// ListInterceptions returns one page of interceptions.
func (c *Client) ListInterceptions(ctx context.Context, f InterceptionFilter) (InterceptionPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{
		"user": f.User, "provider": f.Provider, "model": f.Model, "client": f.Client, "session": f.Session,
		"status": f.Status, "cursor": f.Cursor,
	} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Since != nil {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if f.Until != nil {
		q.Set("until", f.Until.Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var p InterceptionPage
	err := c.Do(ctx, http.MethodGet, "/api/v1/interceptions", q, nil, &p)
	return p, err
}

// ToolCall is one tool call the model made in a request.
type ToolCall struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// InterceptionDetail is one gateway request as the API shows it alone: the
// listing's fields and the ones only its page needs.
type InterceptionDetail struct {
	Interception
	RequestID    string     `json:"request_id"`
	TokenID      string     `json:"token_id"`
	ProviderType string     `json:"provider_type"`
	DurationMs   int64      `json:"duration_ms"`
	ToolCalls    []ToolCall `json:"tool_calls"`
	// Prompt is the request body as the server stored it; JSON null (or
	// empty) when prompts were not recorded. See HasPrompt.
	Prompt json.RawMessage `json:"prompt"`
}

// HasPrompt reports whether the request's prompt was recorded.
func (d InterceptionDetail) HasPrompt() bool {
	return len(d.Prompt) > 0 && string(d.Prompt) != "null"
}

// GetInterception returns one recorded request by its id. A member asking
// for someone else's gets the 404 of an id nobody has.
func (c *Client) GetInterception(ctx context.Context, id string) (InterceptionDetail, error) {
	var d InterceptionDetail
	err := c.Do(ctx, http.MethodGet, "/api/v1/interceptions/"+url.PathEscape(id), nil, nil, &d)
	return d, err
}
