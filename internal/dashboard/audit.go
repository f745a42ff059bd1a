package dashboard

import (
	"net/http"
	"time"

	"github.com/aigate/aigate/internal/client"
)

// auditFilters are the audit log's filters, by query parameter: the API's.
var auditFilters = []string{"resource_type", "resource", "actor", "action", "since", "until"}

type auditData struct {
	Filter  map[string]string
	Entries []client.AuditEntry
	Next    string
	Paged   bool
	Problem string
}

func (a auditData) pageError() string { return a.Problem }

// formTime reads a time filter: a date from the form's date field (the
// start of that UTC day; for until, the end of it) or an RFC 3339 time.
func formTime(v string, end bool) (*time.Time, bool) {
	if v == "" {
		return nil, true
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		if end {
			t = t.Add(24 * time.Hour)
		}
		return &t, true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return &t, true
	}
	return nil, false
}

func (d *Dashboard) audit(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	data := auditData{Filter: map[string]string{}, Paged: q.Get("cursor") != ""}
	for _, k := range auditFilters {
		data.Filter[k] = q.Get(k)
	}
	since, ok1 := formTime(q.Get("since"), false)
	until, ok2 := formTime(q.Get("until"), true)
	if !ok1 || !ok2 {
		data.Problem = "since and until must be dates (2026-01-31) or RFC 3339 times (2026-01-31T15:04:05Z)."
		d.render(w, r, s, http.StatusBadRequest, "audit", "Audit log", data)
		return
	}
	page, err := s.api.ListAudit(r.Context(), client.AuditFilter{
		ResourceType: q.Get("resource_type"), Resource: q.Get("resource"), Actor: q.Get("actor"), Action: q.Get("action"),
		Since: since, Until: until, Cursor: q.Get("cursor"),
	})
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	data.Entries = page.Entries
	data.Next = nextPage(data.Filter, page.NextCursor)
	d.render(w, r, s, 0, "audit", "Audit log", data)
}
