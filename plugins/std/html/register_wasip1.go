package main

import (
	"bytes"
	"fmt"

	"github.com/crossrank/crossrank/sdk/go/crossrankplugin"
)

// The plugin's logic (main.go) is portable Go so that it is unit tested
// natively; only the registration is for the WASM guest.
func init() {
	var scratch []byte
	crossrankplugin.Register(crossrankplugin.Plugin{
		Configure: func(c []byte) error {
			if len(bytes.TrimSpace(c)) > 2 {
				return fmt.Errorf("html: takes no config, got %s", c)
			}
			return nil
		},
		Passage: func(dst, _ []byte, doc crossrankplugin.Doc) ([]byte, error) {
			var out []byte
			out, scratch = plainText(dst, doc.Data, scratch)
			return out, nil
		},
	})
}
