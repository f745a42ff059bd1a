package llmwire

import "bytes"

// messagesParser observes an Anthropic messages stream, whose events are
// named after their data's "type".
type messagesParser struct {
	recorder
}

func (p *messagesParser) Event(event, data []byte) {
	name := event
	if len(name) == 0 {
		name = topLevelType(data)
	}
	switch string(name) {
	case "message_start":
		var msg []byte
		if members(data, func(key, value []byte) {
			if string(key) == "message" {
				msg = value
			}
		}) {
			p.message(msg, false)
		}
	case "content_block_start":
		p.blockStart(data)
	case "message_delta":
		p.messageDelta(data)
	case "message_stop":
		p.res.Completed = true
	case "error":
		p.setError(ParseError(data))
		p.setError(unnamedError)
	}
}

func (p *messagesParser) Result() Result { return p.result() }

// message reads a message object: a non-streaming body (final) or what
// message_start carries, whose content is still empty.
func (r *recorder) message(obj []byte, final bool) {
	var model, usage, content, stop []byte
	if !members(obj, func(key, value []byte) {
		switch string(key) {
		case "model":
			model = value
		case "usage":
			usage = value
		case "content":
			content = value
		case "stop_reason":
			stop = value
		}
	}) {
		return
	}
	if m := text(model, maxIdentLen); m != "" {
		r.res.Model = m
	}
	if u, ok := messagesUsage(usage); ok {
		r.res.Usage = Usage{Input: u.input, Output: u.output, CacheRead: u.cacheRead, CacheWrite: u.cacheWrite, CacheWrite1h: u.cacheWrite1h}
	}
	var pos int64
	elements(content, func(block []byte) {
		r.block(block, pos)
		pos++
	})
	if final && isString(stop) {
		r.res.Completed = true
	}
}

func (r *recorder) blockStart(data []byte) {
	var block []byte
	index := int64(-1)
	if !members(data, func(key, value []byte) {
		switch string(key) {
		case "content_block":
			block = value
		case "index":
			if n, ok := count(value); ok {
				index = n
			}
		}
	}) {
		return
	}
	r.block(block, index)
}

var toolUseSuffix = []byte("tool_use")

// block records a content block that is a tool call: tool_use, and the
// server_tool_use and mcp_tool_use of tools Anthropic runs itself.
func (r *recorder) block(obj []byte, index int64) {
	var typ, id, name []byte
	members(obj, func(key, value []byte) {
		switch string(key) {
		case "type":
			typ = rawString(value)
		case "id":
			id = value
		case "name":
			name = value
		}
	})
	if !bytes.HasSuffix(typ, toolUseSuffix) {
		return
	}
	r.addCall(callKey{index: index}, text(id, maxIdentLen), text(name, maxIdentLen))
}

// messageDelta reads the cumulative usage a message_delta carries: the
// output count, and in newer API versions the input and cache counts, which
// replace message_start's only when non-zero (older servers send no such
// counts, a few send zeros).
func (r *recorder) messageDelta(data []byte) {
	var usage []byte
	if !members(data, func(key, value []byte) {
		if string(key) == "usage" {
			usage = value
		}
	}) {
		return
	}
	u, ok := messagesUsage(usage)
	if !ok {
		return
	}
	if u.hasOutput {
		r.res.Usage.Output = u.output
	}
	if u.input > 0 {
		r.res.Usage.Input = u.input
	}
	if u.cacheRead > 0 {
		r.res.Usage.CacheRead = u.cacheRead
	}
	if u.cacheWrite > 0 {
		// The total and its 1-hour part together when the delta splits it;
		// a delta with the total alone (as the API sends it) keeps the
		// split message_start gave, within the new total.
		r.res.Usage.CacheWrite = u.cacheWrite
		if u.hasSplit {
			r.res.Usage.CacheWrite1h = u.cacheWrite1h
		} else {
			r.res.Usage.CacheWrite1h = min(r.res.Usage.CacheWrite1h, u.cacheWrite)
		}
	}
}

type messagesUsageCounts struct {
	input, output, cacheRead, cacheWrite, cacheWrite1h int64
	hasOutput, hasSplit                                bool
}

// messagesUsage reads an Anthropic usage object. cache_creation_input_tokens
// is the total of the cache writes; cache_creation splits it by lifetime
// ({"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"}), and without
// that split every write is a 5-minute one, the only kind before 1-hour
// caching. The total is never taken below the split's sum.
func messagesUsage(v []byte) (messagesUsageCounts, bool) {
	var u messagesUsageCounts
	var split5m, split1h int64
	ok := members(v, func(key, value []byte) {
		switch string(key) {
		case "input_tokens":
			u.input, _ = count(value)
		case "output_tokens":
			u.output, u.hasOutput = count(value)
		case "cache_read_input_tokens":
			u.cacheRead, _ = count(value)
		case "cache_creation_input_tokens":
			u.cacheWrite, _ = count(value)
		case "cache_creation":
			u.hasSplit = isObject(value)
			members(value, func(key, value []byte) {
				switch string(key) {
				case "ephemeral_5m_input_tokens":
					split5m, _ = count(value)
				case "ephemeral_1h_input_tokens":
					split1h, _ = count(value)
				}
			})
		}
	})
	u.cacheWrite = max(u.cacheWrite, split5m+split1h)
	u.cacheWrite1h = split1h
	return u, ok
}
