package llmmock_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aigate/aigate/internal/llmmock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitTimeout bounds every wait on the server's channels.
const waitTimeout = 10 * time.Second

// httpClient returns a client with its own transport, whose idle
// connections are closed when the test ends (goleak would see them).
func httpClient(t *testing.T) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func openAIClient(t *testing.T, s *llmmock.Server, key string) *openai.Client {
	t.Helper()
	c := openai.NewClient(
		ooption.WithBaseURL(s.OpenAIBaseURL()),
		ooption.WithAPIKey(key),
		ooption.WithHTTPClient(httpClient(t)),
		ooption.WithMaxRetries(0),
	)
	return &c
}

func anthropicClient(t *testing.T, s *llmmock.Server, key string) *anthropic.Client {
	t.Helper()
	c := anthropic.NewClient(
		aoption.WithBaseURL(s.AnthropicBaseURL()),
		aoption.WithAPIKey(key),
		aoption.WithHTTPClient(httpClient(t)),
		aoption.WithMaxRetries(0),
	)
	return &c
}

// receive waits for one value from ch.
func receive(t *testing.T, ch <-chan llmmock.Seen) llmmock.Seen {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for the mock server")
		return llmmock.Seen{}
	}
}

// rawRequest sends a request with the given headers and returns the
// response with its body read (and the read error, for cut streams).
func rawRequest(t *testing.T, method, url, body string, header map[string]string) (*http.Response, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := httpClient(t).Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, string(b), err
}

// sseEvent is one raw SSE event.
type sseEvent struct{ name, data string }

// parseSSE splits a complete SSE body, requiring every event to be
// "[event: NAME\n]data: DATA\n\n".
func parseSSE(t *testing.T, body string) []sseEvent {
	t.Helper()
	require.True(t, strings.HasSuffix(body, "\n\n"), "body ends with a blank line")
	var out []sseEvent
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	var cur sseEvent
	lines := 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			require.Positive(t, lines, "empty event")
			out = append(out, cur)
			cur, lines = sseEvent{}, 0
		case strings.HasPrefix(line, "event: "):
			require.Zero(t, lines, "event: comes first")
			cur.name = strings.TrimPrefix(line, "event: ")
			lines++
		case strings.HasPrefix(line, "data: "):
			require.Empty(t, cur.data, "one data line per event")
			cur.data = strings.TrimPrefix(line, "data: ")
			lines++
		default:
			t.Fatalf("unexpected SSE line %q", line)
		}
	}
	require.NoError(t, sc.Err())
	return out
}
