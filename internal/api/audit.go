package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/auth"
)

// auditEntry is the JSON form of an audit row.
type auditEntry struct {
	ID           int64           `json:"id"`
	Time         time.Time       `json:"time"`
	Actor        string          `json:"actor"`
	ActorEmail   string          `json:"actor_email,omitempty"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resource_type"`
	ResourceID   string          `json:"resource_id"`
	ResourceName string          `json:"resource_name"`
	Diff         json.RawMessage `json:"diff"`
	RequestID    string          `json:"request_id"`
	IP           string          `json:"ip"`
	UserAgent    string          `json:"user_agent"`
	StatusCode   int32           `json:"status_code"`
}

func (a *API) listAudit(r *http.Request, _ *auth.Principal) (any, error) {
	q := r.URL.Query()
	f := audit.Filter{
		ResourceType: q.Get("resource_type"), Resource: q.Get("resource"), Actor: q.Get("actor"),
		Action: audit.Action(q.Get("action")), Cursor: q.Get("cursor"),
	}
	if err := apperr.Invalid(pageQuery(q, &f.Since, &f.Until, &f.Limit, audit.MaxLimit)...); err != nil {
		return nil, err
	}
	page, err := audit.List(r.Context(), a.db, f)
	if errors.Is(err, audit.ErrBadCursor) {
		return nil, apperr.Invalid(apperr.Validation{Field: "cursor", Detail: err.Error()})
	}
	if err != nil {
		return nil, err
	}
	entries := make([]auditEntry, len(page.Entries))
	for i, e := range page.Entries {
		entries[i] = auditEntry{ID: e.ID, Time: e.Time, Actor: e.Actor, ActorEmail: e.ActorEmail, Action: e.Action,
			ResourceType: e.ResourceType, ResourceID: e.ResourceID, ResourceName: e.ResourceName, Diff: e.Diff,
			RequestID: e.RequestID, IP: e.Ip, UserAgent: e.UserAgent, StatusCode: e.StatusCode}
	}
	return map[string]any{"entries": entries, "next_cursor": page.NextCursor}, nil
}

// pageQuery reads the query parameters every paged listing shares: since and
// until (RFC 3339) and limit (1 to maxLimit), and says what is wrong with
// them, each under its own name.
func pageQuery(q url.Values, since, until **time.Time, limit *int, maxLimit int) []apperr.Validation {
	var vs []apperr.Validation
	for _, tf := range []struct {
		name string
		dst  **time.Time
	}{{"since", since}, {"until", until}} {
		if v := q.Get(tf.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				vs = append(vs, apperr.Validation{Field: tf.name, Detail: "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"})
				continue
			}
			*tf.dst = &t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			vs = append(vs, apperr.Validation{Field: "limit", Detail: "must be a number from 1 to " + strconv.Itoa(maxLimit)})
		}
		*limit = n
	}
	return vs
}
