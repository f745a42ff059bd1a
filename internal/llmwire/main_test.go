package llmwire_test

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ev is one SSE event as the gateway hands it over: the "event:" field and
// the joined "data:" payload.
type ev struct{ name, data string }

// sse splits the text of an SSE stream (as an upstream writes it) into
// events, so samples read like the wire. Only the "event:" and "data:" fields
// matter here; the gateway's own reader handles the rest of the SSE grammar.
func sse(stream string) []ev {
	var out []ev
	for block := range strings.SplitSeq(strings.TrimSpace(stream), "\n\n") {
		var e ev
		var data []string
		for line := range strings.SplitSeq(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event:"):
				e.name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
			}
		}
		e.data = strings.Join(data, "\n")
		out = append(out, e)
	}
	return out
}
