//go:build wasip1

// Command noexport is a WASM module for the host's tests that lacks the
// crossrank_run export.
package main

func main() {}

//go:wasmexport crossrank_abi_version
func version() int32 { return 1 }
