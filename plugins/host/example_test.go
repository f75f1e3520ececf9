package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"path/filepath"
	"time"

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

// ExampleConfig_limits sets the sandbox's limits (plugins/README.md lists
// them all) and shows a request the wire format cannot carry: it is the
// client's fault, a 422 naming the field.
func ExampleConfig_limits() {
	ctx := context.Background()
	h, err := host.New(ctx, host.Config{
		PluginDir:           filepath.Join("..", "wasm"),
		CacheDir:            filepath.Join("..", "..", ".cache", "wazero"),
		WatchInterval:       -1,
		CallTimeout:         time.Second,      // one guest call
		InitTimeout:         5 * time.Second,  // creating one instance
		LoadTimeout:         30 * time.Second, // a whole Load or Reload
		MemoryLimitPages:    512,              // 32 MiB per instance
		MaxGuestMemoryBytes: 1 << 30,          // all instances together
		MaxHostInputBytes:   256 << 10,        // count_tokens / tokenize input
		LogRate:             5,                // guest log lines per second per plugin
		LogBurst:            50,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Load(ctx, map[string][]host.Step{"n": {{Plugin: "normalize"}}}, ""); err != nil {
		log.Fatal(err)
	}
	p, _ := h.Pipeline("n")
	_, err = p.Prepare(ctx, words{}, plugins.Input{Query: "q", MaxTokensPerDoc: 1 << 32})
	var ie *host.InputError
	if errors.As(err, &ie) {
		fmt.Println(ie.HTTPStatus(), ie.Field)
	}
	fmt.Println("log lines dropped:", h.DroppedLogLines())
	// Output:
	// 422 max_tokens_per_doc
	// log lines dropped: 0
}
