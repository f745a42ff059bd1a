package interceptions

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// Filter selects interceptions for List; zero fields match everything.
type Filter struct {
	// UserID set lists one user's requests only: a member's own.
	UserID *uuid.UUID
	// Provider is the provider's name as recorded with the request.
	Provider string
	Model    string
	Client   string // one of Clients
	Session  string // the client's session id, exactly
	Status   string // one of Statuses
	// Since and Until bound started_at: since included, until not.
	Since, Until *time.Time
	// Limit is the most rows a page has: DefaultLimit when 0, at most
	// MaxLimit.
	Limit int
}

// Limits on a page.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// ErrBadCursor is a cursor that this server did not produce.
var ErrBadCursor = errors.New("invalid cursor: pass the next_cursor value of a previous page unchanged")

// List returns one page of the interceptions f selects, newest first by
// (started_at, id), and the cursor of the next page: "" on the last one.
// cursor is "" for the first page, else the next value of the page before.
// A filter value outside the fixed sets is an apperr.Invalid naming its
// field; a cursor this server did not make is ErrBadCursor.
//
// Pages are cut by position (keyset), not by offset: a page costs the same
// however deep it is, and rows written meanwhile (newer, so before the first
// page) neither shift nor repeat the rows of the pages after.
func List(ctx context.Context, db *database.DB, f Filter, cursor string) (rows []Summary, next string, err error) {
	var invalid []apperr.Validation
	if f.Client != "" && !slices.Contains(Clients, Client(f.Client)) {
		invalid = append(invalid, apperr.Validation{Field: "client", Detail: "must be one of " + joined(Clients)})
	}
	if f.Status != "" && !slices.Contains(Statuses, Status(f.Status)) {
		invalid = append(invalid, apperr.Validation{Field: "status", Detail: "must be one of " + joined(Statuses)})
	}
	if f.Limit < 0 || f.Limit > MaxLimit {
		invalid = append(invalid, apperr.Validation{Field: "limit", Detail: fmt.Sprintf("must be between 1 and %d", MaxLimit)})
	}
	if err := apperr.Invalid(invalid...); err != nil {
		return nil, "", err
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	p := dbsqlc.InterceptionListParams{
		ProviderName: nonEmpty(f.Provider), Model: nonEmpty(f.Model), Client: nonEmpty(f.Client),
		SessionID: nonEmpty(f.Session), Status: nonEmpty(f.Status), Since: utc(f.Since), Until: utc(f.Until),
		RowLimit: int32(limit + 1),
	}
	if f.UserID != nil {
		p.UserID = pgtype.UUID{Bytes: *f.UserID, Valid: true}
	}
	if cursor != "" {
		t, id, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		p.CursorStartedAt, p.CursorID = &t, pgtype.UUID{Bytes: id, Valid: true}
	}
	found, err := dbsqlc.New(database.PlanPerCall(db.Pool)).InterceptionList(ctx, p)
	if err != nil {
		return nil, "", fmt.Errorf("list interceptions: %w", err)
	}
	if len(found) > limit {
		found = found[:limit]
		last := found[limit-1]
		next = encodeCursor(last.StartedAt, last.ID)
	}
	rows = make([]Summary, len(found))
	for i, row := range found {
		if rows[i], err = fromSummary(row); err != nil {
			return nil, "", err
		}
	}
	return rows, next, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func joined[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// A cursor is the (started_at, id) of a page's last row: its microseconds
// since the epoch and the id, base64url so it passes in a query string
// unescaped. Opaque to callers; only its round trip is promised.
func encodeCursor(t time.Time, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "." + id.String()))
}

func decodeCursor(c string) (time.Time, uuid.UUID, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, uuid.Nil, ErrBadCursor
	}
	ts, idS, ok := strings.Cut(string(raw), ".")
	if !ok {
		return time.Time{}, uuid.Nil, ErrBadCursor
	}
	micros, err1 := strconv.ParseInt(ts, 10, 64)
	id, err2 := uuid.Parse(idS)
	if err1 != nil || err2 != nil {
		return time.Time{}, uuid.Nil, ErrBadCursor
	}
	return time.UnixMicro(micros).UTC(), id, nil
}
