package bench

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

func TestSyntheticShape(t *testing.T) {
	s := NewSynthetic(SyntheticConfig{Seed: 7})
	qw := s.QueryWords()
	if len(qw) != 1000 {
		t.Fatalf("%d queries", len(qw))
	}
	seen := map[int]bool{}
	for _, n := range qw {
		if n < 3 || n > 10 {
			t.Fatalf("query of %d words", n)
		}
		seen[n] = true
	}
	if len(seen) != 8 {
		t.Errorf("query lengths used: %v, want all of 3..10", seen)
	}
	pw := s.PassageWords()
	sort.Ints(pw)
	if med := pw[len(pw)/2]; med < 50 || med > 60 {
		t.Errorf("median passage words = %d, want about 55", med)
	}
	// Log-normal: right-skewed, so the mean is above the median.
	sum := 0
	for _, n := range pw {
		sum += n
	}
	if mean := float64(sum) / float64(len(pw)); mean <= float64(pw[len(pw)/2]) {
		t.Errorf("mean %.1f not above median %d: not right-skewed", mean, pw[len(pw)/2])
	}
	vocab := map[string]bool{}
	for _, w := range commonWords() {
		vocab[w] = true
	}
	q, docs := s.Request(3, 5)
	if len(docs) != 5 {
		t.Fatalf("%d docs", len(docs))
	}
	for _, w := range strings.Fields(q) {
		if !vocab[w] {
			t.Errorf("query word %q not an English word of the list", w)
		}
	}
	var text string
	if err := json.Unmarshal(docs[0], &text); err != nil {
		t.Fatal(err)
	}
	for _, w := range strings.Fields(strings.TrimSuffix(strings.ToLower(text), ".")) {
		if !vocab[w] {
			t.Errorf("passage word %q not in the list", w)
		}
	}
	// Fixed seed: same text; another seed: different text.
	q2, docs2 := NewSynthetic(SyntheticConfig{Seed: 7}).Request(3, 5)
	if q2 != q || string(docs2[4]) != string(docs[4]) {
		t.Error("same seed gave different text")
	}
	if q3, _ := NewSynthetic(SyntheticConfig{Seed: 8}).Request(3, 5); q3 == q {
		t.Error("different seeds gave the same query")
	}
}

func TestReadCorpus(t *testing.T) {
	good := `{"query":"a b","documents":["x","y"]}
{"query":"c","passages":[{"text":"z"}]}
`
	c, err := ReadCorpus(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		i, batch int
		query    string
		docs     []string
	}{
		{0, 2, "a b", []string{`"x"`, `"y"`}},
		{0, 1, "a b", []string{`"x"`}},
		{1, 3, "c", []string{`{"text":"z"}`, `"x"`, `"y"`}}, // filled from the following lines, wrapping
		{2, 2, "a b", []string{`"x"`, `"y"`}},
	}
	for _, tc := range tests {
		q, docs := c.Request(tc.i, tc.batch)
		var got []string
		for _, d := range docs {
			got = append(got, string(d))
		}
		if q != tc.query || strings.Join(got, "|") != strings.Join(tc.docs, "|") {
			t.Errorf("Request(%d,%d) = %q %v, want %q %v", tc.i, tc.batch, q, got, tc.query, tc.docs)
		}
	}
	bad := []struct{ name, in, want string }{
		{"not json", "{", "line 1"},
		{"no query", `{"documents":["x"]}`, "no \"query\""},
		{"no documents", `{"query":"q"}`, "no \"documents\""},
		{"empty", "\n\n", "no queries"},
	}
	for _, tc := range bad {
		if _, err := ReadCorpus(strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestParseSweep(t *testing.T) {
	base := Config{Batch: 8, Concurrency: 1, Requests: 10}
	tests := []struct {
		spec    string
		want    []string
		wantErr string
	}{
		{"batch=16,32;concurrency=1,2", []string{"batch=16, concurrency=1", "batch=16, concurrency=2", "batch=32, concurrency=1", "batch=32, concurrency=2"}, ""},
		{"conc=4", []string{"batch=8, concurrency=4"}, ""},
		{"rate=5,10", []string{"batch=8, rate=5/s", "batch=8, rate=10/s"}, ""},
		{"batch=0", nil, "bad batch"},
		{"batch=1.5", nil, "bad batch"},
		{"size=3", nil, "unknown key"},
		{"batch", nil, "want key="},
		{"batch=1;batch=2", nil, "twice"},
		{"rate=1;concurrency=2", nil, "exclude"},
		{"", nil, "empty sweep"},
	}
	for _, tc := range tests {
		cfgs, err := ParseSweep(tc.spec, base)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err = %v, want %q", tc.spec, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		var got []string
		for _, c := range cfgs {
			got = append(got, c.Label())
			if c.Requests != 10 {
				t.Errorf("%q: base not kept: %+v", tc.spec, c)
			}
		}
		if strings.Join(got, ";") != strings.Join(tc.want, ";") {
			t.Errorf("%q = %v, want %v", tc.spec, got, tc.want)
		}
	}
}

func TestWriteRequestsRoundTrip(t *testing.T) {
	syn := NewSynthetic(SyntheticConfig{Seed: 3})
	var b strings.Builder
	if err := WriteRequests(&b, syn, 4, 6); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCorpus(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		q1, d1 := syn.Request(i, 6)
		q2, d2 := back.Request(i, 6)
		if q1 != q2 || len(d2) != 6 || string(d1[5]) != string(d2[5]) {
			t.Errorf("request %d differs after the round trip", i)
		}
	}
	if err := WriteRequests(&b, syn, 0, 6); err == nil {
		t.Error("n=0: want error")
	}
}
