package bench

import (
	"fmt"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// WritePlots draws the report's plots into dir as PNG and returns their file
// names: latency and throughput over time, a latency histogram per
// configuration and the per-stage time breakdown per configuration.
func WritePlots(dir string, r *Report) ([]string, error) {
	if len(r.Configs) == 0 {
		return nil, nil
	}
	pw := &plotWriter{dir: dir}
	for _, f := range []func(*plotWriter, *Report) error{plotOverTime, plotHistograms, plotStages} {
		if err := f(pw, r); err != nil {
			return nil, err
		}
	}
	return pw.names, nil
}

// plotWriter saves plots into dir and remembers their names.
type plotWriter struct {
	dir   string
	names []string
}

func (pw *plotWriter) save(p *plot.Plot, name string) error {
	if err := p.Save(10*vg.Inch, 5*vg.Inch, filepath.Join(pw.dir, name)); err != nil {
		return fmt.Errorf("bench: plot %s: %w", name, err)
	}
	pw.names = append(pw.names, name)
	return nil
}

// plotOverTime draws latency and throughput over time, per configuration.
func plotOverTime(pw *plotWriter, r *Report) error {
	t0 := r.Configs[0].Start

	// Latency over time: each request, per configuration.
	lat := plot.New()
	lat.Title.Text = "Request latency over time"
	lat.X.Label.Text = "time (s)"
	lat.Y.Label.Text = "latency (ms)"
	// Throughput over time: pairs completed per second (client side).
	tp := plot.New()
	tp.Title.Text = "Throughput over time"
	tp.X.Label.Text = "time (s)"
	tp.Y.Label.Text = "pairs/s"
	for i, c := range r.Configs {
		off := c.Start.Sub(t0).Seconds()
		var pts plotter.XYs
		buckets := map[int]float64{}
		maxSec := 0
		for _, s := range c.Samples {
			if !s.OK() {
				continue
			}
			pts = append(pts, plotter.XY{X: off + s.StartMs/1000, Y: s.LatencyMs})
			sec := int((s.StartMs + s.LatencyMs) / 1000)
			buckets[sec] += float64(s.Pairs)
			maxSec = max(maxSec, sec)
		}
		if len(pts) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return fmt.Errorf("bench: plot: %w", err)
		}
		sc.GlyphStyle.Color = plotutil.Color(i)
		sc.GlyphStyle.Radius = vg.Points(1.5)
		lat.Add(sc)
		lat.Legend.Add(shortLabel(c.Config), sc)
		var tps plotter.XYs
		for sec := 0; sec <= maxSec; sec++ {
			tps = append(tps, plotter.XY{X: off + float64(sec) + 0.5, Y: buckets[sec]})
		}
		ln, err := plotter.NewLine(tps)
		if err != nil {
			return fmt.Errorf("bench: plot: %w", err)
		}
		ln.Color = plotutil.Color(i)
		tp.Add(ln)
		tp.Legend.Add(shortLabel(c.Config), ln)
	}
	lat.Legend.Top = true
	tp.Legend.Top = true
	if err := pw.save(lat, "latency_over_time.png"); err != nil {
		return err
	}
	if err := pw.save(tp, "throughput_over_time.png"); err != nil {
		return err
	}

	return nil
}

// plotHistograms draws a latency histogram per configuration.
func plotHistograms(pw *plotWriter, r *Report) error {
	// Latency histogram per configuration.
	for _, c := range r.Configs {
		var v plotter.Values
		for _, s := range c.Samples {
			if s.OK() {
				v = append(v, s.LatencyMs)
			}
		}
		if len(v) == 0 {
			continue
		}
		h := plot.New()
		h.Title.Text = "Latency histogram, " + c.Label
		h.X.Label.Text = "latency (ms)"
		h.Y.Label.Text = "requests"
		bins := int(math.Min(50, math.Max(5, math.Sqrt(float64(len(v))))))
		hist, err := plotter.NewHist(v, bins)
		if err != nil {
			return fmt.Errorf("bench: plot: %w", err)
		}
		h.Add(hist)
		if err := pw.save(h, fmt.Sprintf("latency_histogram_%d.png", c.Index)); err != nil {
			return err
		}
	}

	return nil
}

// plotStages draws the per-stage breakdown, when the target reports stages.
func plotStages(pw *plotWriter, r *Report) error {
	// Per-stage breakdown: grouped bars of mean stage ms per configuration.
	stages := []struct {
		name string
		get  func(StageTimes) *float64
	}{
		{"plugins", func(s StageTimes) *float64 { return s.Plugins }},
		{"tokenize", func(s StageTimes) *float64 { return s.Tokenize }},
		{"queue", func(s StageTimes) *float64 { return s.Queue }},
		{"inference", func(s StageTimes) *float64 { return s.Inference }},
	}
	haveStages := false
	for _, c := range r.Configs {
		for _, st := range stages {
			if st.get(c.StageMs) != nil {
				haveStages = true
			}
		}
	}
	if haveStages {
		bp := plot.New()
		bp.Title.Text = "Per-stage time per configuration (dashboard means, stacked)"
		bp.Y.Label.Text = "ms"
		w := vg.Points(40)
		var prev *plotter.BarChart
		var labels []string
		for _, c := range r.Configs {
			labels = append(labels, fmt.Sprintf("b=%d c=%s", c.Config.Batch, concLabel(c.Config)))
		}
		for si, st := range stages {
			var vals plotter.Values
			for _, c := range r.Configs {
				v := 0.0
				if p := st.get(c.StageMs); p != nil {
					v = *p
				}
				vals = append(vals, v)
			}
			bars, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return fmt.Errorf("bench: plot: %w", err)
			}
			bars.Color = plotutil.Color(si)
			bars.LineStyle.Width = 0
			if prev != nil {
				bars.StackOn(prev)
			}
			prev = bars
			bp.Add(bars)
			bp.Legend.Add(st.name, bars)
		}
		bp.Legend.Top = true
		bp.NominalX(labels...)
		bp.Y.Min = 0
		bp.Y.Max *= 1.3 // room for the legend
		bp.X.Min -= 0.5
		bp.X.Max += 0.5
		if err := pw.save(bp, "stage_breakdown.png"); err != nil {
			return err
		}
	}
	return nil
}
