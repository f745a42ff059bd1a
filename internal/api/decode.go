package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/aigate/aigate/internal/apperr"
	"github.com/aigate/aigate/internal/httpserver"
	"github.com/aigate/aigate/internal/providers"
)

// maxBodyBytes bounds request bodies; admin requests are small.
const maxBodyBytes = 1 << 20

// examples complete "must be an object" for the objects people most often
// get wrong, such as a list of key strings where key objects belong. They
// are made up: a detail never repeats what the client sent, which may be a
// secret.
var examples = map[reflect.Type]string{
	reflect.TypeFor[providers.KeyInput]():      `{"api_key": "sk-…"}`,
	reflect.TypeFor[providers.SettingsInput](): `{"region": "us-east-1"}`,
}

const timeExample = "2026-01-02T15:04:05Z"

var (
	timeType            = reflect.TypeFor[time.Time]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decodedInto, set only by tests, learns the type each route decodes its
// body into, so that a test can check it probes every string of every body.
var decodedInto func(pattern string, t reflect.Type)

// decode reads a JSON body into v, a pointer to a struct. Every string in
// the body, member names included, is first checked as text (see textIn),
// then the body is checked against v's type (see shapeOf), so a mistake is
// reported under its full path, such as api_keys[0].api_key, in the API's
// words rather than Go's; unknown members are an error, so a typo in a
// field name is reported rather than silently ignored.
func decode(r *http.Request, v any) error {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if errors.Is(err, httpserver.ErrBodyTimeout) {
		return err
	}
	if err != nil {
		// Most often the client went away; nothing on our side to log.
		return bodyInvalid("could not be read in full")
	}
	if len(raw) > maxBodyBytes {
		return bodyInvalid(fmt.Sprintf("must be at most %d bytes", maxBodyBytes))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return bodyInvalid("a JSON body is required")
		}
		return bodyInvalid("must be a JSON object")
	}
	if err := dec.Decode(new(any)); !errors.Is(err, io.EOF) {
		return bodyInvalid("must hold a single JSON object")
	}
	if _, isObject := doc.(map[string]any); !isObject && doc != nil {
		return bodyInvalid("must be a JSON object")
	}
	if decodedInto != nil {
		decodedInto(r.Pattern, reflect.TypeOf(v))
	}
	if bad := textIn(raw); bad != nil {
		return apperr.Invalid(*bad)
	}
	if bad := shapeOf("", doc, reflect.TypeOf(v)); bad != nil {
		return apperr.Invalid(*bad)
	}
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		// The shape check accepts only what decodes; this is a gap in it,
		// and the decoder's own words would be Go's.
		return bodyInvalid("does not match the fields of this request")
	}
	return nil
}

func bodyInvalid(detail string) error {
	return apperr.Invalid(apperr.Validation{Field: "body", Detail: detail})
}

// shapeOf returns the first place where doc, a document decoded with
// UseNumber, does not fit t, or nil when it does. It follows
// encoding/json's rules with one exception: member names match json tags
// exactly, where encoding/json would also take "Name" for "name". null
// fits anything, as it does for encoding/json. path is where doc sits in
// the body ("" for the body itself).
func shapeOf(path string, doc any, t reflect.Type) *apperr.Validation {
	if doc == nil {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bad := func(detail string) *apperr.Validation {
		return &apperr.Validation{Field: path, Detail: detail}
	}
	if t == timeType {
		s, ok := doc.(string)
		if ok {
			// The decoder's own parser: it is stricter than time.Parse.
			quoted, _ := json.Marshal(s)
			ok = new(time.Time).UnmarshalJSON(quoted) == nil
		}
		if !ok {
			return bad("must be an RFC 3339 time such as " + timeExample)
		}
		return nil
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return nil // the type reads its own JSON; the decoder judges it
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := doc.(map[string]any)
		if !ok {
			return bad(withExample("must be an object", t))
		}
		return membersOf(path, obj, t)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // base64 in a string; none of the API's inputs has one
		}
		list, ok := doc.([]any)
		if !ok {
			detail := "must be an array"
			if ex, ok := examples[t.Elem()]; ok {
				detail += " such as [" + ex + "]"
			}
			return bad(detail)
		}
		for i, item := range list {
			if v := shapeOf(fmt.Sprintf("%s[%d]", path, i), item, t.Elem()); v != nil {
				return v
			}
		}
		return nil
	case reflect.Map:
		if _, ok := doc.(map[string]any); !ok {
			return bad("must be an object")
		}
		return nil
	case reflect.String:
		if _, ok := doc.(string); !ok {
			return bad("must be a string")
		}
	case reflect.Bool:
		if _, ok := doc.(bool); !ok {
			return bad("must be true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := doc.(json.Number)
		if !ok {
			return bad("must be a whole number")
		}
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); errors.Is(err, strconv.ErrRange) {
			limit := int64(^uint64(0) >> (65 - t.Bits()))
			return bad(fmt.Sprintf("must be a whole number from %d to %d", -limit-1, limit))
		} else if err != nil {
			return bad("must be a whole number")
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, ok := doc.(json.Number)
		if !ok {
			return bad("must be a whole number")
		}
		if _, err := strconv.ParseUint(string(n), 10, t.Bits()); errors.Is(err, strconv.ErrRange) || strings.HasPrefix(string(n), "-") {
			return bad(fmt.Sprintf("must be a whole number from 0 to %d", ^uint64(0)>>(64-t.Bits())))
		} else if err != nil {
			return bad("must be a whole number")
		}
	case reflect.Float32, reflect.Float64:
		n, ok := doc.(json.Number)
		if !ok {
			return bad("must be a number")
		}
		if _, err := strconv.ParseFloat(string(n), t.Bits()); err != nil {
			return bad(fmt.Sprintf("must be a number that fits in %d bits", t.Bits()))
		}
	}
	return nil
}

// membersOf checks the members of obj against the fields of struct t: the
// known ones in the order the struct declares them, then the unknown ones
// in name order, so the same body always gets the same answer.
func membersOf(path string, obj map[string]any, t reflect.Type) *apperr.Validation {
	prefix := path
	if prefix != "" {
		prefix += "."
	}
	fields := jsonFields(t)
	for _, f := range fields {
		if v, ok := obj[f.name]; ok {
			if bad := shapeOf(prefix+f.name, v, f.typ); bad != nil {
				return bad
			}
		}
	}
	var unknown []string
	for name := range obj {
		if !slices.ContainsFunc(fields, func(f jsonField) bool { return f.name == name }) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return &apperr.Validation{Field: prefix + unknown[0], Detail: "unknown field"}
	}
	return nil
}

type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields lists the members struct t decodes, by their json names,
// with the fields of untagged embedded structs promoted as encoding/json
// promotes them. Fields with the ",string" option are left out of the
// check: their JSON is a string holding the value, which the decoder
// judges.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := sf.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			out = append(out, jsonFields(ft)...)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		typ := sf.Type
		if slices.Contains(strings.Split(opts, ","), "string") {
			typ = reflect.TypeFor[any]()
		}
		out = append(out, jsonField{name: name, typ: typ})
	}
	return out
}

// withExample completes detail with an example of t, when there is one.
func withExample(detail string, t reflect.Type) string {
	if ex, ok := examples[t]; ok {
		return detail + " such as " + ex
	}
	return detail
}

// textIn returns the first string of raw, in document order, that is not
// text the API accepts (see textProblem), or nil. raw holds one well-formed
// JSON value. Every string is checked wherever it sits, whatever the target
// type makes of it (times, map values, unknown members), and so are member
// names, reported under the object that holds them since a bad name cannot
// be named back. It reads the raw bytes of each string because
// encoding/json silently turns invalid UTF-8 and lone UTF-16 surrogates
// into U+FFFD, which would store something other than what was sent.
func textIn(raw []byte) *apperr.Validation {
	type level struct {
		path     string
		object   bool
		wantName bool   // in an object: the next string is a member name
		name     string // in an object: the member being read
		index    int    // in an array: the next element's index
	}
	var stack []*level
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF: the syntax was checked before
		}
		// What precedes the token here is whitespace, ':' or ',', all ASCII.
		literal := raw[start:dec.InputOffset()]
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.wantName {
			name := tok.(string)
			if detail := stringProblem(name, literal, maxNameBytes, false); detail != "" {
				field := top.path
				if field == "" {
					field = "body"
				}
				return &apperr.Validation{Field: field, Detail: "member names " + detail}
			}
			top.name, top.wantName = name, false
			continue
		}
		path := ""
		switch {
		case top == nil:
		case top.object:
			path = top.name
			if top.path != "" {
				path = top.path + "." + path
			}
			top.wantName = true
		default:
			path = fmt.Sprintf("%s[%d]", top.path, top.index)
			top.index++
		}
		switch tok := tok.(type) {
		case json.Delim:
			stack = append(stack, &level{path: path, object: tok == '{', wantName: tok == '{'})
		case string:
			if detail := stringProblem(tok, literal, maxBodyString, controlsAllowed[path]); detail != "" {
				return &apperr.Validation{Field: path, Detail: detail}
			}
		}
	}
}

// stringProblem is textProblem for s, decoded from literal, the raw JSON
// string with what precedes it.
func stringProblem(s string, literal []byte, maxBytes int, controlsOK bool) string {
	if !utf8.Valid(literal) || !surrogatesPaired(literal) {
		return "must be valid UTF-8"
	}
	return textProblem(s, maxBytes, controlsOK)
}

// surrogatesPaired reports whether every \u escape of a UTF-16 surrogate in
// literal, well-formed JSON, is a high surrogate followed by a low one:
// only such a pair stands for a character.
func surrogatesPaired(literal []byte) bool {
	for i := 0; i < len(literal); i++ {
		if literal[i] != '\\' {
			continue
		}
		i++ // the escaped byte: a backslash escaping a backslash is skipped whole
		if literal[i] != 'u' {
			continue
		}
		r := hexRune(literal[i+1 : i+5])
		i += 4
		if !utf16.IsSurrogate(r) {
			continue
		}
		next := literal[i+1:]
		if len(next) < 6 || next[0] != '\\' || next[1] != 'u' ||
			utf16.DecodeRune(r, hexRune(next[2:6])) == unicode.ReplacementChar {
			return false
		}
		i += 6
	}
	return true
}

// hexRune reads four hex digits, already checked by the JSON syntax.
func hexRune(digits []byte) rune {
	n, _ := strconv.ParseUint(string(digits), 16, 32)
	return rune(n)
}
