package sse

// HeldForTest is the bytes of buffer r holds: its read buffer and its event
// buffers' capacity.
func (r *Reader) HeldForTest() int { return r.br.Size() + cap(r.raw) + cap(r.data) }
