package bench

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot geometry: every PNG is plotWidth × plotHeight.
const (
	plotWidth  = 10 * vg.Inch
	plotHeight = 5 * vg.Inch
	// throughputWindowS is the rolling window of throughput_over_time.png:
	// at a few requests per second a per-second count jumps between 0 and
	// one request's pairs, a 5 s window shows the rate.
	throughputWindowS = 5.0
	// headroom is the fraction of the data's span added above the highest
	// point, so no line or glyph touches the top of the y-axis.
	headroom = 0.08
)

// figure is a plot whose legend is drawn in a column of its own right of
// the plot, never over the data, with the points it draws kept so the axes
// can be set to contain all of them.
type figure struct {
	name   string
	p      *plot.Plot
	legend plot.Legend
	labels []string     // the legend's entries, in order
	points []plotter.XY // every point drawn (bars: their tops and bases)
}

func newFigure(name, title, xLabel, yLabel string) *figure {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	leg := plot.NewLegend()
	leg.Top, leg.Left = true, true
	leg.Padding = vg.Points(3)
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	return &figure{name: name, p: p, legend: leg}
}

// niceTicks marks an axis at 1, 2 or 5 × 10ⁿ steps, about five labels,
// printed with as many decimals as the step needs (gonum's default ticker
// can print "2500.00" or leave a single label).
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if raw <= m*mag {
			step = m * mag
			break
		}
	}
	decimals := max(0, int(-math.Floor(math.Log10(step))))
	var ticks []plot.Tick
	minor := step / 2
	for k := math.Ceil(lo / minor); k*minor <= hi+minor*1e-9; k++ {
		v := k * minor
		t := plot.Tick{Value: v}
		if math.Mod(k, 2) == 0 {
			t.Label = strconv.FormatFloat(v, 'f', decimals, 64)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

func (f *figure) add(label string, pl plot.Plotter, thumb plot.Thumbnailer, pts ...plotter.XY) {
	f.p.Add(pl)
	if label != "" && thumb != nil {
		f.legend.Add(label, thumb)
		f.labels = append(f.labels, label)
	}
	f.points = append(f.points, pts...)
}

// fitAxes sets both axes to contain every point: x exactly (with zeroX, from
// 0), y from 0 (or the lowest point when negative) to the highest point
// plus headroom.
func (f *figure) fitAxes(zeroX bool) {
	if len(f.points) == 0 {
		return
	}
	minX, maxX := math.Inf(1), math.Inf(-1)
	minY, maxY := 0.0, math.Inf(-1)
	for _, pt := range f.points {
		minX, maxX = math.Min(minX, pt.X), math.Max(maxX, pt.X)
		minY, maxY = math.Min(minY, pt.Y), math.Max(maxY, pt.Y)
	}
	if zeroX {
		minX = math.Min(0, minX)
	}
	if maxX <= minX {
		maxX = minX + 1
	}
	span := maxY - minY
	if span <= 0 {
		span = math.Max(1, math.Abs(maxY))
	}
	f.p.X.Min, f.p.X.Max = minX, maxX
	f.p.Y.Min, f.p.Y.Max = minY, maxY+headroom*span
}

// plotLayout is where a figure's parts landed on its canvas.
type plotLayout struct {
	Canvas vg.Rectangle // the whole image
	Data   vg.Rectangle // the data area inside the axes
	Legend vg.Rectangle // the legend's box where Draw puts it (empty without entries)
	// LegendGonum is plot.Legend.Rectangle's box for the legend's canvas.
	// gonum places a Left legend at the canvas's right edge there while
	// Draw starts it at the left edge: the two agree only when the canvas
	// is exactly the legend's width, as draw makes it.
	LegendGonum vg.Rectangle
}

// legendWidth is the width of the legend's entries (icon, space, text).
func (f *figure) legendWidth() vg.Length {
	var w vg.Length
	sty := f.legend.TextStyle
	for _, e := range f.labels {
		w = max(w, f.legend.ThumbnailWidth+sty.Rectangle(" "+e).Max.X)
	}
	return w
}

// draw paints the figure on c: the plot on the left, the legend in a column
// on the right whose top lines up with the top of the data area.
func (f *figure) draw(c draw.Canvas) plotLayout {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	lay := plotLayout{Canvas: c.Rectangle}
	lw := f.legendWidth()
	pad := vg.Points(10)
	area := draw.Crop(c, 0, 0, 0, -vg.Points(4)) // the title's ascenders
	if lw > 0 {
		area = draw.Crop(area, 0, -(lw + 2*pad), 0, 0)
	}
	f.p.Draw(area)
	lay.Data = f.p.DataCanvas(area).Rectangle
	if lw > 0 {
		lc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: area.Max.X + pad, Y: c.Min.Y},
			Max: vg.Point{X: area.Max.X + pad + lw, Y: lay.Data.Max.Y},
		}}
		f.legend.Draw(lc)
		lay.LegendGonum = f.legend.Rectangle(lc)
		// Draw (Left, Top): icons from the canvas's left edge, entries
		// down from its top; the height is gonum's.
		h := lay.LegendGonum.Size().Y
		lay.Legend = vg.Rectangle{Min: vg.Point{X: lc.Min.X, Y: lc.Max.Y - h}, Max: vg.Point{X: lc.Min.X + lw, Y: lc.Max.Y}}
	}
	return lay
}

// save writes the figure as a PNG into dir.
func (f *figure) save(dir string) (plotLayout, error) {
	img := vgimg.New(plotWidth, plotHeight)
	lay := f.draw(draw.New(img))
	path := filepath.Join(dir, f.name)
	out, err := os.Create(path)
	if err != nil {
		return lay, fmt.Errorf("bench: plot %s: %w", f.name, err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(out); err != nil {
		out.Close()
		return lay, fmt.Errorf("bench: plot %s: %w", f.name, err)
	}
	if err := out.Close(); err != nil {
		return lay, fmt.Errorf("bench: plot %s: %w", f.name, err)
	}
	return lay, nil
}

// WritePlots draws the report's plots into dir as PNG and returns their file
// names: latency and throughput (5 s rolling window) over time, a latency
// histogram per configuration and the per-stage time breakdown per
// configuration. Legends sit right of the data area and the axes contain
// every point.
func WritePlots(dir string, r *Report) ([]string, error) {
	figs, err := buildPlots(r)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range figs {
		if _, err := f.save(dir); err != nil {
			return nil, err
		}
		names = append(names, f.name)
	}
	return names, nil
}

// rollingThroughput is pairs completed per second over the trailing window
// (seconds) at steps through one configuration's run, x in seconds since
// the configuration started. A run shorter than the window uses its whole
// length as the window.
func rollingThroughput(samples []Sample, window float64) plotter.XYs {
	var done []float64 // completion times, s
	var pairs []float64
	end := 0.0
	for _, s := range samples {
		if !s.OK() {
			continue
		}
		t := (s.StartMs + s.LatencyMs) / 1000
		done = append(done, t)
		pairs = append(pairs, float64(s.Pairs))
		end = math.Max(end, t)
	}
	if len(done) == 0 || end <= 0 {
		return nil
	}
	w := math.Min(window, end)
	step := w / 10
	var out plotter.XYs
	for t := w; ; t += step {
		if t > end {
			t = end
		}
		sum := 0.0
		for i, d := range done {
			if d > t-w && d <= t {
				sum += pairs[i]
			}
		}
		out = append(out, plotter.XY{X: t, Y: sum / w})
		if t >= end {
			return out
		}
	}
}

// buildPlots makes the report's figures.
func buildPlots(r *Report) ([]*figure, error) {
	if len(r.Configs) == 0 {
		return nil, nil
	}
	var figs []*figure
	t0 := r.Configs[0].Start

	lat := newFigure("latency_over_time.png", "Request latency over time", "time (s)", "latency (ms)")
	tp := newFigure("throughput_over_time.png",
		fmt.Sprintf("Throughput over time (%g s rolling window)", throughputWindowS), "time (s)", "pairs/s")
	for i, c := range r.Configs {
		off := c.Start.Sub(t0).Seconds()
		var pts plotter.XYs
		for _, s := range c.Samples {
			if s.OK() {
				pts = append(pts, plotter.XY{X: off + s.StartMs/1000, Y: s.LatencyMs})
			}
		}
		if len(pts) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, fmt.Errorf("bench: plot: %w", err)
		}
		sc.GlyphStyle.Color = plotutil.Color(i)
		sc.GlyphStyle.Radius = vg.Points(1.5)
		lat.add(shortLabel(c.Config), sc, sc, pts...)

		tps := rollingThroughput(c.Samples, throughputWindowS)
		for k := range tps {
			tps[k].X += off
		}
		ln, sp, err := plotter.NewLinePoints(tps)
		if err != nil {
			return nil, fmt.Errorf("bench: plot: %w", err)
		}
		ln.Color = plotutil.Color(i)
		sp.GlyphStyle.Color = plotutil.Color(i)
		sp.GlyphStyle.Radius = vg.Points(1)
		tp.add("", sp, nil)
		tp.add(shortLabel(c.Config), ln, ln, tps...)
	}
	if len(lat.points) > 0 {
		lat.fitAxes(true)
		tp.fitAxes(true)
		figs = append(figs, lat, tp)
	}

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
		h := newFigure(fmt.Sprintf("latency_histogram_%d.png", c.Index), "Latency histogram, "+c.Label, "latency (ms)", "requests")
		bins := int(math.Min(50, math.Max(5, math.Sqrt(float64(len(v))))))
		hist, err := plotter.NewHist(v, bins)
		if err != nil {
			return nil, fmt.Errorf("bench: plot: %w", err)
		}
		var pts []plotter.XY
		for _, b := range hist.Bins {
			pts = append(pts, plotter.XY{X: b.Min, Y: 0}, plotter.XY{X: b.Max, Y: b.Weight})
		}
		h.add("", hist, nil, pts...)
		h.fitAxes(false)
		figs = append(figs, h)
	}

	// Per-stage breakdown: stacked bars of mean stage ms per configuration.
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
		bp := newFigure("stage_breakdown.png", "Per-stage time per configuration (dashboard means, stacked)", "", "ms")
		w := vg.Points(40)
		var prev *plotter.BarChart
		var labels []string
		base := make([]float64, len(r.Configs))
		for _, c := range r.Configs {
			labels = append(labels, fmt.Sprintf("b=%d c=%s", c.Config.Batch, concLabel(c.Config)))
		}
		for si, st := range stages {
			var vals plotter.Values
			var pts []plotter.XY
			for ci, c := range r.Configs {
				v := 0.0
				if p := st.get(c.StageMs); p != nil && !math.IsNaN(*p) && !math.IsInf(*p, 0) {
					v = *p
				}
				vals = append(vals, v)
				pts = append(pts, plotter.XY{X: float64(ci), Y: base[ci]}, plotter.XY{X: float64(ci), Y: base[ci] + v})
				base[ci] += v
			}
			bars, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return nil, fmt.Errorf("bench: plot: %w", err)
			}
			bars.Color = plotutil.Color(si)
			bars.LineStyle.Width = 0
			if prev != nil {
				bars.StackOn(prev)
			}
			prev = bars
			bp.add(st.name, bars, bars, pts...)
		}
		bp.p.NominalX(labels...) // its own ticker: one label per configuration
		bp.fitAxes(false)
		bp.p.X.Min -= 0.5
		bp.p.X.Max += 0.5
		figs = append(figs, bp)
	}
	return figs, nil
}
