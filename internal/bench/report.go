package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/crossrank/crossrank/internal/metrics/stats"
)

// Report is everything a bench measured; report.json is this struct.
type Report struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Timestamp   time.Time       `json:"timestamp"`
	Target      string          `json:"target"`
	Model       string          `json:"model"`
	Backend     string          `json:"backend"`
	Device      string          `json:"device"`
	Corpus      string          `json:"corpus"`
	Configs     []ConfigReport  `json:"configs"`
	Stats       []stats.Point   `json:"stats"` // /v1/stats seconds during the measured runs
	StatsGPU    bool            `json:"stats_gpu"`
	StatsError  string          `json:"stats_error,omitempty"` // why there are no dashboard metrics
	Dashboard   []MetricSummary `json:"dashboard_summary"`
	Soak        *SoakReport     `json:"soak,omitempty"`
	Curve       *Curve          `json:"curve,omitempty"` // rate sweep (Sweep)
	Plots       []string        `json:"plots"`
}

// ConfigReport is one configuration's results.
type ConfigReport struct {
	Index         int        `json:"index"` // 1-based
	Label         string     `json:"label"`
	Config        Config     `json:"config"`
	Start         time.Time  `json:"start"`
	End           time.Time  `json:"end"`
	ElapsedS      float64    `json:"elapsed_s"`
	Requests      int        `json:"requests"`
	Errors        int        `json:"errors"`
	FirstErrors   []string   `json:"first_errors,omitempty"`
	Pairs         int        `json:"pairs"`          // pairs of successful requests
	AggThroughput float64    `json:"agg_throughput"` // Pairs / ElapsedS
	Latency       Summary    `json:"latency_ms"`
	Throughput    Summary    `json:"throughput"` // per request, pairs/s
	Bands         []Band     `json:"latency_bands"`
	Correlation   *float64   `json:"correlation"` // latency vs throughput; null when undefined
	StageMs       StageTimes `json:"stage_ms"`    // means of the per-second dashboard values
	Samples       []Sample   `json:"samples"`     // every request, by start time
}

// StageTimes are mean per-stage times in ms (null when not reported).
type StageTimes struct {
	Plugins   *float64 `json:"plugins"`
	Tokenize  *float64 `json:"tokenize"`
	Queue     *float64 `json:"queue"`
	Inference *float64 `json:"inference"`
}

// MetricSummary is one row of the Dashboard Metrics Summary.
type MetricSummary struct {
	Name string  `json:"name"`
	N    int     `json:"n"`
	Avg  float64 `json:"avg"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
}

// NewConfigReport computes a configuration's statistics.
func NewConfigReport(index int, r *RunResult) ConfigReport {
	cr := ConfigReport{
		Index: index, Label: r.Config.Label(), Config: r.Config, Start: r.Start, End: r.End,
		ElapsedS: r.Elapsed().Seconds(), Requests: len(r.Samples),
	}
	cr.Samples = append([]Sample(nil), r.Samples...)
	sort.SliceStable(cr.Samples, func(i, j int) bool { return cr.Samples[i].StartMs < cr.Samples[j].StartMs })
	var lat, tp []float64
	for _, s := range cr.Samples {
		if !s.OK() {
			cr.Errors++
			if len(cr.FirstErrors) < 5 {
				cr.FirstErrors = append(cr.FirstErrors, s.Err)
			}
			continue
		}
		cr.Pairs += s.Pairs
		lat = append(lat, s.LatencyMs)
		tp = append(tp, s.Throughput())
	}
	if cr.ElapsedS > 0 {
		cr.AggThroughput = float64(cr.Pairs) / cr.ElapsedS
	}
	if len(lat) > 0 {
		cr.Latency = Summarize(lat)
		cr.Throughput = Summarize(tp)
		cr.Bands, _ = LatencyBands(lat, tp)
		for i := range cr.Bands {
			if cr.Bands[i].Count == 0 { // JSON has no NaN
				cr.Bands[i].AvgTP, cr.Bands[i].MinTP, cr.Bands[i].MaxTP = 0, 0, 0
			}
			// ±Inf bounds are not JSON either.
			cr.Bands[i].LoMs = finiteOr(cr.Bands[i].LoMs, 0)
			cr.Bands[i].HiMs = finiteOr(cr.Bands[i].HiMs, cr.Latency.Max)
		}
		if r, err := Correlation(lat, tp); err == nil {
			cr.Correlation = &r
		}
	}
	return cr
}

func finiteOr(v, alt float64) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return alt
	}
	return v
}

// inRange returns the points whose second overlaps [start, end].
func inRange(pts []stats.Point, start, end time.Time) []stats.Point {
	var out []stats.Point
	for _, p := range pts {
		if p.T >= start.Unix() && p.T <= end.Unix() {
			out = append(out, p)
		}
	}
	return out
}

func meanOf(pts []stats.Point, get func(stats.Point) *float64) *float64 {
	var sum float64
	n := 0
	for _, p := range pts {
		if v := get(p); v != nil {
			sum += *v
			n++
		}
	}
	if n == 0 {
		return nil
	}
	m := sum / float64(n)
	return &m
}

// dashboardRow describes one dashboard metric.
type dashboardRow struct {
	name string
	gpu  bool
	get  func(stats.Point) *float64
}

func dashboardRows() []dashboardRow {
	return []dashboardRow{
		{"GPU Memory (MB)", true, func(p stats.Point) *float64 { return p.GPUMemMB }},
		{"GPU Utilization (%)", true, func(p stats.Point) *float64 { return p.GPUUtilPct }},
		{"Memory (MB)", false, func(p stats.Point) *float64 { return p.RSSMB }},
		{"CPU Usage (%)", false, func(p stats.Point) *float64 { return p.CPUPct }},
		{"Tokenization (ms)", false, func(p stats.Point) *float64 { return p.TokenizeMs }},
		{"Inference (ms)", false, func(p stats.Point) *float64 { return p.InferenceMs }},
		{"Queue Wait (ms)", false, func(p stats.Point) *float64 { return p.QueueMs }},
		{"Padding Waste (%)", false, func(p stats.Point) *float64 { return p.PaddingWastePct }},
		{"Batch Size (pairs)", false, func(p stats.Point) *float64 { return p.BatchSize }},
	}
}

// Finish fills the report's dashboard parts from the polled points: each
// configuration's stage times, the summary rows and the run's time series.
func (r *Report) Finish(points []stats.Point, gpu bool, pollErr error) {
	r.StatsGPU = gpu
	if pollErr != nil {
		r.StatsError = pollErr.Error()
	}
	if len(r.Configs) == 0 {
		return
	}
	r.Stats = inRange(points, r.Configs[0].Start, r.Configs[len(r.Configs)-1].End)
	if len(r.Stats) == 0 && r.StatsError == "" {
		r.StatsError = "the target reported no /v1/stats seconds during the run"
	}
	for i := range r.Configs {
		c := &r.Configs[i]
		pts := inRange(points, c.Start, c.End)
		c.StageMs = StageTimes{
			Plugins:   meanOf(pts, func(p stats.Point) *float64 { return p.PluginsMs }),
			Tokenize:  meanOf(pts, func(p stats.Point) *float64 { return p.TokenizeMs }),
			Queue:     meanOf(pts, func(p stats.Point) *float64 { return p.QueueMs }),
			Inference: meanOf(pts, func(p stats.Point) *float64 { return p.InferenceMs }),
		}
	}
	r.Dashboard = nil
	for _, row := range dashboardRows() {
		if row.gpu && !gpu {
			continue
		}
		var vals []float64
		for _, p := range r.Stats {
			if v := row.get(p); v != nil {
				vals = append(vals, *v)
			}
		}
		if len(vals) == 0 {
			continue
		}
		s := Summarize(vals)
		r.Dashboard = append(r.Dashboard, MetricSummary{Name: row.name, N: s.N, Avg: s.Avg, Min: s.Min, Max: s.Max, P50: s.P50, P95: s.P95})
	}
}

// WriteJSON writes report.json.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("bench: encode report.json: %w", err)
	}
	return nil
}

func f2(v float64) string { return fmt.Sprintf("%.2f", v) }
func f1(v float64) string { return fmt.Sprintf("%.1f", v) }

func opt1(v *float64) string {
	if v == nil {
		return "-"
	}
	return f1(*v)
}

// WriteMarkdown writes report.md with the reference report's sections and
// tables.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# %s\n\n", r.Name)
	if r.Description != "" {
		p("_%s_\n\n", r.Description)
	}
	p("**Timestamp:** %s\n\n", r.Timestamp.Format("2006-01-02 15:04:05"))
	p("**Model:** `%s`\n\n", r.Model)
	p("**Backend:** `%s` | **Device:** `%s`\n\n", r.Backend, r.Device)
	p("**Target:** `%s` | **Corpus:** %s\n\n", r.Target, r.Corpus)

	p("## Results Summary\n\n")
	p("| Batch | Conc | Pairs | Time(s) | Lat Avg | Lat P95 | Lat P99 | TP Avg | TP P95 | Agg TP | Errors |\n")
	p("|-------|------|-------|---------|---------|---------|---------|--------|--------|--------|--------|\n")
	for _, c := range r.Configs {
		p("| %d | %s | %d | %.2f | %.1fms | %.1fms | %.1fms | %.1f | %.1f | %.1f | %d |\n",
			c.Config.Batch, concLabel(c.Config), c.Pairs, c.ElapsedS, c.Latency.Avg, c.Latency.P95, c.Latency.P99,
			c.Throughput.Avg, c.Throughput.P95, c.AggThroughput, c.Errors)
	}
	p("\nLatency is a request's round trip; TP is a request's pairs over its latency; Agg TP is all pairs over the configuration's wall time.\n\n")

	p("## Detailed Metrics\n\n")
	for _, c := range r.Configs {
		writeConfigDetail(&b, c)
	}

	writeOverall(&b, r.Configs)
	p("\n")

	if r.Curve != nil {
		r.Curve.markdown(&b)
	}

	if r.Soak != nil {
		r.Soak.markdown(&b)
	}

	p("## Dashboard Metrics Summary\n\n")
	if len(r.Dashboard) == 0 {
		p("No dashboard metrics: %s.\n\n", orDefault(r.StatsError, "none collected"))
	} else {
		p("| Metric | Avg | Min | Max | P50 | P95 |\n|--------|-----|-----|-----|-----|-----|\n")
		for _, m := range r.Dashboard {
			p("| %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n", m.Name, m.Avg, m.Min, m.Max, m.P50, m.P95)
		}
		if !r.StatsGPU {
			p("\nNo GPU rows: the target reports no GPU (CPU execution provider or no NVML).\n")
		}
		p("\nCPU %% is of one core (200 = two busy cores); memory is the sidecar's resident set.\n\n")
	}

	p("## Dashboard Time-Series Data\n\n")
	if len(r.Stats) == 0 {
		p("No dashboard metrics: %s.\n\n", orDefault(r.StatsError, "none collected"))
	} else {
		multi := len(r.Configs) > 1
		head := []string{"Index"}
		if multi {
			head = append(head, "Config")
		}
		if r.StatsGPU {
			head = append(head, "GPU Mem (MB)", "GPU Util (%)")
		}
		head = append(head, "Memory (MB)", "CPU (%)", "Latency (ms)", "Throughput", "Tokenize (ms)", "Inference (ms)", "Queue (ms)", "Padding (%)")
		p("| %s |\n", strings.Join(head, " | "))
		p("|%s\n", strings.Repeat("-----|", len(head)))
		for i, pt := range r.Stats {
			row := []string{fmt.Sprint(i)}
			if multi {
				row = append(row, r.configAt(pt.T))
			}
			if r.StatsGPU {
				row = append(row, opt1(pt.GPUMemMB), opt1(pt.GPUUtilPct))
			}
			row = append(row, opt1(pt.RSSMB), opt1(pt.CPUPct), opt1(pt.LatAvgMs), fmt.Sprint(pt.Pairs),
				opt1(pt.TokenizeMs), opt1(pt.InferenceMs), opt1(pt.QueueMs), opt1(pt.PaddingWastePct))
			p("| %s |\n", strings.Join(row, " | "))
		}
		p("\nOne row per second; Latency is the second's mean request latency, Throughput its pairs.\n\n")
	}
	if len(r.Plots) > 0 {
		p("## Plots\n\n")
		for _, pl := range r.Plots {
			p("![%s](%s)\n\n", strings.TrimSuffix(pl, filepath.Ext(pl)), pl)
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("bench: write report.md: %w", err)
	}
	return nil
}

func (r *Report) configAt(t int64) string {
	for _, c := range r.Configs {
		if t >= c.Start.Unix() && t <= c.End.Unix() {
			return fmt.Sprint(c.Index)
		}
	}
	return "-"
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func concLabel(c Config) string {
	if c.Rate > 0 {
		return fmt.Sprintf("%g/s", c.Rate)
	}
	return fmt.Sprint(c.Concurrency)
}

func shortLabel(c Config) string {
	if c.Rate > 0 {
		return fmt.Sprintf("batch=%d, rate=%g/s", c.Batch, c.Rate)
	}
	return fmt.Sprintf("batch=%d, conc=%d", c.Batch, c.Concurrency)
}

func summaryTable(b *strings.Builder, title string, s Summary) {
	fmt.Fprintf(b, "#### %s\n| Metric | Value |\n|--------|-------|\n", title)
	for _, row := range []struct {
		k string
		v float64
	}{{"Average", s.Avg}, {"Min", s.Min}, {"Max", s.Max}, {"Std Dev", s.StdDev}, {"P50", s.P50}, {"P90", s.P90}, {"P95", s.P95}, {"P99", s.P99}} {
		fmt.Fprintf(b, "| %s | %s |\n", row.k, f2(row.v))
	}
	b.WriteString("\n")
}

// Write writes report.md, report.json and the plots into dir.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bench: report dir: %w", err)
	}
	plots, err := WritePlots(dir, r)
	if err != nil {
		return err
	}
	r.Plots = plots
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{{"report.md", r.WriteMarkdown}, {"report.json", r.WriteJSON}} {
		fh, err := os.Create(filepath.Join(dir, f.name))
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		if err := f.write(fh); err != nil {
			fh.Close()
			return err
		}
		if err := fh.Close(); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	return nil
}

// writeConfigDetail writes one configuration's detailed metrics.
func writeConfigDetail(b *strings.Builder, c ConfigReport) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("### Config %d: %s\n\n", c.Index, c.Label)
	p("**Total:** %d pairs in %.2fs (%d requests, %d errors)\n\n", c.Pairs, c.ElapsedS, c.Requests, c.Errors)
	for _, e := range c.FirstErrors {
		p("- error: `%s`\n", strings.ReplaceAll(e, "`", "'"))
	}
	if len(c.FirstErrors) > 0 {
		p("\n")
	}
	if c.Latency.N == 0 {
		p("No successful requests.\n\n")
		return
	}
	summaryTable(b, "Latency (ms)", c.Latency)
	summaryTable(b, "Throughput (pairs/s)", c.Throughput)
	p("#### Latency vs Throughput Analysis\n\n")
	p("| Latency Range | Avg Throughput | Min Throughput | Max Throughput | Count |\n")
	p("|---------------|----------------|----------------|----------------|-------|\n")
	for _, band := range c.Bands {
		if band.Count == 0 {
			p("| %s | - | - | - | 0 |\n", band.Label)
			continue
		}
		p("| %s | %.2f | %.2f | %.2f | %d |\n", band.Label, band.AvgTP, band.MinTP, band.MaxTP, band.Count)
	}
	if c.Correlation != nil {
		p("\n**Correlation:** %.3f (negative correlation expected: lower latency = higher throughput)\n\n", *c.Correlation)
	} else {
		p("\n**Correlation:** undefined (a sample is constant)\n\n")
	}
}

// writeOverall writes the overall summary table of the configurations that
// had successful requests.
func writeOverall(b *strings.Builder, configs []ConfigReport) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Overall Summary\n\n")
	p("| Metric | Value | Config |\n|--------|-------|--------|\n")
	var ok []ConfigReport
	for _, c := range configs {
		if c.Latency.N > 0 {
			ok = append(ok, c)
		}
	}
	if len(ok) > 0 {
		bestTP, bestLat, bestAgg := ok[0], ok[0], ok[0]
		var sumTP, sumLat float64
		for _, c := range ok {
			if c.Throughput.Avg > bestTP.Throughput.Avg {
				bestTP = c
			}
			if c.Latency.Avg < bestLat.Latency.Avg {
				bestLat = c
			}
			if c.AggThroughput > bestAgg.AggThroughput {
				bestAgg = c
			}
			sumTP += c.Throughput.Avg
			sumLat += c.Latency.Avg
		}
		p("| Best Throughput | %.2f p/s | %s |\n", bestTP.Throughput.Avg, shortLabel(bestTP.Config))
		p("| Best Latency | %.2fms | %s |\n", bestLat.Latency.Avg, shortLabel(bestLat.Config))
		p("| Avg Throughput | %.2f p/s | all configs |\n", sumTP/float64(len(ok)))
		p("| Avg Latency | %.2fms | all configs |\n", sumLat/float64(len(ok)))
		p("| Best Aggregate Throughput | %.2f p/s | %s |\n", bestAgg.AggThroughput, shortLabel(bestAgg.Config))
	}
}
