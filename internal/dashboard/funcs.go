package dashboard

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// funcs are the templates' helpers. None returns template.HTML: everything
// a page shows goes through html/template's escaping, so a name holding
// markup is shown as text.
var funcs = template.FuncMap{
	"asset": func(path, version string) string { return "/static/" + path + "?v=" + url.QueryEscape(version) },
	"num":   formatInt,
	"pct": func(part, whole int64) string {
		if whole == 0 {
			return "0%"
		}
		return strconv.FormatFloat(100*float64(part)/float64(whole), 'f', 1, 64) + "%"
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"whenp": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ms":   func(v *int) string { return msText(v) },
	"json": func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
	"query": func(kv ...string) string {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		if len(q) == 0 {
			return ""
		}
		return "?" + q.Encode()
	},
	"pathEscape": url.PathEscape,
	// usd shows a request's cost, or that it has none: its model had no
	// price, which is not $0.
	"usd": func(v *string) string {
		if v == nil {
			return "unpriced"
		}
		return "$" + *v
	},
	"join": strings.Join,
	"short": func(s string, n int) string {
		r := []rune(s)
		if len(r) <= n {
			return s
		}
		return string(r[:n]) + "…"
	},
}

// formatInt writes n with thousands separators: 1234567 → 1,234,567.
func formatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func msText(v *int) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%s ms", formatInt(int64(*v)))
}

func init() {
	// dict passes several values to a sub-template.
	funcs["dict"] = func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			k, _ := kv[i].(string)
			m[k] = kv[i+1]
		}
		return m
	}
}

func init() {
	funcs["seq"] = func(n int) []struct{} { return make([]struct{}, n) }
	funcs["inc"] = func(i int) int { return i + 1 }
}

// nextPage is the query of a listing's next page: the same filters and the
// API's cursor; "" on the last page.
func nextPage(filter map[string]string, cursor string) string {
	if cursor == "" {
		return ""
	}
	q := url.Values{}
	for k, v := range filter {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("cursor", cursor)
	return "?" + q.Encode()
}
