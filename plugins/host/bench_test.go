package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/host"
)

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var benchWords = strings.Fields(`the of and to in is was for on that with as by at from his her
an were are which this be or has had not but first one their its new after who they have two
her she been other when there all during into school time may years more most only over city
some world would where later up such used many can state about national out known university
united then made system river water search engine passage query relevance ranking model score`)

// benchInput is a 100-document request: JSON hits with a title and an HTML
// body of 40–120 words (MS MARCO-like lengths), fixed seed.
func benchInput() plugins.Input {
	r := rand.New(rand.NewPCG(1, 2))
	words := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = benchWords[r.IntN(len(benchWords))]
		}
		return strings.Join(w, " ")
	}
	in := plugins.Input{Query: "search engine relevance ranking", MaxTokensPerDoc: 256}
	for i := 0; i < 100; i++ {
		body := fmt.Sprintf("<p>%s <b>%s</b> &amp; %s</p><p>%s</p>", words(20), words(3), words(10+r.IntN(40)), words(10+r.IntN(40)))
		doc, _ := json.Marshal(map[string]any{"title": words(6), "body": body, "id": i, "tags": []string{"a", "b"}})
		in.Documents = append(in.Documents, doc)
	}
	return in
}

// BenchmarkPipeline measures the plugin pipeline's overhead per 100-passage
// request (ns/passage is ns/op / 100) for fields+html+truncate in each SDK
// language: the Go standard plugins, and the snippet example (tag strip +
// head truncation) of the Go, C and AssemblyScript SDKs. The C and
// AssemblyScript examples take text, so their requests are the same bodies
// as JSON strings.
func BenchmarkPipeline(b *testing.B) {
	in := benchInput()
	var textIn plugins.Input = in
	textIn.Documents = nil
	for _, d := range in.Documents {
		var m map[string]any
		_ = json.Unmarshal(d, &m)
		var buf strings.Builder
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // as most clients send it: "<p>", not "\u003cp\u003e"
		_ = enc.Encode(m["title"].(string) + ". " + m["body"].(string))
		textIn.Documents = append(textIn.Documents, json.RawMessage(strings.TrimSpace(buf.String())))
	}
	std := []host.Step{
		{Plugin: "fields", Config: map[string]any{"template": "{title}. {body}"}},
		{Plugin: "html"},
		{Plugin: "truncate", Config: map[string]any{"max_tokens": 256}},
	}
	cases := []struct {
		name  string
		steps []host.Step
		in    plugins.Input
		cfg   func(host.Config) host.Config
	}{
		{"go-std/fields+html+truncate", std, in, nil},
		{"go-std/fields+html+truncate/close-on-context", std, in, host.WithCloseOnContextDone},
		{"go-std/fields+html+truncate/no-time-limit", std, in, host.WithoutInterrupt},
		{"go-std/fields", std[:1], in, nil},
		{"go-std/html", std[1:2], textIn, nil},
		{"go-std/truncate", std[2:], textIn, nil},
		{"go-std/fields+html+best_window", []host.Step{std[0], std[1], {Plugin: "truncate", Config: map[string]any{"max_tokens": 64, "strategy": "best_window"}}}, in, nil},
		{"go-example/snippet", []host.Step{{Plugin: "example-go", Config: map[string]any{"max_tokens": 256}}}, textIn, nil},
		{"c-example/snippet", []host.Step{{Plugin: "example-c", Config: map[string]any{"max_tokens": 256}}}, textIn, nil},
		{"c-example/snippet/close-on-context", []host.Step{{Plugin: "example-c", Config: map[string]any{"max_tokens": 256}}}, textIn, host.WithCloseOnContextDone},
		{"as-example/snippet", []host.Step{{Plugin: "example-as", Config: map[string]any{"max_tokens": 256}}}, textIn, nil},
		{"identity/no-plugins", nil, in, nil},
		{"faulty-spin-1e6/time-limit", []host.Step{{Plugin: "faulty"}}, plugins.Input{Query: "spin", Documents: docs("x")}, nil},
		{"faulty-spin-1e6/close-on-context", []host.Step{{Plugin: "faulty"}}, plugins.Input{Query: "spin", Documents: docs("x")}, host.WithCloseOnContextDone},
		{"faulty-spin-1e6/no-time-limit", []host.Step{{Plugin: "faulty"}}, plugins.Input{Query: "spin", Documents: docs("x")}, host.WithoutInterrupt},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cfg := host.Config{}
			if c.cfg != nil {
				cfg = c.cfg(cfg)
			}
			h := newHost(b, cfg)
			steps := append([]host.Step(nil), c.steps...)
			for i, s := range steps {
				if strings.HasPrefix(s.Plugin, "example-") || s.Plugin == "faulty" {
					steps[i].Plugin = wasmPath(b, s.Plugin)
				}
			}
			var p plugins.Pipeline = plugins.Identity{}
			if len(steps) > 0 {
				if err := h.Load(context.Background(), map[string][]host.Step{"p": steps}, ""); err != nil {
					b.Fatal(err)
				}
				p, _ = h.Pipeline("p")
			}
			ctx := context.Background()
			if _, err := p.Prepare(ctx, wordTok{}, c.in); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := p.Prepare(ctx, wordTok{}, c.in); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			per := float64(b.N) * float64(len(c.in.Documents))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/passage")
			// CPU time is steadier than wall time on a shared machine.
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/per, "cpu-ns/passage")
		})
	}
}
