package main

import "github.com/crossrank/crossrank/sdk/go/crossrankplugin"

// The plugin's logic (main.go, jsonpath.go) is portable Go so that it is
// unit tested natively; only the registration is for the WASM guest.
func init() {
	p := &fieldsPlugin{}
	crossrankplugin.Register(crossrankplugin.Plugin{
		Configure:  p.configure,
		Passage:    p.passage,
		AcceptJSON: true,
	})
}
