package bench

import (
	"fmt"
	"strings"

	"github.com/crossrank/crossrank/internal/metrics/stats"
)

// SoakReport is what a soak run found: errors, memory growth and latency
// drift between the first and the last tenth of the run.
type SoakReport struct {
	DurationS            float64  `json:"duration_s"`
	Requests             int      `json:"requests"`
	Errors               int      `json:"errors"`
	WindowS              float64  `json:"window_s"` // length of the start and end windows
	MemoryStartMB        *float64 `json:"memory_start_mb"`
	MemoryEndMB          *float64 `json:"memory_end_mb"`
	MemoryGrowthMB       *float64 `json:"memory_growth_mb"`
	MemorySlopeMBPerMin  *float64 `json:"memory_slope_mb_per_min"`
	LatencyP50StartMs    float64  `json:"latency_p50_start_ms"`
	LatencyP50EndMs      float64  `json:"latency_p50_end_ms"`
	LatencyDriftPct      float64  `json:"latency_drift_pct"`
	LatencySlopeMsPerMin float64  `json:"latency_slope_ms_per_min"`
}

// NewSoakReport analyses a soak configuration and the dashboard points
// polled during it.
func NewSoakReport(c ConfigReport, pts []stats.Point) *SoakReport {
	s := &SoakReport{DurationS: c.ElapsedS, Requests: c.Requests, Errors: c.Errors}
	durMs := c.ElapsedS * 1000
	winMs := max(durMs/10, 1000)
	s.WindowS = winMs / 1000
	var first, last, xs, ys []float64
	for _, smp := range c.Samples {
		if !smp.OK() {
			continue
		}
		if smp.StartMs < winMs {
			first = append(first, smp.LatencyMs)
		}
		if smp.StartMs >= durMs-winMs {
			last = append(last, smp.LatencyMs)
		}
		xs = append(xs, smp.StartMs/60000)
		ys = append(ys, smp.LatencyMs)
	}
	if len(first) > 0 && len(last) > 0 {
		s.LatencyP50StartMs = Percentile(first, 50)
		s.LatencyP50EndMs = Percentile(last, 50)
		s.LatencyDriftPct = 100 * (s.LatencyP50EndMs - s.LatencyP50StartMs) / s.LatencyP50StartMs
	}
	if m, _, err := LinearFit(xs, ys); err == nil {
		s.LatencySlopeMsPerMin = m
	}
	startSec := c.Start.Unix()
	var memFirst, memLast, mx, my []float64
	for _, p := range inRange(pts, c.Start, c.End) {
		if p.RSSMB == nil {
			continue
		}
		off := float64(p.T-startSec) * 1000
		if off < winMs {
			memFirst = append(memFirst, *p.RSSMB)
		}
		if off >= durMs-winMs {
			memLast = append(memLast, *p.RSSMB)
		}
		mx = append(mx, off/60000)
		my = append(my, *p.RSSMB)
	}
	if len(memFirst) > 0 && len(memLast) > 0 {
		a, b := mean(memFirst), mean(memLast)
		g := b - a
		s.MemoryStartMB, s.MemoryEndMB, s.MemoryGrowthMB = &a, &b, &g
	}
	if m, _, err := LinearFit(mx, my); err == nil {
		s.MemorySlopeMBPerMin = &m
	}
	return s
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func (s *SoakReport) markdown(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Soak\n\n")
	p("| Metric | Value |\n|--------|-------|\n")
	p("| Duration | %.0fs |\n", s.DurationS)
	p("| Requests | %d |\n", s.Requests)
	p("| Errors | %d |\n", s.Errors)
	p("| Latency P50, first %.0fs | %.2fms |\n", s.WindowS, s.LatencyP50StartMs)
	p("| Latency P50, last %.0fs | %.2fms |\n", s.WindowS, s.LatencyP50EndMs)
	p("| Latency drift | %+.1f%% |\n", s.LatencyDriftPct)
	p("| Latency trend | %+.3f ms/min |\n", s.LatencySlopeMsPerMin)
	if s.MemoryGrowthMB != nil {
		p("| Memory, first %.0fs | %.1f MB |\n", s.WindowS, *s.MemoryStartMB)
		p("| Memory, last %.0fs | %.1f MB |\n", s.WindowS, *s.MemoryEndMB)
		p("| Memory growth | %+.1f MB |\n", *s.MemoryGrowthMB)
	} else {
		p("| Memory growth | n/a (no /v1/stats memory readings) |\n")
	}
	if s.MemorySlopeMBPerMin != nil {
		p("| Memory trend | %+.2f MB/min |\n", *s.MemorySlopeMBPerMin)
	}
	verdict := "no errors"
	if s.Errors > 0 {
		verdict = fmt.Sprintf("%d errors", s.Errors)
	}
	p("\nVerdict: %s.\n\n", verdict)
}
