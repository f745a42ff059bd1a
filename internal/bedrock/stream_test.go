package bedrock_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"testing"
	"testing/iotest"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/bedrock"
)

// readAll drains d, returning the events and the error that ended it.
func readAll(d *bedrock.StreamDecoder) (types []string, events []string, err error) {
	for {
		typ, data, err := d.Next()
		if err != nil {
			return types, events, err
		}
		types = append(types, typ)
		events = append(events, string(data))
	}
}

func TestStreamDecoderWholeMessage(t *testing.T) {
	t.Parallel()
	stream := chunks(toolUseMessage)
	var wantTypes []string
	for _, e := range toolUseMessage {
		wantTypes = append(wantTypes, typeOf(t, e))
	}
	require.Equal(t, []string{
		"message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_stop",
		"content_block_start", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop",
		"message_delta", "message_stop",
	}, wantTypes)

	readers := []struct {
		name string
		r    func() io.Reader
	}{
		{name: "whole", r: func() io.Reader { return bytes.NewReader(stream) }},
		{name: "one byte at a time", r: func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) }},
		{name: "half reads", r: func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) }},
		{name: "EOF with the last data", r: func() io.Reader { return iotest.DataErrReader(bytes.NewReader(stream)) }},
	}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			t.Parallel()
			d := bedrock.NewStreamDecoder(rd.r())
			types, events, err := readAll(d)
			require.ErrorIs(t, err, io.EOF)
			assert.Equal(t, wantTypes, types)
			assert.Equal(t, toolUseMessage, events)
			_, _, err = d.Next()
			assert.ErrorIs(t, err, io.EOF, "EOF stays EOF")
		})
	}
}

// TestStreamDecoderDataIsCallers checks that returned data survives later
// calls: the decoder reuses its frame buffer, never the caller's slices.
func TestStreamDecoderDataIsCallers(t *testing.T) {
	t.Parallel()
	d := bedrock.NewStreamDecoder(bytes.NewReader(chunks(toolUseMessage)))
	var kept [][]byte
	for {
		_, data, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		kept = append(kept, data)
	}
	require.Len(t, kept, len(toolUseMessage))
	for i, want := range toolUseMessage {
		assert.Equal(t, want, string(kept[i]))
	}
}

// TestStreamDecoderReadsSDKFrames decodes frames written by the AWS SDK's
// own event stream encoder, so the test encoder cannot share a mistake with
// the decoder unnoticed. The extra headers use every value type.
func TestStreamDecoderReadsSDKFrames(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, e := range toolUseMessage {
		payload := []byte(`{"bytes":"` + base64.StdEncoding.EncodeToString([]byte(e)) + `"}`)
		require.NoError(t, enc.Encode(&buf, eventstream.Message{
			Headers: eventstream.Headers{
				{Name: "x-bool-true", Value: eventstream.BoolValue(true)},
				{Name: "x-bool-false", Value: eventstream.BoolValue(false)},
				{Name: "x-byte", Value: eventstream.Int8Value(-3)},
				{Name: "x-short", Value: eventstream.Int16Value(300)},
				{Name: "x-int", Value: eventstream.Int32Value(70000)},
				{Name: "x-long", Value: eventstream.Int64Value(1 << 40)},
				{Name: "x-bytes", Value: eventstream.BytesValue([]byte{0, 1, 2})},
				{Name: "x-time", Value: eventstream.TimestampValue(testNow)},
				{Name: "x-uuid", Value: eventstream.UUIDValue{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
				{Name: ":event-type", Value: eventstream.StringValue("chunk")},
				{Name: ":content-type", Value: eventstream.StringValue("application/json")},
				{Name: ":message-type", Value: eventstream.StringValue("event")},
			},
			Payload: payload,
		}))
	}
	_, events, err := readAll(bedrock.NewStreamDecoder(&buf))
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, toolUseMessage, events)
}

func TestStreamDecoderSkipsOtherEventTypes(t *testing.T) {
	t.Parallel()
	other := encodeFrame([]header{
		stringHeader(":event-type", "initial-response"),
		stringHeader(":message-type", "event"),
	}, []byte(`{}`))
	stream := streamOf(chunkFrame(toolUseMessage[0]), other, chunks(toolUseMessage[1:]))
	_, events, err := readAll(bedrock.NewStreamDecoder(bytes.NewReader(stream)))
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, toolUseMessage, events)
}

func TestStreamDecoderExceptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		frame []byte
		want  bedrock.ExceptionError
	}{
		{
			name:  "throttling",
			frame: exceptionFrame("throttlingException", "Too many requests, please wait before trying again."),
			want:  bedrock.ExceptionError{Type: "throttlingException", Message: "Too many requests, please wait before trying again."},
		},
		{
			name: "model stream error",
			frame: encodeFrame([]header{
				stringHeader(":exception-type", "modelStreamErrorException"),
				stringHeader(":content-type", "application/json"),
				stringHeader(":message-type", "exception"),
			}, []byte(`{"message":"Model stream failed: overloaded","originalStatusCode":529,"originalMessage":"Overloaded"}`)),
			want: bedrock.ExceptionError{Type: "modelStreamErrorException", Message: "Model stream failed: overloaded"},
		},
		{
			name:  "payload that is not JSON",
			frame: encodeFrame([]header{stringHeader(":exception-type", "internalServerException"), stringHeader(":message-type", "exception")}, []byte("oops")),
			want:  bedrock.ExceptionError{Type: "internalServerException"},
		},
		{
			name: "error message type",
			frame: encodeFrame([]header{
				stringHeader(":message-type", "error"),
				stringHeader(":error-code", "InternalFailure"),
				stringHeader(":error-message", "An internal error occurred."),
			}, nil),
			want: bedrock.ExceptionError{Type: "InternalFailure", Message: "An internal error occurred."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Two events, then the exception mid-stream.
			stream := streamOf(chunks(toolUseMessage[:2]), tt.frame, chunks(toolUseMessage[2:]))
			d := bedrock.NewStreamDecoder(bytes.NewReader(stream))
			_, events, err := readAll(d)
			assert.Equal(t, toolUseMessage[:2], events)
			var ex *bedrock.ExceptionError
			require.ErrorAs(t, err, &ex)
			assert.Equal(t, tt.want, *ex)
			_, _, again := d.Next()
			assert.Equal(t, err, again, "errors are final")
		})
	}
}

func TestStreamDecoderCorrupt(t *testing.T) {
	t.Parallel()
	good := chunks(toolUseMessage)
	first := chunkFrame(toolUseMessage[0])
	third := len(chunks(toolUseMessage[:3])) // end of the third frame
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0x01
		return b
	}
	// reCRC fixes both CRCs after an edit, so only the edit is wrong.
	reCRC := func(f []byte) []byte {
		f = bytes.Clone(f)
		binary.BigEndian.PutUint32(f[8:], crc32.ChecksumIEEE(f[:8]))
		binary.BigEndian.PutUint32(f[len(f)-4:], crc32.ChecksumIEEE(f[:len(f)-4]))
		return f
	}
	tests := []struct {
		name       string
		stream     []byte
		wantEvents int
		wantErr    error
		wantMsg    string
	}{
		{name: "prelude CRC", stream: flip(good, 9), wantErr: bedrock.ErrCorruptStream, wantMsg: "prelude CRC mismatch"},
		{name: "length flipped", stream: flip(good, 3), wantErr: bedrock.ErrCorruptStream, wantMsg: "prelude CRC mismatch"},
		{name: "payload byte", stream: flip(good, len(first)-10), wantErr: bedrock.ErrCorruptStream, wantMsg: "message CRC mismatch"},
		{name: "message CRC of the third frame", stream: flip(good, third-1), wantEvents: 2, wantErr: bedrock.ErrCorruptStream, wantMsg: "message CRC mismatch"},
		{name: "cut inside a prelude", stream: good[:len(first)+5], wantEvents: 1, wantErr: bedrock.ErrTruncatedStream, wantMsg: "inside a frame prelude"},
		{name: "cut inside a frame", stream: good[:len(good)-7], wantEvents: len(toolUseMessage) - 1, wantErr: bedrock.ErrTruncatedStream, wantMsg: "inside a frame"},
		{name: "cut between frames before message_stop", stream: chunks(toolUseMessage[:5]), wantEvents: 5, wantErr: bedrock.ErrTruncatedStream, wantMsg: "before message_stop"},
		{name: "empty stream", stream: nil, wantErr: bedrock.ErrTruncatedStream, wantMsg: "before message_stop"},
		{
			name:    "impossible length",
			stream:  reCRC(append([]byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 4)...)),
			wantErr: bedrock.ErrCorruptStream, wantMsg: "impossible frame lengths",
		},
		{
			name:    "16 MiB frame announced, 100 bytes sent",
			stream:  append(reCRC([]byte{0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), make([]byte, 84)...),
			wantErr: bedrock.ErrTruncatedStream, wantMsg: "inside a frame (100 of 16777216 bytes)",
		},
		{
			name:    "frame over the size limit",
			stream:  reCRC([]byte{0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
			wantErr: bedrock.ErrCorruptStream, wantMsg: "impossible frame lengths",
		},
		{
			name:    "header longer than the frame",
			stream:  reCRC(append([]byte{0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0}, make([]byte, 4)...)),
			wantErr: bedrock.ErrCorruptStream, wantMsg: "impossible frame lengths",
		},
		{
			name:    "unknown header value type",
			stream:  encodeFrame([]header{{name: "x", typ: 42}}, nil),
			wantErr: bedrock.ErrCorruptStream, wantMsg: "unknown value type 42",
		},
		{
			name:    "header value overruns",
			stream:  encodeFrame([]header{{name: "x", typ: 9, value: []byte{1, 2}}}, nil),
			wantErr: bedrock.ErrCorruptStream, wantMsg: "overruns",
		},
		{
			name:    "unknown message type",
			stream:  encodeFrame([]header{stringHeader(":message-type", "gossip")}, nil),
			wantErr: bedrock.ErrCorruptStream, wantMsg: `unknown :message-type "gossip"`,
		},
		{
			name: "chunk that is not JSON",
			stream: encodeFrame([]header{stringHeader(":message-type", "event"), stringHeader(":event-type", "chunk")},
				[]byte(`bytes=abc`)),
			wantErr: bedrock.ErrCorruptStream, wantMsg: "chunk payload",
		},
		{
			name: "chunk bytes not base64",
			stream: encodeFrame([]header{stringHeader(":message-type", "event"), stringHeader(":event-type", "chunk")},
				[]byte(`{"bytes":"not base64!"}`)),
			wantErr: bedrock.ErrCorruptStream, wantMsg: "not base64",
		},
		{
			name: "chunk without bytes",
			stream: encodeFrame([]header{stringHeader(":message-type", "event"), stringHeader(":event-type", "chunk")},
				[]byte(`{"p":"abc"}`)),
			wantErr: bedrock.ErrCorruptStream, wantMsg: "chunk without bytes",
		},
		{
			name: "chunk that is JSON but not an object",
			stream: encodeFrame([]header{stringHeader(":message-type", "event"), stringHeader(":event-type", "chunk")},
				[]byte(`["bytes"]`)),
			wantErr: bedrock.ErrCorruptStream, wantMsg: "chunk payload",
		},
		{
			name: "chunk with trailing data",
			stream: encodeFrame([]header{stringHeader(":message-type", "event"), stringHeader(":event-type", "chunk")},
				[]byte(`{"bytes":"e30="} x`)),
			wantErr: bedrock.ErrCorruptStream, wantMsg: "chunk payload",
		},
		{name: "event without type", stream: chunkFrame(`{"index":0}`), wantErr: bedrock.ErrCorruptStream, wantMsg: `no "type"`},
		{name: "event that is not JSON", stream: chunkFrame(`{"type":`), wantErr: bedrock.ErrCorruptStream, wantMsg: "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := bedrock.NewStreamDecoder(bytes.NewReader(tt.stream))
			_, events, err := readAll(d)
			assert.Len(t, events, tt.wantEvents)
			require.ErrorIs(t, err, tt.wantErr)
			require.NotErrorIs(t, err, io.EOF)
			assert.ErrorContains(t, err, tt.wantMsg)
			_, _, again := d.Next()
			assert.Equal(t, err, again, "errors are final")
		})
	}
}

func TestStreamDecoderTypeWithoutFastPath(t *testing.T) {
	t.Parallel()
	tests := []struct{ event, want string }{
		{event: `{ "type" : "message_stop" }`, want: "message_stop"},
		{event: `{"index":0,"type":"content_block_stop"}`, want: "content_block_stop"},
		{event: `{"type":"some_new_event","x":1}`, want: "some_new_event"},
		{event: `{"type":"esc\u0061ped"}`, want: "escaped"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			typ, data, err := bedrock.NewStreamDecoder(bytes.NewReader(chunkFrame(tt.event))).Next()
			require.NoError(t, err)
			assert.Equal(t, tt.want, typ)
			assert.Equal(t, tt.event, string(data))
		})
	}
}

// TestStreamDecoderChunkPayloads covers chunk payloads in every shape JSON
// allows, whether the fast path or encoding/json reads them.
func TestStreamDecoderChunkPayloads(t *testing.T) {
	t.Parallel()
	const event = `{"type":"message_stop"}`
	b64 := base64.StdEncoding.EncodeToString([]byte(event))
	escaped := `\u00` + fmt.Sprintf("%x", b64[0]) + b64[1:] // first base64 character as a \u escape
	tests := []struct {
		name    string
		payload string
	}{
		{name: "plain", payload: `{"bytes":"` + b64 + `"}`},
		{name: "padding first", payload: `{"p":"abcdefgh","bytes":"` + b64 + `"}`},
		{name: "whitespace", payload: " {\n\t\"bytes\" : \"" + b64 + "\" ,\r\n \"p\":\"x\" }\n"},
		{name: "escaped characters", payload: `{"bytes":"` + escaped + `","p":"\u0041\/"}`},
		{name: "member that is not a string", payload: `{"bytes":"` + b64 + `","p":12,"q":{"r":[true,null]}}`},
		{name: "repeated member, last wins", payload: `{"bytes":"AAAA","bytes":"` + b64 + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			frame := encodeFrame([]header{stringHeader(":message-type", "event"), stringHeader(":event-type", "chunk")}, []byte(tt.payload))
			typ, data, err := bedrock.NewStreamDecoder(bytes.NewReader(frame)).Next()
			require.NoError(t, err)
			assert.Equal(t, "message_stop", typ)
			assert.Equal(t, event, string(data))
		})
	}
}

func TestStreamDecoderReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset by peer")
	r := io.MultiReader(bytes.NewReader(chunks(toolUseMessage[:3])), iotest.ErrReader(boom))
	_, events, err := readAll(bedrock.NewStreamDecoder(r))
	assert.Len(t, events, 3)
	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, io.EOF)
}

func FuzzStreamDecoder(f *testing.F) {
	// Short seeds: mutating and minimizing a whole answer is slow.
	f.Add(chunks([]string{`{"type":"message_start"}`, `{"type":"ping"}`, `{"type":"message_stop"}`}))
	f.Add(streamOf(chunkFrame(`{"type":"ping"}`), exceptionFrame("throttlingException", "slow down")))
	f.Add(encodeFrame([]header{{name: "x", typ: 9, value: make([]byte, 16)}, {name: "y", typ: 6, value: []byte("z")}}, []byte("p")))
	f.Add(chunkFrame(`{"type":"message_stop"}`)[:20])
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, stream []byte) {
		d := bedrock.NewStreamDecoder(bytes.NewReader(stream))
		// Each event needs a 16-byte frame at least, so this bounds the loop.
		for range len(stream)/16 + 2 {
			typ, data, err := d.Next()
			if err != nil {
				_, _, again := d.Next()
				if !errors.Is(again, err) {
					t.Fatalf("error not final: %v then %v", err, again)
				}
				return
			}
			if typ == "" || len(data) == 0 {
				t.Fatalf("event without type or data: %q %q", typ, data)
			}
		}
		t.Fatal("Next neither ended nor failed")
	})
}

// BenchmarkStreamDecoder decodes a 200-event answer: the per-event cost the
// decoder adds to a stream.
func BenchmarkStreamDecoder(b *testing.B) {
	const n = 200
	// message_start, content_block_start, 195 text deltas, content_block_stop,
	// message_delta, message_stop.
	events := append([]string(nil), toolUseMessage[:2]...)
	for range n - 5 {
		events = append(events, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"The quick brown fox jumps over the lazy dog, again. "}}`)
	}
	events = append(events, toolUseMessage[5], toolUseMessage[11], toolUseMessage[12])
	require.Len(b, events, n)
	stream := chunks(events)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	r := bytes.NewReader(stream)
	for b.Loop() {
		r.Reset(stream)
		d := bedrock.NewStreamDecoder(r)
		for {
			_, _, err := d.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
	b.ReportMetric(float64(testing.AllocsPerRun(10, func() {
		r.Reset(stream)
		d := bedrock.NewStreamDecoder(r)
		for {
			if _, _, err := d.Next(); err != nil {
				break
			}
		}
	}))/n, "allocs/event")
}
