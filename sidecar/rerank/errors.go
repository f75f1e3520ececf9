package rerank

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/crossrank/crossrank/sidecar/batcher"
)

// Error types, as written in JSON error bodies.
const (
	TypeBadRequest  = "invalid_request_error" // 400: malformed JSON or UTF-8
	TypeInvalid     = "validation_error"      // 422: wrong type, missing field, limit
	TypeTooLarge    = "payload_too_large"     // 413
	TypeNotFound    = "not_found"             // 404: unknown model or pipeline
	TypeOverloaded  = "overloaded"            // 429: queue full
	TypeTimeout     = "timeout"               // 504: deadline passed
	TypeUnavailable = "unavailable"           // 503: shutting down, client gone
	TypeInternal    = "internal_error"        // 500
)

// Error is an error with the HTTP status and type it maps to.
type Error struct {
	Status  int
	Type    string
	Message string
	Err     error // the cause, if any
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted message.
func Errorf(status int, typ, format string, args ...any) *Error {
	return &Error{Status: status, Type: typ, Message: fmt.Sprintf(format, args...)}
}

// statusError is an error that chooses its HTTP status, such as a plugin
// failure from the plugin host.
type statusError interface {
	error
	HTTPStatus() int
}

// AsError maps any error to an *Error: an *Error in its chain as it is, a
// full queue to 429, a passed deadline to 504, shutdown or a cancelled
// request to 503, anything else to 500.
func AsError(err error) *Error {
	var e *Error
	var se statusError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return e
	case errors.As(err, &se):
		// A plugin failure (plugins/host.PluginError): 504 for a timeout, else 500.
		st := se.HTTPStatus()
		typ := TypeInternal
		if st == http.StatusGatewayTimeout {
			typ = TypeTimeout
		}
		return &Error{Status: st, Type: typ, Message: err.Error(), Err: err}
	case errors.Is(err, batcher.ErrQueueFull):
		return &Error{Status: http.StatusTooManyRequests, Type: TypeOverloaded, Message: "too many pairs waiting; retry later", Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusGatewayTimeout, Type: TypeTimeout, Message: "deadline passed before the request was scored", Err: err}
	case errors.Is(err, batcher.ErrClosed), errors.Is(err, context.Canceled):
		return &Error{Status: http.StatusServiceUnavailable, Type: TypeUnavailable, Message: err.Error(), Err: err}
	default:
		return &Error{Status: http.StatusInternalServerError, Type: TypeInternal, Message: err.Error(), Err: err}
	}
}
