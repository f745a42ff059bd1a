package llmmock

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
)

// plan is what a response contains: the number of text deltas and of tool
// calls.
type plan struct{ deltas, calls int }

func (x *exchange) plan(hasTools bool) plan {
	p := plan{deltas: textDeltaCount(x.opts.Events)}
	if hasTools {
		switch {
		case x.opts.ToolCalls == 0:
			p.calls = 1
		case x.opts.ToolCalls > 0:
			p.calls = x.opts.ToolCalls
		}
	}
	return p
}

func (p plan) text() string { return joinDeltas(p.deltas) }

// textOrNull is the message content: the text, or null when there is none.
func (p plan) textOrNull() any {
	if p.deltas == 0 {
		return nil
	}
	return p.text()
}

// ---- chat completions ----

type chatRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools []json.RawMessage `json:"tools"`
}

func chatUsage(u Usage) obj {
	return obj{
		{"prompt_tokens", u.Input},
		{"completion_tokens", u.Output},
		{"total_tokens", u.Input + u.Output},
		{"prompt_tokens_details", obj{{"cached_tokens", u.CacheRead}, {"audio_tokens", 0}}},
		{"completion_tokens_details", obj{
			{"reasoning_tokens", u.Reasoning},
			{"audio_tokens", 0},
			{"accepted_prediction_tokens", 0},
			{"rejected_prediction_tokens", 0},
		}},
	}
}

func chatFinishReason(p plan) string {
	if p.calls > 0 {
		return "tool_calls"
	}
	return "stop"
}

func (x *exchange) chatCompletions() {
	var req chatRequest
	if !x.parseBody(&req) {
		return
	}
	if x.opts.RejectStreamOptions {
		var members map[string]json.RawMessage
		if json.Unmarshal(x.body, &members) == nil && members["stream_options"] != nil {
			x.writeError(http.StatusBadRequest, "Unrecognized request argument supplied: stream_options")
			return
		}
	}
	p := x.plan(len(req.Tools) > 0)
	if req.Stream {
		x.chatStream(req, p)
		return
	}
	message := obj{
		{"role", "assistant"},
		{"content", p.textOrNull()},
		{"refusal", nil},
		{"annotations", []any{}},
	}
	if p.calls > 0 {
		calls := make([]any, p.calls)
		for k := range calls {
			calls[k] = obj{
				{"id", fmt.Sprintf("call_%d", k)},
				{"type", "function"},
				{"function", obj{{"name", ToolName}, {"arguments", ToolArguments}}},
			}
		}
		message = append(message, kv{"tool_calls", calls})
	}
	x.writeJSON(http.StatusOK, obj{
		{"id", ChatCompletionID},
		{"object", "chat.completion"},
		{"created", Created},
		{"model", req.Model},
		{"choices", []any{obj{
			{"index", 0},
			{"message", message},
			{"logprobs", nil},
			{"finish_reason", chatFinishReason(p)},
		}}},
		{"usage", chatUsage(x.opts.usage())},
		{"service_tier", "default"},
		{"system_fingerprint", "fp_mock"},
	})
}

// chatStream writes: a chunk with delta.role; one chunk per text delta; per
// tool call a chunk with index, id, type and name then two chunks with
// argument fragments; a chunk with finish_reason; with include_usage a
// chunk with "choices": [] and the usage (every other chunk then has
// "usage": null); and "data: [DONE]".
func (x *exchange) chatStream(req chatRequest, p plan) {
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	chunk := func(choices []any, usage any) obj {
		c := obj{
			{"id", ChatCompletionID},
			{"object", "chat.completion.chunk"},
			{"created", Created},
			{"model", req.Model},
			{"service_tier", "default"},
			{"system_fingerprint", "fp_mock"},
			{"choices", choices},
		}
		if includeUsage {
			c = append(c, kv{"usage", usage})
		}
		return c
	}
	choice := func(delta obj, finish any) []any {
		return []any{obj{{"index", 0}, {"delta", delta}, {"logprobs", nil}, {"finish_reason", finish}}}
	}

	x.errorEvent = func() bool {
		typ, code, msg := openAIErrorFor(http.StatusInternalServerError)
		return x.event("", obj{{"error", obj{{"message", msg}, {"type", typ}, {"param", nil}, {"code", code}}}})
	}
	x.startStream()
	var first any = ""
	if p.deltas == 0 {
		first = nil
	}
	if !x.event("", chunk(choice(obj{{"role", "assistant"}, {"content", first}, {"refusal", nil}}, nil), nil)) {
		return
	}
	for i := range p.deltas {
		ok := x.textDelta(i, func() bool {
			return x.event("", chunk(choice(obj{{"content", x.streamedDelta(i)}}, nil), nil))
		})
		if !ok {
			return
		}
	}
	for k := range p.calls {
		start := obj{
			{"index", k},
			{"id", fmt.Sprintf("call_%d", k)},
			{"type", "function"},
			{"function", obj{{"name", ToolName}, {"arguments", ""}}},
		}
		if !x.event("", chunk(choice(obj{{"tool_calls", []any{start}}}, nil), nil)) {
			return
		}
		for _, frag := range toolArgumentFragments {
			d := obj{{"index", k}, {"function", obj{{"arguments", frag}}}}
			if !x.event("", chunk(choice(obj{{"tool_calls", []any{d}}}, nil), nil)) {
				return
			}
		}
	}
	if !x.event("", chunk(choice(obj{}, chatFinishReason(p)), nil)) {
		return
	}
	if includeUsage && !x.event("", chunk([]any{}, chatUsage(x.opts.usage()))) {
		return
	}
	if x.event("", rawData("[DONE]")) {
		x.completed = true
	}
}

// ---- responses ----

type responsesRequest struct {
	Model  string            `json:"model"`
	Stream bool              `json:"stream"`
	Tools  []json.RawMessage `json:"tools"`
}

func responsesUsage(u Usage) obj {
	return obj{
		{"input_tokens", u.Input},
		{"input_tokens_details", obj{{"cached_tokens", u.CacheRead}}},
		{"output_tokens", u.Output},
		{"output_tokens_details", obj{{"reasoning_tokens", u.Reasoning}}},
		{"total_tokens", u.Input + u.Output},
	}
}

// responseObject is a response object; tools echoes the request's tools.
func responseObject(id, model, status string, output []any, tools []json.RawMessage, usage any) obj {
	if tools == nil {
		tools = []json.RawMessage{}
	}
	if output == nil {
		output = []any{}
	}
	return obj{
		{"id", id},
		{"object", "response"},
		{"created_at", Created},
		{"status", status},
		{"background", false},
		{"error", nil},
		{"incomplete_details", nil},
		{"instructions", nil},
		{"max_output_tokens", nil},
		{"model", model},
		{"output", output},
		{"parallel_tool_calls", true},
		{"previous_response_id", nil},
		{"reasoning", obj{{"effort", nil}, {"summary", nil}}},
		{"service_tier", "default"},
		{"store", true},
		{"temperature", 1.0},
		{"text", obj{{"format", obj{{"type", "text"}}}}},
		{"tool_choice", "auto"},
		{"tools", tools},
		{"top_p", 1.0},
		{"truncation", "disabled"},
		{"usage", usage},
		{"user", nil},
		{"metadata", obj{}},
	}
}

func outputText(text string) obj {
	return obj{{"type", "output_text"}, {"annotations", []any{}}, {"logprobs", []any{}}, {"text", text}}
}

func messageItem(status string, content []any) obj {
	return obj{
		{"id", MessageID},
		{"type", "message"},
		{"status", status},
		{"content", content},
		{"role", "assistant"},
	}
}

func functionCallItem(k int, status, arguments string) obj {
	return obj{
		{"id", fmt.Sprintf("fc_%d", k)},
		{"type", "function_call"},
		{"status", status},
		{"arguments", arguments},
		{"call_id", fmt.Sprintf("call_%d", k)},
		{"name", ToolName},
	}
}

// responseOutput is the complete output: the message item when there is
// text, then one function_call item per tool call.
func responseOutput(p plan) []any {
	var out []any
	if p.deltas > 0 {
		out = append(out, messageItem("completed", []any{outputText(p.text())}))
	}
	for k := range p.calls {
		out = append(out, functionCallItem(k, "completed", ToolArguments))
	}
	return out
}

func (x *exchange) responses() {
	var req responsesRequest
	if !x.parseBody(&req) {
		return
	}
	p := x.plan(len(req.Tools) > 0)
	if req.Stream {
		x.responsesStream(req, p)
		return
	}
	x.writeJSON(http.StatusOK, responseObject(ResponseID, req.Model, "completed", responseOutput(p), req.Tools, responsesUsage(x.opts.usage())))
}

// responsesStream writes named events, each with "type" and
// "sequence_number" (from 0): response.created, response.in_progress; when
// there is text, response.output_item.added (message),
// response.content_part.added, response.output_text.delta per text delta,
// response.output_text.done, response.content_part.done,
// response.output_item.done; per tool call response.output_item.added
// (function_call), two response.function_call_arguments.delta,
// response.function_call_arguments.done, response.output_item.done; and
// response.completed with the whole response and its usage. There is no
// "[DONE]" in this format.
func (x *exchange) responsesStream(req responsesRequest, p plan) {
	seq := 0
	ev := func(typ string, fields ...kv) bool {
		e := append(obj{{"type", typ}}, fields...)
		e = append(e, kv{"sequence_number", seq})
		seq++
		return x.event(typ, e)
	}
	inProgress := responseObject(ResponseID, req.Model, "in_progress", nil, req.Tools, nil)
	x.errorEvent = func() bool {
		_, _, msg := openAIErrorFor(http.StatusInternalServerError)
		if x.opts.ResponsesErrorEvent {
			return ev("error", kv{"code", "server_error"}, kv{"message", msg}, kv{"param", nil})
		}
		failed := responseObject(ResponseID, req.Model, "failed", nil, req.Tools, nil).
			with("error", obj{{"code", "server_error"}, {"message", msg}})
		return ev("response.failed", kv{"response", failed})
	}

	x.startStream()
	if !ev("response.created", kv{"response", inProgress}) || !ev("response.in_progress", kv{"response", inProgress}) {
		return
	}
	outputIndex := 0
	if p.deltas > 0 {
		at := []kv{{"item_id", MessageID}, {"output_index", outputIndex}, {"content_index", 0}}
		with := func(extra ...kv) []kv { return append(append([]kv{}, at...), extra...) }
		if !ev("response.output_item.added", kv{"output_index", outputIndex}, kv{"item", messageItem("in_progress", []any{})}) ||
			!ev("response.content_part.added", with(kv{"part", outputText("")})...) {
			return
		}
		for i := range p.deltas {
			ok := x.textDelta(i, func() bool {
				return ev("response.output_text.delta", with(kv{"delta", x.streamedDelta(i)}, kv{"logprobs", []any{}})...)
			})
			if !ok {
				return
			}
		}
		text := p.text()
		if !ev("response.output_text.done", with(kv{"text", text}, kv{"logprobs", []any{}})...) ||
			!ev("response.content_part.done", with(kv{"part", outputText(text)})...) ||
			!ev("response.output_item.done", kv{"output_index", outputIndex}, kv{"item", messageItem("completed", []any{outputText(text)})}) {
			return
		}
		outputIndex++
	}
	for k := range p.calls {
		itemID := fmt.Sprintf("fc_%d", k)
		if !ev("response.output_item.added", kv{"output_index", outputIndex}, kv{"item", functionCallItem(k, "in_progress", "")}) {
			return
		}
		for _, frag := range toolArgumentFragments {
			if !ev("response.function_call_arguments.delta", kv{"item_id", itemID}, kv{"output_index", outputIndex}, kv{"delta", frag}) {
				return
			}
		}
		if !ev("response.function_call_arguments.done", kv{"item_id", itemID}, kv{"name", ToolName}, kv{"output_index", outputIndex}, kv{"arguments", ToolArguments}) ||
			!ev("response.output_item.done", kv{"output_index", outputIndex}, kv{"item", functionCallItem(k, "completed", ToolArguments)}) {
			return
		}
		outputIndex++
	}
	done := responseObject(ResponseID, req.Model, "completed", responseOutput(p), req.Tools, responsesUsage(x.opts.usage()))
	if ev("response.completed", kv{"response", done}) {
		x.completed = true
	}
}

// responseGet answers GET /v1/responses/{id} with a completed text response.
func (x *exchange) responseGet(id string) {
	p := x.plan(false)
	x.writeJSON(http.StatusOK, responseObject(id, "gpt-4o-mini", "completed", responseOutput(p), nil, responsesUsage(x.opts.usage())))
}

// responseDelete answers DELETE /v1/responses/{id}.
func (x *exchange) responseDelete(id string) {
	x.writeJSON(http.StatusOK, obj{{"id", id}, {"object", "response"}, {"deleted", true}})
}

// ---- embeddings and models ----

type embeddingsRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     int             `json:"dimensions"`
}

// embeddingDims bounds the vectors: 8 by default, at most 4096.
const (
	defaultEmbeddingDims = 8
	maxEmbeddingDims     = 4096
)

func (x *exchange) embeddings() {
	var req embeddingsRequest
	if !x.parseBody(&req) {
		return
	}
	n := 1
	var list []json.RawMessage
	if json.Unmarshal(req.Input, &list) == nil && len(list) > 0 && (list[0][0] == '"' || list[0][0] == '[') {
		n = len(list) // strings or token arrays; a flat token array is one input
	}
	dims := defaultEmbeddingDims
	if req.Dimensions > 0 {
		dims = min(req.Dimensions, maxEmbeddingDims)
	}
	data := make([]any, n)
	for i := range data {
		vec := make([]float32, dims)
		for j := range vec {
			vec[j] = float32(i*dims+j+1) / 1000
		}
		var embedding any = vec
		if req.EncodingFormat == "base64" {
			b := make([]byte, 4*len(vec))
			for j, f := range vec {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(f))
			}
			embedding = base64.StdEncoding.EncodeToString(b)
		}
		data[i] = obj{{"object", "embedding"}, {"index", i}, {"embedding", embedding}}
	}
	x.writeJSON(http.StatusOK, obj{
		{"object", "list"},
		{"data", data},
		{"model", req.Model},
		{"usage", obj{{"prompt_tokens", FixedUsage.Input}, {"total_tokens", FixedUsage.Input}}},
	})
}

// Model IDs listed by GET /v1/models.
var (
	openAIModels    = []string{"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"}
	anthropicModels = []string{"claude-sonnet-4-5", "claude-haiku-4-5"}
)

func openAIModel(id string) obj {
	return obj{{"id", id}, {"object", "model"}, {"created", Created}, {"owned_by", "system"}}
}

func anthropicModel(id string) obj {
	return obj{{"type", "model"}, {"id", id}, {"display_name", id}, {"created_at", "2025-01-01T00:00:00Z"}}
}

func (x *exchange) modelList() {
	if x.format == formatAnthropic {
		data := make([]any, len(anthropicModels))
		for i, id := range anthropicModels {
			data[i] = anthropicModel(id)
		}
		x.writeJSON(http.StatusOK, obj{
			{"data", data},
			{"has_more", false},
			{"first_id", anthropicModels[0]},
			{"last_id", anthropicModels[len(anthropicModels)-1]},
		})
		return
	}
	data := make([]any, len(openAIModels))
	for i, id := range openAIModels {
		data[i] = openAIModel(id)
	}
	x.writeJSON(http.StatusOK, obj{{"object", "list"}, {"data", data}})
}

// modelGet answers GET /v1/models/{id}: the model, or 404 as the vendor
// words it for an ID it does not list.
func (x *exchange) modelGet(id string) {
	if x.format == formatAnthropic {
		if !slices.Contains(anthropicModels, id) {
			x.writeError(http.StatusNotFound, "model: "+id)
			return
		}
		x.writeJSON(http.StatusOK, anthropicModel(id))
		return
	}
	if !slices.Contains(openAIModels, id) {
		x.writeJSON(http.StatusNotFound, obj{{"error", obj{
			{"message", fmt.Sprintf("The model '%s' does not exist or you do not have access to it.", id)},
			{"type", "invalid_request_error"},
			{"param", nil},
			{"code", "model_not_found"},
		}}})
		return
	}
	x.writeJSON(http.StatusOK, openAIModel(id))
}
