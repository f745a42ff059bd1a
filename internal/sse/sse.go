// Package sse splits a server-sent-events stream into events as they arrive,
// keeping each event's bytes exactly as received so a proxy can forward them
// without re-encoding, and exposing the event name and data for observers.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Event is one event. All slices point into the Reader's buffers and are
// valid only until the next call to Next.
type Event struct {
	// Raw is the event's bytes as received, its terminating blank line
	// included: what a proxy writes to its client.
	Raw []byte
	// Name is the "event:" field; empty when absent (OpenAI chat streams
	// have none).
	Name []byte
	// Data is the "data:" field; several data lines are joined with "\n"
	// as the SSE format specifies.
	Data []byte
}

// ErrEventTooLarge is returned by Next for an event longer than the
// Reader's maximum (SetMaxEventSize). The stream cannot go on from there
// (the rest of the event is unread), so the Reader must be Reset before it
// is used again.
var ErrEventTooLarge = errors.New("sse: event larger than the maximum size")

// Reader reads events. Lines may end in "\n" or "\r\n".
type Reader struct {
	br    *bufio.Reader
	size  int // the buffer size it was made with
	max   int // largest event Next returns, its blank line included; 0: no limit
	raw   []byte
	data  []byte
	lines int // data lines seen in the current event
	// name and data offsets into raw, valid while lines <= 1
	nameStart, nameEnd int
	dataStart, dataEnd int
}

// NewReader reads from r with a buffer of size bytes (lines longer than
// the buffer are still read whole).
func NewReader(r io.Reader, size int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, size), size: size, raw: make([]byte, 0, size)}
}

// SetMaxEventSize bounds the events Next returns to n bytes (Raw's length);
// 0 removes the bound. A proxy needs one: without it, an upstream that never
// ends an event makes the Reader buffer without end. Reading a larger event
// stops once n bytes are held, so a Reader never holds much more than n plus
// its buffer.
func (r *Reader) SetMaxEventSize(n int) { r.max = max(n, 0) }

// Next returns the next event. At the end of the stream it returns io.EOF;
// when the stream ends in the middle of an event it returns that partial
// event (Raw holds its bytes, to be forwarded as they are) together with
// io.ErrUnexpectedEOF. Other read errors are returned with the partial
// event in the same way. An event over the maximum size returns
// ErrEventTooLarge and no event.
func (r *Reader) Next() (Event, error) {
	// A stream may sit idle for minutes after one large event (a Responses
	// stream's last events, a long tool call): it must not hold that
	// event's buffer meanwhile.
	r.shrink()
	r.raw = r.raw[:0]
	r.data = r.data[:0]
	r.lines = 0
	r.nameStart, r.nameEnd, r.dataStart, r.dataEnd = 0, 0, 0, 0
	for {
		line, err := r.readLine()
		if errors.Is(err, ErrEventTooLarge) || (r.max > 0 && len(r.raw)+len(line) > r.max) {
			return Event{}, ErrEventTooLarge
		}
		if len(line) > 0 {
			start := len(r.raw)
			r.raw = append(r.raw, line...)
			content := trimEOL(r.raw[start:])
			if len(content) == 0 {
				// A blank line ends the event. Blank lines between events
				// come back as events of their own with nothing but Raw,
				// so not a byte of the stream is dropped.
				return r.event(), nil
			}
			r.field(start, len(content))
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if len(r.raw) == 0 {
					return Event{}, io.EOF
				}
				err = io.ErrUnexpectedEOF
			}
			return r.event(), err
		}
	}
}

// Complete reports whether a whole event is already buffered, so a caller
// that flushes after each event can leave the flush to the next one.
func (r *Reader) Complete() bool {
	n := r.br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := r.br.Peek(n)
	return bytes.Contains(b, []byte("\n\n")) || bytes.Contains(b, []byte("\n\r\n"))
}

func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	// A line longer than the buffer: collect it whole, up to what the
	// event may still hold.
	long := append([]byte(nil), line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		if r.max > 0 && len(r.raw)+len(long) > r.max {
			return nil, ErrEventTooLarge
		}
		line, err = r.br.ReadSlice('\n')
		long = append(long, line...)
	}
	return long, err
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// field records the field of the line at raw[start:start+n].
func (r *Reader) field(start, n int) {
	line := r.raw[start : start+n]
	name, value, found := bytes.Cut(line, []byte(":"))
	if !found {
		value = nil // a line with no colon is a field with an empty value
	}
	if len(name) == 0 {
		return // a comment
	}
	value = bytes.TrimPrefix(value, []byte(" "))
	valueStart := start + n - len(value)
	switch string(name) {
	case "event":
		r.nameStart, r.nameEnd = valueStart, start+n
	case "data":
		r.lines++
		switch r.lines {
		case 1:
			r.dataStart, r.dataEnd = valueStart, start+n
		case 2:
			r.data = append(r.data, r.raw[r.dataStart:r.dataEnd]...)
			fallthrough
		default:
			r.data = append(r.data, '\n')
			r.data = append(r.data, value...)
		}
	}
}

func (r *Reader) event() Event {
	ev := Event{Raw: r.raw, Name: r.raw[r.nameStart:r.nameEnd]}
	if r.lines > 1 {
		ev.Data = r.data
	} else {
		ev.Data = r.raw[r.dataStart:r.dataEnd]
	}
	return ev
}

// keepBuffer is the most event buffer a Reader keeps from one event to the
// next, and across a Reset: one large event must not leave a stream, or a
// pooled Reader, holding megabytes for the rest of its life. Events of
// chat and messages streams are a few hundred bytes.
const keepBuffer = 64 << 10

// shrink drops event buffers grown past keepBuffer.
func (r *Reader) shrink() {
	if cap(r.raw) > keepBuffer {
		r.raw = make([]byte, 0, r.size)
	}
	if cap(r.data) > keepBuffer {
		r.data = nil
	}
}

// Reset makes the Reader read from r, keeping its buffers (up to 64 KiB; a
// larger one, grown for a large event, is dropped) and its maximum event
// size, so readers can be pooled across streams.
func (r *Reader) Reset(rd io.Reader) {
	r.br.Reset(rd)
	r.shrink()
	r.raw, r.data = r.raw[:0], r.data[:0]
}
