package llmmock

import (
	"encoding/json"
	"fmt"
	"net/http"
)

type messagesRequest struct {
	Model  string            `json:"model"`
	Stream bool              `json:"stream"`
	Tools  []json.RawMessage `json:"tools"`
}

// anthropicUsage is the usage object of u with the given output count.
func anthropicUsage(u Usage, output int64) obj {
	return obj{
		{"input_tokens", u.Input},
		{"cache_creation_input_tokens", u.CacheWrite},
		{"cache_read_input_tokens", u.CacheRead},
		{"cache_creation", obj{{"ephemeral_5m_input_tokens", u.CacheWrite - u.CacheWrite1h}, {"ephemeral_1h_input_tokens", u.CacheWrite1h}}},
		{"output_tokens", output},
		{"service_tier", "standard"},
	}
}

func anthropicStopReason(p plan) string {
	if p.calls > 0 {
		return "tool_use"
	}
	return "end_turn"
}

func toolUseBlock(k int, input json.RawMessage) obj {
	return obj{{"type", "tool_use"}, {"id", fmt.Sprintf("toolu_%d", k)}, {"name", ToolName}, {"input", input}}
}

func (x *exchange) messages() {
	var req messagesRequest
	if !x.parseBody(&req) {
		return
	}
	p := x.plan(len(req.Tools) > 0)
	if req.Stream {
		x.messagesStream(req, p)
		return
	}
	content := []any{}
	if p.deltas > 0 {
		content = append(content, obj{{"type", "text"}, {"text", p.text()}})
	}
	for k := range p.calls {
		content = append(content, toolUseBlock(k, json.RawMessage(ToolArguments)))
	}
	x.writeJSON(http.StatusOK, obj{
		{"id", MessageID},
		{"type", "message"},
		{"role", "assistant"},
		{"model", req.Model},
		{"content", content},
		{"stop_reason", anthropicStopReason(p)},
		{"stop_sequence", nil},
		{"usage", anthropicUsage(x.opts.usage(), x.opts.usage().Output)},
	})
}

// messagesStream writes: message_start (usage with the input and cache
// counts and output_tokens 1); when there is text, content_block_start
// (text) at index 0, ping, content_block_delta (text_delta) per text delta,
// content_block_stop; per tool call content_block_start (tool_use, input
// {}), two content_block_delta (input_json_delta), content_block_stop;
// message_delta (stop_reason, cumulative usage with the final
// output_tokens); message_stop. Without text, ping follows the first
// content_block_start or, with no blocks at all, message_start.
func (x *exchange) messagesStream(req messagesRequest, p plan) {
	x.errorEvent = func() bool {
		typ, msg := anthropicErrorFor(529)
		return x.event("error", obj{{"type", "error"}, {"error", obj{{"type", typ}, {"message", msg}}}, {"request_id", x.requestID}})
	}
	x.startStream()
	if x.anthropicEvents(req.Model, p, x.event, nil) {
		x.completed = true
	}
}

// anthropicEvents produces the Anthropic stream event sequence described at
// messagesStream, handing each event and its type to emit, which writes it in the transport's framing (SSE here, event-stream frames
// for Bedrock). afterDelta, when set, runs after each text delta and may end
// the stream; stopFields are added to message_stop. It reports whether
// message_stop was sent.
func (x *exchange) anthropicEvents(model string, p plan, emit func(typ string, event any) bool, afterDelta func(i int) bool, stopFields ...kv) bool {
	ev := func(typ string, fields ...kv) bool {
		return emit(typ, append(obj{{"type", typ}}, fields...))
	}
	pinged := false
	ping := func() bool {
		if pinged {
			return true
		}
		pinged = true
		return ev("ping")
	}

	startUsage := x.opts.usage()
	if x.opts.StartUsage != nil {
		startUsage = *x.opts.StartUsage
	}
	start := obj{
		{"id", MessageID},
		{"type", "message"},
		{"role", "assistant"},
		{"model", model},
		{"content", []any{}},
		{"stop_reason", nil},
		{"stop_sequence", nil},
		{"usage", anthropicUsage(startUsage, 1)},
	}
	if !ev("message_start", kv{"message", start}) {
		return false
	}
	index := 0
	if p.deltas > 0 {
		if !ev("content_block_start", kv{"index", index}, kv{"content_block", obj{{"type", "text"}, {"text", ""}}}) || !ping() {
			return false
		}
		for i := range p.deltas {
			ok := x.textDelta(i, func() bool {
				return ev("content_block_delta", kv{"index", index}, kv{"delta", obj{{"type", "text_delta"}, {"text", x.streamedDelta(i)}}})
			})
			if !ok || (afterDelta != nil && !afterDelta(i)) {
				return false
			}
		}
		if !ev("content_block_stop", kv{"index", index}) {
			return false
		}
		index++
	}
	for k := range p.calls {
		if !ev("content_block_start", kv{"index", index}, kv{"content_block", toolUseBlock(k, json.RawMessage(`{}`))}) || !ping() {
			return false
		}
		for _, frag := range toolArgumentFragments {
			if !ev("content_block_delta", kv{"index", index}, kv{"delta", obj{{"type", "input_json_delta"}, {"partial_json", frag}}}) {
				return false
			}
		}
		if !ev("content_block_stop", kv{"index", index}) {
			return false
		}
		index++
	}
	if !ping() {
		return false
	}
	u := x.opts.usage()
	late := obj{
		{"input_tokens", u.Input},
		{"cache_creation_input_tokens", u.CacheWrite},
		{"cache_read_input_tokens", u.CacheRead},
		{"output_tokens", u.Output},
	}
	if x.opts.StartUsage != nil {
		late = append(late, kv{"cache_creation", obj{{"ephemeral_5m_input_tokens", u.CacheWrite - u.CacheWrite1h}, {"ephemeral_1h_input_tokens", u.CacheWrite1h}}})
	}
	if !ev("message_delta",
		kv{"delta", obj{{"stop_reason", anthropicStopReason(p)}, {"stop_sequence", nil}}},
		kv{"usage", late},
	) {
		return false
	}
	return ev("message_stop", stopFields...)
}

// countTokens answers POST /v1/messages/count_tokens.
func (x *exchange) countTokens() {
	var req map[string]json.RawMessage
	if !x.parseBody(&req) {
		return
	}
	x.writeJSON(http.StatusOK, obj{{"input_tokens", x.opts.usage().Input}})
}
