package sse_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aigate/aigate/internal/sse"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type ev struct{ raw, name, data string }

func readAll(t *testing.T, r io.Reader, size int) ([]ev, error) {
	t.Helper()
	rd := sse.NewReader(r, size)
	var out []ev
	for {
		e, err := rd.Next()
		if len(e.Raw) > 0 {
			out = append(out, ev{string(e.Raw), string(e.Name), string(e.Data)})
		}
		if err != nil {
			return out, err
		}
	}
}

func TestReader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     []ev
		err      error
	}{
		{"openai chat", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []ev{
			{"data: {\"a\":1}\n\n", "", `{"a":1}`}, {"data: [DONE]\n\n", "", "[DONE]"}}, io.EOF},
		{"anthropic named events", "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: ping\ndata: {}\n\n", []ev{
			{"event: message_start\ndata: {\"type\":\"message_start\"}\n\n", "message_start", `{"type":"message_start"}`},
			{"event: ping\ndata: {}\n\n", "ping", "{}"}}, io.EOF},
		{"crlf", "event: x\r\ndata: y\r\n\r\n", []ev{{"event: x\r\ndata: y\r\n\r\n", "x", "y"}}, io.EOF},
		{"multi-line data joined", "data: a\ndata: b\ndata:c\n\n", []ev{{"data: a\ndata: b\ndata:c\n\n", "", "a\nb\nc"}}, io.EOF},
		{"comment and id kept in raw", ": keep-alive\nid: 7\ndata: x\n\n", []ev{{": keep-alive\nid: 7\ndata: x\n\n", "", "x"}}, io.EOF},
		{"stray blank line is its own event", "\ndata: x\n\n", []ev{{"\n", "", ""}, {"data: x\n\n", "", "x"}}, io.EOF},
		{"only one space stripped", "data:  two\n\n", []ev{{"data:  two\n\n", "", " two"}}, io.EOF},
		{"truncated event", "data: {\"a\":1}\n\ndata: {\"b\"", []ev{
			{"data: {\"a\":1}\n\n", "", `{"a":1}`}, {"data: {\"b\"", "", `{"b"`}}, io.ErrUnexpectedEOF},
		{"empty", "", nil, io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, size := range []int{16, 4096} {
				// One byte per read proves events split across reads are
				// reassembled.
				got, err := readAll(t, iotest.OneByteReader(strings.NewReader(tc.in)), size)
				require.ErrorIs(t, err, tc.err)
				require.Equal(t, tc.want, got, "buffer %d", size)
			}
		})
	}
}

func TestLongLine(t *testing.T) {
	t.Parallel()
	data := strings.Repeat("x", 100_000)
	got, err := readAll(t, strings.NewReader("data: "+data+"\n\n"), 64)
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, got, 1)
	require.Equal(t, data, got[0].data)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// endless repeats s for ever: an upstream that never ends its event.
type endless string

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e[i%len(e)]
	}
	return len(p) - len(p)%len(e), nil
}

// An event up to the maximum size is read whole; one byte more is refused,
// whether the event is one long line or many short ones, and a stream that
// never ends its event is given up on after about the maximum, not read
// without end.
func TestMaxEventSize(t *testing.T) {
	t.Parallel()
	const limit = 1000
	oneLine := func(n int) string { return "data: " + strings.Repeat("x", n-len("data: \n\n")) + "\n\n" }
	manyLines := func(n int) string {
		// Lines of 8 bytes, a comment line that pads to n, the blank line.
		k := (n - 3) / 8
		pad := n - 1 - 8*k
		return strings.Repeat("data: x\n", k) + ":" + strings.Repeat("c", pad-2) + "\n\n"
	}
	for _, tc := range []struct {
		name  string
		event func(n int) string
	}{{"one long line", oneLine}, {"many lines", manyLines}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, size := range []int{16, 4096} {
				at, over := tc.event(limit), tc.event(limit+1)
				require.Len(t, at, limit)
				require.Len(t, over, limit+1)

				rd := sse.NewReader(strings.NewReader(at+"data: next\n\n"), size)
				rd.SetMaxEventSize(limit)
				e, err := rd.Next()
				require.NoError(t, err, "buffer %d", size)
				require.Equal(t, at, string(e.Raw))
				e, err = rd.Next()
				require.NoError(t, err)
				require.Equal(t, "next", string(e.Data))

				rd.Reset(strings.NewReader("data: first\n\n" + over))
				e, err = rd.Next()
				require.NoError(t, err)
				require.Equal(t, "first", string(e.Data))
				_, err = rd.Next()
				require.ErrorIs(t, err, sse.ErrEventTooLarge, "buffer %d", size)

				// A Reset Reader keeps its maximum and works again.
				rd.Reset(strings.NewReader(at))
				e, err = rd.Next()
				require.NoError(t, err)
				require.Equal(t, at, string(e.Raw))
			}
		})
	}
	for name, src := range map[string]endless{"a line without end": "x", "lines without a blank one": "data: x\n"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const size = 64
			in := &countingReader{r: src}
			rd := sse.NewReader(in, size)
			rd.SetMaxEventSize(limit)
			_, err := rd.Next()
			require.ErrorIs(t, err, sse.ErrEventTooLarge)
			require.LessOrEqual(t, in.n, limit+2*size, "read about the maximum, then gave up")
		})
	}
	rd := sse.NewReader(strings.NewReader(oneLine(100_000)), 64)
	e, err := rd.Next()
	require.NoError(t, err, "no maximum by default")
	require.Len(t, e.Raw, 100_000)
}

func TestReadErrorReturnsPartialEvent(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom))
	got, err := readAll(t, r, 4096)
	require.ErrorIs(t, err, boom)
	require.Equal(t, []ev{{"data: a\n\n", "", "a"}, {"data: b", "", "b"}}, got)
}

func TestComplete(t *testing.T) {
	t.Parallel()
	rd := sse.NewReader(strings.NewReader("data: a\n\ndata: b\n\ndata: c"), 4096)
	_, err := rd.Next()
	require.NoError(t, err)
	require.True(t, rd.Complete(), "event b is buffered whole")
	_, err = rd.Next()
	require.NoError(t, err)
	require.False(t, rd.Complete(), "only part of event c is buffered")
}

// Whatever the input, the events' raw bytes put back together are the
// input: the proxy never drops, adds or changes a byte.
func FuzzReader(f *testing.F) {
	f.Add([]byte("event: a\ndata: b\n\ndata: c\r\n\r\n: x\n\n\n"), uint8(16))
	f.Add([]byte("data: a\ndata: b\n\n"), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, size uint8) {
		rd := sse.NewReader(iotest.HalfReader(bytes.NewReader(in)), int(size)+16)
		var out []byte
		for {
			e, err := rd.Next()
			out = append(out, e.Raw...)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("raw bytes differ:\n in %q\nout %q", in, out)
		}
	})
}

func BenchmarkReader(b *testing.B) {
	var stream bytes.Buffer
	for range 200 {
		stream.WriteString("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hello world\"}}\n\n")
	}
	in := stream.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		rd := sse.NewReader(bytes.NewReader(in), 4096)
		for {
			if _, err := rd.Next(); err != nil {
				break
			}
		}
	}
}

// A Reader does not keep the buffer a large event grew: not for the rest of
// its stream (an idle stream would hold it), nor across a Reset (a pooled
// Reader would hold it for the next streams).
func TestLargeEventBufferIsNotKept(t *testing.T) {
	t.Parallel()
	const size = 4 << 10
	big := "data: " + strings.Repeat("x", 2<<20) + "\ndata: " + strings.Repeat("y", 1<<20) + "\n\n"
	rd := sse.NewReader(strings.NewReader("data: small\n\n"+big+"data: after\n\n"), size)
	e, err := rd.Next()
	require.NoError(t, err)
	require.Equal(t, "small", string(e.Data))
	small := rd.HeldForTest()
	require.Less(t, small, 64<<10)

	e, err = rd.Next()
	require.NoError(t, err)
	require.Len(t, e.Data, 3<<20+1, "two data lines joined")
	require.Greater(t, rd.HeldForTest(), 3<<20, "the large event is held while it is the current one")

	e, err = rd.Next()
	require.NoError(t, err)
	require.Equal(t, "after", string(e.Data))
	require.Equal(t, small, rd.HeldForTest(), "the next event no longer holds the large one's buffers")

	rd.Reset(strings.NewReader(big))
	_, err = rd.Next()
	require.NoError(t, err)
	rd.Reset(nil)
	require.Equal(t, small, rd.HeldForTest(), "nor does a Reset one")
}
