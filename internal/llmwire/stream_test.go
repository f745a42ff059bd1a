package llmwire_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/llmwire"
)

// chunk builds a chat.completion.chunk the way OpenAI writes one; choices and
// usage are raw JSON.
func chunk(choices, usage string) string {
	return `data: {"id":"chatcmpl-C4tQ2bWm8cXkA","object":"chat.completion.chunk","created":1754550000,` +
		`"model":"gpt-4.1-2025-04-14","service_tier":"default","system_fingerprint":"fp_799e4ca3f1",` +
		`"choices":[` + choices + `],"usage":` + usage + `,"obfuscation":"q9X"}` + "\n\n"
}

// choice builds one streamed choice; finish is raw JSON (null or a string).
func choice(index int, delta, finish string) string {
	return `{"index":` + string(rune('0'+index)) + `,"delta":` + delta + `,"logprobs":null,"finish_reason":` + finish + `}`
}

func text(s string) string { return choice(0, `{"content":"`+s+`"}`, "null") }

const (
	chatRole = `{"role":"assistant","content":"","refusal":null}`
	chatDone = "data: [DONE]\n\n"
)

var chatTextUsage = chunk(choice(0, chatRole, "null"), "null") +
	chunk(text("Hello"), "null") + chunk(text(" there"), "null") + chunk(text(", \\\"usage\\\": {} is \\\"text\\\"!"), "null") +
	chunk(choice(0, `{}`, `"stop"`), "null") +
	chunk("", `{"prompt_tokens":1200,"completion_tokens":350,"total_tokens":1550,`+
		`"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},`+
		`"completion_tokens_details":{"reasoning_tokens":192,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`) +
	chatDone

// Two parallel calls whose argument fragments interleave.
var chatToolCalls = chunk(choice(0, `{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_Wq1fXz","type":"function","function":{"name":"get_weather","arguments":""}}],"refusal":null}`, "null"), "null") +
	chunk(choice(0, `{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]}`, "null"), "null") +
	chunk(choice(0, `{"tool_calls":[{"index":1,"id":"call_Kp9dLm","type":"function","function":{"name":"get_time","arguments":""}}]}`, "null"), "null") +
	chunk(choice(0, `{"tool_calls":[{"index":1,"function":{"arguments":"{\"tz\":\"Europe/Paris\"}"}}]}`, "null"), "null") +
	chunk(choice(0, `{"tool_calls":[{"index":0,"function":{"arguments":"ty\":\"Paris\"}"}}]}`, "null"), "null") +
	chunk(choice(0, `{"tool_calls":[{"index":2,"id":"call_Zz0aQe","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Lyon\"}"}}]}`, "null"), "null") +
	chunk(choice(0, `{}`, `"tool_calls"`), "null") +
	chunk("", `{"prompt_tokens":310,"completion_tokens":64,"total_tokens":374,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}`) +
	chatDone

const respCreated = `event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_68a1","object":"response","created_at":1754550000,"status":"in_progress","background":false,"error":null,"incomplete_details":null,"instructions":"You are terse. Never say \"model\".","max_output_tokens":null,"model":"gpt-5-2025-08-07","output":[],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":"medium","summary":null},"store":true,"temperature":1.0,"text":{"format":{"type":"text"},"verbosity":"medium"},"tool_choice":"auto","tools":[{"type":"function","name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}],"top_p":1.0,"truncation":"disabled","usage":null,"user":null,"metadata":{}}}

event: response.in_progress
data: {"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_68a1","object":"response","created_at":1754550000,"status":"in_progress","error":null,"model":"gpt-5-2025-08-07","output":[],"usage":null}}

`

const respText = `event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"rs_68a2","type":"reasoning","summary":[]}}

event: response.output_item.done
data: {"type":"response.output_item.done","sequence_number":3,"output_index":0,"item":{"id":"rs_68a2","type":"reasoning","summary":[]}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":4,"output_index":1,"item":{"id":"msg_68a3","type":"message","status":"in_progress","content":[],"role":"assistant"}}

event: response.content_part.added
data: {"type":"response.content_part.added","sequence_number":5,"item_id":"msg_68a3","output_index":1,"content_index":0,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":""}}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":6,"item_id":"msg_68a3","output_index":1,"content_index":0,"delta":"Why did","logprobs":[],"obfuscation":"xY"}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":7,"item_id":"msg_68a3","output_index":1,"content_index":0,"delta":" the \"response.completed\" cross?","logprobs":[]}

`

const respTextEnd = `event: response.output_text.done
data: {"type":"response.output_text.done","sequence_number":8,"item_id":"msg_68a3","output_index":1,"content_index":0,"text":"Why did the \"response.completed\" cross?","logprobs":[]}

event: response.output_item.done
data: {"type":"response.output_item.done","sequence_number":9,"output_index":1,"item":{"id":"msg_68a3","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":"Why did the \"response.completed\" cross?"}],"role":"assistant"}}

event: response.completed
data: {"type":"response.completed","sequence_number":10,"response":{"id":"resp_68a1","object":"response","created_at":1754550000,"status":"completed","error":null,"incomplete_details":null,"instructions":"You are terse.","model":"gpt-5-2025-08-07","output":[{"id":"rs_68a2","type":"reasoning","summary":[]},{"id":"msg_68a3","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"text":"Why did the \"response.completed\" cross?"}],"role":"assistant"}],"usage":{"input_tokens":2048,"input_tokens_details":{"cached_tokens":1536},"output_tokens":512,"output_tokens_details":{"reasoning_tokens":384},"total_tokens":2560},"user":null,"metadata":{}}}

`

const respFunctionCalls = `event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"fc_68b1","type":"function_call","status":"in_progress","arguments":"","call_id":"call_Ab12","name":"get_weather"}}

event: response.function_call_arguments.delta
data: {"type":"response.function_call_arguments.delta","sequence_number":3,"item_id":"fc_68b1","output_index":0,"delta":"{\"city\":"}

event: response.function_call_arguments.delta
data: {"type":"response.function_call_arguments.delta","sequence_number":4,"item_id":"fc_68b1","output_index":0,"delta":"\"Paris\"}"}

event: response.output_item.done
data: {"type":"response.output_item.done","sequence_number":5,"output_index":0,"item":{"id":"fc_68b1","type":"function_call","status":"completed","arguments":"{\"city\":\"Paris\"}","call_id":"call_Ab12","name":"get_weather"}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":6,"output_index":1,"item":{"id":"fc_68b2","type":"function_call","status":"in_progress","arguments":"","call_id":"call_Cd34","name":"get_time"}}

event: response.function_call_arguments.delta
data: {"type":"response.function_call_arguments.delta","sequence_number":7,"item_id":"fc_68b2","output_index":1,"delta":"{\"tz\":\"CET\"}"}

event: response.output_item.done
data: {"type":"response.output_item.done","sequence_number":8,"output_index":1,"item":{"id":"fc_68b2","type":"function_call","status":"completed","arguments":"{\"tz\":\"CET\"}","call_id":"call_Cd34","name":"get_time"}}

event: response.completed
data: {"type":"response.completed","sequence_number":9,"response":{"id":"resp_68a1","object":"response","status":"completed","error":null,"model":"gpt-5-2025-08-07","output":[{"id":"fc_68b1","type":"function_call","status":"completed","arguments":"{\"city\":\"Paris\"}","call_id":"call_Ab12","name":"get_weather"},{"id":"fc_68b2","type":"function_call","status":"completed","arguments":"{\"tz\":\"CET\"}","call_id":"call_Cd34","name":"get_time"}],"usage":{"input_tokens":88,"input_tokens_details":{"cached_tokens":0},"output_tokens":41,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":129}}}

`

const msgStart = `event: message_start
data: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":2048,"cache_read_input_tokens":10240,"cache_creation":{"ephemeral_5m_input_tokens":2048,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}}}

`

const msgText = `event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello! The \"tool_use\" block"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" is not here."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

`

const msgEnd = `event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":187}}

event: message_stop
data: {"type":"message_stop"}

`

const msgTools = `event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"I need the weather and the time."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\": \"San Fra"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ncisco, CA\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01GcQ8cY5sR6","name":"get_time","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"tz\": \"PST\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}

`

func TestStreamParser(t *testing.T) {
	t.Parallel()
	sonnet := "claude-sonnet-4-5-20250929"
	for _, tc := range []struct {
		name   string
		format llmwire.Format
		stream string
		want   llmwire.Result
	}{
		// OpenAI chat completions.
		{
			name:   "chat text with usage, cache and reasoning",
			format: llmwire.OpenAIChat,
			stream: chatTextUsage,
			want: llmwire.Result{
				Model:     "gpt-4.1-2025-04-14",
				Usage:     llmwire.Usage{Input: 1200, Output: 350, CacheRead: 1024, Reasoning: 192},
				Completed: true,
			},
		},
		{
			name:   "chat parallel tool calls with interleaved argument deltas",
			format: llmwire.OpenAIChat,
			stream: chatToolCalls,
			want: llmwire.Result{
				Model:     "gpt-4.1-2025-04-14",
				Usage:     llmwire.Usage{Input: 310, Output: 64},
				ToolCalls: []llmwire.ToolCall{{"call_Wq1fXz", "get_weather"}, {"call_Kp9dLm", "get_time"}, {"call_Zz0aQe", "get_weather"}},
				Completed: true,
			},
		},
		{
			name:   "chat without include_usage",
			format: llmwire.OpenAIChat,
			stream: chunk(choice(0, chatRole, "null"), "null") + chunk(text("Hi"), "null") + chunk(choice(0, `{}`, `"stop"`), "null") + chatDone,
			want:   llmwire.Result{Model: "gpt-4.1-2025-04-14", Completed: true},
		},
		{
			name:   "chat usage key absent altogether",
			format: llmwire.OpenAIChat,
			stream: `data: {"id":"c1","object":"chat.completion.chunk","model":"llama3.1:8b","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}` + "\n\n" + chatDone,
			want:   llmwire.Result{Model: "llama3.1:8b", Completed: true},
		},
		{
			name:   "chat finish_reason without [DONE]",
			format: llmwire.OpenAIChat,
			stream: chunk(text("Hi"), "null") + chunk(choice(0, `{}`, `"length"`), "null"),
			want:   llmwire.Result{Model: "gpt-4.1-2025-04-14", Completed: true},
		},
		{
			name:   "chat error mid-stream",
			format: llmwire.OpenAIChat,
			stream: chunk(choice(0, chatRole, "null"), "null") + chunk(text("Once upon"), "null") +
				`data: {"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}` + "\n\n",
			want: llmwire.Result{
				Model: "gpt-4.1-2025-04-14",
				Error: "server_error: The server had an error while processing your request. Sorry about that!",
			},
		},
		{
			name:   "chat cut off",
			format: llmwire.OpenAIChat,
			stream: chunk(choice(0, chatRole, "null"), "null") + chunk(text("Once upon"), "null") + chunk(choice(0, `{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"search","arguments":"{\"q"}}]}`, "null"), "null"),
			want:   llmwire.Result{Model: "gpt-4.1-2025-04-14", ToolCalls: []llmwire.ToolCall{{"call_1", "search"}}},
		},
		{
			name:   "chat malformed chunks ignored",
			format: llmwire.OpenAIChat,
			stream: chunk(text("Hi"), "null") +
				`data: {"id":"c1","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9` + "\n\n" +
				`data: {"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_bad","function":{"name":"x"}}]}}]}}` + "\n\n" +
				"data: {not json\n\n" + "data: \n\n" + `data: "just a string"` + "\n\n" + chatDone,
			want: llmwire.Result{Model: "gpt-4.1-2025-04-14", Completed: true},
		},
		{
			name:   "chat azure content-filter chunk without a model first",
			format: llmwire.OpenAIChat,
			stream: `data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}` + "\n\n" +
				chunk(text("Hi"), "null") + chatDone,
			want: llmwire.Result{Model: "gpt-4.1-2025-04-14", Completed: true},
		},
		{
			name:   "chat two choices each with a call at tool index 0",
			format: llmwire.OpenAIChat,
			stream: chunk(choice(0, `{"tool_calls":[{"index":0,"id":"call_c0","type":"function","function":{"name":"a","arguments":""}}]}`, "null"), "null") +
				chunk(choice(1, `{"tool_calls":[{"index":0,"id":"call_c1","type":"function","function":{"name":"b","arguments":""}}]}`, "null"), "null") +
				chunk(choice(1, `{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}`, "null"), "null") +
				chunk(choice(0, `{}`, `"tool_calls"`)+","+choice(1, `{}`, `"tool_calls"`), "null") + chatDone,
			want: llmwire.Result{Model: "gpt-4.1-2025-04-14", ToolCalls: []llmwire.ToolCall{{"call_c0", "a"}, {"call_c1", "b"}}, Completed: true},
		},
		{
			name:   "chat calls without index in one delta, id repeated later",
			format: llmwire.OpenAIChat,
			stream: chunk(choice(0, `{"tool_calls":[{"id":"fn-1","type":"function","function":{"name":"a","arguments":"{}"}},{"id":"fn-2","type":"function","function":{"name":"b","arguments":"{}"}}]}`, "null"), "null") +
				chunk(choice(0, `{"tool_calls":[{"index":0,"id":"fn-1","function":{"arguments":""}}]}`, `"tool_calls"`), "null"),
			want: llmwire.Result{Model: "gpt-4.1-2025-04-14", ToolCalls: []llmwire.ToolCall{{"fn-1", "a"}, {"fn-2", "b"}}, Completed: true},
		},
		{
			name:   "chat custom tool and deprecated function_call",
			format: llmwire.OpenAIChat,
			stream: chunk(choice(0, `{"tool_calls":[{"index":0,"id":"call_g","type":"custom","custom":{"name":"grammar","input":"SELECT"}}]}`, "null"), "null") +
				chunk(choice(1, `{"function_call":{"name":"legacy_fn","arguments":""}}`, "null"), "null") +
				chunk(choice(1, `{"function_call":{"arguments":"{}"}}`, `"function_call"`), "null"),
			want: llmwire.Result{Model: "gpt-4.1-2025-04-14", ToolCalls: []llmwire.ToolCall{{"call_g", "grammar"}, {"", "legacy_fn"}}, Completed: true},
		},
		{
			name:   "chat continuous usage: the latest wins",
			format: llmwire.OpenAIChat,
			stream: chunk(text("a"), `{"prompt_tokens":10,"completion_tokens":1,"total_tokens":11}`) +
				chunk(text("b"), `{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}`),
			want: llmwire.Result{Model: "gpt-4.1-2025-04-14", Usage: llmwire.Usage{Input: 10, Output: 2}},
		},

		// OpenAI responses.
		{
			name:   "responses text with cache and reasoning",
			format: llmwire.OpenAIResponses,
			stream: respCreated + respText + respTextEnd,
			want: llmwire.Result{
				Model:     "gpt-5-2025-08-07",
				Usage:     llmwire.Usage{Input: 2048, Output: 512, CacheRead: 1536, Reasoning: 384},
				Completed: true,
			},
		},
		{
			name:   "responses function calls, each once",
			format: llmwire.OpenAIResponses,
			stream: respCreated + respFunctionCalls,
			want: llmwire.Result{
				Model:     "gpt-5-2025-08-07",
				Usage:     llmwire.Usage{Input: 88, Output: 41},
				ToolCalls: []llmwire.ToolCall{{"call_Ab12", "get_weather"}, {"call_Cd34", "get_time"}},
				Completed: true,
			},
		},
		{
			name:   "responses hosted and MCP tools",
			format: llmwire.OpenAIResponses,
			stream: respCreated + `event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"ws_68c1","type":"web_search_call","status":"in_progress"}}

event: response.web_search_call.searching
data: {"type":"response.web_search_call.searching","sequence_number":3,"output_index":0,"item_id":"ws_68c1"}

event: response.output_item.done
data: {"type":"response.output_item.done","sequence_number":4,"output_index":0,"item":{"id":"ws_68c1","type":"web_search_call","status":"completed","action":{"type":"search","query":"weather paris"}}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":5,"output_index":1,"item":{"id":"mcpl_1","type":"mcp_list_tools","server_label":"deepwiki","tools":[]}}

event: response.output_item.done
data: {"type":"response.output_item.done","sequence_number":6,"output_index":2,"item":{"id":"mcp_68c2","type":"mcp_call","server_label":"deepwiki","name":"ask_question","arguments":"{}","output":"42","error":null}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":7,"output_index":3,"item":{"id":"ctc_68c3","type":"custom_tool_call","status":"in_progress","call_id":"call_Ef56","name":"code_exec","input":""}}

`,
			want: llmwire.Result{
				Model:     "gpt-5-2025-08-07",
				ToolCalls: []llmwire.ToolCall{{"ws_68c1", "web_search"}, {"mcp_68c2", "ask_question"}, {"call_Ef56", "code_exec"}},
			},
		},
		{
			name:   "responses error event mid-stream",
			format: llmwire.OpenAIResponses,
			stream: respCreated + respText + `event: error
data: {"type":"error","code":"server_error","message":"An error occurred while processing your request.","param":null,"sequence_number":8}

`,
			want: llmwire.Result{Model: "gpt-5-2025-08-07", Error: "server_error: An error occurred while processing your request."},
		},
		{
			name:   "responses failed",
			format: llmwire.OpenAIResponses,
			stream: respCreated + `event: response.failed
data: {"type":"response.failed","sequence_number":2,"response":{"id":"resp_68a1","object":"response","status":"failed","error":{"code":"rate_limit_exceeded","message":"Rate limit reached for gpt-5."},"model":"gpt-5-2025-08-07","output":[],"usage":null}}

`,
			want: llmwire.Result{Model: "gpt-5-2025-08-07", Error: "rate_limit_exceeded: Rate limit reached for gpt-5."},
		},
		{
			name:   "responses incomplete is a normal end",
			format: llmwire.OpenAIResponses,
			stream: respCreated + respText + `event: response.incomplete
data: {"type":"response.incomplete","sequence_number":8,"response":{"id":"resp_68a1","object":"response","status":"incomplete","error":null,"incomplete_details":{"reason":"max_output_tokens"},"model":"gpt-5-2025-08-07","output":[],"usage":{"input_tokens":30,"input_tokens_details":{"cached_tokens":0},"output_tokens":16,"output_tokens_details":{"reasoning_tokens":16},"total_tokens":46}}}

`,
			want: llmwire.Result{Model: "gpt-5-2025-08-07", Usage: llmwire.Usage{Input: 30, Output: 16, Reasoning: 16}, Completed: true},
		},
		{
			name:   "responses cut off",
			format: llmwire.OpenAIResponses,
			stream: respCreated + respText,
			want:   llmwire.Result{Model: "gpt-5-2025-08-07"},
		},
		{
			name:   "responses malformed completed ignored",
			format: llmwire.OpenAIResponses,
			stream: respCreated + respText + `event: response.completed
data: {"type":"response.completed","sequence_number":8,"response":{"model":"gpt-5-evil","usage":{"input_tokens":2048,"output_tokens":512}

event: response.output_item.added
data: {"type":"response.output_item.added","output_index":9,"item":{"type":"function_call","call_id":"call_x","name":"x"}]}

`,
			want: llmwire.Result{Model: "gpt-5-2025-08-07"},
		},
		{
			name:   "responses events without SSE names",
			format: llmwire.OpenAIResponses,
			stream: stripEventNames(respCreated + respFunctionCalls),
			want: llmwire.Result{
				Model:     "gpt-5-2025-08-07",
				Usage:     llmwire.Usage{Input: 88, Output: 41},
				ToolCalls: []llmwire.ToolCall{{"call_Ab12", "get_weather"}, {"call_Cd34", "get_time"}},
				Completed: true,
			},
		},

		// Anthropic messages.
		{
			name:   "messages text with cache tokens",
			format: llmwire.AnthropicMessages,
			stream: msgStart + msgText + msgEnd,
			want: llmwire.Result{
				Model:     sonnet,
				Usage:     llmwire.Usage{Input: 12, Output: 187, CacheRead: 10240, CacheWrite: 2048},
				Completed: true,
			},
		},
		{
			name:   "messages thinking and two tool_use blocks",
			format: llmwire.AnthropicMessages,
			stream: msgStart + msgTools,
			want: llmwire.Result{
				Model:     sonnet,
				Usage:     llmwire.Usage{Input: 12, Output: 89, CacheRead: 10240, CacheWrite: 2048},
				ToolCalls: []llmwire.ToolCall{{"toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"}, {"toolu_01GcQ8cY5sR6", "get_time"}},
				Completed: true,
			},
		},
		{
			name:   "messages server tool, several cumulative message_deltas with input counts",
			format: llmwire.AnthropicMessages,
			stream: `event: message_start
data: {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-opus-4-1-20250805","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":2679,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_014hJH82Qum7Td6UV8gDXThB","name":"web_search","input":{}}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_014hJH82Qum7Td6UV8gDXThB","content":[]}}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":null,"stop_sequence":null},"usage":{"output_tokens":40}}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":10682,"cache_creation_input_tokens":0,"cache_read_input_tokens":4096,"output_tokens":510,"server_tool_use":{"web_search_requests":1}}}

event: message_stop
data: {"type":"message_stop"}

`,
			want: llmwire.Result{
				Model:     "claude-opus-4-1-20250805",
				Usage:     llmwire.Usage{Input: 10682, Output: 510, CacheRead: 4096},
				ToolCalls: []llmwire.ToolCall{{"srvtoolu_014hJH82Qum7Td6UV8gDXThB", "web_search"}},
				Completed: true,
			},
		},
		{
			name:   "messages overloaded error mid-stream",
			format: llmwire.AnthropicMessages,
			stream: msgStart + msgText + `event: error
data: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}

`,
			want: llmwire.Result{
				Model: sonnet,
				Usage: llmwire.Usage{Input: 12, Output: 1, CacheRead: 10240, CacheWrite: 2048},
				Error: "overloaded_error: Overloaded",
			},
		},
		{
			name:   "messages cut off",
			format: llmwire.AnthropicMessages,
			stream: msgStart + msgText,
			want:   llmwire.Result{Model: sonnet, Usage: llmwire.Usage{Input: 12, Output: 1, CacheRead: 10240, CacheWrite: 2048}},
		},
		{
			name:   "messages malformed events ignored",
			format: llmwire.AnthropicMessages,
			stream: msgStart + msgText + `event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":99999

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_x","name":"x","input":{}}}}

event: message_delta
data: {"type":"message_delta","usage":{"output_tokens":"many"}}

event: message_delta
data: {"type":"message_delta","usage":{"output_tokens":-4}}

` + msgEnd,
			want: llmwire.Result{Model: sonnet, Usage: llmwire.Usage{Input: 12, Output: 187, CacheRead: 10240, CacheWrite: 2048}, Completed: true},
		},
		{
			name:   "messages from Bedrock, metrics in message_stop",
			format: llmwire.AnthropicMessages,
			stream: strings.Replace(msgStart, "claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929-v1:0", 1) + msgText + `event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}

event: message_stop
data: {"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":7,"invocationLatency":812,"firstByteLatency":420}}

`,
			want: llmwire.Result{Model: sonnet + "-v1:0", Usage: llmwire.Usage{Input: 12, Output: 7, CacheRead: 10240, CacheWrite: 2048}, Completed: true},
		},
		{
			name:   "messages events without SSE names",
			format: llmwire.AnthropicMessages,
			stream: stripEventNames(msgStart + msgTools),
			want: llmwire.Result{
				Model:     sonnet,
				Usage:     llmwire.Usage{Input: 12, Output: 89, CacheRead: 10240, CacheWrite: 2048},
				ToolCalls: []llmwire.ToolCall{{"toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"}, {"toolu_01GcQ8cY5sR6", "get_time"}},
				Completed: true,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := llmwire.NewStreamParser(tc.format)
			for _, e := range sse(tc.stream) {
				p.Event([]byte(e.name), []byte(e.data))
			}
			require.Equal(t, tc.want, p.Result())
		})
	}
}

func stripEventNames(stream string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(stream, "\n") {
		if !strings.HasPrefix(line, "event:") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestStreamParserCopiesWhatItKeeps reuses one buffer for every event, as the
// gateway's reader does, and scribbles over it after each call.
func TestStreamParserCopiesWhatItKeeps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format llmwire.Format
		stream string
	}{
		{llmwire.OpenAIChat, chatToolCalls},
		{llmwire.OpenAIResponses, respCreated + respFunctionCalls},
		{llmwire.AnthropicMessages, msgStart + msgTools},
	} {
		t.Run(tc.format.String(), func(t *testing.T) {
			t.Parallel()
			want := llmwire.NewStreamParser(tc.format)
			got := llmwire.NewStreamParser(tc.format)
			buf := make([]byte, 0, 64<<10)
			for _, e := range sse(tc.stream) {
				want.Event([]byte(e.name), []byte(e.data))
				buf = append(buf[:0], e.name...)
				buf = append(buf, e.data...)
				got.Event(buf[:len(e.name)], buf[len(e.name):])
				for i := range buf {
					buf[i] = 'X'
				}
			}
			require.NotEmpty(t, want.Result().ToolCalls)
			require.Equal(t, want.Result(), got.Result())
		})
	}
}

// TestStreamParserResultIsASnapshot takes a Result mid-stream and checks that
// later events leave it alone.
func TestStreamParserResultIsASnapshot(t *testing.T) {
	t.Parallel()
	events := sse(chatToolCalls)
	p := llmwire.NewStreamParser(llmwire.OpenAIChat)
	for _, e := range events[:3] {
		p.Event([]byte(e.name), []byte(e.data))
	}
	mid := p.Result()
	require.Equal(t, []llmwire.ToolCall{{"call_Wq1fXz", "get_weather"}, {"call_Kp9dLm", "get_time"}}, mid.ToolCalls)
	mid.ToolCalls = append(mid.ToolCalls, llmwire.ToolCall{ID: "mine"})
	for _, e := range events[3:] {
		p.Event([]byte(e.name), []byte(e.data))
	}
	require.Len(t, p.Result().ToolCalls, 3)
	require.Equal(t, "call_Zz0aQe", p.Result().ToolCalls[2].ID)
	require.False(t, mid.Completed)
	require.Zero(t, mid.Usage)
}

func TestUnknownFormatPanics(t *testing.T) {
	t.Parallel()
	require.Panics(t, func() { llmwire.NewStreamParser(0) })
	require.Panics(t, func() { llmwire.ParseResponse(4, []byte(`{}`)) })
}

// FuzzStreamParser feeds arbitrary events to every format's parser, and the
// same data to ParseResponse and ParseError: none may panic, and what they
// return must be storable.
func FuzzStreamParser(f *testing.F) {
	for _, s := range []string{chatTextUsage, chatToolCalls, respCreated + respText + respTextEnd, respFunctionCalls, msgStart + msgTools + msgEnd} {
		for _, e := range sse(s) {
			f.Add(e.name, []byte(e.data))
		}
	}
	f.Add("", []byte(`{"choices":[{"delta":{"tool_calls":[{"index":99999999999999999999,"id":"\ud800\u0000","function":{"name":"\\"}}]}}]}`))
	f.Add("error", []byte(`{"error":{"message":"\uD83D\uDE00 \x"}}`))
	f.Fuzz(func(t *testing.T, event string, data []byte) {
		for _, format := range []llmwire.Format{llmwire.OpenAIChat, llmwire.OpenAIResponses, llmwire.AnthropicMessages} {
			p := llmwire.NewStreamParser(format)
			p.Event([]byte(event), data)
			p.Event(nil, data)
			p.Event([]byte(event), bytes.TrimSpace(data))
			checkStorable(t, p.Result())
			checkStorable(t, llmwire.ParseResponse(format, data))
		}
		msg := llmwire.ParseError(data)
		require.True(t, utf8.ValidString(msg) && !strings.Contains(msg, "\x00"), "%q", msg)
	})
}

func checkStorable(t *testing.T, r llmwire.Result) {
	t.Helper()
	u := r.Usage
	require.True(t, u.Input >= 0 && u.Output >= 0 && u.CacheRead >= 0 && u.CacheWrite >= 0 && u.Reasoning >= 0, "%+v", u)
	strs := []string{r.Model, r.Error}
	for _, c := range r.ToolCalls {
		require.True(t, c.ID != "" || c.Name != "", "empty tool call in %+v", r.ToolCalls)
		strs = append(strs, c.ID, c.Name)
	}
	for _, s := range strs {
		require.True(t, utf8.ValidString(s) && !strings.Contains(s, "\x00"), "%q", s)
		require.LessOrEqual(t, len(s), 2048)
	}
}

// FuzzChatTextTemplate checks that the chat parser's shortcut for text
// deltas is sound: after learning one chunk's shape (a), or another shape (b),
// the parser must read any chunk the same way, whether the shortcut skipped it
// or the parser read it in full.
func FuzzChatTextTemplate(f *testing.F) {
	data := func(s string) []byte { return []byte(sse(s)[0].data) }
	learn := data(chunk(text("Hello"), "null"))
	other := data(`data: {"id":"x","object":"chat.completion.chunk","model":"gpt-4.1-2025-04-14","choices":[{"index":0,"delta":{"reasoning_content":"hm"},"finish_reason":null}]}`)
	for _, s := range []string{
		chunk(text("world"), "null"),
		chunk(text(`say \"hi\"`), "null"),
		chunk(choice(0, `{"content":"a"}`, `"stop"`), "null"),
		chunk(text("a"), `{"prompt_tokens":1,"completion_tokens":2}`),
		chunk(choice(0, `{"content":"","tool_calls":[{"index":0,"id":"call_1","function":{"name":"f"}}]}`, "null"), "null"),
		strings.Replace(chunk(text("b"), "null"), `"obfuscation":"q9X"`, `"obfuscation":"","error":{"message":"x"}`, 1),
		`data: {"id":"x","object":"chat.completion.chunk","model":"gpt-4.1-2025-04-14","choices":[{"index":0,"delta":{"reasoning_content":"hm"},"finish_reason":"stop"}]}`,
	} {
		f.Add(data(s))
	}
	f.Fuzz(func(t *testing.T, x []byte) {
		a := llmwire.NewStreamParser(llmwire.OpenAIChat)
		b := llmwire.NewStreamParser(llmwire.OpenAIChat)
		for range 2 {
			a.Event(nil, learn)
			b.Event(nil, other)
		}
		a.Event(nil, x)
		b.Event(nil, x)
		require.Equal(t, b.Result(), a.Result())
	})
}

// A stream has ended when its provider ended it, normally or with its own
// error event, even one that says nothing readable; a cut stream has not.
func TestStreamEnded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		format llmwire.Format
		stream string
		ended  bool
	}{
		{"chat done", llmwire.OpenAIChat, chatTextUsage, true},
		{"chat error line", llmwire.OpenAIChat, "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n", true},
		{"chat cut", llmwire.OpenAIChat, "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n", false},
		{"responses failed without an error object", llmwire.OpenAIResponses, respCreated + "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":null}}\n\n", true},
		{"responses error event that is not JSON", llmwire.OpenAIResponses, respCreated + "event: error\ndata: oops\n\n", true},
		{"responses cut", llmwire.OpenAIResponses, respCreated + respText, false},
		{"messages error event that is not JSON", llmwire.AnthropicMessages, msgStart + "event: error\ndata: oops\n\n", true},
		{"messages cut", llmwire.AnthropicMessages, msgStart + msgText, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := llmwire.NewStreamParser(tc.format)
			for _, e := range sse(tc.stream) {
				p.Event([]byte(e.name), []byte(e.data))
			}
			res := p.Result()
			require.Equal(t, tc.ended, res.Ended(), "%+v", res)
			if tc.ended && !res.Completed {
				require.NotEmpty(t, res.Error)
			}
		})
	}
}
