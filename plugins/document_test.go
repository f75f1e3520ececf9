package plugins_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

func ExamplePassageText() {
	doc := json.RawMessage(`{"title": "Go", "body": "A language.", "meta": {"year": 2009}}`)
	text, _ := plugins.PassageText(doc, nil)
	fmt.Println(text)
	text, _ = plugins.PassageText(doc, []string{"title", "meta.year"})
	fmt.Println(text)
	_, err := plugins.PassageText(json.RawMessage(`{"n": 1}`), nil)
	fmt.Println(err)
	// Output:
	// Go. A language.
	// Go. 2009
	// no text: the object has no string "text" field and no string value
}

func TestPassageTextFields(t *testing.T) {
	cases := []struct {
		doc    string
		fields []string
		want   string
		noText bool
	}{
		{doc: `{"title":"T","body":"B"}`, fields: []string{"title", "body"}, want: "T. B"},
		{doc: `{"a":{"b":"deep"},"a.b":"flat"}`, fields: []string{"a.b"}, want: "flat"},
		{doc: `{"a":{"b":"deep"}}`, fields: []string{"a.b"}, want: "deep"},
		{doc: `{"tags":["x",null,3,true],"n":null}`, fields: []string{"tags", "n"}, want: "x. 3. true"},
		{doc: `"a string"`, fields: []string{"title"}, want: "a string"},
		{doc: `{"text":"t"}`, fields: []string{"title"}, noText: true},
		{doc: `{}`, noText: true},
	}
	for _, c := range cases {
		got, err := plugins.PassageText(json.RawMessage(c.doc), c.fields)
		var nt *plugins.NoTextError
		if c.noText {
			if !errors.As(err, &nt) || (c.fields != nil && !strings.Contains(err.Error(), c.fields[0])) {
				t.Errorf("%s %v: %v, want a NoTextError naming the fields", c.doc, c.fields, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s %v: %q, %v; want %q", c.doc, c.fields, got, err, c.want)
		}
	}
}
