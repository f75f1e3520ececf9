package host

import (
	"errors"
	"fmt"
	"net/http"
)

// Error kinds, as reported to metrics.Recorder.PluginError.
const (
	KindTrap          = "trap"           // the guest trapped (unreachable, bad memory access, panic, exit)
	KindTimeout       = "timeout"        // the call ran past Config.CallTimeout
	KindMemory        = "memory"         // the guest ran out of its memory limit
	KindMalformed     = "malformed"      // the guest's output breaks the ABI (bad pointer, size, format, count)
	KindMissingExport = "missing_export" // the module lacks an ABI export or has the wrong signature
	KindOther         = "other"          // the guest reported an error, or rejected its config
)

// PluginError is a plugin's failure. It names the plugin (as the pipeline
// step wrote it: a standard plugin's name or a .wasm path) and the kind of
// failure. The server maps it to a status with HTTPStatus.
type PluginError struct {
	Plugin string
	Kind   string
	Err    error
}

func (e *PluginError) Error() string {
	return fmt.Sprintf("plugin %q: %s: %v", e.Plugin, e.Kind, e.Err)
}

func (e *PluginError) Unwrap() error { return e.Err }

// HTTPStatus is the status a request failed by this error gets: 504 Gateway
// Timeout for a timeout (the plugin, like an upstream, did not answer in
// time), 500 Internal Server Error otherwise (the server's own component
// failed; the client's request was not at fault).
func (e *PluginError) HTTPStatus() int {
	if e.Kind == KindTimeout {
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// Timeout reports whether the plugin ran past its call limit; the engine
// (sidecar/rerank) classifies such a failure as a deadline.
func (e *PluginError) Timeout() bool { return e.Kind == KindTimeout }

// AsPluginError returns the *PluginError in err's chain, if any.
func AsPluginError(err error) (*PluginError, bool) {
	var pe *PluginError
	ok := errors.As(err, &pe)
	return pe, ok
}

// InputError is a request the plugin wire format cannot carry: a field out
// of its range (max_tokens_per_doc beyond an i32) or a batch too big for a
// guest's memory. It is the client's fault: HTTPStatus is 422.
type InputError struct {
	Field string // the request field, as the HTTP API names it
	Err   error
}

func (e *InputError) Error() string { return fmt.Sprintf("plugins: %s: %v", e.Field, e.Err) }

func (e *InputError) Unwrap() error { return e.Err }

// HTTPStatus is 422 Unprocessable Entity.
func (e *InputError) HTTPStatus() int { return http.StatusUnprocessableEntity }
