package embeddedpg

import (
	"errors"
	"fmt"
)

// Error is returned for every failure an operator can run into. Reason says
// what is wrong, Fix what to do about it; both end up in the message so that
// a log line alone is enough to act on.
type Error struct {
	Reason string
	Fix    string
	Err    error
}

func (e *Error) Error() string {
	msg := "embedded PostgreSQL: " + e.Reason
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ErrDataDirInUse is wrapped by the error Start returns when another process
// holds the data dir, so callers can tell that case apart with errors.Is.
var ErrDataDirInUse = errors.New("data dir in use")

// failf builds an *Error whose reason includes the cause's text, because the
// cause (permission denied, no such file, ...) is usually what points at the
// fix.
func failf(cause error, fix, format string, args ...any) *Error {
	reason := fmt.Sprintf(format, args...)
	if cause != nil {
		reason += ": " + cause.Error()
	}
	return &Error{Reason: reason, Fix: fix, Err: cause}
}
