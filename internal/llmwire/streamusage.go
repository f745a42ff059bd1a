package llmwire

import "bytes"

// A chat completions stream reports token usage only when the request says
// "stream_options": {"include_usage": true}, and most clients never say it.
// The gateway then asks for it on the client's behalf (AskStreamUsage) and
// keeps the extra chunk that answers from the client (IsUsageOnlyChunk), so
// the client sees the events it would have seen and the interception still
// has exact counts. This is the only change the gateway makes to a request
// body.
//
//	client body                      sent upstream
//	{"model":…,"stream":true,…}      {"stream_options":{"include_usage":true},"model":…}
//	…"stream_options":null…          …"stream_options":{"include_usage":true}…
//	…"stream_options":{}…            …"stream_options":{"include_usage":true}…
//	…{"include_obfuscation":false}…  …{"include_usage":true,"include_obfuscation":false}…
//	…{"include_usage":false}…        …{"include_usage":true}…
//	…{"include_usage":true}…         unchanged: the client asked, and gets the chunk
//
// The edit splices bytes into the body and re-encodes nothing, so every other
// member reaches the upstream exactly as the client wrote it. A body the edit
// cannot read unambiguously (stream_options twice, or not an object; the
// upstream decides what those mean) is sent unchanged, and the stream is
// recorded with the usage it reports, if any.

var (
	keyStreamOptions = []byte("stream_options")
	keyIncludeUsage  = []byte("include_usage")
	usageOption      = []byte(`"include_usage":true`)
)

// AskStreamUsage returns a chat completions request body that asks for the
// stream's usage, and whether it differs from body. body must be a request
// ParseRequest accepted with Stream set; when the client already asked, or
// the body cannot be edited safely, it is returned as is with false. The
// result is a new slice; body is not modified.
func AskStreamUsage(body []byte) ([]byte, bool) {
	var opts []byte
	n := 0
	if !members(body, func(key, value []byte) {
		if keyIs(key, keyStreamOptions) {
			opts, n = value, n+1
		}
	}) || n > 1 {
		return body, false
	}
	switch {
	case n == 0:
		// First member: a member list is never empty here ("model" is
		// required), so a comma always follows.
		at := bytes.IndexByte(body, '{') + 1
		return splice(body, at, at, `"stream_options":{"include_usage":true},`), true
	case string(opts) == "null":
		at := offset(body, opts)
		return splice(body, at, at+len(opts), `{"include_usage":true}`), true
	case !isObject(opts):
		return body, false
	}
	var include []byte
	m := 0
	empty := true
	members(opts, func(key, value []byte) {
		empty = false
		if keyIs(key, keyIncludeUsage) {
			include, m = value, m+1
		}
	})
	switch {
	case m > 1 || string(include) == "true":
		return body, false
	case m == 1:
		// false or null (anything else the upstream refuses, as it would
		// have without aigate).
		if string(include) != "false" && string(include) != "null" {
			return body, false
		}
		at := offset(body, include)
		return splice(body, at, at+len(include), "true"), true
	case empty:
		at := offset(body, opts)
		return splice(body, at, at+len(opts), `{"include_usage":true}`), true
	default:
		at := offset(body, opts) + 1
		return splice(body, at, at, string(usageOption)+","), true
	}
}

// keyIs reports whether the raw key text (escapes not decoded) is name. The
// upstream decodes escapes, so "stream\u005foptions" is stream_options too.
func keyIs(raw, name []byte) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return bytes.Equal(raw, name)
	}
	return bytes.Equal(unescape(raw, len(name)+1), name)
}

// offset is where sub, a slice of d as the walker hands out, starts in d.
func offset(d, sub []byte) int { return cap(d) - cap(sub) }

// splice returns d with d[from:to] replaced by s, in a new slice.
func splice(d []byte, from, to int, s string) []byte {
	out := make([]byte, 0, len(d)-(to-from)+len(s))
	out = append(out, d[:from]...)
	out = append(out, s...)
	return append(out, d[to:]...)
}

var probeChoices = []byte(`"choices"`)

// IsUsageOnlyChunk reports whether data is the chunk that include_usage adds
// at the end of a chat completions stream: an empty "choices" array and a
// "usage" object. Chunks that carry choices are never usage-only, even when
// an upstream also puts usage in them (vLLM's continuous usage stats). It
// costs a scan for `"usage"` followed by an object; only such a chunk, one
// per stream, is walked.
func IsUsageOnlyChunk(data []byte) bool {
	if !hasMember(data, probeUsage, "{") || !hasMember(data, probeChoices, "[") {
		return false
	}
	var choices, usage []byte
	if !members(data, func(key, value []byte) {
		switch string(key) {
		case "choices":
			choices = value
		case "usage":
			usage = value
		}
	}) {
		return false
	}
	if !isObject(usage) || len(choices) < 2 || choices[0] != '[' {
		return false
	}
	return skipSpace(choices, 1) == len(choices)-1
}
