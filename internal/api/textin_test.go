package api

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/apperr"
)

// The API's bodies hold no maps, lists of lists or untyped members, so the
// text check of those is tested here rather than over HTTP.
type textTarget struct {
	Name  string              `json:"name"`
	Tags  map[string]string   `json:"tags"`
	Lists [][]string          `json:"lists"`
	Any   any                 `json:"any"`
	Deep  map[string][]string `json:"deep"`
	Count int                 `json:"count,string"`
}

func TestTextIn(t *testing.T) {
	t.Parallel()
	const control, badUTF8 = "must not contain control characters such as NUL", "must be valid UTF-8"
	for _, c := range []struct {
		body, field, detail string
	}{
		{`{"name":"a\u0000"}`, "name", control},
		{`{"name":"\t"}`, "name", control},
		{`{"name":"\u009f"}`, "name", control},
		{"{\"name\":\"\u009f\"}", "name", control}, // raw, not escaped
		{`{"tags":{"a":"ok","b":"\u0001"}}`, "tags.b", control},
		{`{"tags":{"a\u0000":"ok"}}`, "tags", "member names " + control},
		{`{"lists":[["ok"],["ok","\u001f"]]}`, "lists[1][1]", control},
		{`{"any":{"x":[1,{"y":"\u007f"}]}}`, "any.x[1].y", control},
		{`{"deep":{"k":["ok","\u0000"]}}`, "deep.k[1]", control},
		{`{"count":"1\u0000"}`, "count", control},
		{`{"unknown":"\u0000"}`, "unknown", control},  // before "unknown field": text first
		{`{"b":"\u0000","a":"\u0001"}`, "b", control}, // document order
		{"{\"name\":\"\xff\"}", "name", badUTF8},
		{"{\"name\":\"\xc3\"}", "name", badUTF8},
		{"{\"na\xffme\":\"x\"}", "body", "member names " + badUTF8},
		{`{"name":"\ud800"}`, "name", badUTF8},
		{`{"name":"\udc00"}`, "name", badUTF8},
		{`{"name":"\ud800\u0041"}`, "name", badUTF8},
		{`{"name":"\ud800\ud800"}`, "name", badUTF8},
		{`{"name":"x\ud83d"}`, "name", badUTF8},
		{`{"name":"` + strings.Repeat("é", maxBodyString/2) + `x"}`, "name", "must be at most 4096 bytes"},
		{`{"` + strings.Repeat("n", maxNameBytes+1) + `":1}`, "body", "member names must be at most 64 bytes"},
	} {
		r, _ := http.NewRequest("POST", "/", bytes.NewReader([]byte(c.body)))
		e, ok := apperr.As(decode(r, &textTarget{}))
		require.True(t, ok, c.body)
		require.Equal(t, []apperr.Validation{{Field: c.field, Detail: c.detail}}, e.Validations, c.body)
	}
	for _, ok := range []string{
		`{"name":"Zoë 日本 \ud83d\ude00 \uD83D\uDE00"}`,
		`{"name":"a\\u0000"}`,       // an escaped backslash, then the text u0000
		`{"name":"\\\ud83d\ude00"}`, // an escaped backslash, then a pair
		`{"name":"` + strings.Repeat("é", maxBodyString/2) + `"}`,
		`{"tags":{"日本":"ë"},"any":["ok",1,null,{"x":"y"}],"count":"3"}`,
	} {
		r, _ := http.NewRequest("POST", "/", bytes.NewReader([]byte(ok)))
		require.NoError(t, decode(r, &textTarget{}), ok)
	}
}

func TestCheckParams(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"user", "token"}, wildcards("DELETE /api/v1/users/{user}/tokens/{token}"))
	require.Equal(t, []string{"rest"}, wildcards("GET /files/{rest...}"))
	require.Empty(t, wildcards("GET /{$}"))

	for _, c := range []struct {
		query string
		want  []apperr.Validation
	}{
		{"a=1&b=%00&b=%01&c=%FF", []apperr.Validation{
			{Field: "b", Detail: "must not contain control characters such as NUL"},
			{Field: "c", Detail: "must be valid UTF-8"}}},
		{"a%00=1", []apperr.Validation{{Field: "query", Detail: "parameter names must not contain control characters such as NUL"}}},
		{"a=%zz", []apperr.Validation{{Field: "query", Detail: "must be a valid URL query: parameters separated by &, each % followed by two hex digits"}}},
		{"a=1;b=2", []apperr.Validation{{Field: "query", Detail: "must be a valid URL query: parameters separated by &, each % followed by two hex digits"}}},
	} {
		r, _ := http.NewRequest("GET", "/?"+c.query, nil)
		e, ok := apperr.As(checkParams(r, nil))
		require.True(t, ok, c.query)
		require.Equal(t, c.want, e.Validations, c.query)
	}
	r, _ := http.NewRequest("GET", "/?resource=Zo%C3%AB+%E6%97%A5&limit=5", nil)
	r.SetPathValue("user", "zoë@example.com")
	require.NoError(t, checkParams(r, []string{"user"}))
	r.SetPathValue("user", "x\x00")
	e, ok := apperr.As(checkParams(r, []string{"user"}))
	require.True(t, ok)
	require.Equal(t, []apperr.Validation{{Field: "user", Detail: "must not contain control characters such as NUL"}}, e.Validations)
}

func TestRecordable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"curl/8.0", 512, "curl/8.0"},
		{"a\xffb", 512, "a\uFFFDb"},
		{"a\u009bb\tc", 512, "a\uFFFDb\uFFFDc"},
		{"日本", 4, "日"}, // cut at a character's start
		{"ab日", 4, "ab"},
		{"abcd", 4, "abcd"},
	} {
		require.Equal(t, c.want, recordable(c.in, c.max), c.in)
	}
}
