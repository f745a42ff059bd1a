// Package audit owns the audit log: the entry written in the same
// transaction as every change (so it exists if and only if the change
// committed), the masking of secrets in diffs, and the filtered, paginated
// listing.
package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// Masked stands in for a secret value in a diff: the entry says a secret
// changed, never what it was or became.
const Masked = "********"

// Actor is who made a change: a user, or aigate itself.
type Actor struct {
	ID    string // user id, or "system"
	Email string
}

// System is aigate acting on its own (e.g. seeding providers at startup).
var System = Actor{ID: "system"}

// Meta is where a change came from; the HTTP layer puts it in the context.
type Meta struct {
	RequestID string
	IP        string
	UserAgent string
	// StatusCode is the status the request answers with when it succeeds,
	// which the API's route table says: entries are written only by changes
	// that commit, so it is the status of every entry the request records.
	// 0 outside a request (the startup seed, maintenance commands).
	StatusCode int
}

type metaKey struct{}

// WithMeta returns ctx carrying m for the entries recorded under it.
func WithMeta(ctx context.Context, m Meta) context.Context {
	return context.WithValue(ctx, metaKey{}, m)
}

func metaFrom(ctx context.Context) Meta { m, _ := ctx.Value(metaKey{}).(Meta); return m }

// Change is one field's old and new value.
type Change struct {
	Old any `json:"old"`
	New any `json:"new"`
}

// Diff maps field names to their change.
type Diff map[string]Change

// Changes lists the fields whose value differs between old and new (nil old
// for a creation, nil new for a deletion). Fields named in secret are
// masked: their change is recorded, their values are not.
func Changes(old, new map[string]any, secret ...string) Diff {
	d := Diff{}
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range new {
		keys[k] = true
	}
	for k := range keys {
		o, n := normalize(old[k]), normalize(new[k])
		if reflect.DeepEqual(o, n) {
			continue
		}
		for _, s := range secret {
			if s == k {
				if o != nil {
					o = Masked
				}
				if n != nil {
					n = Masked
				}
			}
		}
		d[k] = Change{Old: o, New: n}
	}
	return d
}

// normalize turns a typed nil (a nil *time.Time, say) into a plain nil, so
// "no value" compares equal on both sides and encodes as null.
func normalize(v any) any {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
	}
	return v
}

// Action is what an audited change did. The values are stored and filtered
// on (aigate audit list --action), so one never changes meaning.
type Action string

// The actions.
const (
	ActionCreate  Action = "create"
	ActionWrite   Action = "write" // any change to an existing resource
	ActionDelete  Action = "delete"
	ActionRestore Action = "restore"
	ActionLogin   Action = "login"
	ActionRotate  Action = "rotate" // re-encryption under the active key
)

// Entry is one audited change. Where it came from, including the status
// code, is the Meta in the context it is recorded under.
type Entry struct {
	Actor        Actor
	Action       Action
	ResourceType string // user, api_token, ai_provider, ...
	ResourceID   string
	ResourceName string
	Diff         Diff
}

// Recorder writes entries. The zero value is ready to use.
type Recorder struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// AfterWrite, when set, runs after each entry is written and before the
	// transaction goes on. Tests use it to inject a failure and prove the
	// entry rolls back with the change.
	AfterWrite func(ctx context.Context, e Entry) error
}

// Record writes e in tx, the transaction of the change it describes.
func (r *Recorder) Record(ctx context.Context, tx pgx.Tx, e Entry) error {
	now := time.Now
	if r != nil && r.Now != nil {
		now = r.Now
	}
	diff := e.Diff
	if diff == nil {
		diff = Diff{}
	}
	raw, err := json.Marshal(diff)
	if err != nil {
		return fmt.Errorf("encode audit diff: %w", err)
	}
	m := metaFrom(ctx)
	_, err = dbsqlc.New(tx).AuditLogInsert(ctx, dbsqlc.AuditLogInsertParams{
		Time: now().UTC(), Actor: e.Actor.ID, ActorEmail: e.Actor.Email, Action: string(e.Action),
		ResourceType: e.ResourceType, ResourceID: e.ResourceID, ResourceName: e.ResourceName,
		Diff: raw, RequestID: m.RequestID, Ip: m.IP, UserAgent: m.UserAgent, StatusCode: int32(m.StatusCode),
	})
	if err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	if r != nil && r.AfterWrite != nil {
		if err := r.AfterWrite(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// Filter selects entries; empty fields match everything.
type Filter struct {
	ResourceType string
	Resource     string // id or name
	Actor        string // user id, email or "system"
	Action       Action
	Since, Until *time.Time
	Limit        int
	Cursor       string
}

// Limits on a page.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// ErrBadCursor is a cursor that this server did not produce.
var ErrBadCursor = errors.New("invalid cursor: pass the next_cursor value of a previous page unchanged")

// Page is one page of entries, newest first.
type Page struct {
	Entries    []dbsqlc.AuditLog
	NextCursor string // empty on the last page
}

// List returns the entries matching f.
func List(ctx context.Context, db *database.DB, f Filter) (Page, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	p := dbsqlc.AuditLogListParams{
		ResourceType: nonEmpty(f.ResourceType), Resource: nonEmpty(f.Resource), Actor: nonEmpty(f.Actor),
		Action: nonEmpty(string(f.Action)), Since: f.Since, Until: f.Until, RowLimit: int32(limit + 1),
	}
	if f.Cursor != "" {
		t, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return Page{}, err
		}
		p.CursorTime, p.CursorID = &t, &id
	}
	rows, err := dbsqlc.New(db.Pool).AuditLogList(ctx, p)
	if err != nil {
		return Page{}, fmt.Errorf("list audit entries: %w", err)
	}
	page := Page{Entries: rows}
	if len(rows) > limit {
		page.Entries = rows[:limit]
		last := page.Entries[limit-1]
		page.NextCursor = encodeCursor(last.Time, last.ID)
	}
	return page, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func encodeCursor(t time.Time, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "." + strconv.FormatInt(id, 10)))
}

func decodeCursor(c string) (time.Time, int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, 0, ErrBadCursor
	}
	ts, idS, ok := strings.Cut(string(raw), ".")
	if !ok {
		return time.Time{}, 0, ErrBadCursor
	}
	micros, err1 := strconv.ParseInt(ts, 10, 64)
	id, err2 := strconv.ParseInt(idS, 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, 0, ErrBadCursor
	}
	return time.UnixMicro(micros).UTC(), id, nil
}
