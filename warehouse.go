// Package warehouse is the domain at the centre of the server: users, roles
// and the errors every other package speaks. It imports nothing else of ours,
// so storage and HTTP depend on it and never the other way round.
package warehouse

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are stable: clients and the HTTP renderer switch on them.
const (
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	EINVALID      = "invalid"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	EUNAVAILABLE  = "unavailable"
	EINTERNAL     = "internal"
	// EBADCURSOR is a page cursor the server did not make (or made for
	// another list).
	EBADCURSOR = "bad_cursor"
	// EPRECONDITION is a conditional change (If-Match) that named a version
	// other than the current one; see StaleError.
	EPRECONDITION = "precondition_failed"
)

// Error is a domain error: a machine code and a message safe to show a client.
type Error struct {
	Code    string
	Message string
	// Fields names the input fields at fault, for validation errors.
	Fields []FieldError
	// RetryAfter, when positive, is how long the client should wait before
	// trying again (a login lockout).
	RetryAfter time.Duration
}

// FieldError is one problem with one input field.
type FieldError struct {
	Field   string `json:"field" doc:"The field at fault: a body path such as lines[0].qty, or a parameter or header name"`
	Message string `json:"message"`
	// In is where the field was: "path", "query", "header" or "body"
	// (empty for the body, as domain validation reports it).
	In string `json:"in,omitempty" enum:"path,query,header,body" doc:"Where the field is, when the request's schema found the problem; absent when a domain rule did"`
	// Line is the line of an imported file the problem is on (the header
	// is line 1); Field is then the column.
	Line int `json:"line,omitempty" doc:"Bulk import: the line of the file (the header is line 1); field is then the column"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns a domain error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first domain error in err's chain, or
// EINTERNAL for any other non-nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err: the domain message, or
// a generic text for internal errors so that no internal detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal server error"
}
