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

	"github.com/aigate/aigate/internal/apperr"
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

// decode reads a JSON body into v, a pointer to a struct. The body is first
// checked against v's type (see shapeOf), so a mistake is reported under
// its full path, such as api_keys[0].api_key, in the API's words rather
// than Go's; unknown members are an error, so a typo in a field name is
// reported rather than silently ignored.
func decode(r *http.Request, v any) error {
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
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
