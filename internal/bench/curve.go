package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/crossrank/crossrank/internal/metrics/stats"
)

// DefaultFractions are the offered rates of a rate sweep, as fractions of
// the measured capacity: light load, up to it and past it.
var DefaultFractions = []float64{0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.2}

// The knee rule (see Knee): a rate is inside the knee while the achieved
// request rate stays within KneeTracking of the offered one and p99 within
// KneeP99Factor of the lightest load's p99.
const (
	KneeTracking  = 0.95
	KneeP99Factor = 2.0
)

// RateSweep describes a latency–throughput sweep: a closed-loop run at
// CapacityConcurrency requests in flight measures the capacity (successful
// requests/s), then one open-loop run per fraction offers that fraction of
// it. Base gives batch, duration, warm-up and timeout of every run.
type RateSweep struct {
	Base                Config
	Fractions           []float64 // of the capacity; DefaultFractions when empty
	CapacityConcurrency int       // closed loop of the capacity run (default 4)
	// Capacity, when > 0, is the capacity in requests/s to use instead of
	// measuring it (no closed-loop run).
	Capacity float64
	// Plan, when TargetQPS > 0, adds the capacity line to the curve.
	Plan CapacityPlan
}

// CapacityPlan asks how many replicas serve TargetQPS requests of TopK
// pairs each at a p95 of at most P95Target.
type CapacityPlan struct {
	TargetQPS float64       `json:"target_qps"`
	TopK      int           `json:"top_k"` // pairs per request (default: the sweep's batch)
	P95Target time.Duration `json:"p95_target_ns"`
}

// ParseFractions reads "0.2,0.4,1.2" (or "auto": DefaultFractions).
func ParseFractions(s string) ([]float64, error) {
	if strings.TrimSpace(s) == "auto" || strings.TrimSpace(s) == "" {
		return append([]float64(nil), DefaultFractions...), nil
	}
	var out []float64
	for _, p := range strings.Split(s, ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(f > 0) || math.IsInf(f, 0) || f > 100 {
			return nil, fmt.Errorf("bench: rate sweep %q: bad fraction %q (want positive numbers such as 0.2,0.8,1.2)", s, p)
		}
		out = append(out, f)
	}
	for i := 1; i < len(out); i++ {
		if out[i] <= out[i-1] {
			return nil, fmt.Errorf("bench: rate sweep %q: fractions must increase", s)
		}
	}
	return out, nil
}

// Curve is a rate sweep's result: report.json's "curve" and report.md's
// "Latency–Throughput Curve".
type Curve struct {
	CapacityRPS         float64      `json:"capacity_rps"`         // successful requests/s, closed loop
	CapacityPairsPerSec float64      `json:"capacity_pairs_per_s"` // the same in pairs/s
	CapacityConcurrency int          `json:"capacity_concurrency"` // 0 when the capacity was given
	Batch               int          `json:"batch"`
	Points              []CurvePoint `json:"points"`
	Knee                int          `json:"knee"` // index into Points; -1 when even the lightest load fails the rule
	KneeRule            string       `json:"knee_rule"`
	Plan                *PlanResult  `json:"capacity_plan,omitempty"`
}

// CurvePoint is one offered rate.
type CurvePoint struct {
	Fraction       float64 `json:"fraction"`     // of the capacity
	OfferedRPS     float64 `json:"offered_rps"`  // requests/s offered
	AchievedRPS    float64 `json:"achieved_rps"` // successful requests/s
	AchievedPairs  float64 `json:"achieved_pairs_per_s"`
	P50            float64 `json:"p50_ms"`
	P95            float64 `json:"p95_ms"`
	P99            float64 `json:"p99_ms"`
	P99OverP50     float64 `json:"p99_over_p50"`
	Requests       int     `json:"requests"`
	Errors         int     `json:"errors"`          // failed requests (any cause)
	DeadlineErrors int     `json:"deadline_errors"` // of which HTTP 504 (deadline passed)
	// Dropped is the requests the sidecar dropped before inference because
	// their deadline passed while queued (its /v1/stats dropped_requests
	// over the run; -1 when the target does not report it).
	Dropped int `json:"dropped_past_deadline"`
	Config  int `json:"config"` // index of the run in Report.Configs (1-based)
}

// PlanResult is the capacity line.
type PlanResult struct {
	CapacityPlan
	// PerReplicaRPS is the highest measured offered rate whose p95 met the
	// target while throughput tracked the offered load (0: none did).
	PerReplicaRPS float64 `json:"per_replica_rps"`
	// PerReplicaPairs is that rate in pairs/s at the sweep's batch.
	PerReplicaPairs float64 `json:"per_replica_pairs_per_s"`
	Replicas        int     `json:"replicas"` // 0 when no measured rate met the target
	Rule            string  `json:"rule"`
	Line            string  `json:"line"`
}

// Sweep runs s against o's target: the capacity run, then the open-loop
// rates; the report holds every run in Configs and the curve in Curve.
func Sweep(ctx context.Context, o Options, s RateSweep) (*Report, error) {
	fr := s.Fractions
	if len(fr) == 0 {
		fr = DefaultFractions
	}
	base := s.Base
	base.Rate = 0
	if s.CapacityConcurrency <= 0 {
		s.CapacityConcurrency = 4
	}
	capacity := s.Capacity
	var capRep *ConfigReport
	var capFull *Report
	if capacity <= 0 {
		c := base
		c.Concurrency = s.CapacityConcurrency
		co := o
		co.Configs = []Config{c}
		r, err := Bench(ctx, co)
		if err != nil {
			return nil, fmt.Errorf("bench: capacity run: %w", err)
		}
		capFull, capRep = r, &r.Configs[0]
		if capRep.ElapsedS > 0 {
			capacity = float64(capRep.Requests-capRep.Errors) / capRep.ElapsedS
		}
		if !(capacity > 0) {
			return nil, fmt.Errorf("bench: capacity run at concurrency %d: no successful request (%v)", c.Concurrency, capRep.FirstErrors)
		}
	}
	var configs []Config
	for _, f := range fr {
		c := base
		c.Rate = f * capacity
		configs = append(configs, c)
	}
	o.Configs = configs
	rep, err := Bench(ctx, o)
	if err != nil {
		return nil, err
	}
	if capRep != nil {
		rep.Configs = append([]ConfigReport{*capRep}, rep.Configs...)
		for i := range rep.Configs {
			rep.Configs[i].Index = i + 1
		}
		var perr error
		if rep.StatsError != "" {
			perr = errors.New(rep.StatsError)
		}
		rep.Finish(append(append([]stats.Point(nil), capFull.Stats...), rep.Stats...), rep.StatsGPU || capFull.StatsGPU, perr)
	}
	curve := &Curve{CapacityRPS: capacity, CapacityPairsPerSec: capacity * float64(base.Batch), Batch: base.Batch}
	if capRep != nil {
		curve.CapacityConcurrency = s.CapacityConcurrency
	}
	for i, c := range rep.Configs {
		if c.Config.Rate <= 0 {
			continue
		}
		curve.Points = append(curve.Points, pointOf(c, fr[len(curve.Points)], rep.droppedIn(c)))
		curve.Points[len(curve.Points)-1].Config = i + 1
	}
	curve.Knee, curve.KneeRule = Knee(curve.Points)
	if s.Plan.TargetQPS > 0 {
		curve.Plan = Plan(curve, s.Plan)
	}
	rep.Curve = curve
	return rep, nil
}

// droppedIn sums the target's dropped_requests over c's seconds (-1 when
// the target reported no stats).
func (r *Report) droppedIn(c ConfigReport) int {
	pts := inRange(r.Stats, c.Start, c.End)
	if len(pts) == 0 {
		return -1
	}
	n := 0
	for _, p := range pts {
		n += p.DroppedRequests
	}
	return n
}

// pointOf summarises one open-loop run.
func pointOf(c ConfigReport, fraction float64, dropped int) CurvePoint {
	p := CurvePoint{Fraction: fraction, OfferedRPS: c.Config.Rate, Requests: c.Requests, Errors: c.Errors, Dropped: dropped,
		P50: c.Latency.P50, P95: c.Latency.P95, P99: c.Latency.P99}
	if c.ElapsedS > 0 {
		p.AchievedRPS = float64(c.Requests-c.Errors) / c.ElapsedS
	}
	p.AchievedPairs = c.AggThroughput
	if p.P50 > 0 {
		p.P99OverP50 = p.P99 / p.P50
	}
	for _, s := range c.Samples {
		if s.Status == 504 {
			p.DeadlineErrors++
		}
	}
	return p
}

// Knee returns the index of the knee among points (ascending offered
// rates) and the rule: the last point, scanning up from the lightest load,
// at which the achieved rate is at least KneeTracking × the offered rate,
// no request failed, and p99 is at most KneeP99Factor × the lightest
// load's p99; the scan stops at the first point that fails. -1 when the
// lightest load already fails.
func Knee(points []CurvePoint) (int, string) {
	rule := fmt.Sprintf("knee = highest offered rate, scanning up from the lightest, at which achieved ≥ %.0f%% of offered, no request failed, and p99 ≤ %gx the lightest load's p99", KneeTracking*100, KneeP99Factor)
	knee := -1
	for i, p := range points {
		if p.AchievedRPS < KneeTracking*p.OfferedRPS || p.Errors > 0 || p.P99 <= 0 || p.P99 > KneeP99Factor*points[0].P99 {
			break
		}
		knee = i
	}
	return knee, rule
}

// Plan computes the capacity line from the curve: the per-replica rate is
// the highest offered rate whose p95 met the target while the achieved
// rate tracked it (≥ KneeTracking, no errors); in pairs/s it is that rate
// × the sweep's batch, and replicas = ceil(target QPS × top-k ÷ those
// pairs/s), i.e. the cost of a request is taken as proportional to its
// pairs (exact when top-k equals the sweep's batch; run the sweep with
// --batch set to the top-k for a measured p95).
func Plan(c *Curve, want CapacityPlan) *PlanResult {
	if want.TopK <= 0 {
		want.TopK = c.Batch
	}
	r := &PlanResult{CapacityPlan: want,
		Rule: fmt.Sprintf("per-replica rate = highest offered rate with p95 ≤ target, achieved ≥ %.0f%% of offered and no errors; replicas = ceil(target_qps × top_k ÷ (that rate × batch))", KneeTracking*100)}
	target := float64(want.P95Target) / float64(time.Millisecond)
	for _, p := range c.Points {
		ok := p.AchievedRPS >= KneeTracking*p.OfferedRPS && p.Errors == 0 && p.P95 > 0 && (target <= 0 || p.P95 <= target)
		if ok && p.OfferedRPS > r.PerReplicaRPS {
			r.PerReplicaRPS = p.OfferedRPS
		}
	}
	r.PerReplicaPairs = r.PerReplicaRPS * float64(c.Batch)
	if r.PerReplicaPairs <= 0 {
		r.Line = fmt.Sprintf("Capacity: no measured rate met p95 ≤ %s with throughput tracking the load; %g QPS × top-%d cannot be planned from this curve.",
			want.P95Target, want.TargetQPS, want.TopK)
		return r
	}
	r.Replicas = int(math.Ceil(want.TargetQPS * float64(want.TopK) / r.PerReplicaPairs))
	r.Line = fmt.Sprintf("Capacity: %g QPS × top-%d at p95 ≤ %s needs %d replica(s) of this machine (one serves %.2f requests/s of %d pairs = %.1f pairs/s within the target).",
		want.TargetQPS, want.TopK, want.P95Target, r.Replicas, r.PerReplicaRPS, c.Batch, r.PerReplicaPairs)
	return r
}

// markdown writes the curve section of report.md: the table (one row per
// offered rate, the knee marked), an ASCII plot of p50/p95/p99 against the
// offered rate, the knee rule and the capacity line.
func (c *Curve) markdown(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Latency–Throughput Curve (open loop)\n\n")
	if c.CapacityConcurrency > 0 {
		p("**Capacity:** %.2f requests/s (%.1f pairs/s) at batch %d, closed loop with %d requests in flight.\n\n",
			c.CapacityRPS, c.CapacityPairsPerSec, c.Batch, c.CapacityConcurrency)
	} else {
		p("**Capacity:** %.2f requests/s (given, not measured) at batch %d.\n\n", c.CapacityRPS, c.Batch)
	}
	p("| Offered | x Capacity | Achieved req/s | Achieved pairs/s | P50 | P95 | P99 | P99/P50 | Dropped past deadline | 504 | Errors | |\n")
	p("|---------|------------|----------------|------------------|-----|-----|-----|---------|-----------------------|-----|--------|-|\n")
	for i, pt := range c.Points {
		mark := ""
		if i == c.Knee {
			mark = "**knee**"
		}
		dropped := "-"
		if pt.Dropped >= 0 {
			dropped = fmt.Sprint(pt.Dropped)
		}
		p("| %.2f/s | %.2f | %.2f | %.1f | %.1fms | %.1fms | %.1fms | %.2f | %s | %d | %d | %s |\n",
			pt.OfferedRPS, pt.Fraction, pt.AchievedRPS, pt.AchievedPairs, pt.P50, pt.P95, pt.P99, pt.P99OverP50, dropped, pt.DeadlineErrors, pt.Errors, mark)
	}
	p("\n%s.\n\n", strings.ToUpper(c.KneeRule[:1])+c.KneeRule[1:])
	if c.Knee < 0 {
		p("No knee: the lightest load already fails the rule.\n\n")
	}
	p("```\n%s```\n\n", c.ASCII(60))
	if c.Plan != nil {
		p("**%s**\n\nRule: %s.\n\n", c.Plan.Line, c.Plan.Rule)
	}
}

// ASCII draws the curve: one row per offered rate, a bar to p99 on a
// common scale with '=' up to p50, '+' up to p95 and '-' up to p99, the
// knee marked.
func (c *Curve) ASCII(width int) string {
	var b strings.Builder
	top := 0.0
	for _, pt := range c.Points {
		top = max(top, pt.P99)
	}
	if top <= 0 || width < 10 {
		return "(no latencies)\n"
	}
	cells := func(ms float64) int { return int(math.Round(ms / top * float64(width))) }
	fmt.Fprintf(&b, "offered req/s  latency (= p50, + p95, - p99; full width %.0f ms)\n", top)
	for i, pt := range c.Points {
		n50, n95, n99 := cells(pt.P50), cells(pt.P95), cells(pt.P99)
		bar := strings.Repeat("=", n50) + strings.Repeat("+", max(0, n95-n50)) + strings.Repeat("-", max(0, n99-max(n95, n50)))
		mark := ""
		if i == c.Knee {
			mark = "  <- knee"
		}
		fmt.Fprintf(&b, "%7.2f (%4.2fx) |%-*s| %6.0f ms%s\n", pt.OfferedRPS, pt.Fraction, width, bar, pt.P99, mark)
	}
	return b.String()
}
