package eval

import (
	"strings"
	"testing"
)

func TestReadJSONL(t *testing.T) {
	qs, err := ReadJSONL(strings.NewReader(`{"id":"a","query":"q","documents":["x",{"text":"y"}],"labels":[2,0]}` + "\n\n" + `{"query":"r","documents":["z"],"labels":[1]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 2 || qs[0].ID != "a" || qs[1].ID != "q3" || qs[0].Qrels["0"] != 2 || qs[0].Qrels["1"] != 0 || len(qs[0].DocIDs) != 2 {
		t.Fatalf("%+v", qs)
	}
	tests := []struct{ in, want string }{
		{`{"query":"q","documents":["x","y"],"labels":[1]}`, "line 1: 1 labels for 2 documents"},
		{"\n" + `{"query":"q","documents":["x"],"labels":[1.5]}`, "line 2: labels[0] = 1.5 is not an integer grade"},
		{`{"query":"q","documents":[3],"labels":[1]}`, "documents[0] is not a string or an object"},
		{`{"query":"","documents":["x"],"labels":[1]}`, `empty "query"`},
		{`{"query":"q","documents":[],"labels":[]}`, `no "documents"`},
		{`{"query":"q","docs":["x"],"labels":[1]}`, "line 1: not a"},
		{`[1]`, "line 1: not a"},
		{`{"id":"a","query":"q","documents":["x"],"labels":[1]}` + "\n" + `{"id":"a","query":"q","documents":["x"],"labels":[1]}`, `line 2: id "a" already on line 1`},
		{"", "no queries"},
	}
	for _, tt := range tests {
		if _, err := ReadJSONL(strings.NewReader(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadJSONL(%q) err = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestReadTREC(t *testing.T) {
	topics := "1\tfirst query\n2\tsecond query\n3\tno qrels\n"
	qrels := "1 0 d1 2\n1 0 d2 0\n2 0 d3 1\n"
	run := "1 Q0 d2 1 9.5 bm25\n1 Q0 d1 2 3.0 bm25\n1 Q0 d3 3 3.0 bm25\n2 Q0 d3 1 1 bm25\n3 Q0 d1 1 1 bm25\n"
	corpus := `{"_id":"d1","title":"T","text":"one"}` + "\nd2\ttwo\n" + `{"id":"d3","text":"three"}` + "\n"
	qs, err := ReadTREC(strings.NewReader(topics), strings.NewReader(qrels), strings.NewReader(run), strings.NewReader(corpus), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 2 || qs[0].ID != "1" || strings.Join(qs[0].DocIDs, ",") != "d2,d1" || string(qs[0].Documents[1]) != `"T. one"` || qs[0].Text != "first query" {
		t.Fatalf("%+v", qs)
	}
	bad := []struct{ topics, qrels, run, corpus, want string }{
		{topics, "1 0 d1\n", run, corpus, "qrels line 1: want 4 fields"},
		{topics, "1 0 d1 x\n", run, corpus, "qrels line 1: label"},
		{topics, qrels, "1 Q0 d1 1 x t\n", corpus, "run line 1: score"},
		{topics, qrels, "1 Q0 d9 1 1 t\n", corpus, `run document "d9" is not in the corpus`},
		{"1 no tab\n", qrels, run, corpus, "topics line 1"},
		{"2\tx\n", qrels, run, corpus, `query "1" has qrels and a run but no topic`},
		{topics, qrels, run, `{"_id":"d1"}`, "corpus line 1"},
		{topics, "9 0 d1 1\n", run, corpus, "no query has both"},
	}
	for _, b := range bad {
		_, err := ReadTREC(strings.NewReader(b.topics), strings.NewReader(b.qrels), strings.NewReader(b.run), strings.NewReader(b.corpus), 0)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("err = %v, want %q", err, b.want)
		}
	}
}
