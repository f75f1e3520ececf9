package bench_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/bench"
)

// pt is an open-loop point offered at rate with latencies p50/p95/p99 that
// achieved the fraction got of its offered rate.
func pt(rate, got, p50, p95, p99 float64, errs int) bench.CurvePoint {
	return bench.CurvePoint{OfferedRPS: rate, AchievedRPS: rate * got, P50: p50, P95: p95, P99: p99, Errors: errs}
}

func TestKnee(t *testing.T) {
	tests := []struct {
		name   string
		points []bench.CurvePoint
		want   int
	}{
		{"tracks then p99 doubles", []bench.CurvePoint{pt(1, 1, 100, 150, 200, 0), pt(2, 1, 110, 170, 250, 0), pt(3, 0.99, 150, 300, 399, 0), pt(4, 0.97, 300, 700, 900, 0)}, 2},
		{"throughput stops tracking", []bench.CurvePoint{pt(1, 1, 100, 150, 200, 0), pt(2, 0.9, 110, 170, 210, 0), pt(3, 1, 110, 170, 210, 0)}, 0},
		{"errors end the knee", []bench.CurvePoint{pt(1, 1, 100, 150, 200, 0), pt(2, 1, 100, 150, 200, 1), pt(3, 1, 100, 150, 200, 0)}, 0},
		{"every point inside", []bench.CurvePoint{pt(1, 1, 100, 150, 200, 0), pt(2, 1, 100, 150, 400, 0)}, 1},
		{"lightest load fails", []bench.CurvePoint{pt(1, 0.5, 100, 150, 200, 0)}, -1},
		{"no points", nil, -1},
	}
	for _, tt := range tests {
		got, rule := bench.Knee(tt.points)
		if got != tt.want {
			t.Errorf("%s: knee %d, want %d", tt.name, got, tt.want)
		}
		if !strings.Contains(rule, "p99") {
			t.Errorf("%s: rule %q", tt.name, rule)
		}
	}
}

func TestPlan(t *testing.T) {
	curve := &bench.Curve{Batch: 32, Points: []bench.CurvePoint{
		pt(1, 1, 100, 200, 300, 0), pt(2, 1, 150, 400, 600, 0), pt(3, 0.99, 300, 900, 1500, 0), pt(4, 0.8, 900, 3000, 5000, 0),
	}}
	tests := []struct {
		name         string
		plan         bench.CapacityPlan
		perReplica   float64
		replicas     int
		lineMentions string
	}{
		{"p95 500ms: 2 req/s per replica", bench.CapacityPlan{TargetQPS: 10, P95Target: 500 * time.Millisecond}, 2, 5, "needs 5 replica(s)"},
		{"p95 1s: 3 req/s", bench.CapacityPlan{TargetQPS: 10, P95Target: time.Second}, 3, 4, "needs 4 replica(s)"},
		{"not tracking is never a per-replica rate", bench.CapacityPlan{TargetQPS: 10, P95Target: time.Minute}, 3, 4, "top-32"},
		{"top-k scales the pairs", bench.CapacityPlan{TargetQPS: 10, TopK: 64, P95Target: time.Second}, 3, 7, "top-64"},
		{"target below every p95", bench.CapacityPlan{TargetQPS: 10, P95Target: 100 * time.Millisecond}, 0, 0, "no measured rate"},
	}
	for _, tt := range tests {
		r := bench.Plan(curve, tt.plan)
		if r.PerReplicaRPS != tt.perReplica || r.Replicas != tt.replicas || !strings.Contains(r.Line, tt.lineMentions) {
			t.Errorf("%s: per replica %g, replicas %d, line %q; want %g, %d, mentioning %q", tt.name, r.PerReplicaRPS, r.Replicas, r.Line, tt.perReplica, tt.replicas, tt.lineMentions)
		}
	}
}

func TestParseFractions(t *testing.T) {
	tests := []struct {
		in, want string // want "" = error
	}{
		{"auto", "[0.2 0.4 0.6 0.8 0.9 1 1.2]"},
		{"0.5, 1, 1.5", "[0.5 1 1.5]"},
		{"0.5,0.5", ""},
		{"1,0.5", ""},
		{"0", ""},
		{"-1", ""},
		{"x", ""},
		{"NaN", ""},
		{"Inf", ""},
	}
	for _, tt := range tests {
		got, err := bench.ParseFractions(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q: %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != tt.want {
			t.Errorf("%q: %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

// TestCurveASCII: the plot has one row per rate, bars ordered p50 ≤ p95 ≤
// p99 on a common scale, and the knee marked.
func TestCurveASCII(t *testing.T) {
	c := &bench.Curve{Knee: 1, Points: []bench.CurvePoint{pt(1, 1, 100, 150, 200, 0), pt(2, 1, 200, 300, 400, 0), pt(3, 0.9, 400, 600, 800, 0)}}
	lines := strings.Split(strings.TrimSpace(c.ASCII(40)), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for i, l := range lines[1:] {
		bar := l[strings.Index(l, "|")+1 : strings.LastIndex(l, "|")]
		n := len(strings.TrimRight(bar, " "))
		if want := 10 * (1 << i); n != want { // p99 200, 400, 800 of 800 over 40 cells
			t.Errorf("row %d: bar %q is %d cells, want %d", i, bar, n, want)
		}
		if strings.Contains(l, "knee") != (i == 1) {
			t.Errorf("row %d: knee mark wrong: %q", i, l)
		}
	}
}

// ExamplePlan plans replicas from a measured curve: the highest offered
// rate whose p95 meets the target (while throughput tracks the load) is
// what one replica serves.
func ExamplePlan() {
	curve := &bench.Curve{Batch: 32, Points: []bench.CurvePoint{
		{OfferedRPS: 1, AchievedRPS: 1, P50: 300, P95: 400, P99: 450},
		{OfferedRPS: 2, AchievedRPS: 2, P50: 350, P95: 700, P99: 900},
		{OfferedRPS: 3, AchievedRPS: 2.5, P50: 2000, P95: 5000, P99: 6000},
	}}
	r := bench.Plan(curve, bench.CapacityPlan{TargetQPS: 25, P95Target: time.Second})
	fmt.Println(r.PerReplicaRPS, r.Replicas)
	// Output: 2 13
}
