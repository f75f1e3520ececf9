package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"path/filepath"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/host"
)

// words counts white-space separated words; the sidecar passes the serving
// model's tokenizer instead.
type words struct{}

func (words) CountTokens(s string) int {
	n, in := 0, false
	for _, r := range s {
		if r == ' ' {
			in = false
		} else if !in {
			n, in = n+1, true
		}
	}
	return n
}

func Example() {
	ctx := context.Background()
	h, err := host.New(ctx, host.Config{
		PluginDir:     filepath.Join("..", "wasm"), // plugins/wasm, built by `make plugins`
		CacheDir:      filepath.Join("..", "..", ".cache", "wazero"),
		WatchInterval: -1, // no file watcher in this example
	})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
	err = h.Load(ctx, map[string][]host.Step{
		"clean": {
			{Plugin: "fields", Config: map[string]any{"template": "{title}. {body}"}},
			{Plugin: "html"},
			{Plugin: "truncate", Config: map[string]any{"max_tokens": 4}},
		},
	}, "clean")
	if err != nil {
		log.Fatal(err)
	}
	p, _ := h.Pipeline("") // the default pipeline
	out, err := p.Prepare(ctx, words{}, plugins.Input{
		Query:     "fish",
		Documents: []json.RawMessage{[]byte(`{"title": "Fish &amp; chips", "body": "<p>served <b>hot</b> daily</p>"}`)},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %q\n", p.Name(), out.Passages)
	// Output: clean: ["Fish & chips. served"]
}
