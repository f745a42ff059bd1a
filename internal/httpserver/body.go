package httpserver

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aigate/aigate/internal/clock"
)

// TimerBody is the name of the timer that ends a request body's read
// deadline, for clock.Manual.WaitArmed: one is armed for every request that
// has a body, when its handler starts.
const TimerBody = "http.body"

// ErrBodyTimeout is what reading a request body returns once the body has
// taken longer than the body timeout. Handlers answer it with 408
// (WriteBodyTimeout does, in the API's shape) and must not act on the part
// they have read.
var ErrBodyTimeout = errors.New("the request body was not received in time")

// BodyTimeoutError is ErrBodyTimeout with the limit, for messages.
type BodyTimeoutError struct{ Limit time.Duration }

func (e *BodyTimeoutError) Error() string {
	return fmt.Sprintf("the request body was not received within %s (--http-body-timeout)", e.Limit)
}

// Is makes errors.Is(err, ErrBodyTimeout) match.
func (e *BodyTimeoutError) Is(target error) bool { return target == ErrBodyTimeout }

// expiredDeadline is a read deadline already in the past: setting it wakes a
// blocked read at once with a timeout. (The zero time would mean "none".)
var expiredDeadline = time.Unix(1, 0)

// deadlineBody bounds the time a handler may spend receiving the request
// body. The deadline is a timer on the server's clock, not a connection
// deadline set up front, so tests move time instead of waiting for it; when
// it fires before the body has ended, it sets the connection's read
// deadline in the past, which wakes the blocked read with an error (on
// HTTP/1 and HTTP/2 alike, through http.ResponseController).
//
// Once the body has ended the timer is stopped and the connection left
// alone: net/http then reads the connection in the background to notice a
// client going away, and a deadline there would cancel the request, a
// stream in progress included. Only a body that ends in the very instant
// its deadline passes can still see that; it was at the limit anyway.
type deadlineBody struct {
	io.ReadCloser
	limit time.Duration
	rc    *http.ResponseController

	mu      sync.Mutex
	timer   *clock.Timer
	ended   bool // guarded by mu: EOF, or the handler returned
	expired bool // guarded by mu: the deadline fired first
}

func newDeadlineBody(body io.ReadCloser, rc *http.ResponseController, clk clock.Clock, limit time.Duration) *deadlineBody {
	b := &deadlineBody{ReadCloser: body, limit: limit, rc: rc}
	b.mu.Lock()
	b.timer = clk.AfterFunc(TimerBody, limit, b.expire)
	b.mu.Unlock()
	return b
}

func (b *deadlineBody) expire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	b.expired = true
	// A writer without deadlines (none in this server) keeps its read;
	// the handler's return still ends the request.
	_ = b.rc.SetReadDeadline(expiredDeadline)
}

// end stops the deadline: the body is complete, or nobody reads it anymore.
func (b *deadlineBody) end() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ended {
		b.ended = true
		b.timer.Stop()
	}
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == nil {
		return n, nil
	}
	b.mu.Lock()
	expired := b.expired
	b.mu.Unlock()
	if expired {
		return n, &BodyTimeoutError{Limit: b.limit}
	}
	if errors.Is(err, io.EOF) {
		b.end()
	}
	return n, err
}

// WriteBodyTimeout answers a request whose body timed out, in the API's
// error shape. The connection is closed after it: the rest of the body is
// never read.
func WriteBodyTimeout(w http.ResponseWriter, r *http.Request, err error) {
	detail := "Send the body faster, or raise --http-body-timeout."
	var e *BodyTimeoutError
	if errors.As(err, &e) {
		detail = fmt.Sprintf("The body took longer than %s; send it faster, or raise --http-body-timeout.", e.Limit)
	}
	w.Header().Set("Connection", "close")
	WriteError(w, r, http.StatusRequestTimeout, "Request body not received in time.", detail)
}
