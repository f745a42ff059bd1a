package bedrock

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// ErrCorruptStream is wrapped by StreamDecoder errors for bytes that are not
// a valid event stream: a bad CRC, an impossible length, a malformed header
// or chunk.
var ErrCorruptStream = errors.New("corrupt event stream")

// ErrTruncatedStream is wrapped by StreamDecoder errors for a stream that
// ended early: inside a frame, or between frames before message_stop.
var ErrTruncatedStream = errors.New("truncated event stream")

const (
	preludeLen = 12 // total length, headers length, prelude CRC
	crcLen     = 4
	minFrame   = preludeLen + crcLen
	// maxFrame is the longest frame accepted: the event stream format caps
	// payloads at 16 MiB and headers at 128 KiB. Anthropic events are far
	// smaller, and the buffer only grows as bytes arrive (see fill).
	maxFrame = 16<<20 + 128<<10 + minFrame
)

// StreamDecoder reads a Bedrock InvokeModelWithResponseStream body and
// yields the Anthropic events inside it. It reads exactly one frame per
// event, so each event is available as soon as Bedrock has sent it: no
// read-ahead buffering delays the stream.
//
// A StreamDecoder is not safe for concurrent use.
type StreamDecoder struct {
	r       io.Reader
	prelude [preludeLen]byte
	buf     []byte // the frame after the prelude; reused between frames
	stopped bool   // message_stop seen, so a clean end of input is io.EOF
	err     error  // sticky: once Next fails it keeps failing the same way
}

// NewStreamDecoder returns a decoder reading r, typically an HTTP response
// body. It does not close r.
func NewStreamDecoder(r io.Reader) *StreamDecoder {
	return &StreamDecoder{r: r}
}

// Next returns the next Anthropic event: its type (the JSON "type" member,
// e.g. "message_start") and its JSON exactly as Bedrock delivered it, in a
// new slice the caller may keep. At the end of a complete stream it returns
// io.EOF.
//
// An exception from Bedrock (":message-type" exception or error) returns an
// *ExceptionError; ErrorEvent turns it into an Anthropic error event. Bytes
// that are not a valid event stream return an error wrapping
// ErrCorruptStream, and a stream that ends before message_stop one wrapping
// ErrTruncatedStream, never io.EOF: the client must not take a cut-off
// answer for a whole one. Any error is final: later calls return it again.
func (d *StreamDecoder) Next() (eventType string, data []byte, err error) {
	if d.err != nil {
		return "", nil, d.err
	}
	for {
		eventType, data, err = d.next()
		if err != nil {
			d.err = err
			return "", nil, err
		}
		if data != nil {
			if eventType == "message_stop" {
				d.stopped = true
			}
			return eventType, data, nil
		}
	}
}

// next decodes one frame. It returns nil data, and no error, for frames that
// carry no Anthropic event.
func (d *StreamDecoder) next() (string, []byte, error) {
	headers, payload, err := d.readFrame()
	if err != nil {
		return "", nil, err
	}
	h, err := parseHeaders(headers)
	if err != nil {
		return "", nil, err
	}
	switch string(h.messageType) {
	case "event":
		if string(h.eventType) != "chunk" {
			// Bedrock sends only chunks today; skipping other event types
			// keeps a new one from breaking every stream.
			return "", nil, nil
		}
		return decodeChunk(payload)
	case "exception":
		return "", nil, exceptionFromPayload(string(h.exceptionType), payload)
	case "error":
		return "", nil, &ExceptionError{Type: string(h.errorCode), Message: string(h.errorMessage)}
	default:
		return "", nil, fmt.Errorf("bedrock: %w: unknown :message-type %q", ErrCorruptStream, h.messageType)
	}
}

// readFrame reads one whole frame, checks both CRCs and returns its header
// block and payload. Both alias the decoder's buffer, so they are only valid
// until the next call.
func (d *StreamDecoder) readFrame() (headers, payload []byte, err error) {
	n, err := io.ReadFull(d.r, d.prelude[:])
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		if !d.stopped {
			return nil, nil, fmt.Errorf("bedrock: %w: the stream ended before message_stop", ErrTruncatedStream)
		}
		return nil, nil, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, nil, fmt.Errorf("bedrock: %w: the stream ended inside a frame prelude (%d of %d bytes)", ErrTruncatedStream, n, preludeLen)
	case err != nil:
		return nil, nil, fmt.Errorf("bedrock: read event stream: %w", err)
	}
	total := binary.BigEndian.Uint32(d.prelude[0:4])
	headersLen := binary.BigEndian.Uint32(d.prelude[4:8])
	// The prelude has its own CRC so that a corrupt length is caught before
	// we trust it to size a read.
	if got, want := crc32.ChecksumIEEE(d.prelude[:8]), binary.BigEndian.Uint32(d.prelude[8:12]); got != want {
		return nil, nil, fmt.Errorf("bedrock: %w: prelude CRC mismatch (computed %08x, frame says %08x)", ErrCorruptStream, got, want)
	}
	if total < minFrame || total > maxFrame || headersLen > total-minFrame {
		return nil, nil, fmt.Errorf("bedrock: %w: impossible frame lengths (total %d, headers %d)", ErrCorruptStream, total, headersLen)
	}
	rest := int(total) - preludeLen
	if err := d.fill(rest); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, fmt.Errorf("bedrock: %w: the stream ended inside a frame (%d of %d bytes)", ErrTruncatedStream, preludeLen+len(d.buf), total)
		}
		return nil, nil, fmt.Errorf("bedrock: read event stream: %w", err)
	}
	crc := crc32.Update(crc32.ChecksumIEEE(d.prelude[:]), crc32.IEEETable, d.buf[:rest-crcLen])
	if want := binary.BigEndian.Uint32(d.buf[rest-crcLen:]); crc != want {
		return nil, nil, fmt.Errorf("bedrock: %w: message CRC mismatch (computed %08x, frame says %08x)", ErrCorruptStream, crc, want)
	}
	return d.buf[:headersLen], d.buf[headersLen : rest-crcLen], nil
}

// fill reads the next n bytes into d.buf. The buffer grows only as bytes
// arrive, so a corrupt length that survived the prelude CRC costs a few KiB,
// not maxFrame; on error d.buf holds what was read.
func (d *StreamDecoder) fill(n int) error {
	const firstGrowth = 16 << 10
	d.buf = d.buf[:0]
	for len(d.buf) < n {
		if len(d.buf) == cap(d.buf) {
			d.buf = slices.Grow(d.buf, min(n, max(2*cap(d.buf), firstGrowth))-len(d.buf))
		}
		m, err := io.ReadFull(d.r, d.buf[len(d.buf):min(n, cap(d.buf))])
		d.buf = d.buf[:len(d.buf)+m]
		if err != nil {
			return err
		}
	}
	return nil
}

// frameHeaders holds the headers Next acts on; each aliases the frame.
type frameHeaders struct {
	messageType, eventType, exceptionType, errorCode, errorMessage []byte
}

// Header value types of the event stream format.
const (
	typeTrue = iota
	typeFalse
	typeByte
	typeInt16
	typeInt32
	typeInt64
	typeBytes
	typeString
	typeTimestamp
	typeUUID
)

// fixedLen is the value length of fixed-size header types.
var fixedLen = [...]int{typeTrue: 0, typeFalse: 0, typeByte: 1, typeInt16: 2, typeInt32: 4, typeInt64: 8, typeTimestamp: 8, typeUUID: 16}

// parseHeaders picks the headers Next acts on out of a checked frame's
// header block. The values alias the block: no copies.
func parseHeaders(block []byte) (frameHeaders, error) {
	var h frameHeaders
	for len(block) > 0 {
		nameLen := int(block[0])
		if nameLen == 0 || len(block) < 1+nameLen+1 {
			return h, fmt.Errorf("bedrock: %w: malformed header name", ErrCorruptStream)
		}
		name := block[1 : 1+nameLen]
		valueType := block[1+nameLen]
		block = block[1+nameLen+1:]
		var value []byte
		switch {
		case valueType == typeBytes || valueType == typeString:
			if len(block) < 2 {
				return h, fmt.Errorf("bedrock: %w: malformed header %q", ErrCorruptStream, name)
			}
			n := int(binary.BigEndian.Uint16(block))
			if len(block) < 2+n {
				return h, fmt.Errorf("bedrock: %w: header %q overruns the header block", ErrCorruptStream, name)
			}
			value, block = block[2:2+n], block[2+n:]
		case int(valueType) < len(fixedLen):
			n := fixedLen[valueType]
			if len(block) < n {
				return h, fmt.Errorf("bedrock: %w: header %q overruns the header block", ErrCorruptStream, name)
			}
			block = block[n:]
			continue // no header we use has a fixed-size type
		default:
			return h, fmt.Errorf("bedrock: %w: header %q has unknown value type %d", ErrCorruptStream, name, valueType)
		}
		switch string(name) {
		case ":message-type":
			h.messageType = value
		case ":event-type":
			h.eventType = value
		case ":exception-type":
			h.exceptionType = value
		case ":error-code":
			h.errorCode = value
		case ":error-message":
			h.errorMessage = value
		}
	}
	return h, nil
}

// decodeChunk unwraps a chunk payload, {"bytes":"<base64>"}. Bedrock may add
// members (a "p" padding string hides event sizes), which are ignored.
func decodeChunk(payload []byte) (string, []byte, error) {
	var event []byte
	if b64, ok := plainChunkBytes(payload); ok {
		event = make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
		n, err := base64.StdEncoding.Decode(event, b64)
		if err != nil {
			return "", nil, fmt.Errorf("bedrock: %w: chunk bytes are not base64: %w", ErrCorruptStream, err)
		}
		event = event[:n]
	} else {
		var chunk struct {
			Bytes []byte `json:"bytes"` // encoding/json decodes base64 into []byte
		}
		if err := json.Unmarshal(payload, &chunk); err != nil {
			return "", nil, fmt.Errorf("bedrock: %w: chunk payload is not {\"bytes\": base64}: %w", ErrCorruptStream, err)
		}
		event = chunk.Bytes
	}
	if len(event) == 0 {
		return "", nil, fmt.Errorf("bedrock: %w: chunk without bytes", ErrCorruptStream)
	}
	t, err := eventTypeOf(event)
	if err != nil {
		return "", nil, err
	}
	return t, event, nil
}

// plainChunkBytes returns the "bytes" member of a chunk payload that is a
// flat object of strings without escapes — every chunk Bedrock sends. It
// spares each event a reflective JSON decode (the decoder's main cost); for
// anything else ok is false and encoding/json decides.
func plainChunkBytes(p []byte) (b64 []byte, ok bool) {
	i := skipSpace(p, 0)
	if i == len(p) || p[i] != '{' {
		return nil, false
	}
	i++
	for {
		key, next, ok := plainString(p, skipSpace(p, i))
		if !ok {
			return nil, false
		}
		i = skipSpace(p, next)
		if i == len(p) || p[i] != ':' {
			return nil, false
		}
		value, next, ok := plainString(p, skipSpace(p, i+1))
		if !ok {
			return nil, false
		}
		// encoding/json matches member names case-insensitively, so a
		// "Bytes" twin must also send us to it.
		if bytes.EqualFold(key, bytesMember) {
			if b64 != nil {
				return nil, false // a repeated member: leave it to encoding/json
			}
			b64 = value
		}
		i = skipSpace(p, next)
		switch {
		case i == len(p):
			return nil, false
		case p[i] == ',':
			i++
		case p[i] == '}':
			return b64, b64 != nil && skipSpace(p, i+1) == len(p)
		default:
			return nil, false
		}
	}
}

var bytesMember = []byte("bytes")

// plainString returns the contents of the JSON string at p[i:] and the index
// after it, if it has no escapes or control characters.
func plainString(p []byte, i int) (s []byte, next int, ok bool) {
	if i == len(p) || p[i] != '"' {
		return nil, i, false
	}
	end := bytes.IndexByte(p[i+1:], '"')
	if end < 0 {
		return nil, i, false
	}
	s = p[i+1 : i+1+end]
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return nil, i, false
		}
	}
	return s, i + 1 + end + 1, true
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// knownTypes lets eventTypeOf return a constant instead of allocating a
// string per event.
var knownTypes = map[string]string{}

func init() {
	for _, t := range []string{
		"message_start", "content_block_start", "content_block_delta", "content_block_stop",
		"message_delta", "message_stop", "ping", "error",
	} {
		knownTypes[t] = t
	}
}

// typePrefix is how every Anthropic event Bedrock sends begins; matching it
// avoids a full JSON decode per event on the hot path.
var typePrefix = []byte(`{"type":"`)

// eventTypeOf returns the "type" member of an Anthropic event.
func eventTypeOf(event []byte) (string, error) {
	if rest, ok := bytes.CutPrefix(event, typePrefix); ok {
		if end := bytes.IndexByte(rest, '"'); end > 0 && bytes.IndexByte(rest[:end], '\\') < 0 {
			if t, ok := knownTypes[string(rest[:end])]; ok { // no allocation: map lookup by converted []byte
				return t, nil
			}
			return string(rest[:end]), nil
		}
	}
	var e struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(event, &e); err != nil {
		return "", fmt.Errorf("bedrock: %w: event is not JSON: %w", ErrCorruptStream, err)
	}
	if e.Type == "" {
		return "", fmt.Errorf("bedrock: %w: event has no \"type\"", ErrCorruptStream)
	}
	return e.Type, nil
}
