package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/interceptions"
	"github.com/aigate/aigate/internal/pricing"
	"github.com/aigate/aigate/internal/rollup"
)

// usageCounts is the JSON form of a set of requests' totals.
type usageCounts struct {
	// Requests counts every request, denied ones included. Errors counts
	// the admitted requests that did not end ok; Denied the requests a
	// policy refused (status denied), which are not errors. An error rate
	// is Errors / (Requests - Denied), of the requests admitted (the
	// dashboard's).
	Requests         int64 `json:"requests"`
	Errors           int64 `json:"errors"`
	Denied           int64 `json:"denied"`
	InputTokens      int64 `json:"input_tokens"`
	OutputTokens     int64 `json:"output_tokens"`
	CacheReadTokens  int64 `json:"cache_read_tokens"`
	CacheWriteTokens int64 `json:"cache_write_tokens"`
	ReasoningTokens  int64 `json:"reasoning_tokens"`
	// CostMicros is the priced requests' cost in micro-dollars, CostUSD the
	// same in dollars (a decimal string, exact); UnpricedRequests counts the
	// requests with tokens and no price, whose cost they leave out.
	CostMicros       int64  `json:"cost_micros"`
	CostUSD          string `json:"cost_usd"`
	UnpricedRequests int64  `json:"unpriced_requests"`
}

// unpricedModelJSON is a model with unpriced requests in the window.
type unpricedModelJSON struct {
	ProviderType string `json:"provider_type"`
	Model        string `json:"model"`
	Requests     int64  `json:"unpriced_requests"`
}

type usageRow struct {
	Key       string `json:"key"`
	UserEmail string `json:"user_email,omitempty"`
	usageCounts
}

type usageAnswer struct {
	From       time.Time   `json:"from"`
	To         time.Time   `json:"to"`
	GroupBy    string      `json:"group_by"`
	Rows       []usageRow  `json:"rows"`
	Total      usageCounts `json:"total"`
	RolledUpTo *time.Time  `json:"rolled_up_to"`
	// UnpricedModels names the models whose requests in the window had no
	// price (at most 100, the most such requests first), so a reader knows
	// what the cost leaves out and what to price.
	UnpricedModels []unpricedModelJSON `json:"unpriced_models"`
}

// maxUsageRange bounds one usage query: hour buckets over longer than this
// are a report, not a question.
const maxUsageRange = 400 * 24 * time.Hour

// usageScope is the user a caller's usage question is about: nil for
// everyone (owners and auditors), and always the caller for a member,
// whatever they asked; a member naming someone else is refused.
func (a *API) usageScope(ctx context.Context, p *auth.Principal, ref string) (*uuid.UUID, error) {
	if ref == "" {
		if p.Role == auth.RoleMember {
			return &p.UserID, nil
		}
		return nil, nil
	}
	id, err := a.resolveUser(ctx, p, ref)
	if err != nil {
		return nil, err
	}
	if p.Role == auth.RoleMember && id != p.UserID {
		return nil, apperr.Forbidden("Members may see only their own usage.")
	}
	if id == uuid.Nil {
		return nil, apperr.Invalid(apperr.Validation{Field: "user", Detail: "no such user"})
	}
	return &id, nil
}

func (a *API) getUsage(r *http.Request, p *auth.Principal) (any, error) {
	q := r.URL.Query()
	// By default: today so far, a day being a UTC day.
	now := a.now().UTC()
	to := now
	from := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	var vs []apperr.Validation
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(tf.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				vs = append(vs, apperr.Validation{Field: tf.name, Detail: "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"})
				continue
			}
			*tf.dst = t
		}
	}
	groupBy := rollup.GroupBy(q.Get("group_by"))
	if !groupBy.Valid() {
		vs = append(vs, apperr.Validation{Field: "group_by", Detail: "must be one of user, provider, model, client, day, hour"})
	}
	if len(vs) == 0 && !from.Before(to) {
		vs = append(vs, apperr.Validation{Field: "from", Detail: "must be before to"})
	}
	if len(vs) == 0 && to.Sub(from) > maxUsageRange {
		vs = append(vs, apperr.Validation{Field: "to", Detail: "must be at most 400 days after from"})
	}
	if err := apperr.Invalid(vs...); err != nil {
		return nil, err
	}
	user, err := a.usageScope(r.Context(), p, q.Get("user"))
	if err != nil {
		return nil, err
	}
	rows, err := rollup.Totals(r.Context(), a.db, rollup.Query{From: from, To: to, UserID: user, GroupBy: groupBy})
	if err != nil {
		return nil, err
	}
	rolledUpTo, err := rollup.Watermark(r.Context(), a.db)
	if err != nil {
		return nil, err
	}
	emails, err := a.emails(r.Context(), groupBy == rollup.GroupUser)
	if err != nil {
		return nil, err
	}
	unpriced, err := rollup.UnpricedModels(r.Context(), a.db, from, to, user)
	if err != nil {
		return nil, err
	}
	ans := usageAnswer{From: from.UTC(), To: to.UTC(), GroupBy: string(groupBy), Rows: []usageRow{}, RolledUpTo: rolledUpTo,
		UnpricedModels: make([]unpricedModelJSON, len(unpriced))}
	for i, m := range unpriced {
		ans.UnpricedModels[i] = unpricedModelJSON{ProviderType: m.ProviderType, Model: m.Model, Requests: m.Requests}
	}
	ans.Total.CostUSD = pricing.FormatUSD(0)
	for _, row := range rows {
		c := counts(row)
		ans.Total.add(c)
		if groupBy == rollup.GroupNone {
			continue
		}
		key := groupKey(groupBy, row)
		ans.Rows = append(ans.Rows, usageRow{Key: key, UserEmail: emails[key], usageCounts: c})
	}
	return ans, nil
}

// groupKey is a row's group as the answer names it.
func groupKey(g rollup.GroupBy, row rollup.Row) string {
	switch g {
	case rollup.GroupUser:
		return row.UserID.String()
	case rollup.GroupProvider:
		return row.ProviderName
	case rollup.GroupModel:
		return row.Model
	case rollup.GroupClient:
		return row.Client
	case rollup.GroupDay, rollup.GroupHour:
		return row.Start.UTC().Format(time.RFC3339)
	}
	return ""
}

func counts(r rollup.Row) usageCounts {
	return usageCounts{
		Requests: r.Requests, Errors: r.Errors, Denied: r.Denied, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens,
		CacheReadTokens: r.CacheReadTokens, CacheWriteTokens: r.CacheWriteTokens, ReasoningTokens: r.ReasoningTokens,
		CostMicros: r.CostMicros, CostUSD: pricing.FormatUSD(r.CostMicros), UnpricedRequests: r.UnpricedRequests,
	}
}

func (c *usageCounts) add(o usageCounts) {
	c.Requests += o.Requests
	c.Errors += o.Errors
	c.Denied += o.Denied
	c.InputTokens += o.InputTokens
	c.OutputTokens += o.OutputTokens
	c.CacheReadTokens += o.CacheReadTokens
	c.CacheWriteTokens += o.CacheWriteTokens
	c.ReasoningTokens += o.ReasoningTokens
	c.CostMicros += o.CostMicros
	c.CostUSD = pricing.FormatUSD(c.CostMicros)
	c.UnpricedRequests += o.UnpricedRequests
}

// emails maps user ids to emails, so people read who, not a UUID; only
// when the answer names users.
func (a *API) emails(ctx context.Context, want bool) (map[string]string, error) {
	out := map[string]string{}
	if !want {
		return out, nil
	}
	us, err := a.users.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range us {
		out[u.ID.String()] = u.Email
	}
	return out, nil
}

// interceptionJSON is one interception as the API lists it: no prompt.
type interceptionJSON struct {
	ID               uuid.UUID `json:"id"`
	StartedAt        time.Time `json:"started_at"`
	EndedAt          time.Time `json:"ended_at"`
	UserID           uuid.UUID `json:"user_id"`
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
	// CostMicros and CostUSD are null when the model had no price: unknown,
	// never $0.
	CostMicros *int64  `json:"cost_micros"`
	CostUSD    *string `json:"cost_usd"`
	Error      string  `json:"error,omitempty"`
}

func (a *API) listInterceptions(r *http.Request, p *auth.Principal) (any, error) {
	q := r.URL.Query()
	f := interceptions.Filter{
		Provider: q.Get("provider"), Model: q.Get("model"), Client: q.Get("client"), Session: q.Get("session"),
		Status: q.Get("status"),
	}
	if err := apperr.Invalid(pageQuery(q, &f.Since, &f.Until, &f.Limit, interceptions.MaxLimit)...); err != nil {
		return nil, err
	}
	user, err := a.usageScope(r.Context(), p, q.Get("user"))
	if err != nil {
		return nil, err
	}
	f.UserID = user
	rows, next, err := interceptions.List(r.Context(), a.db, f, q.Get("cursor"))
	if errors.Is(err, interceptions.ErrBadCursor) {
		return nil, apperr.Invalid(apperr.Validation{Field: "cursor", Detail: "is not a cursor from a previous page"})
	}
	if err != nil {
		return nil, err
	}
	emails, err := a.emails(r.Context(), true)
	if err != nil {
		return nil, err
	}
	out := make([]interceptionJSON, len(rows))
	for i, s := range rows {
		out[i] = summaryJSON(s.Record, emails[s.UserID.String()])
	}
	return map[string]any{"interceptions": out, "next_cursor": next}, nil
}

// summaryJSON is rec as the listing shows it.
func summaryJSON(rec interceptions.Record, email string) interceptionJSON {
	j := interceptionJSON{
		ID: rec.ID, StartedAt: rec.StartedAt, EndedAt: rec.EndedAt, UserID: rec.UserID, UserEmail: email,
		Provider: rec.ProviderName, Model: rec.Model, Endpoint: rec.Endpoint, Streaming: rec.Streaming, Client: string(rec.Client),
		Session: rec.SessionID, Status: string(rec.Status),
		InputTokens: rec.InputTokens, OutputTokens: rec.OutputTokens, CacheReadTokens: rec.CacheReadTokens,
		CacheWriteTokens: rec.CacheWriteTokens, ReasoningTokens: rec.ReasoningTokens, Error: rec.Error,
		CacheWrite1hTokens: rec.CacheWrite1hTokens, CostMicros: rec.CostMicros,
	}
	if rec.CostMicros != nil {
		usd := pricing.FormatUSD(*rec.CostMicros)
		j.CostUSD = &usd
	}
	if rec.UpstreamStatus != 0 {
		j.UpstreamStatus = &rec.UpstreamStatus
	}
	if rec.TTFB >= 0 {
		ms := int(rec.TTFB.Milliseconds())
		j.TTFBMs = &ms
	}
	return j
}

// interceptionDetailJSON is one interception as the API shows it alone:
// what the listing has, and what only one request's page needs.
type interceptionDetailJSON struct {
	interceptionJSON
	RequestID    string                   `json:"request_id"`
	TokenID      string                   `json:"token_id"`
	ProviderType string                   `json:"provider_type"`
	DurationMs   int64                    `json:"duration_ms"`
	ToolCalls    []interceptions.ToolCall `json:"tool_calls"`
	// Prompt is the request body as stored (jsonb, so normalised), null
	// when prompts were not recorded.
	Prompt json.RawMessage `json:"prompt"`
}

func (a *API) getInterception(r *http.Request, p *auth.Principal) (any, error) {
	ref := r.PathValue("interception")
	id, err := uuid.Parse(ref)
	if err != nil {
		return nil, apperr.Invalid(apperr.Validation{Field: "interception", Detail: "must be an interception id, a UUID such as 0190d5f8-7c1e-7a3b-9e4f-0123456789ab"})
	}
	// A member gets one answer for an id nobody has and for someone else's,
	// so ids cannot be probed.
	whose := ""
	if p.Role == auth.RoleMember {
		whose = " among your requests"
	}
	notFound := apperr.NotFound("No interception %s%s. A request is recorded about a second after it ends, and kept for the interceptions retention (90 days by default).", id, whose)
	rec, err := interceptions.Get(r.Context(), a.db, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if p.Role == auth.RoleMember && rec.UserID != p.UserID {
		return nil, notFound
	}
	email := ""
	switch u, err := a.users.Get(r.Context(), rec.UserID.String()); {
	case err == nil:
		email = u.Email
	case isNotFound(err): // the user was deleted since; the record stays
	default:
		return nil, err
	}
	calls := rec.ToolCalls
	if calls == nil {
		calls = []interceptions.ToolCall{}
	}
	return interceptionDetailJSON{
		interceptionJSON: summaryJSON(rec, email),
		RequestID:        rec.RequestID, TokenID: rec.TokenID, ProviderType: rec.ProviderType,
		DurationMs: rec.EndedAt.Sub(rec.StartedAt).Milliseconds(), ToolCalls: calls, Prompt: rec.Prompt,
	}, nil
}

func isNotFound(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Kind == apperr.KindNotFound
}
