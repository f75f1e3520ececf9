// Package std holds the standard crossrank plugins, one main package per
// plugin in a subfolder (fields, html, normalize, query, truncate). Each is a
// Go WASM guest on the Go SDK (sdk/go) built by `make plugins` with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/wasm/NAME.wasm ./plugins/std/NAME
//
// The sources carry a wasip1 build constraint, so host builds skip them;
// fields and html keep only their registration with the SDK in
// register_wasip1.go and their logic in portable files, unit tested natively
// (a host build of those two is an empty main).
package std
