// Package llmwire owns what the OpenAI and Anthropic wire formats say that the
// gateway records: the request's model and stream flag, and, from a response
// (a JSON body or the SSE events of a stream), the model that answered, the
// token usage, the tool calls the model made, an upstream error message, and
// whether a stream reached its normal end; and what aigate says in those
// formats itself (errors.go): the OpenAI and Anthropic error bodies, the
// error type each vendor pairs with a status code, and the event that ends a
// stream aigate had to cut.
//
// Apart from those errors it only observes: the gateway forwards the
// upstream's bytes unchanged and hands each SSE event to a StreamParser, which
// never holds the stream. The parser is on the hot path of every event, so it
// reads JSON only from the few events that can carry a model, usage, a tool
// call, an error or the end, and reads it with a small walker (json.go) that
// slices the input instead of decoding it. Responses and Anthropic events are
// chosen by their SSE name. Chat completions events have no name: a text
// delta is recognised by having the same bytes, outside its text, as the last
// chunk that carried nothing of interest, and other chunks are probed for a
// few keys before being walked. Text deltas cost a few dozen nanoseconds and
// allocate nothing.
//
// # Token usage
//
// Usage holds the counts as each provider reports them under "usage"; they
// are not normalised, and the formats differ in what Input covers:
//
//	chat completions  Input      prompt_tokens
//	                  Output     completion_tokens
//	                  CacheRead  prompt_tokens_details.cached_tokens
//	                  Reasoning  completion_tokens_details.reasoning_tokens
//	responses         Input      input_tokens
//	                  Output     output_tokens
//	                  CacheRead  input_tokens_details.cached_tokens
//	                  Reasoning  output_tokens_details.reasoning_tokens
//	messages          Input      input_tokens
//	                  Output     output_tokens
//	                  CacheRead  cache_read_input_tokens
//	                  CacheWrite cache_creation_input_tokens (5-minute and 1-hour writes)
//	                  CacheWrite1h cache_creation.ephemeral_1h_input_tokens
//
// What they mean for a rollup:
//   - OpenAI's Input includes the cached tokens (CacheRead is a part of
//     Input); Anthropic's Input excludes both cache counts, so the prompt
//     Anthropic processed is Input + CacheRead + CacheWrite.
//     Format.InputIncludesCacheRead says which applies. A rollup that adds
//     Input across formats adds different things; one that wants "prompt
//     tokens" must add the cache counts for Anthropic.
//   - Output always includes Reasoning where Reasoning is reported (OpenAI
//     bills reasoning as output; Anthropic counts thinking in output_tokens
//     without a separate figure).
//   - Streaming: a chat completions stream reports usage only in its last
//     chunk, and only when the request asked for stream_options.include_usage;
//     without it the usage is zero, so the gateway asks on the client's
//     behalf (AskStreamUsage, streamusage.go). A responses stream reports it in
//     response.completed (or .incomplete, .failed). An Anthropic stream reports
//     input and cache counts in message_start and the cumulative output count
//     in each message_delta: the latest wins, and a message_delta's input and
//     cache counts, which newer API versions send, replace message_start's
//     when they are non-zero (the cache write total and its 1-hour part
//     together).
//   - Cache writes: CacheWrite is the total; CacheWrite1h its 1-hour part
//     (cache_creation.ephemeral_1h_input_tokens), the rest 5-minute writes,
//     and all of it when only cache_creation_input_tokens is sent.
//
// # Tool calls
//
// A Result lists each tool call once, in the order the model made it, with
// the ID a client answers it by and the tool's name:
//   - chat completions: choices[].message.tool_calls[] (id, function.name or
//     custom.name), streamed as choices[].delta.tool_calls[] whose first delta
//     for a call carries its id and name and whose later deltas carry only
//     argument fragments under the same (choice index, tool index); the
//     deprecated function_call has a name and no ID.
//   - responses: output items whose type ends in "_call": function_call and
//     custom_tool_call (call_id, name), mcp_call (id, name), and the hosted
//     tools such as web_search_call or code_interpreter_call, which have no
//     name: theirs is the item type without "_call" ("web_search"), the name of
//     the tool in the request. A stream announces each item in
//     response.output_item.added and repeats it in .done and in
//     response.completed.
//   - Anthropic: content blocks of type tool_use, server_tool_use and
//     mcp_tool_use (id, name).
//
// Strings a Result keeps are valid UTF-8 without NUL bytes and bounded in
// length, so they can be stored as they are.
package llmwire
