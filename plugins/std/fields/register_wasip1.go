package main

import plugin "github.com/crossrank/crossrank/sdk/go"

// The plugin's logic (main.go, jsonpath.go) is portable Go so that it is
// unit tested natively; only the registration is for the WASM guest.
func init() {
	p := &fieldsPlugin{}
	plugin.Register(plugin.Plugin{
		Configure:  p.configure,
		Passage:    p.passage,
		AcceptJSON: true,
	})
}
