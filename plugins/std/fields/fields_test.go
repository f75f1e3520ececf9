package main

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/sdk/go/crossrankplugin"
)

func render(t *testing.T, config, doc string) (string, error) {
	t.Helper()
	p := &fieldsPlugin{}
	if err := p.configure([]byte(config)); err != nil {
		t.Fatalf("configure %s: %v", config, err)
	}
	out, err := p.passage([]byte("pre|"), nil, crossrankplugin.Doc{JSON: true, Data: []byte(doc)})
	if !strings.HasPrefix(string(out), "pre|") {
		t.Fatalf("passage overwrote dst: %q", out)
	}
	return string(out[len("pre|"):]), err
}

// TestPassage covers the JSON scanner (escapes, Unicode, nested paths,
// arrays, repeated keys) and the tidying of the rendered text.
func TestPassage(t *testing.T) {
	cases := []struct {
		name, config, doc, want string
	}{
		{"template", `{"template": "{title}. {body}"}`, `{"title":"Go","body":"A language."}`, "Go. A language."},
		{"missing field", `{"template": "{title}. {body}"}`, `{"body":"only body"}`, "only body"},
		{"fields list", `{"fields": ["title", "body"], "separator": " | "}`, `{"title":"Go","body":"A language.","other":"x"}`, "Go | A language."},
		{"escapes", `{"template": "{s}"}`, `{"s":"a\"b\\c\/d\te\nf\rg\bh\fi"}`, "a\"b\\c/d e f g\bh\fi"},
		{"escaped HTML", `{"template": "{s}"}`, `{"s":"\u003cp\u003eFish \u0026amp; chips\u003c/p\u003e"}`, "<p>Fish &amp; chips</p>"},
		{"unicode escapes", `{"template": "{s}"}`, `{"s":"Caf\u00e9 \u20ac \ud83d\ude00 \uD83D\uDE00"}`, "Café € 😀 😀"},
		{"lone surrogate", `{"template": "{s}"}`, `{"s":"x\ud83dy"}`, "x\uFFFDy"},
		{"raw UTF-8", `{"template": "{s}"}`, `{"s":"naïve 日本語 😀"}`, "naïve 日本語 😀"},
		{"escaped key", `{"template": "{a\"b} {c}"}`, `{"a\"b":"one","\u0063":"two"}`, "one two"},
		{"nested", `{"template": "{author.name}: {a.b.c}"}`, `{"author":{"id":1,"name":"Ann"},"a":{"b":{"c":"deep"}}}`, "Ann: deep"},
		{"array of scalars", `{"template": "[{tags}]"}`, `{"tags":["a","b",3,true,null]}`, "[a, b, 3, true]"},
		{"array of objects", `{"template": "{authors.name}"}`, `{"authors":[{"name":"A"},{"x":1},{"name":"B"}]}`, "A, B"},
		{"nested arrays", `{"template": "{n.x}"}`, `{"n":[[{"x":"1"},{"x":2}],{"x":false}]}`, "1, 2, false"},
		{"array separator", `{"template": "{tags}", "array_separator": " / "}`, `{"tags":["a","b"]}`, "a / b"},
		{"repeated key", `{"template": "{k}"}`, `{"k":"first","x":{"k":"no"},"k":"second"}`, "first, second"},
		{"top-level array", `{"template": "{k}"}`, `[{"k":"a"},{"k":"b"}]`, "a, b"},
		{"objects and null render empty", `{"template": "{o}|{n}|{e}"}`, `{"o":{"k":"v"},"n":null,"e":""}`, ""},
		{"numbers as written", `{"template": "n {a} {b}"}`, `{"a":-1.5e3,"b":0}`, "n -1.5e3 0"},
		{"skips nested values", `{"template": "{t}"}`, `{"x":{"t":"no","y":["]","}"]},"s":"}{","t":"yes"}`, "yes"},
		{"white space", `{"template": "{title}. {body}"}`, " \n{ \"title\" : \"  Go \\n\\t\" ,\n \"body\" : \"A  long\\n\\nrun of   text here\" } ", "Go . A long run of text here"},
		{"literal braces", `{"template": "{{x}} {t}"}`, `{"t":"y"}`, "{x} y"},
		{"trimmed separators", `{"template": "{a} - {b}, {c}"}`, `{"b":"B"}`, "B"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := render(t, c.config, c.doc)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestPassageErrors(t *testing.T) {
	for _, doc := range []string{`{"t":"unterminated`, `{"t" "x"}`, `{"t":"x" "u":1}`, `{"t":["a" "b"]}`, `{"t":`, `{t:1}`, `{"a":{"b":1}`} {
		if _, err := render(t, `{"template": "{t} {a.b}"}`, doc); err == nil || !strings.Contains(err.Error(), "malformed JSON") {
			t.Errorf("%s: error %v, want malformed JSON", doc, err)
		}
	}
	// A template without placeholders does not read the document.
	if got, err := render(t, `{"template": "{{x}}"}`, `{"t":`); err != nil || got != "{x}" {
		t.Errorf("literal template: %q, %v", got, err)
	}
}

// TestPassageStrings checks string values against encoding/json on random
// text with escapes, Unicode and white space, through the tidying.
func TestPassageStrings(t *testing.T) {
	pieces := []string{"a", "word ", "longer words here ", " ", "  ", "\t", "\n", "<p>", "&amp;", "\"", "\\", "/", "é", "日本", "😀", "\u2028", "\x01", ".", ","}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		var s strings.Builder
		for n := r.IntN(30); n > 0; n-- {
			s.WriteString(pieces[r.IntN(len(pieces))])
		}
		enc, _ := json.Marshal(map[string]string{"t": s.String()})
		got, err := render(t, `{"template": "{t}"}`, string(enc))
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Join(strings.FieldsFunc(s.String(), func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }), " ")
		want = strings.TrimRight(strings.TrimLeft(want, " .,;:|-"), " ,;:|-")
		if got != want {
			t.Fatalf("%s: got %q, want %q", enc, got, want)
		}
	}
}
