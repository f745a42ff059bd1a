package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/aigate/aigate/internal/apperr"
)

// Bounds on the text a request may carry, whatever the field. They are
// checked at the API's edge so that nothing unbounded reaches the domain,
// the database or the log; the domain bounds most fields more tightly
// (names, emails, keys) and says so in its own words.
const (
	// maxBodyString bounds a string anywhere in a JSON body. The longest
	// legitimate value is a provider API key, which the domain bounds at
	// 4096 bytes too.
	maxBodyString = 4096
	// maxParamBytes bounds a path or query value. The longest legitimate
	// one is an email (254 bytes); ids, names and cursors are far shorter.
	maxParamBytes = 256
	// maxNameBytes bounds a JSON member name and a query parameter name.
	// Unknown ones are named back in the answer, so they must stay short.
	maxNameBytes = 64
)

// controlsAllowed lists the body members exempt from the control-character
// rule: passwords. A password is only ever hashed, never stored or shown
// as text, so a control character in it cannot reach the database, and
// refusing one now would lock out an account whose password was set with
// one before this rule. Validity and the length bound still apply: no
// client can type invalid UTF-8, and encoding/json would have replaced it
// before hashing anyway.
var controlsAllowed = map[string]bool{"password": true}

// textProblem says what is wrong with s as text the API accepts, or ""
// when nothing is. The answer never repeats s: it may be a secret.
func textProblem(s string, maxBytes int, controlsOK bool) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case !controlsOK && strings.ContainsFunc(s, unicode.IsControl):
		// unicode.IsControl is exactly C0, DEL and C1. PostgreSQL refuses
		// NUL in text; the others are refused too, since no name, id or key
		// holds one and they garble logs and terminals.
		return "must not contain control characters such as NUL"
	case len(s) > maxBytes:
		return fmt.Sprintf("must be at most %d bytes", maxBytes)
	}
	return ""
}

// wildcards lists the names of pattern's wildcards ({user}, {rest...}).
func wildcards(pattern string) []string {
	var names []string
	rest := pattern
	for {
		_, after, ok := strings.Cut(rest, "{")
		if !ok {
			return names
		}
		name, tail, _ := strings.Cut(after, "}")
		if name = strings.TrimSuffix(name, "..."); name != "$" {
			names = append(names, name)
		}
		rest = tail
	}
}

// checkParams checks every path value named in pathNames and every query
// parameter, known to the route or not, so that no handler reads a value
// the API refuses. A validation names the parameter (user, resource);
// a bad parameter name, which cannot be named back, is reported as query.
func checkParams(r *http.Request, pathNames []string) error {
	var vs []apperr.Validation
	for _, name := range pathNames {
		if detail := textProblem(r.PathValue(name), maxParamBytes, false); detail != "" {
			vs = append(vs, apperr.Validation{Field: name, Detail: detail})
		}
	}
	// url.Values, as handlers read it, silently drops a pair it cannot
	// decode: a filter lost that way would widen the answer, not narrow it.
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		vs = append(vs, apperr.Validation{Field: "query",
			Detail: "must be a valid URL query: parameters separated by &, each % followed by two hex digits"})
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if detail := textProblem(name, maxNameBytes, false); detail != "" {
			vs = append(vs, apperr.Validation{Field: "query", Detail: "parameter names " + detail})
			continue
		}
		for _, v := range q[name] {
			if detail := textProblem(v, maxParamBytes, false); detail != "" {
				vs = append(vs, apperr.Validation{Field: name, Detail: detail})
				break
			}
		}
	}
	return apperr.Invalid(vs...)
}

// maxUserAgent bounds the User-Agent kept in the audit log; real ones are
// a few hundred bytes at most.
const maxUserAgent = 512

// recordable makes a header value fit to store as text. A header is not
// refused for its bytes: net/http already refuses NUL and most other C0
// controls in one, but lets bytes 0x80–0xFF through, which PostgreSQL
// refuses as text when they are not UTF-8 (and every audited change would
// then fail), and lets C1 controls through, which some terminals obey when
// the audit log is listed.
func recordable(s string, maxBytes int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	if len(s) <= maxBytes {
		return s
	}
	cut := maxBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
