package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

type golden struct {
	Measures []string `json:"measures"`
	Queries  map[string]struct {
		Qrels   Qrels              `json:"qrels"`
		Ranking []string           `json:"ranking"`
		Values  map[string]float64 `json:"values"`
	} `json:"queries"`
	Mean map[string]float64 `json:"mean"`
}

func parseMeasure(t *testing.T, s string) Measure {
	t.Helper()
	name, k, ok := strings.Cut(s, "@")
	if !ok {
		t.Fatalf("measure %q has no cutoff", s)
	}
	n, err := strconv.Atoi(k)
	if err != nil {
		t.Fatalf("measure %q: %v", s, err)
	}
	return Measure{Name: name, K: n}
}

// TestGoldenIRMeasures checks every measure, per query and mean, against
// PyPI ir-measures 0.3.7 on randomised runs and qrels (make eval-golden).
func TestGoldenIRMeasures(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Queries) < 50 || len(g.Measures) == 0 {
		t.Fatalf("golden too small: %d queries, %d measures", len(g.Queries), len(g.Measures))
	}
	var ms []Measure
	for _, s := range g.Measures {
		ms = append(ms, parseMeasure(t, s))
	}
	run := map[string][]string{}
	qrels := map[string]Qrels{}
	for q, c := range g.Queries {
		run[q] = c.Ranking
		qrels[q] = c.Qrels
		for _, m := range ms {
			want, ok := c.Values[m.String()]
			if !ok {
				t.Fatalf("%s: golden has no %s", q, m)
			}
			if got := m.Of(c.Ranking, c.Qrels); math.Abs(got-want) > 1e-9 {
				t.Errorf("%s %s = %.12f, ir-measures %.12f", q, m, got, want)
			}
		}
	}
	s := Evaluate(run, qrels, ms)
	for _, m := range ms {
		if got, want := s.Mean[m.String()], g.Mean[m.String()]; math.Abs(got-want) > 1e-9 {
			t.Errorf("mean %s = %.12f, ir-measures %.12f", m, got, want)
		}
	}
}

func TestMeasuresByHand(t *testing.T) {
	q := Qrels{"a": 3, "b": 0, "c": 1, "z": 2}
	tests := []struct {
		m       Measure
		ranking []string
		want    float64
	}{
		{Measure{"RR", 10}, []string{"b", "x", "c"}, 1.0 / 3},
		{Measure{"RR", 2}, []string{"b", "x", "c"}, 0},
		{Measure{"R", 2}, []string{"a", "z", "c"}, 2.0 / 3},
		{Measure{"R", 10}, nil, 0},
		{Measure{"nDCG", 10}, []string{"a", "z", "c"}, 1},
		{Measure{"nDCG", 1}, []string{"z", "a"}, 2.0 / 3},
		{Measure{"nDCG", 10}, []string{"b"}, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.m, tt.ranking), func(t *testing.T) {
			if got := tt.m.Of(tt.ranking, q); math.Abs(got-tt.want) > 1e-12 {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	if v := (Measure{Name: "MAP"}).Of(nil, q); !math.IsNaN(v) {
		t.Fatalf("unknown measure = %v, want NaN", v)
	}
}

func TestSpearman(t *testing.T) {
	tests := []struct {
		a, b []float64
		want float64
	}{
		{[]float64{1, 2, 3}, []float64{10, 20, 30}, 1},
		{[]float64{1, 2, 3}, []float64{3, 2, 1}, -1},
		{[]float64{1, 2, 2, 3}, []float64{1, 2, 3, 4}, 0.9486832980505138},
	}
	for _, tt := range tests {
		if got := Spearman(tt.a, tt.b); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("Spearman(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	if !math.IsNaN(Spearman([]float64{1}, []float64{1})) || !math.IsNaN(Spearman([]float64{1, 1}, []float64{1, 2})) {
		t.Error("degenerate input should be NaN")
	}
	if !SameTop([]string{"a", "b"}, []string{"a"}) || SameTop(nil, []string{"a"}) {
		t.Error("SameTop")
	}
}

func ExampleNDCG() {
	qrels := Qrels{"d1": 2, "d2": 0, "d3": 1}
	fmt.Printf("%.4f\n", NDCG([]string{"d3", "d1", "d2"}, qrels, 10))
	// Output: 0.8597
}

func TestTopKOverlap(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		k    int
		want float64
	}{
		{"same", []string{"a", "b", "c"}, []string{"a", "b", "c"}, 10, 1},
		{"same set, other order", []string{"a", "b", "c"}, []string{"c", "a", "b"}, 3, 1},
		{"one of two", []string{"a", "b", "c"}, []string{"a", "c", "b"}, 2, 0.5},
		{"disjoint top", []string{"a", "b", "c", "d"}, []string{"c", "d", "a", "b"}, 2, 0},
		{"shorter list bounds k", []string{"a", "b"}, []string{"b", "a", "c"}, 10, 1},
		{"empty", nil, nil, 10, 1},
		{"k zero", []string{"a"}, []string{"b"}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TopKOverlap(tt.a, tt.b, tt.k); got != tt.want {
				t.Errorf("TopKOverlap(%v, %v, %d) = %v, want %v", tt.a, tt.b, tt.k, got, tt.want)
			}
		})
	}
}
