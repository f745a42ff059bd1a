package llmwire

import (
	"bytes"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON walker instead of encoding/json: it hands out sub-slices of
// the input (no allocation, no reflection) and skips string bodies with
// bytes.IndexByte, so an event the parser decodes costs a scan, not a
// decode. The walk is strict about structure, literals, numbers and escapes
// (a truncated or garbled event is rejected as a whole) and lenient only
// about raw control characters inside strings, which encoding/json rejects.

// maxDepth matches encoding/json's nesting limit, so a body one accepts the
// other accepts too.
const maxDepth = 10000

// Length caps on what a Result keeps from an upstream: enough for any real
// model name, call ID or tool name, and bounded however large the upstream's
// string is.
const (
	maxIdentLen = 256
	maxErrorLen = 1024
)

// members calls fn for each member of the JSON object that is d (surrounding
// whitespace allowed), with the key's raw text (escapes not decoded) and the
// value's exact span. It reports whether d is one well-formed object. fn may
// have been called before a fault further on is found, so callers keep what fn
// sees in locals and use them only when members returns true.
func members(d []byte, fn func(key, value []byte)) bool {
	i := skipSpace(d, 0)
	if i >= len(d) || d[i] != '{' {
		return false
	}
	end := objectEnd(d, i, 1, fn)
	return end >= 0 && skipSpace(d, end) == len(d)
}

// elements is members for a JSON array.
func elements(d []byte, fn func(value []byte)) bool {
	i := skipSpace(d, 0)
	if i >= len(d) || d[i] != '[' {
		return false
	}
	end := arrayEnd(d, i, 1, fn)
	return end >= 0 && skipSpace(d, end) == len(d)
}

// validJSON reports whether d is exactly one JSON value.
func validJSON(d []byte) bool {
	i := skipSpace(d, 0)
	end := valueEnd(d, i, 0)
	return end >= 0 && skipSpace(d, end) == len(d)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func skipSpace(d []byte, i int) int {
	for i < len(d) && isSpace(d[i]) {
		i++
	}
	return i
}

// valueEnd returns the offset just past the value starting at d[i], or -1
// when no well-formed value starts there. depth counts the containers around
// d[i].
func valueEnd(d []byte, i, depth int) int {
	if i >= len(d) {
		return -1
	}
	switch c := d[i]; c {
	case '"':
		return stringEnd(d, i)
	case '{':
		return objectEnd(d, i, depth+1, nil)
	case '[':
		return arrayEnd(d, i, depth+1, nil)
	case 't':
		return literalEnd(d, i, "true")
	case 'f':
		return literalEnd(d, i, "false")
	case 'n':
		return literalEnd(d, i, "null")
	default:
		if c == '-' || isDigit(c) {
			return numberEnd(d, i)
		}
		return -1
	}
}

// objectEnd returns the offset just past the object whose '{' is d[i], or -1.
func objectEnd(d []byte, i, depth int, fn func(key, value []byte)) int {
	if depth > maxDepth {
		return -1
	}
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return -1
		}
		keyEnd := stringEnd(d, i)
		if keyEnd < 0 {
			return -1
		}
		key := d[i+1 : keyEnd-1]
		i = skipSpace(d, keyEnd)
		if i >= len(d) || d[i] != ':' {
			return -1
		}
		i = skipSpace(d, i+1)
		end := valueEnd(d, i, depth)
		if end < 0 {
			return -1
		}
		if fn != nil {
			fn(key, d[i:end])
		}
		i = skipSpace(d, end)
		if i >= len(d) {
			return -1
		}
		switch d[i] {
		case ',':
			i = skipSpace(d, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

// arrayEnd returns the offset just past the array whose '[' is d[i], or -1.
func arrayEnd(d []byte, i, depth int, fn func(value []byte)) int {
	if depth > maxDepth {
		return -1
	}
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == ']' {
		return i + 1
	}
	for {
		end := valueEnd(d, i, depth)
		if end < 0 {
			return -1
		}
		if fn != nil {
			fn(d[i:end])
		}
		i = skipSpace(d, end)
		if i >= len(d) {
			return -1
		}
		switch d[i] {
		case ',':
			i = skipSpace(d, i+1)
		case ']':
			return i + 1
		default:
			return -1
		}
	}
}

// stringEnd returns the offset just past the string whose opening quote is
// d[i], or -1. It finds the next quote once and only looks for backslashes
// before it, so a long string full of escapes is still scanned in linear time.
func stringEnd(d []byte, i int) int {
	j := i + 1
	quote := -1
	for {
		if quote < j {
			k := bytes.IndexByte(d[j:], '"')
			if k < 0 {
				return -1
			}
			quote = j + k
		}
		k := bytes.IndexByte(d[j:quote], '\\')
		if k < 0 {
			return quote + 1
		}
		esc := j + k + 1
		if esc >= len(d) {
			return -1
		}
		switch d[esc] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j = esc + 1
		case 'u':
			if esc+5 > len(d) || !isHex4(d[esc+1:esc+5]) {
				return -1
			}
			j = esc + 5
		default:
			return -1
		}
	}
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !isDigit(c) && (c|0x20 < 'a' || c|0x20 > 'f') {
			return false
		}
	}
	return true
}

func literalEnd(d []byte, i int, lit string) int {
	if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// numberEnd checks JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func numberEnd(d []byte, i int) int {
	if d[i] == '-' {
		i++
	}
	switch {
	case i >= len(d):
		return -1
	case d[i] == '0':
		i++
	case isDigit(d[i]):
		i = digitsEnd(d, i)
	default:
		return -1
	}
	if i < len(d) && d[i] == '.' {
		j := digitsEnd(d, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digitsEnd(d, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digitsEnd(d []byte, i int) int {
	for i < len(d) && isDigit(d[i]) {
		i++
	}
	return i
}

// isString reports whether the value span v is a JSON string.
func isString(v []byte) bool { return len(v) >= 2 && v[0] == '"' }

// isObject reports whether the value span v is a JSON object.
func isObject(v []byte) bool { return len(v) >= 2 && v[0] == '{' }

// rawString returns a string value's text between the quotes, escapes not
// decoded, or nil when v is not a string. Comparing it with a constant costs
// nothing; the wire formats never escape the type names compared that way.
func rawString(v []byte) []byte {
	if !isString(v) {
		return nil
	}
	return v[1 : len(v)-1]
}

// stringIs reports whether v is the JSON string s (unescaped).
func stringIs(v []byte, s string) bool { return string(rawString(v)) == s }

// count reads a token count: a non-negative JSON number, truncated to an
// integer. Anything else (null, a string, a negative number) is not a count.
func count(v []byte) (int64, bool) {
	if len(v) == 0 || !isDigit(v[0]) {
		return 0, false
	}
	const maxCount = 1<<63 - 1
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			// A float such as 12.0 or 1e3: rare enough to take the integer part
			// of the mantissa and give up on exponents.
			if c == '.' {
				return n, true
			}
			return 0, false
		}
		if n > (maxCount-9)/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// text decodes the JSON string v into a string fit to store: valid UTF-8, no
// NUL bytes (Postgres text refuses both), and at most limit bytes. It returns
// "" when v is not a string.
func text(v []byte, limit int) string {
	raw := rawString(v)
	if len(raw) <= limit && bytes.IndexByte(raw, '\\') < 0 && clean(raw) {
		return string(raw)
	}
	return cleanString(unescape(raw, limit), limit)
}

// unescape decodes the text of a JSON string, stopping once it has more than
// limit bytes; a lone surrogate becomes U+FFFD, as in encoding/json.
func unescape(raw []byte, limit int) []byte {
	buf := make([]byte, 0, min(len(raw), limit+utf8.UTFMax))
	for i := 0; i < len(raw) && len(buf) <= limit; {
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			buf = append(buf, c)
			i++
			continue
		}
		switch esc := raw[i+1]; esc {
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, n := decodeU(raw[i:])
			buf = utf8.AppendRune(buf, r)
			i += n
			continue
		default: // '"', '\\', '/'
			buf = append(buf, esc)
		}
		i += 2
	}
	return buf
}

// decodeU decodes the \uXXXX escape (or surrogate pair of them) at the start
// of b, returning the rune and the bytes consumed; a malformed or lone
// surrogate becomes U+FFFD, as in encoding/json.
func decodeU(b []byte) (rune, int) {
	r1, ok := hex4(b)
	if !ok {
		return utf8.RuneError, min(len(b), 2)
	}
	if !utf16.IsSurrogate(r1) {
		return r1, 6
	}
	if len(b) >= 12 && b[6] == '\\' && b[7] == 'u' {
		if r2, ok := hex4(b[6:]); ok {
			if r := utf16.DecodeRune(r1, r2); r != utf8.RuneError {
				return r, 12
			}
		}
	}
	return utf8.RuneError, 6
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 6 || !isHex4(b[2:6]) {
		return 0, false
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case isDigit(c):
			c -= '0'
		default:
			c = (c | 0x20) - 'a' + 10
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func clean(b []byte) bool { return bytes.IndexByte(b, 0) < 0 && utf8.Valid(b) }

func cleanString(b []byte, limit int) string {
	if len(b) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		b = b[:cut]
	}
	if clean(b) {
		return string(b)
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}
