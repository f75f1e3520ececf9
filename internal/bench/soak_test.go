package bench

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/metrics/stats"
)

func TestSoakReport(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	// 100 s run, one request a second; latency 10 ms in the first 10 s,
	// 12 ms in the last 10 s, 11 ms between; one failed request.
	var samples []Sample
	for s := 0; s < 100; s++ {
		lat := 11.0
		switch {
		case s < 10:
			lat = 10
		case s >= 90:
			lat = 12
		}
		samples = append(samples, Sample{StartMs: float64(s) * 1000, LatencyMs: lat, Pairs: 4, Status: 200})
	}
	samples = append(samples, Sample{StartMs: 50_500, Status: 500, Err: "HTTP 500"})
	cr := NewConfigReport(1, &RunResult{Config: Config{Batch: 4, Concurrency: 1, Duration: 100 * time.Second},
		Start: start, End: start.Add(100 * time.Second), Samples: samples})
	// Memory grows 0.5 MB a second: 100 + 0.5 s.
	var pts []stats.Point
	for s := 0; s <= 100; s++ {
		v := 100 + 0.5*float64(s)
		pts = append(pts, stats.Point{T: start.Unix() + int64(s), RSSMB: &v})
	}
	sr := NewSoakReport(cr, pts)
	if sr.Errors != 1 || sr.Requests != 101 || sr.WindowS != 10 {
		t.Errorf("errors %d requests %d window %v", sr.Errors, sr.Requests, sr.WindowS)
	}
	if sr.LatencyP50StartMs != 10 || sr.LatencyP50EndMs != 12 || math.Abs(sr.LatencyDriftPct-20) > 1e-9 {
		t.Errorf("latency %v → %v (%v%%), want 10 → 12 (+20%%)", sr.LatencyP50StartMs, sr.LatencyP50EndMs, sr.LatencyDriftPct)
	}
	// Memory windows: seconds 0..9 (mean 102.25) and 90..100 (mean 147.5).
	if sr.MemoryGrowthMB == nil || math.Abs(*sr.MemoryStartMB-102.25) > 1e-9 || math.Abs(*sr.MemoryEndMB-147.5) > 1e-9 {
		t.Fatalf("memory = %v %v", deref(sr.MemoryStartMB), deref(sr.MemoryEndMB))
	}
	if math.Abs(*sr.MemorySlopeMBPerMin-30) > 1e-9 { // 0.5 MB/s
		t.Errorf("memory slope = %v MB/min, want 30", *sr.MemorySlopeMBPerMin)
	}
	var b strings.Builder
	sr.markdown(&b)
	for _, want := range []string{"## Soak", "| Errors | 1 |", "| Latency drift | +20.0% |", "| Memory growth | +45.2 MB |", "Verdict: 1 errors."} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("soak section lacks %q:\n%s", want, b.String())
		}
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
