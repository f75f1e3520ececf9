package rerank

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/crossrank/crossrank/sidecar/batcher"
)

// Kind classifies an engine error. The API layer alone maps kinds to HTTP
// statuses (sidecar/api.StatusOf); the engine knows nothing of HTTP.
type Kind uint8

const (
	// KindInternal is a failure of the engine or its backend (500).
	KindInternal Kind = iota
	// KindInvalid is bad input; Error.Field names it (422).
	KindInvalid
	// KindNotFound is an unknown model or pipeline (404).
	KindNotFound
	// KindOverloaded means too many pairs are waiting (429).
	KindOverloaded
	// KindDeadline means the request's deadline passed, or a plugin ran
	// past its call limit (504).
	KindDeadline
	// KindPluginFault is a plugin's failure (500).
	KindPluginFault
	// KindUnavailable means the engine is closing or the caller gave up (503).
	KindUnavailable
)

var kindNames = [...]string{"internal", "invalid", "not_found", "overloaded", "deadline", "plugin_fault", "unavailable"}

// String names the kind (for logs).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is an engine error of a typed kind.
type Error struct {
	Kind Kind
	// Field names the invalid input ("documents[3]", "max_tokens_per_doc");
	// empty for other kinds.
	Field string
	// Message says what went wrong, without the field.
	Message string
	// Err is the cause, if any.
	Err error
}

// Error returns "field: message", or the message alone.
func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Invalid returns a KindInvalid error naming field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns a KindNotFound error.
func NotFound(format string, args ...any) *Error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf(format, args...)}
}

// timeouter is an error that says it is a timeout (plugins/host.PluginError
// for a call past its limit, net.Error).
type timeouter interface{ Timeout() bool }

// AsError classifies any error: an *Error in its chain as it is, a full
// queue as KindOverloaded, a passed deadline as KindDeadline, shutdown or a
// cancelled request as KindUnavailable, anything else as KindInternal.
func AsError(err error) *Error {
	var e *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return e
	case errors.Is(err, batcher.ErrQueueFull):
		return &Error{Kind: KindOverloaded, Message: "too many pairs waiting; retry later", Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: KindDeadline, Message: "deadline passed before the request was scored", Err: err}
	case errors.Is(err, batcher.ErrClosed), errors.Is(err, context.Canceled):
		return &Error{Kind: KindUnavailable, Message: err.Error(), Err: err}
	default:
		return &Error{Kind: KindInternal, Message: err.Error(), Err: err}
	}
}

// pluginError classifies an error a pipeline returned: the request's own
// deadline or cancellation as such, a plugin that ran past its call limit
// as KindDeadline, anything else as KindPluginFault.
func pluginError(ctx context.Context, pipeline string, err error) *Error {
	if ctx.Err() != nil {
		return AsError(fmt.Errorf("pipeline %q: %w", pipeline, ctx.Err()))
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	kind := KindPluginFault
	var t timeouter
	if errors.As(err, &t) && t.Timeout() {
		kind = KindDeadline
	}
	msg := err.Error()
	if name := fmt.Sprintf("pipeline %q", pipeline); !strings.Contains(msg, name) {
		msg = name + ": " + msg // the host's errors usually name it already
	}
	return &Error{Kind: kind, Message: msg, Err: err}
}
