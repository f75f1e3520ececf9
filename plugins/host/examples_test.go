package host_test

import (
	"context"
	"testing"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/host"
)

// The example plugin exists once per SDK (examples/plugins/{go,c,
// assemblyscript}) with the same documented behaviour; each must give the
// outputs worked out by hand from that description and wordTok's counting.
func TestSDKExamples(t *testing.T) {
	h := newHost(t, host.Config{})
	sdks := []string{"example-go", "example-c", "example-as"}
	specs := map[string][]host.Step{}
	for _, s := range sdks {
		specs[s] = []host.Step{{Plugin: wasmPath(t, s), Config: map[string]any{"max_tokens": 5}}}
		specs[s+"-nobudget"] = []host.Step{{Plugin: wasmPath(t, s)}}
	}
	if err := h.Load(context.Background(), specs, ""); err != nil {
		t.Fatal(err)
	}
	in := plugins.Input{
		Query: "q",
		Documents: docs(
			"<p>Hello,   <b>world</b></p>\n<p>one two three four</p>",
			`{"text":"json  doc   stays JSON until truncate"}`,
			"  spaces\t\tand\nlines  ",
			"",
		),
	}
	cases := []struct {
		suffix    string
		maxTokens int
		want      []string
	}{
		// "Hello, world one two ..." : Hello(1) ,(1) world(1) one(1) two(1) = 5.
		// The JSON document skips the passage stage (its double spaces stay)
		// and reaches truncate as its "text" field.
		{"", 0, []string{"Hello, world one two", "json  doc   stays JSON until", "spaces and lines", ""}},
		{"", 3, []string{"Hello, world", "json  doc   stays", "spaces and lines", ""}},
		{"-nobudget", 0, []string{"Hello, world one two three four", "json  doc   stays JSON until truncate", "spaces and lines", ""}},
	}
	for _, s := range sdks {
		for _, c := range cases {
			name := s + c.suffix
			t.Run(name, func(t *testing.T) {
				p, _ := h.Pipeline(name)
				in := in
				in.MaxTokensPerDoc = c.maxTokens
				out, err := p.Prepare(context.Background(), wordTok{}, in)
				if err != nil {
					t.Fatal(err)
				}
				if len(out.Passages) != len(c.want) {
					t.Fatalf("got %d passages", len(out.Passages))
				}
				for i := range c.want {
					if out.Passages[i] != c.want[i] {
						t.Errorf("passage %d = %q, want %q", i, out.Passages[i], c.want[i])
					}
				}
			})
		}
	}
	// A bad config fails the load in every SDK.
	for _, s := range sdks {
		err := h.Load(context.Background(), map[string][]host.Step{"bad": {{Plugin: wasmPath(t, s), Config: map[string]any{"max_tokens": "lots"}}}}, "")
		if pe, ok := host.AsPluginError(err); !ok || pe.Kind != host.KindOther {
			t.Errorf("%s: bad config: got %v, want a PluginError of kind other", s, err)
		}
	}
}
