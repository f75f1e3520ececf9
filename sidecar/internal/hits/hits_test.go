package hits

import (
	"bytes"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/sidecar/rerank"
)

func TestAppendPageKeepsBytes(t *testing.T) {
	in := []byte(`{"took":3,"hits":{"total":{"value":3},"max_score":2.0,"hits":[{"_id":"a","_source":{"k":"é \u00e9"}} ,{"_id":"b"},{"_id":"c"}]},"aggregations":{"x":{"value":1}}}`)
	r, err := Parse(in, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"took":3,"hits":{"total":{"value":3},"max_score":2.0,"hits":[{"_id":"b"}]},"aggregations":{"x":{"value":1}}}`
	if out := r.Append(nil, nil, 1, 1); string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	if out := r.Append(nil, nil, 0, 1); !bytes.Contains(out, []byte(`"k":"é \u00e9"`)) {
		t.Errorf("_source bytes changed: %s", out)
	}
	if out := r.Append(nil, nil, 0, -1); !bytes.Equal(out, in) {
		t.Errorf("whole response changed: %s", out)
	}
}

func TestAppendRanked(t *testing.T) {
	in := []byte(`{"hits":{"max_score":9.0,"hits":[{"_id":"a","_score":9.0,"_source":{"text":"x"}},{"_id":"b","_score":8.0,"_source":{"text":"y"}},{"_id":"c","_score":7.5}]}}`)
	r, err := Parse(in, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.Documents()); n != 2 {
		t.Fatalf("%d documents, want the window's 2", n)
	}
	res := &rerank.Result{Scores: []float64{0.25, 0.5}, Order: []int{1, 0}}
	want := `{"hits":{"max_score":7.5,"hits":[{"_id":"b","_score":0.5,"_source":{"text":"y"},"_rerank":{"original_score":8.0}},{"_id":"a","_score":0.25,"_source":{"text":"x"},"_rerank":{"original_score":9.0}},{"_id":"c","_score":7.5}]}}`
	if out := r.Append(nil, res, 0, -1); string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	want = `{"hits":{"max_score":7.5,"hits":[{"_id":"a","_score":0.25,"_source":{"text":"x"},"_rerank":{"original_score":9.0}},{"_id":"c","_score":7.5}]}}`
	if out := r.Append(nil, res, 1, 5); string(out) != want {
		t.Errorf("page 1..: got  %s\nwant %s", out, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ body, field string }{
		{`[]`, "response"},
		{`{"took":1}`, "response.hits"},
		{`{"hits":{}}`, "response.hits.hits"},
		{`{"hits":{"hits":{}}}`, "response.hits.hits"},
		{`{"hits":{"hits":[1]}}`, "response.hits.hits[0]"},
		{`{"hits":{"hits":[{"_source":"s"}]}}`, "response.hits.hits[0]._source"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.body), 0)
		e := rerank.AsError(err)
		if e == nil || e.Kind != rerank.KindInvalid || e.Field != tt.field {
			t.Errorf("Parse(%s) = %v, want an invalid %s", tt.body, err, tt.field)
		}
	}
	if _, err := Parse([]byte(`{"hits":{"hits":[]}}`), -1); err == nil || !strings.Contains(err.Error(), "window") {
		t.Errorf("negative window: %v", err)
	}
}
