package llmwire

import "bytes"

// responsesParser observes a responses stream, whose events are named after
// their data's "type".
type responsesParser struct {
	recorder
}

func (p *responsesParser) Event(event, data []byte) {
	name := event
	if len(name) == 0 {
		name = topLevelType(data)
	}
	switch string(name) {
	case "response.created", "response.queued", "response.in_progress":
		if p.res.Model == "" {
			p.responseEvent(data)
		}
	case "response.output_item.added", "response.output_item.done":
		p.itemEvent(data)
	case "response.completed", "response.incomplete":
		if p.responseEvent(data) {
			p.res.Completed = true
		}
	case "response.failed":
		p.responseEvent(data)
		p.setError(unnamedError)
	case "error":
		p.setError(ParseError(data))
		p.setError(unnamedError)
	}
}

func (p *responsesParser) Result() Result { return p.result() }

// topLevelType returns the "type" of the JSON object d (its raw text), for
// events that come without an SSE name; nil when there is none.
func topLevelType(d []byte) []byte {
	var typ []byte
	if !members(d, func(key, value []byte) {
		if string(key) == "type" {
			typ = rawString(value)
		}
	}) {
		return nil
	}
	return typ
}

// responseEvent reads the response object an event carries and reports
// whether the event was well-formed.
func (r *recorder) responseEvent(data []byte) bool {
	var resp []byte
	if !members(data, func(key, value []byte) {
		if string(key) == "response" {
			resp = value
		}
	}) {
		return false
	}
	_, ok := r.response(resp)
	return ok
}

// response reads a response object (a non-streaming body, or what the stream's
// response.* events carry) and returns its status. The latest model wins: the
// final event's is the one that answered.
func (r *recorder) response(obj []byte) (status []byte, ok bool) {
	var model, usage, output, errv []byte
	ok = members(obj, func(key, value []byte) {
		switch string(key) {
		case "model":
			model = value
		case "usage":
			usage = value
		case "output":
			output = value
		case "error":
			errv = value
		case "status":
			status = value
		}
	})
	if !ok {
		return nil, false
	}
	if m := text(model, maxIdentLen); m != "" {
		r.res.Model = m
	}
	if u, ok := responsesUsage(usage); ok {
		r.res.Usage = u
	}
	if isObject(errv) {
		r.setError(errorObject(errv))
	}
	var pos int64
	elements(output, func(item []byte) {
		r.item(item, pos)
		pos++
	})
	return status, true
}

// itemEvent reads a response.output_item.added or .done event.
func (r *recorder) itemEvent(data []byte) {
	var item []byte
	index := int64(-1)
	if !members(data, func(key, value []byte) {
		switch string(key) {
		case "item":
			item = value
		case "output_index":
			if n, ok := count(value); ok {
				index = n
			}
		}
	}) {
		return
	}
	r.item(item, index)
}

var callSuffix = []byte("_call")

// item records an output item that is a tool call: its type ends in "_call"
// (function_call, custom_tool_call, mcp_call, web_search_call, ...). index is
// its output_index.
func (r *recorder) item(obj []byte, index int64) {
	var typ, id, callID, name []byte
	members(obj, func(key, value []byte) {
		switch string(key) {
		case "type":
			typ = rawString(value)
		case "id":
			id = value
		case "call_id":
			callID = value
		case "name":
			name = value
		}
	})
	if !bytes.HasSuffix(typ, callSuffix) {
		return
	}
	// call_id is what the client's function_call_output answers; items that
	// have none (mcp_call, the hosted tools) are known by their own id.
	itemID := text(id, maxIdentLen)
	callName := text(name, maxIdentLen)
	if callName == "" {
		// A hosted tool's call is named after the tool's type in the request:
		// web_search_call -> web_search.
		callName = cleanString(typ[:len(typ)-len(callSuffix)], maxIdentLen)
	}
	ref := text(callID, maxIdentLen)
	if ref == "" {
		ref = itemID
	}
	r.addCall(callKey{index: index, item: itemID}, ref, callName)
}

// responsesUsage reads a responses usage object.
func responsesUsage(v []byte) (Usage, bool) {
	var u Usage
	ok := members(v, func(key, value []byte) {
		switch string(key) {
		case "input_tokens":
			u.Input, _ = count(value)
		case "output_tokens":
			u.Output, _ = count(value)
		case "input_tokens_details":
			u.CacheRead = member(value, "cached_tokens")
		case "output_tokens_details":
			u.Reasoning = member(value, "reasoning_tokens")
		}
	})
	return u, ok
}
