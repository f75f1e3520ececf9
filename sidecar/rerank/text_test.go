package rerank

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestDocumentText(t *testing.T) {
	tests := []struct {
		doc    string
		fields []string
		want   string
		err    bool
	}{
		{`"plain"`, nil, "plain", false},
		{`{"text": "hello"}`, nil, "hello", false},
		{`{"title": "T", "body": "B"}`, []string{"title", "body"}, "T. B", false},
		{`{"title": "T"}`, []string{"title", "missing"}, "T", false},
		{`{"a": {"b": "deep"}}`, []string{"a.b"}, "deep", false},
		{`{"a.b": "dotted key"}`, []string{"a.b"}, "dotted key", false},
		{`{"tags": ["x", "y"], "n": 3, "ok": true, "z": null}`, []string{"tags", "n", "ok", "z"}, "x. y. 3. true", false},
		{`{"title": ""}`, []string{"title"}, "", false},
		{`12`, nil, "", true},
		{`[1]`, nil, "", true},
		{``, nil, "", true},
	}
	for _, tt := range tests {
		got, err := DocumentText(json.RawMessage(tt.doc), tt.fields)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("DocumentText(%s, %v) = %q, %v; want %q, error %v", tt.doc, tt.fields, got, err, tt.want, tt.err)
		}
	}
}

func TestOrder(t *testing.T) {
	got := Order([]float64{0.1, 0.9, 0.5, 0.9})
	want := []int{1, 3, 2, 0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Order = %v, want %v", got, want)
	}
}

func ExampleDocumentText() {
	text, _ := DocumentText(json.RawMessage(`{"title": "Go", "body": "A language."}`), []string{"title", "body"})
	fmt.Println(text)
	// Output: Go. A language.
}
