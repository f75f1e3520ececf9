package bench

import (
	"fmt"
	"math"
	"sort"

	"github.com/crossrank/crossrank/internal/metrics/stats"
)

// Summary describes a sample the way the reference report does.
type Summary struct {
	N      int     `json:"n"`
	Avg    float64 `json:"avg"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	StdDev float64 `json:"std_dev"` // population (NumPy's default, ddof=0)
	P50    float64 `json:"p50"`
	P75    float64 `json:"p75"`
	P90    float64 `json:"p90"`
	P95    float64 `json:"p95"`
	P99    float64 `json:"p99"`
}

// Percentile returns the q-th percentile (0..100) of xs by linear
// interpolation between closest ranks (NumPy's default method). xs need not
// be sorted and is not modified. It returns NaN for an empty sample.
func Percentile(xs []float64, q float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return stats.PercentileSorted(s, q)
}

// Summarize computes a Summary; every field is NaN for an empty sample.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		n := math.NaN()
		return Summary{Avg: n, Min: n, Max: n, StdDev: n, P50: n, P75: n, P90: n, P95: n, P99: n}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	mean := sum / float64(len(s))
	var ss float64
	for _, x := range s {
		ss += (x - mean) * (x - mean)
	}
	return Summary{
		N: len(s), Avg: mean, Min: s[0], Max: s[len(s)-1],
		StdDev: math.Sqrt(ss / float64(len(s))),
		P50:    stats.PercentileSorted(s, 50), P75: stats.PercentileSorted(s, 75), P90: stats.PercentileSorted(s, 90),
		P95: stats.PercentileSorted(s, 95), P99: stats.PercentileSorted(s, 99),
	}
}

// Correlation is Pearson's r of two equally long samples. It returns an
// error when the lengths differ or either sample has no variance.
func Correlation(xs, ys []float64) (float64, error) {
	if len(xs) != len(ys) {
		return 0, fmt.Errorf("bench: correlation of %d and %d values", len(xs), len(ys))
	}
	if len(xs) < 2 {
		return 0, fmt.Errorf("bench: correlation needs at least 2 pairs, got %d", len(xs))
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(ys))
	var sxy, sxx, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0, fmt.Errorf("bench: correlation undefined: a sample is constant")
	}
	return sxy / math.Sqrt(sxx*syy), nil
}

// Band is one latency band of the latency-vs-throughput analysis.
type Band struct {
	Label       string  `json:"label"` // e.g. "< 111.6ms (P50)"
	LoMs        float64 `json:"lo_ms"` // inclusive (−Inf for the first band)
	HiMs        float64 `json:"hi_ms"` // exclusive (+Inf for the last band)
	AvgTP       float64 `json:"avg_throughput"`
	MinTP       float64 `json:"min_throughput"`
	MaxTP       float64 `json:"max_throughput"`
	Count       int     `json:"count"`
	Percentiles string  `json:"percentiles"` // "P50", "P50-P75", "P75-P90", "P90+"
}

// LatencyBands splits requests by latency at its P50, P75 and P90 into four
// bands (< P50, P50–P75, P75–P90, ≥ P90) and summarises the throughput of
// each, as the reference report's "Latency vs Throughput Analysis" does.
// latMs and tp are per-request latency (ms) and throughput (pairs/s).
func LatencyBands(latMs, tp []float64) ([]Band, error) {
	if len(latMs) != len(tp) {
		return nil, fmt.Errorf("bench: latency bands of %d latencies and %d throughputs", len(latMs), len(tp))
	}
	if len(latMs) == 0 {
		return nil, fmt.Errorf("bench: latency bands of an empty sample")
	}
	s := append([]float64(nil), latMs...)
	sort.Float64s(s)
	p50, p75, p90 := stats.PercentileSorted(s, 50), stats.PercentileSorted(s, 75), stats.PercentileSorted(s, 90)
	inf := math.Inf(1)
	bands := []Band{
		{Label: fmt.Sprintf("< %.1fms (P50)", p50), LoMs: -inf, HiMs: p50, Percentiles: "P50"},
		{Label: fmt.Sprintf("%.1f-%.1fms (P50-P75)", p50, p75), LoMs: p50, HiMs: p75, Percentiles: "P50-P75"},
		{Label: fmt.Sprintf("%.1f-%.1fms (P75-P90)", p75, p90), LoMs: p75, HiMs: p90, Percentiles: "P75-P90"},
		{Label: fmt.Sprintf(">= %.1fms (P90+)", p90), LoMs: p90, HiMs: inf, Percentiles: "P90+"},
	}
	for i := range bands {
		bands[i].MinTP, bands[i].MaxTP = inf, -inf
	}
	for i, l := range latMs {
		var b *Band
		switch {
		case l < p50:
			b = &bands[0]
		case l < p75:
			b = &bands[1]
		case l < p90:
			b = &bands[2]
		default:
			b = &bands[3]
		}
		b.Count++
		b.AvgTP += tp[i]
		b.MinTP = math.Min(b.MinTP, tp[i])
		b.MaxTP = math.Max(b.MaxTP, tp[i])
	}
	for i := range bands {
		if bands[i].Count == 0 {
			bands[i].AvgTP, bands[i].MinTP, bands[i].MaxTP = math.NaN(), math.NaN(), math.NaN()
			continue
		}
		bands[i].AvgTP /= float64(bands[i].Count)
	}
	return bands, nil
}

// LinearFit returns the least-squares slope and intercept of y on x.
func LinearFit(xs, ys []float64) (slope, intercept float64, err error) {
	if len(xs) != len(ys) || len(xs) < 2 {
		return 0, 0, fmt.Errorf("bench: linear fit needs ≥2 equal-length samples, got %d and %d", len(xs), len(ys))
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(ys))
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 {
		return 0, 0, fmt.Errorf("bench: linear fit undefined: x is constant")
	}
	slope = sxy / sxx
	return slope, my - slope*mx, nil
}
