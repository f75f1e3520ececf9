package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/crossrank/crossrank/sidecar/rerank"
)

// Error types, as written in JSON error bodies.
const (
	TypeBadRequest   = "invalid_request_error" // 400: malformed JSON or UTF-8; 405
	TypeInvalid      = "validation_error"      // 422: wrong type, missing field, limit
	TypeTooLarge     = "payload_too_large"     // 413
	TypeUnauthorized = "unauthorized"          // 401: missing or wrong API key
	TypeForbidden    = "forbidden"             // 403: admin route from a non-loopback client without --admin-key
	TypeNotFound     = "not_found"             // 404: unknown model, pipeline or route
	TypeOverloaded   = "overloaded"            // 429: queue full
	TypeTimeout      = "timeout"               // 504: deadline passed
	TypeUnavailable  = "unavailable"           // 503: shutting down, client gone
	TypeInternal     = "internal_error"        // 500
)

// Error is an HTTP error: a status, the type and message of the JSON body,
// and its cause (for logs).
type Error struct {
	Status  int
	Type    string
	Message string
	Err     error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted message.
func Errorf(status int, typ, format string, args ...any) *Error {
	return &Error{Status: status, Type: typ, Message: fmt.Sprintf(format, args...)}
}

// ErrorOf maps any error to an *Error: an *Error in its chain as it is, an
// engine error (rerank.AsError) by its kind, see StatusOf.
func ErrorOf(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	re := rerank.AsError(err)
	st, typ := StatusOf(re.Kind)
	return &Error{Status: st, Type: typ, Message: re.Error(), Err: err}
}

// StatusOf is the HTTP status and error type of an engine error kind.
func StatusOf(k rerank.Kind) (int, string) {
	switch k {
	case rerank.KindInvalid:
		return http.StatusUnprocessableEntity, TypeInvalid
	case rerank.KindNotFound:
		return http.StatusNotFound, TypeNotFound
	case rerank.KindOverloaded:
		return http.StatusTooManyRequests, TypeOverloaded
	case rerank.KindDeadline:
		return http.StatusGatewayTimeout, TypeTimeout
	case rerank.KindUnavailable:
		return http.StatusServiceUnavailable, TypeUnavailable
	default: // KindInternal, KindPluginFault
		return http.StatusInternalServerError, TypeInternal
	}
}
