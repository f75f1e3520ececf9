package bench

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// All expected values below are computed by hand (see the comments).
func TestPercentile(t *testing.T) {
	oneToTen := []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1} // unsorted on purpose
	tests := []struct {
		name string
		xs   []float64
		q    float64
		want float64
	}{
		{"median even", oneToTen, 50, 5.5}, // pos 4.5 → 5 + .5
		{"p90", oneToTen, 90, 9.1},         // pos 8.1 → 9 + .1
		{"p95", oneToTen, 95, 9.55},        // pos 8.55
		{"p99", oneToTen, 99, 9.91},        // pos 8.91
		{"p75", oneToTen, 75, 7.75},        // pos 6.75
		{"p0", oneToTen, 0, 1},             // min
		{"p100", oneToTen, 100, 10},        // max
		{"single", []float64{42}, 99, 42},  // one value
		{"median odd", []float64{3, 1, 2}, 50, 2},
		{"p25 of 4", []float64{10, 20, 30, 40}, 25, 17.5}, // pos .75 → 10 + .75*10
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.xs, tc.q); !near(got, tc.want) {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tc.xs, tc.q, got, tc.want)
			}
		})
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("empty sample: want NaN")
	}
	if oneToTen[0] != 10 {
		t.Error("Percentile modified its input")
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{2, 4, 4, 4, 5, 5, 7, 9})
	// mean 5; squared deviations 9,1,1,1,0,0,4,16 = 32; /8 = 4; sqrt = 2.
	want := Summary{N: 8, Avg: 5, Min: 2, Max: 9, StdDev: 2,
		P50: 4.5,  // pos 3.5 between 4 and 5
		P75: 5.5,  // pos 5.25 between 5 and 7 → 5.5
		P90: 7.6,  // pos 6.3 between 7 and 9 → 7.6
		P95: 8.3,  // pos 6.65 → 7 + .65*2
		P99: 8.86} // pos 6.93 → 7 + .93*2
	got := s
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"avg", got.Avg, want.Avg}, {"min", got.Min, want.Min}, {"max", got.Max, want.Max},
		{"std", got.StdDev, want.StdDev}, {"p50", got.P50, want.P50}, {"p75", got.P75, want.P75},
		{"p90", got.P90, want.P90}, {"p95", got.P95, want.P95}, {"p99", got.P99, want.P99},
	} {
		if !near(f.got, f.want) {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if got.N != 8 {
		t.Errorf("N = %d", got.N)
	}
	if e := Summarize(nil); !math.IsNaN(e.Avg) || e.N != 0 {
		t.Errorf("empty summary = %+v", e)
	}
}

func TestCorrelation(t *testing.T) {
	tests := []struct {
		name    string
		x, y    []float64
		want    float64
		wantErr bool
	}{
		// mx=3 my=4; sxy=6 sxx=10 syy=6 → 6/sqrt(60)
		{"positive", []float64{1, 2, 3, 4, 5}, []float64{2, 4, 5, 4, 5}, 6 / math.Sqrt(60), false},
		{"perfect negative", []float64{1, 2, 3}, []float64{8, 6, 4}, -1, false},
		{"constant", []float64{1, 2, 3}, []float64{5, 5, 5}, 0, true},
		{"length mismatch", []float64{1, 2}, []float64{1}, 0, true},
		{"too short", []float64{1}, []float64{1}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Correlation(tc.x, tc.y)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && !near(got, tc.want) {
				t.Errorf("r = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLatencyBands(t *testing.T) {
	// Latencies 1..10 ms, 100 pairs each → throughput 100/lat·1000 pairs/s.
	// P50 = 5.5, P75 = 7.75, P90 = 9.1.
	var lat, tp []float64
	for i := 1; i <= 10; i++ {
		lat = append(lat, float64(i))
		tp = append(tp, 100/(float64(i)/1000))
	}
	bands, err := LatencyBands(lat, tp)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		label         string
		count         int
		avg, min, max float64
	}{
		{"< 5.5ms (P50)", 5, (100000 + 50000 + 100000.0/3 + 25000 + 20000) / 5, 20000, 100000},
		{"5.5-7.8ms (P50-P75)", 2, (100000.0/6 + 100000.0/7) / 2, 100000.0 / 7, 100000.0 / 6},
		{"7.8-9.1ms (P75-P90)", 2, (12500 + 100000.0/9) / 2, 100000.0 / 9, 12500},
		{">= 9.1ms (P90+)", 1, 10000, 10000, 10000},
	}
	if len(bands) != len(want) {
		t.Fatalf("%d bands", len(bands))
	}
	for i, w := range want {
		b := bands[i]
		if b.Label != w.label || b.Count != w.count || !near(b.AvgTP, w.avg) || !near(b.MinTP, w.min) || !near(b.MaxTP, w.max) {
			t.Errorf("band %d = %+v, want %+v", i, b, w)
		}
	}
	if _, err := LatencyBands([]float64{1}, nil); err == nil {
		t.Error("mismatched lengths: want error")
	}
	if _, err := LatencyBands(nil, nil); err == nil {
		t.Error("empty: want error")
	}
}

func TestLinearFit(t *testing.T) {
	// y = 3x - 2 exactly.
	m, c, err := LinearFit([]float64{0, 1, 2, 3}, []float64{-2, 1, 4, 7})
	if err != nil || !near(m, 3) || !near(c, -2) {
		t.Errorf("fit = %v %v %v", m, c, err)
	}
	if _, _, err := LinearFit([]float64{1, 1}, []float64{1, 2}); err == nil {
		t.Error("constant x: want error")
	}
}

func ExamplePercentile() {
	fmt.Printf("%.2f\n", Percentile([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 95))
	// Output: 9.55
}

func ExampleParseSweep() {
	cfgs, err := ParseSweep("batch=16,32;concurrency=1,2", Config{Duration: 10 * time.Second})
	if err != nil {
		panic(err)
	}
	for _, c := range cfgs {
		fmt.Println(c.Label())
	}
	// Output:
	// batch=16, concurrency=1
	// batch=16, concurrency=2
	// batch=32, concurrency=1
	// batch=32, concurrency=2
}
