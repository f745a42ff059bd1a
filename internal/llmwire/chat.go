package llmwire

import "bytes"

// chatParser observes a chat completions stream: unnamed events whose data
// is a chat.completion.chunk, then "data: [DONE]".
type chatParser struct {
	recorder
	text textChunk
	// modelTries counts chunks walked for want of a model: some upstreams
	// (Azure's content-filter chunk) start with an empty one, others never send
	// one, and a stream without a model must not cost a walk per event.
	modelTries int
}

const maxModelTries = 4

// Byte probes for the chunks worth walking. Each quoted key must be followed
// by a value of the right kind (see hasMember), because every chunk carries
// "finish_reason":null and, with include_usage, "usage":null. Inside a JSON
// string a quote is escaped, so a probe can only match a real key (or, rarely,
// text that costs one needless walk).
var (
	probeCall   = []byte("_call") // "tool_calls" and the deprecated "function_call"
	probeUsage  = []byte(`"usage"`)
	probeFinish = []byte(`"finish_reason"`)
	probeError  = []byte(`"error"`)
	probeDone   = []byte("[DONE]")
)

func (p *chatParser) Event(event, data []byte) {
	if len(data) < 16 && bytes.Equal(bytes.TrimSpace(data), probeDone) {
		p.res.Completed = true
		return
	}
	if p.text.matches(data) {
		return
	}
	if !p.wants(event, data) {
		p.text.learn(data)
		return
	}
	p.chatBody(data)
	if p.res.Model == "" {
		p.modelTries++
	}
}

func (p *chatParser) wants(event, data []byte) bool {
	return (p.res.Model == "" && p.modelTries < maxModelTries) ||
		bytes.Contains(data, probeCall) ||
		hasMember(data, probeUsage, "{") ||
		hasMember(data, probeFinish, `"`) ||
		hasMember(data, probeError, `{"`) ||
		string(event) == "error"
}

func (p *chatParser) Result() Result { return p.result() }

// textChunk recognises a stream's text deltas without looking for keys in
// them. An upstream writes them all alike: the same id, model and other
// members around a content string that changes (and, at OpenAI, an
// "obfuscation" string of random padding that changes too). Once one chunk
// has been found to carry nothing the parser needs, a chunk that has the same
// bytes outside those two strings carries nothing either: a JSON string's
// content cannot change the structure around it. Matching costs a comparison
// of the bytes around the strings; the probes cost a scan per key.
type textChunk struct {
	buf        []byte // owns head, tail and end
	head       []byte // the bytes up to the content string's opening quote, included
	tail       []byte // the bytes after the content string: all of them, or up to the padding's opening quote
	end        []byte // the bytes after the padding string; nil without one
	hasPadding bool
}

var (
	// The keys of the text a delta carries: the answer, or the reasoning that
	// some OpenAI-compatible servers (DeepSeek, vLLM, OpenRouter) stream first.
	keysText   = [][]byte{[]byte(`"content"`), []byte(`"reasoning_content"`), []byte(`"reasoning"`)}
	keyPadding = []byte(`"obfuscation"`)
)

func (t *textChunk) matches(data []byte) bool {
	if len(t.head) == 0 || !bytes.HasPrefix(data, t.head) {
		return false
	}
	e := stringEnd(data, len(t.head)-1)
	if e < 0 {
		return false
	}
	rest := data[e:]
	if !t.hasPadding {
		return bytes.Equal(rest, t.tail)
	}
	if !bytes.HasPrefix(rest, t.tail) {
		return false
	}
	e = stringEnd(rest, len(t.tail)-1)
	return e >= 0 && bytes.Equal(rest[e:], t.end)
}

// learn takes data, a chunk found to carry nothing the parser needs, as the
// pattern of the text deltas to come.
func (t *textChunk) learn(data []byte) {
	t.head = nil
	open := -1
	for _, key := range keysText {
		if open = stringAfterKey(data, key); open >= 0 {
			break
		}
	}
	if open < 0 {
		return
	}
	closed := stringEnd(data, open)
	if closed < 0 {
		return
	}
	t.buf = append(t.buf[:0], data...)
	head, rest := t.buf[:open+1], t.buf[closed:]
	t.hasPadding = false
	t.tail, t.end = rest, nil
	if open := stringAfterKey(rest, keyPadding); open >= 0 {
		if closed := stringEnd(rest, open); closed >= 0 {
			t.hasPadding = true
			t.tail, t.end = rest[:open+1], rest[closed:]
		}
	}
	t.head = head
}

// stringAfterKey returns the offset of the opening quote of the string value
// of the first quotedKey member in d, or -1.
func stringAfterKey(d, quotedKey []byte) int {
	i := bytes.Index(d, quotedKey)
	if i < 0 {
		return -1
	}
	j := skipSpace(d, i+len(quotedKey))
	if j >= len(d) || d[j] != ':' {
		return -1
	}
	j = skipSpace(d, j+1)
	if j >= len(d) || d[j] != '"' {
		return -1
	}
	return j
}

// hasMember reports whether d has the quoted key followed by a colon and a
// value starting with one of the bytes in kinds.
func hasMember(d, quotedKey []byte, kinds string) bool {
	for off := 0; ; {
		i := bytes.Index(d[off:], quotedKey)
		if i < 0 {
			return false
		}
		off += i + len(quotedKey)
		j := skipSpace(d, off)
		if j < len(d) && d[j] == ':' {
			j = skipSpace(d, j+1)
			for k := 0; k < len(kinds) && j < len(d); k++ {
				if d[j] == kinds[k] {
					return true
				}
			}
		}
	}
}

// chatBody reads a chat.completion body or chunk. The first non-empty model
// wins: every chunk repeats it.
func (r *recorder) chatBody(data []byte) {
	var model, choices, usage, errv []byte
	ok := members(data, func(key, value []byte) {
		switch string(key) {
		case "model":
			model = value
		case "choices":
			choices = value
		case "usage":
			usage = value
		case "error":
			errv = value
		}
	})
	if !ok {
		return
	}
	if r.res.Model == "" {
		r.res.Model = text(model, maxIdentLen)
	}
	if u, ok := chatUsage(usage); ok {
		// Usage is cumulative where an upstream sends it more than once (vLLM's
		// continuous usage stats): the latest replaces the rest.
		r.res.Usage = u
	}
	if errv != nil && string(errv) != "null" {
		r.setError(ParseError(data))
	}
	var pos int64
	elements(choices, func(choice []byte) {
		index := pos
		pos++
		var delta, message, finish []byte
		members(choice, func(key, value []byte) {
			switch string(key) {
			case "index":
				if n, ok := count(value); ok {
					index = n
				}
			case "delta":
				delta = value
			case "message":
				message = value
			case "finish_reason":
				finish = value
			}
		})
		if isString(finish) {
			r.res.Completed = true
		}
		r.chatMessage(index, delta)
		r.chatMessage(index, message)
	})
}

// chatMessage records the tool calls in a choice's message or delta.
func (r *recorder) chatMessage(choice int64, m []byte) {
	var calls, function []byte
	members(m, func(key, value []byte) {
		switch string(key) {
		case "tool_calls":
			calls = value
		case "function_call":
			function = value
		}
	})
	var pos int64
	elements(calls, func(call []byte) {
		// Without an index (some OpenAI-compatible servers), a call's place in
		// the array stands in for it.
		index := pos
		pos++
		var id, fn, custom []byte
		members(call, func(key, value []byte) {
			switch string(key) {
			case "index":
				if n, ok := count(value); ok {
					index = n
				}
			case "id":
				id = value
			case "function":
				fn = value
			case "custom":
				custom = value
			}
		})
		name := nameOf(fn)
		if name == "" {
			name = nameOf(custom)
		}
		r.addCall(callKey{choice: choice, index: index}, text(id, maxIdentLen), name)
	})
	if function != nil {
		r.addCall(callKey{choice: choice, index: -1}, "", nameOf(function))
	}
}

// nameOf reads the "name" of an object such as a tool call's function.
func nameOf(obj []byte) string {
	var name []byte
	members(obj, func(key, value []byte) {
		if string(key) == "name" {
			name = value
		}
	})
	return text(name, maxIdentLen)
}

// chatUsage reads a chat completions usage object.
func chatUsage(v []byte) (Usage, bool) {
	var u Usage
	ok := members(v, func(key, value []byte) {
		switch string(key) {
		case "prompt_tokens":
			u.Input, _ = count(value)
		case "completion_tokens":
			u.Output, _ = count(value)
		case "prompt_tokens_details":
			u.CacheRead = member(value, "cached_tokens")
		case "completion_tokens_details":
			u.Reasoning = member(value, "reasoning_tokens")
		}
	})
	return u, ok
}

// member reads the count under key in the object v, or 0.
func member(v []byte, key string) int64 {
	var n int64
	members(v, func(k, value []byte) {
		if string(k) == key {
			n, _ = count(value)
		}
	})
	return n
}
