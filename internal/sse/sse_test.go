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
