package llmwire_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/aigate/aigate/internal/llmwire"
)

// benchDeltas is the number of text deltas in a benchmark stream: a reply of
// a few hundred words.
const benchDeltas = 500

var benchWords = []string{" The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".\\n\\n", " It", "'s", " \\\"fine\\\""}

func benchChat() []ev {
	var b strings.Builder
	b.WriteString(chunk(choice(0, chatRole, "null"), "null"))
	for i := range benchDeltas {
		b.WriteString(chunk(text(benchWords[i%len(benchWords)]), "null"))
	}
	b.WriteString(chunk(choice(0, `{}`, `"stop"`), "null"))
	b.WriteString(chunk("", `{"prompt_tokens":1200,"completion_tokens":503,"total_tokens":1703,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}`))
	b.WriteString(chatDone)
	return sse(b.String())
}

func benchResponses() []ev {
	var b, all strings.Builder
	b.WriteString(respCreated)
	b.WriteString(`event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_68a3","type":"message","status":"in_progress","content":[],"role":"assistant"}}

`)
	for i := range benchDeltas {
		w := benchWords[i%len(benchWords)]
		all.WriteString(w)
		fmt.Fprintf(&b, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":%d,\"item_id\":\"msg_68a3\",\"output_index\":0,\"content_index\":0,\"delta\":\"%s\",\"logprobs\":[],\"obfuscation\":\"kq3\"}\n\n", i+3, w)
	}
	// The final event repeats the whole text, as OpenAI's does.
	fmt.Fprintf(&b, "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\",\"sequence_number\":%d,\"item_id\":\"msg_68a3\",\"output_index\":0,\"content_index\":0,\"text\":\"%s\",\"logprobs\":[]}\n\n", benchDeltas+3, all.String())
	fmt.Fprintf(&b, "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":%d,\"response\":{\"id\":\"resp_68a1\",\"object\":\"response\",\"status\":\"completed\",\"error\":null,\"instructions\":\"You are terse.\",\"model\":\"gpt-5-2025-08-07\",\"output\":[{\"id\":\"msg_68a3\",\"type\":\"message\",\"status\":\"completed\",\"content\":[{\"type\":\"output_text\",\"annotations\":[],\"text\":\"%s\"}],\"role\":\"assistant\"}],\"usage\":{\"input_tokens\":2048,\"input_tokens_details\":{\"cached_tokens\":1536},\"output_tokens\":512,\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":2560},\"metadata\":{}}}\n\n", benchDeltas+4, all.String())
	return sse(b.String())
}

func benchMessages() []ev {
	var b strings.Builder
	b.WriteString(msgStart)
	b.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
	b.WriteString("event: ping\ndata: {\"type\": \"ping\"}\n\n")
	for i := range benchDeltas {
		fmt.Fprintf(&b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}\n\n", benchWords[i%len(benchWords)])
	}
	b.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n")
	b.WriteString(msgEnd)
	return sse(b.String())
}

type benchEvent struct{ name, data []byte }

func toBench(events []ev) []benchEvent {
	out := make([]benchEvent, len(events))
	for i, e := range events {
		out[i] = benchEvent{[]byte(e.name), []byte(e.data)}
	}
	return out
}

var benchSink llmwire.Result

// BenchmarkStreamParser parses a whole realistic stream per iteration and
// reports the cost per event (the parser's price on the hot path) alongside
// the cost per stream.
func BenchmarkStreamParser(b *testing.B) {
	for _, bc := range []struct {
		format llmwire.Format
		events []ev
	}{
		{llmwire.OpenAIChat, benchChat()},
		{llmwire.OpenAIResponses, benchResponses()},
		{llmwire.AnthropicMessages, benchMessages()},
	} {
		events := toBench(bc.events)
		var size int
		for _, e := range events {
			size += len(e.name) + len(e.data)
		}
		b.Run(bc.format.String(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				p := llmwire.NewStreamParser(bc.format)
				for _, e := range events {
					p.Event(e.name, e.data)
				}
				benchSink = p.Result()
			}
			runtime.ReadMemStats(&after)
			n := float64(b.N) * float64(len(events))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/event")
			b.ReportMetric(float64(len(events)), "events/stream")
		})
	}
}

// BenchmarkStreamParserTextDelta is the common case alone: one text delta in
// the middle of a stream. It must not allocate.
func BenchmarkStreamParserTextDelta(b *testing.B) {
	for _, bc := range []struct {
		format llmwire.Format
		events []ev
	}{
		{llmwire.OpenAIChat, benchChat()},
		{llmwire.OpenAIResponses, benchResponses()},
		{llmwire.AnthropicMessages, benchMessages()},
	} {
		events := toBench(bc.events)
		b.Run(bc.format.String(), func(b *testing.B) {
			p := llmwire.NewStreamParser(bc.format)
			for _, e := range events[:5] {
				p.Event(e.name, e.data)
			}
			delta := events[len(events)/2]
			b.ReportAllocs()
			for b.Loop() {
				p.Event(delta.name, delta.data)
			}
		})
	}
}

func BenchmarkParseRequest(b *testing.B) {
	// A long conversation: the model comes last, after 200 KB of messages.
	body := []byte(`{"messages":[` + strings.Repeat(`{"role":"user","content":"Summarise this \"document\" for me, please.\n`+strings.Repeat("lorem ipsum ", 80)+`"},`, 200) +
		`{"role":"user","content":"thanks"}],"stream":true,"model":"claude-sonnet-4-5"}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := llmwire.ParseRequest(llmwire.AnthropicMessages, body); err != nil {
			b.Fatal(err)
		}
	}
}
