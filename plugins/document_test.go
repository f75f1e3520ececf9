package plugins_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/crossrank/crossrank/plugins"
)

func TestDocumentText(t *testing.T) {
	cases := []struct {
		doc, want, err string
	}{
		{doc: `"plain \u00e9"`, want: "plain é"},
		{doc: `{"text": "the text", "title": "ignored"}`, want: "the text"},
		{doc: `{"title": "T", "body": {"p": ["a", " b ", 3, null]}, "n": 1, "k": ""}`, want: "T. a. b"},
		{doc: `["x", {"y": "z"}]`, want: "x. z"},
		{doc: `42`, want: "42"},
		{doc: `null`, want: ""},
		{doc: `{"text": 5, "t": "s"}`, err: "document"},
		{doc: `{"a": `, err: "not valid JSON"},
		{doc: ``, err: "empty"},
	}
	for _, c := range cases {
		got, err := plugins.DocumentText(json.RawMessage(c.doc))
		if c.err != "" {
			if err == nil {
				t.Errorf("%s: no error", c.doc)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %q, %v; want %q", c.doc, got, err, c.want)
		}
	}
}

func ExampleIdentity() {
	out, _ := plugins.Identity{}.Prepare(context.Background(), nil, plugins.Input{
		Query:     "q",
		Documents: []json.RawMessage{[]byte(`"a string"`), []byte(`{"title": "A", "body": "B"}`)},
	})
	fmt.Printf("%q\n", out.Passages)
	// Output: ["a string" "A. B"]
}
