// Package testlog gives tests a log sink that is safe to read while the code
// under test writes to it, and that can wait for a line to appear.
package testlog

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// Buffer collects written output. The zero value is ready to use.
type Buffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{} // closed and replaced on every write
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.notify != nil {
		close(b.notify)
		b.notify = nil
	}
	return n, err
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Reset forgets everything written so far, so a test can look at what one
// step writes.
func (b *Buffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// changed returns a channel closed at the next write.
func (b *Buffer) changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.notify == nil {
		b.notify = make(chan struct{})
	}
	return b.notify
}

// WaitFor waits until the output contains substr, or until timeout or stop
// (which may be nil) ends the wait; it reports whether substr appeared.
func (b *Buffer) WaitFor(substr string, timeout time.Duration, stop <-chan struct{}) bool {
	deadline := time.After(timeout)
	for {
		ch := b.changed()
		if strings.Contains(b.String(), substr) {
			return true
		}
		select {
		case <-ch:
		case <-stop:
			return strings.Contains(b.String(), substr)
		case <-deadline:
			return false
		}
	}
}
