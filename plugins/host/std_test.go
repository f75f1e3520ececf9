package host_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/host"
)

// The expected texts below follow from each plugin's documented rules and
// from wordTok's counting rule, worked out by hand.
func TestStandardPlugins(t *testing.T) {
	h := newHost(t, host.Config{})
	cases := []struct {
		name      string
		steps     []host.Step
		query     string
		docs      []json.RawMessage
		maxTokens int
		wantQuery string
		want      []string
	}{
		{name: "fields template",
			steps: []host.Step{{Plugin: "fields", Config: map[string]any{"template": "{title}. {body}"}}},
			docs:  docs(`{"title":"Go","body":"A language."}`, `{"body":"only body"}`, "a plain string"),
			want:  []string{"Go. A language.", "only body", "a plain string"}},
		{name: "fields nested and arrays",
			steps: []host.Step{{Plugin: "fields", Config: map[string]any{"template": "{author.name}: {title} [{tags}] {authors.name} {year} {ok} {{x}}"}}},
			docs:  docs(`{"author":{"name":"Ann"},"title":"T","tags":["a","b"],"authors":[{"name":"A"},{"name":"B"}],"year":2024,"ok":true}`),
			want:  []string{"Ann: T [a, b] A, B 2024 true {x}"}},
		{name: "fields JSON escapes and nesting",
			steps: []host.Step{{Plugin: "fields", Config: map[string]any{"template": `{title} | {a"b} | {n} | {nested.deep.x} | {skip.none}`}}},
			docs:  docs(`{ "title" : "Caf\u00e9 \"quoted\" \ud83d\ude00\n", "a\"b": "esc key", "n": null, "nested": {"deep": [[{"x": "1"}, {"x": 2}], {"x": false}]}, "skip": {"title": "wrong"} }`),
			want:  []string{`Café "quoted" 😀 | esc key | | 1, 2, false`}},
		{name: "fields list",
			steps: []host.Step{{Plugin: "fields", Config: map[string]any{"fields": []any{"title", "body"}, "separator": " | "}}},
			docs:  docs(`{"title":"Go","body":"A language.","other":"x"}`),
			want:  []string{"Go | A language."}},
		{name: "html",
			steps: []host.Step{{Plugin: "html"}},
			docs: docs(`<p>Hello <b>world</b></p><p>Bye</p>`,
				`<script>var x = "<p>";</script>Text<style>p{}</style> more`,
				`Fish &amp; chips &lt;3 &eacute;t&eacute; &#8364;5`,
				`a<!-- hidden -->b<br>c`,
				`1 < 2 and 3>2`,
				`<a title="x>y" href="#">link</a>`),
			want: []string{"Hello world Bye", "Text more", "Fish & chips <3 été €5", "ab c", "1 < 2 and 3>2", "link"}},
		{name: "normalize",
			steps:     []host.Step{{Plugin: "normalize"}},
			query:     "  Ｑｕｅｒｙ  one ",
			docs:      docs("ﬁle  ①\u00a0 Ｈｅｌｌｏ\n\tthere"),
			wantQuery: "Query one",
			want:      []string{"file 1 Hello there"}},
		{name: "normalize lowercase",
			steps:     []host.Step{{Plugin: "normalize", Config: map[string]any{"lowercase": true}}},
			query:     "ÀB",
			docs:      docs("ÀB  C"),
			wantQuery: "àb",
			want:      []string{"àb c"}},
		{name: "query syntax",
			steps:     []host.Step{{Plugin: "query"}},
			query:     `title:"machine learning" AND (python OR go)^2 -java +foo bar~2 baz^3.5 qu?ck* C\+\+ NOT spam && (eggs || ham) -"bad phrase" !(x y) body:{a TO b}`,
			docs:      docs("unchanged <b>"),
			wantQuery: "machine learning python go foo bar baz quck C++ eggs ham a b",
			want:      []string{"unchanged <b>"}},
		{name: "truncate head",
			steps: []host.Step{{Plugin: "truncate", Config: map[string]any{"max_tokens": 4}}},
			docs:  docs("one two, three four five", "short", "", "abc,def,ghi,jkl rest"),
			want:  []string{"one two, three", "short", "", "abc,def,"}}, // abc , def , = 4
		{name: "truncate tail",
			steps: []host.Step{{Plugin: "truncate", Config: map[string]any{"max_tokens": 3, "strategy": "tail"}}},
			docs:  docs("one two, three four five"),
			want:  []string{"three four five"}},
		{name: "truncate request budget is smaller",
			steps:     []host.Step{{Plugin: "truncate", Config: map[string]any{"max_tokens": 10}}},
			docs:      docs("one two, three four five"),
			maxTokens: 2,
			want:      []string{"one"}},
		{name: "truncate request budget only",
			steps:     []host.Step{{Plugin: "truncate"}},
			docs:      docs("one two three"),
			maxTokens: 2,
			want:      []string{"one two"}},
		{name: "truncate no budget",
			steps: []host.Step{{Plugin: "truncate"}},
			docs:  docs("one two, three four five"),
			want:  []string{"one two, three four five"}},
		{name: "truncate best window",
			steps: []host.Step{{Plugin: "truncate", Config: map[string]any{"max_tokens": 4, "strategy": "best_window"}}},
			query: "the cat sat",
			docs:  docs("a dog ran far away then the cat sat down quietly", "cat at start then nothing more here at all", "fits: cat"),
			want:  []string{"then the cat sat", "cat at start then", "fits: cat"}},
		{name: "JSON documents become default text before truncate",
			steps: []host.Step{{Plugin: "truncate", Config: map[string]any{"max_tokens": 2}}},
			docs:  docs(`{"text":"a b c"}`, `{"title":"x y z"}`),
			want:  []string{"a b", "x y"}},
		{name: "clean pipeline",
			steps: []host.Step{
				{Plugin: "fields", Config: map[string]any{"template": "{title}. {body}"}},
				{Plugin: "html"}, {Plugin: "query"}, {Plugin: "normalize"},
				{Plugin: "truncate", Config: map[string]any{"max_tokens": 6}},
			},
			query:     `title:"ﬁsh" AND chips^2`,
			docs:      docs(`{"title":"Fish &amp; chips","body":"<p>Best   in <i>town</i>, they say</p>"}`),
			wantQuery: "fish chips",
			want:      []string{"Fish & chips. Best in"}},
	}
	specs := map[string][]host.Step{}
	for _, c := range cases {
		specs[c.name] = c.steps
	}
	if err := h.Load(context.Background(), specs, ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, ok := h.Pipeline(c.name)
			if !ok {
				t.Fatalf("pipeline %q not loaded", c.name)
			}
			out, err := p.Prepare(context.Background(), wordTok{}, plugins.Input{Query: c.query, Documents: c.docs, MaxTokensPerDoc: c.maxTokens})
			if err != nil {
				t.Fatal(err)
			}
			wantQuery := c.wantQuery
			if wantQuery == "" {
				wantQuery = c.query
			}
			if out.Query != wantQuery {
				t.Errorf("query = %q, want %q", out.Query, wantQuery)
			}
			if strings.Join(out.Passages, "\x00") != strings.Join(c.want, "\x00") || len(out.Passages) != len(c.want) {
				t.Errorf("passages =\n%q\nwant\n%q", out.Passages, c.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	h := newHost(t, host.Config{})
	cases := []struct {
		name  string
		steps []host.Step
		want  []string // substrings of the error
	}{
		{"missing file", []host.Step{{Plugin: "nosuch"}}, []string{`plugin "nosuch"`, "nosuch.wasm", "available in", "fields, html, normalize, query, truncate"}},
		{"missing path", []host.Step{{Plugin: "/tmp/does/not/exist.wasm"}}, []string{"/tmp/does/not/exist.wasm"}},
		{"not wasm", []host.Step{{Plugin: "../host/host.go"}}, []string{"host.go", "not a valid WASM module"}},
		{"bad config", []host.Step{{Plugin: "fields", Config: map[string]any{}}}, []string{`plugin "fields"`, "template"}},
		{"unknown config key", []host.Step{{Plugin: "truncate", Config: map[string]any{"strategy": "middle"}}}, []string{`plugin "truncate"`, "middle"}},
		{"bad on_error", []host.Step{{Plugin: "html", OnError: "ignore"}}, []string{"on_error"}},
		{"no steps", nil, []string{"no steps"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := h.Load(context.Background(), map[string][]host.Step{"p": c.steps}, "")
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	// A missing plugin folder says so (not "built by make plugins" alone).
	nodir := newHost(t, host.Config{PluginDir: filepath.Join(t.TempDir(), "nodir")})
	if err := nodir.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: "truncate"}}}, ""); err == nil || !strings.Contains(err.Error(), "plugin folder") || !strings.Contains(err.Error(), "--plugin-dir") {
		t.Errorf("missing plugin folder: %v", err)
	}
	if err := h.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: "html"}}}, "q"); err == nil {
		t.Error("Load with an undefined default pipeline succeeded")
	}
}
