package api

import (
	"fmt"
	"reflect"
	"sync"
)

// Patterns lists the route table's patterns, so that a test over every
// route cannot forget one.
func Patterns() []string {
	var out []string
	for _, rt := range (&API{}).routes() {
		out = append(out, rt.pattern)
	}
	return out
}

// Wildcards lists the names of a pattern's path wildcards.
var Wildcards = wildcards

// Bounds, for tests of the limits.
const (
	MaxBodyString = maxBodyString
	MaxParamBytes = maxParamBytes
)

var (
	bodyTypesMu sync.Mutex
	bodyTypes   = map[string]reflect.Type{} // guarded by bodyTypesMu
)

// Set before any test runs, so the handlers' reads need no lock.
func init() {
	decodedInto = func(pattern string, t reflect.Type) {
		bodyTypesMu.Lock()
		defer bodyTypesMu.Unlock()
		bodyTypes[pattern] = t
	}
}

// BodyStrings reports whether the route with pattern has decoded a body
// in this test binary so far and, if so, the paths of every member of
// its body type that JSON carries as a string (times included), with
// index 0 for lists: name, settings.region, api_keys[0].api_key.
func BodyStrings(pattern string) ([]string, bool) {
	bodyTypesMu.Lock()
	t, ok := bodyTypes[pattern]
	bodyTypesMu.Unlock()
	if !ok {
		return nil, false
	}
	return stringPaths("", t), true
}

func stringPaths(path string, t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType, t.Kind() == reflect.String:
		return []string{path}
	case t.Kind() == reflect.Struct:
		var out []string
		for _, f := range jsonFields(t) {
			p := f.name
			if path != "" {
				p = path + "." + p
			}
			out = append(out, stringPaths(p, f.typ)...)
		}
		return out
	case t.Kind() == reflect.Slice, t.Kind() == reflect.Array:
		return stringPaths(fmt.Sprintf("%s[0]", path), t.Elem())
	case t.Kind() == reflect.Map:
		return stringPaths(path+".key", t.Elem())
	}
	return nil
}
