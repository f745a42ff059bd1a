package dashboard

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/aigate/aigate/internal/client"
	"github.com/aigate/aigate/internal/interceptions"
)

// requestFilters are the log's filters, by query parameter: the API's.
var requestFilters = []string{"user", "provider", "model", "client", "session", "status"}

// requestsData is the requests log's data.
type requestsData struct {
	Filter   map[string]string
	Clients  []string
	Statuses []string
	Rows     []client.Interception
	Next     string // the next page's query, "" on the last page
	Paged    bool   // this is not the first page
}

func (d *Dashboard) requests(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	data := requestsData{Filter: map[string]string{}, Paged: q.Get("cursor") != ""}
	for _, c := range interceptions.Clients {
		data.Clients = append(data.Clients, string(c))
	}
	for _, st := range interceptions.Statuses {
		data.Statuses = append(data.Statuses, string(st))
	}
	f := client.InterceptionFilter{Cursor: q.Get("cursor")}
	for _, k := range requestFilters {
		data.Filter[k] = q.Get(k)
	}
	f.User, f.Provider, f.Model = q.Get("user"), q.Get("provider"), q.Get("model")
	f.Client, f.Session, f.Status = q.Get("client"), q.Get("session"), q.Get("status")
	page, err := s.api.ListInterceptions(r.Context(), f)
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	data.Rows = page.Interceptions
	data.Next = nextPage(data.Filter, page.NextCursor)
	d.render(w, r, s, 0, "requests", "Requests", data)
}

// maxSessionRequests bounds the session page: of a longer session it shows
// the latest this many, and links to the rest in the log.
const maxSessionRequests = 500

// sessionData is one session's requests, oldest first.
type sessionData struct {
	Session   string
	Rows      []client.Interception
	Truncated bool
}

func (d *Dashboard) sessionRequests(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("session")
	var rows []client.Interception
	f := client.InterceptionFilter{Session: id, Limit: interceptions.MaxLimit}
	truncated := false
	for {
		page, err := s.api.ListInterceptions(r.Context(), f)
		if err != nil {
			d.fail(w, r, s, 0, err)
			return
		}
		rows = append(rows, page.Interceptions...)
		if page.NextCursor == "" {
			break
		}
		if len(rows) >= maxSessionRequests {
			truncated = true
			break
		}
		f.Cursor = page.NextCursor
	}
	// The API lists newest first; a session reads in the order it happened.
	slices.Reverse(rows)
	d.render(w, r, s, 0, "session", "Session "+id, sessionData{Session: id, Rows: rows, Truncated: truncated})
}

// requestData is one request's detail.
type requestData struct {
	I client.InterceptionDetail
	// Prompt is the captured request body, indented for reading; "" when
	// prompts are not recorded.
	Prompt string
}

func (d *Dashboard) request(w http.ResponseWriter, r *http.Request, s *session) {
	i, err := s.api.GetInterception(r.Context(), r.PathValue("id"))
	if err != nil {
		d.fail(w, r, s, 0, err)
		return
	}
	data := requestData{I: i}
	if i.HasPrompt() {
		var b bytes.Buffer
		if json.Indent(&b, i.Prompt, "", "  ") == nil {
			data.Prompt = b.String()
		} else {
			data.Prompt = string(i.Prompt)
		}
	}
	d.render(w, r, s, 0, "request", "Request", data)
}
