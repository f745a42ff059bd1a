package interceptions

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// Status is how an intercepted request ended.
type Status string

// The statuses the interceptions table accepts.
const (
	StatusOK              Status = "ok"
	StatusUpstreamError   Status = "upstream_error"
	StatusClientCancelled Status = "client_cancelled"
	StatusGatewayError    Status = "gateway_error"
	// StatusDenied is a request a policy refused (a budget, a rate limit, a
	// concurrency cap, a model not allowed): never sent upstream.
	StatusDenied Status = "denied"
)

// Endpoints the interceptions table accepts in Record.Endpoint.
const (
	EndpointChatCompletions = "chat_completions"
	EndpointResponses       = "responses"
	EndpointMessages        = "messages"
)

// Client is the kind of program that sent a request, told from its
// User-Agent by the gateway. The set is fixed (the table's CHECK lists it), so
// usage can be grouped by it without a label per version or platform.
type Client string

// The clients the interceptions table accepts.
const (
	ClientClaudeCode   Client = "claude-code"
	ClientCodex        Client = "codex"
	ClientOpenAISDK    Client = "openai-sdk"
	ClientAnthropicSDK Client = "anthropic-sdk"
	ClientCurl         Client = "curl"
	ClientOther        Client = "other"
)

// Clients lists every Client, for validating a filter.
var Clients = []Client{ClientClaudeCode, ClientCodex, ClientOpenAISDK, ClientAnthropicSDK, ClientCurl, ClientOther}

// Statuses lists every Status, for validating a filter.
var Statuses = []Status{StatusOK, StatusUpstreamError, StatusClientCancelled, StatusGatewayError, StatusDenied}

// ToolCall is one tool call the model made.
type ToolCall struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Record is one intercepted request.
type Record struct {
	// ID is made by Record (NewID, from StartedAt) when left zero.
	ID        uuid.UUID
	ReplicaID uuid.UUID
	RequestID string

	UserID  uuid.UUID
	TokenID string // the api_tokens id, never the secret

	ProviderID   uuid.UUID
	ProviderName string
	ProviderType string // an ai_provider_type: openai, anthropic, bedrock

	Model     string
	Endpoint  string // EndpointChatCompletions, EndpointResponses or EndpointMessages
	Streaming bool

	// Client is ClientOther when left empty.
	Client Client
	// SessionID is the client's session or conversation id; empty when it
	// sent none (stored as NULL). Longer than MaxSessionIDLen bytes, it is
	// cut.
	SessionID string

	// Stored in UTC to the microsecond. EndedAt must not be before StartedAt
	// (the database refuses the record): take it as StartedAt plus a
	// monotonic duration, not a second reading of the wall clock.
	StartedAt, EndedAt time.Time
	// TTFB is the time to the provider's first byte, stored in whole
	// milliseconds; <0 means no byte came back. The zero value means 0 ms.
	TTFB time.Duration

	Status         Status
	UpstreamStatus int // the provider's HTTP status; 0 = none

	InputTokens, OutputTokens, CacheReadTokens, CacheWriteTokens, ReasoningTokens int64
	// CacheWrite1hTokens is the part of CacheWriteTokens written for an hour
	// (Anthropic), which costs more than a 5-minute write.
	CacheWrite1hTokens int64
	// CostMicros is the request's cost in micro-dollars from the price in
	// effect at StartedAt (internal/pricing); nil when its model has no
	// price, which is never the same as a cost of 0.
	CostMicros *int64

	ToolCalls []ToolCall
	// Prompt is nil unless prompt capture is on. It must be JSON; it is
	// stored as jsonb, so it reads back normalised (key order, spacing).
	Prompt json.RawMessage
	// Error is a short message for an operator, never secrets. Longer than
	// MaxErrorLen bytes, it is cut.
	Error string

	// Charges are what the request used of the policy windows it was
	// admitted by (internal/limits). They are not a column: the recorder
	// settles them in the transaction that writes the record
	// (RecorderConfig.Settle), so a window's settled amount is the sum of its
	// written records' charges.
	Charges []Charge
}

// Charge is an amount a request used of one policy window.
type Charge struct {
	PolicyID    uuid.UUID
	Subject     string
	WindowStart time.Time
	Amount      int64
}

// MaxErrorLen is the most bytes of Record.Error stored.
const MaxErrorLen = 1024

// MaxSessionIDLen is the most bytes of Record.SessionID stored. The clients
// send UUIDs (36 bytes); the rest of the room is for clients to come, not for
// whatever a caller puts in the header.
const MaxSessionIDLen = 128

// toParams is the row for rec. Text is made storable rather than refused:
// PostgreSQL text holds neither NUL nor invalid UTF-8, and a request's model
// name comes from the client.
func toParams(rec *Record) (dbsqlc.InterceptionInsertBatchParams, error) {
	p := dbsqlc.InterceptionInsertBatchParams{
		ID:               rec.ID,
		ReplicaID:        rec.ReplicaID,
		RequestID:        cleanText(rec.RequestID),
		UserID:           rec.UserID,
		TokenID:          cleanText(rec.TokenID),
		ProviderID:       rec.ProviderID,
		ProviderName:     cleanText(rec.ProviderName),
		ProviderType:     dbsqlc.AiProviderType(rec.ProviderType),
		Model:            cleanText(rec.Model),
		Endpoint:         rec.Endpoint,
		Streaming:        rec.Streaming,
		Client:           string(cmp.Or(rec.Client, ClientOther)),
		StartedAt:        rec.StartedAt.UTC(),
		EndedAt:          rec.EndedAt.UTC(),
		Status:           string(rec.Status),
		InputTokens:      rec.InputTokens,
		OutputTokens:     rec.OutputTokens,
		CacheReadTokens:  rec.CacheReadTokens,
		CacheWriteTokens: rec.CacheWriteTokens,
		ReasoningTokens:  rec.ReasoningTokens,
		ToolCalls:        json.RawMessage("[]"),
		CostMicros:       rec.CostMicros,
		// The table holds the 1-hour part within the total.
		CacheWrite1hTokens: min(max(rec.CacheWrite1hTokens, 0), rec.CacheWriteTokens),
	}
	if rec.TTFB >= 0 {
		p.TtfbMs = pgtype.Int4{Int32: int32(min(rec.TTFB.Milliseconds(), math.MaxInt32)), Valid: true}
	}
	if rec.UpstreamStatus != 0 {
		p.UpstreamStatus = pgtype.Int4{Int32: int32(max(min(rec.UpstreamStatus, math.MaxInt32), math.MinInt32)), Valid: true}
	}
	if len(rec.ToolCalls) > 0 {
		calls := make([]ToolCall, len(rec.ToolCalls))
		for i, c := range rec.ToolCalls {
			calls[i] = ToolCall{ID: cleanText(c.ID), Name: cleanText(c.Name)}
		}
		b, err := json.Marshal(calls)
		if err != nil {
			return p, fmt.Errorf("encode tool calls: %w", err)
		}
		p.ToolCalls = b
	}
	if rec.Prompt != nil {
		p.Prompt = []byte(rec.Prompt)
	}
	if rec.Error != "" {
		e := cleanText(truncate(rec.Error, MaxErrorLen))
		p.Error = &e
	}
	// Cleaned first: a replacement character is longer than the bytes it
	// stands for, and the column refuses more than MaxSessionIDLen.
	if s := truncate(cleanText(rec.SessionID), MaxSessionIDLen); s != "" {
		p.SessionID = &s
	}
	return p, nil
}

// cleanText replaces invalid UTF-8 and drops NUL, which PostgreSQL text
// cannot hold. It does not allocate for text that is already fine.
func cleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// truncate cuts s to at most n bytes without splitting a rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Summary is one listed interception: the Record without its prompt
// (Record.Prompt is always nil here; Get reads it), and when the row was
// written.
type Summary struct {
	Record
	RecordedAt time.Time
}

// fromRow is the Record a row holds.
func fromRow(row dbsqlc.Interception) (Record, error) {
	rec, err := fromSummary(dbsqlc.InterceptionListRow{
		ID: row.ID, ReplicaID: row.ReplicaID, RequestID: row.RequestID, UserID: row.UserID, TokenID: row.TokenID,
		ProviderID: row.ProviderID, ProviderName: row.ProviderName, ProviderType: row.ProviderType, Model: row.Model,
		Endpoint: row.Endpoint, Streaming: row.Streaming, Client: row.Client, SessionID: row.SessionID,
		StartedAt: row.StartedAt, EndedAt: row.EndedAt, TtfbMs: row.TtfbMs, Status: row.Status,
		UpstreamStatus: row.UpstreamStatus, InputTokens: row.InputTokens, OutputTokens: row.OutputTokens,
		CacheReadTokens: row.CacheReadTokens, CacheWriteTokens: row.CacheWriteTokens,
		ReasoningTokens: row.ReasoningTokens, ToolCalls: row.ToolCalls, Error: row.Error, RecordedAt: row.RecordedAt,
		CostMicros: row.CostMicros, CacheWrite1hTokens: row.CacheWrite1hTokens,
	})
	if err != nil {
		return Record{}, err
	}
	r := rec.Record
	if row.Prompt != nil {
		r.Prompt = json.RawMessage(row.Prompt)
	}
	return r, nil
}

// fromSummary is the Summary a listed row holds.
func fromSummary(row dbsqlc.InterceptionListRow) (Summary, error) {
	rec := Record{
		ID:                 row.ID,
		ReplicaID:          row.ReplicaID,
		RequestID:          row.RequestID,
		UserID:             row.UserID,
		TokenID:            row.TokenID,
		ProviderID:         row.ProviderID,
		ProviderName:       row.ProviderName,
		ProviderType:       string(row.ProviderType),
		Model:              row.Model,
		Endpoint:           row.Endpoint,
		Streaming:          row.Streaming,
		Client:             Client(row.Client),
		StartedAt:          row.StartedAt.UTC(),
		EndedAt:            row.EndedAt.UTC(),
		TTFB:               -1,
		Status:             Status(row.Status),
		InputTokens:        row.InputTokens,
		OutputTokens:       row.OutputTokens,
		CacheReadTokens:    row.CacheReadTokens,
		CacheWriteTokens:   row.CacheWriteTokens,
		ReasoningTokens:    row.ReasoningTokens,
		CacheWrite1hTokens: row.CacheWrite1hTokens,
		CostMicros:         row.CostMicros,
	}
	if row.SessionID != nil {
		rec.SessionID = *row.SessionID
	}
	if row.TtfbMs.Valid {
		rec.TTFB = time.Duration(row.TtfbMs.Int32) * time.Millisecond
	}
	if row.UpstreamStatus.Valid {
		rec.UpstreamStatus = int(row.UpstreamStatus.Int32)
	}
	if err := json.Unmarshal(row.ToolCalls, &rec.ToolCalls); err != nil {
		return Summary{}, fmt.Errorf("decode tool calls of interception %s: %w", row.ID, err)
	}
	if len(rec.ToolCalls) == 0 {
		rec.ToolCalls = nil
	}
	if row.Error != nil {
		rec.Error = *row.Error
	}
	return Summary{Record: rec, RecordedAt: row.RecordedAt.UTC()}, nil
}

// Get reads one written record. The error wraps pgx.ErrNoRows when there is
// no record with that id (yet: records are written in batches).
//
// The table is partitioned by started_at, and its primary key is (id,
// started_at): by id alone, PostgreSQL probes the key index of every
// partition, one a day kept. An id made by NewID tells its start to the
// millisecond, so Get first asks that millisecond's partition alone; only
// when that misses (an id made otherwise, such as before NewID existed, or
// none at all) does it probe them all.
func Get(ctx context.Context, db *database.DB, id uuid.UUID) (Record, error) {
	q := dbsqlc.New(db.Pool)
	if lo, hi, ok := startedWindow(id); ok {
		row, err := q.InterceptionGetByIDStartedBetween(ctx, dbsqlc.InterceptionGetByIDStartedBetweenParams{ID: id, Since: lo, Until: hi})
		if err == nil {
			return fromRow(row)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return Record{}, fmt.Errorf("get interception %s: %w", id, err)
		}
	}
	row, err := q.InterceptionGetByID(ctx, id)
	if err != nil {
		return Record{}, fmt.Errorf("get interception %s: %w", id, err)
	}
	return fromRow(row)
}
