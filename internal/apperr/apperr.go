// Package apperr holds the errors domain packages return for a caller to see:
// a kind (invalid, not found, conflict, ...) and a message fit for a user,
// kept apart from internal causes, which only ever reach the log.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error; the HTTP layer maps it to a status code.
type Kind int

// The kinds.
const (
	KindInvalid      Kind = iota + 1 // 400
	KindUnauthorized                 // 401
	KindForbidden                    // 403
	KindNotFound                     // 404
	KindConflict                     // 409
	KindThrottled                    // 429
)

// Validation is one invalid field.
type Validation struct {
	Field  string
	Detail string
}

// Error is an error a user may see.
type Error struct {
	Kind        Kind
	Message     string
	Validations []Validation
	RetryAfter  time.Duration // KindThrottled only
}

func (e *Error) Error() string {
	if len(e.Validations) == 0 {
		return e.Message
	}
	msg := e.Message
	for _, v := range e.Validations {
		msg += fmt.Sprintf("; %s: %s", v.Field, v.Detail)
	}
	return msg
}

// Invalid reports invalid input; nil when vs is empty, so validators can
// return Invalid(collected...) unconditionally.
func Invalid(vs ...Validation) error {
	if len(vs) == 0 {
		return nil
	}
	return &Error{Kind: KindInvalid, Message: "Invalid request.", Validations: vs}
}

// NotFound reports a missing resource.
func NotFound(format string, args ...any) error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf(format, args...)}
}

// Conflict reports a request that clashes with the current state.
func Conflict(format string, args ...any) error {
	return &Error{Kind: KindConflict, Message: fmt.Sprintf(format, args...)}
}

// Forbidden reports a caller without the right to do this.
func Forbidden(format string, args ...any) error {
	return &Error{Kind: KindForbidden, Message: fmt.Sprintf(format, args...)}
}

// Unauthorized reports missing or wrong credentials.
func Unauthorized(format string, args ...any) error {
	return &Error{Kind: KindUnauthorized, Message: fmt.Sprintf(format, args...)}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
