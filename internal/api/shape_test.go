package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/apperr"
)

// The API's inputs hold no numbers, embedded structs or tag options, so
// these kinds of the shape check are tested here rather than over HTTP.
type shapeInner struct {
	Count int `json:"count"`
}

type shapeCustom struct{}

func (*shapeCustom) UnmarshalJSON([]byte) error { return nil }

type shapeTarget struct {
	shapeInner
	Small    int8           `json:"small"`
	Size     uint16         `json:"size"`
	Ratio    float64        `json:"ratio"`
	Quoted   int            `json:"quoted,string"`
	Ignored  string         `json:"-"`
	Untagged string         // matched by its Go name, exactly
	Custom   shapeCustom    `json:"custom"`
	Lists    [][]int        `json:"lists"`
	Tags     map[string]int `json:"tags"`
}

func TestShapeKinds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		body, field, detail string
	}{
		{`{"count":"1"}`, "count", "must be a whole number"},
		{`{"count":1.5}`, "count", "must be a whole number"},
		{`{"count":1e3}`, "count", "must be a whole number"},
		{`{"small":128}`, "small", "must be a whole number from -128 to 127"},
		{`{"size":-1}`, "size", "must be a whole number from 0 to 65535"},
		{`{"size":65536}`, "size", "must be a whole number from 0 to 65535"},
		{`{"ratio":"0.5"}`, "ratio", "must be a number"},
		{`{"ratio":1e400}`, "ratio", "must be a number that fits in 64 bits"},
		{`{"Ignored":"x"}`, "Ignored", "unknown field"},
		{`{"untagged":"x"}`, "untagged", "unknown field"},
		{`{"Untagged":1}`, "Untagged", "must be a string"},
		{`{"lists":[[1],[2,"3"]]}`, "lists[1][1]", "must be a whole number"},
		{`{"lists":[1]}`, "lists[0]", "must be an array"},
		{`{"tags":[]}`, "tags", "must be an object"},
		{`{"b":1,"a":1,"count":"x"}`, "count", "must be a whole number"},
		{`{"b":1,"a":1}`, "a", "unknown field"},
	} {
		err := decodeString(c.body)
		e, ok := apperr.As(err)
		require.True(t, ok, "%s: %v", c.body, err)
		require.Equal(t, []apperr.Validation{{Field: c.field, Detail: c.detail}}, e.Validations, c.body)
	}
	for _, ok := range []string{
		`{"count":-3,"small":-128,"size":65535,"ratio":2,"quoted":"12","Untagged":"x","custom":[1,"anything"],"lists":[[1],null],"tags":{"a":1}}`,
		`{"count":null,"ratio":null,"lists":null,"tags":null,"custom":null}`,
		`null`,
	} {
		require.NoError(t, decodeString(ok), ok)
	}
}

func decodeString(body string) error {
	r, _ := http.NewRequest("POST", "/", bytes.NewReader([]byte(body)))
	var v shapeTarget
	return decode(r, &v)
}

func TestDecodeBodyTooLarge(t *testing.T) {
	t.Parallel()
	big, err := json.Marshal(map[string]string{"Untagged": strings.Repeat("x", maxBodyBytes)})
	require.NoError(t, err)
	r, _ := http.NewRequest("POST", "/", bytes.NewReader(big))
	e, ok := apperr.As(decode(r, &shapeTarget{}))
	require.True(t, ok)
	require.Equal(t, []apperr.Validation{{Field: "body", Detail: "must be at most 1048576 bytes"}}, e.Validations)
}
