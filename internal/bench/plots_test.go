package bench

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// syntheticConfig is one configuration's report with n requests of pairs
// pairs, started every gapMs and lasting lat(k) ms.
func syntheticConfig(index int, start time.Time, cfg Config, n int, gapMs float64, pairs int, lat func(k int) float64) ConfigReport {
	cr := ConfigReport{Index: index, Label: cfg.Label(), Config: cfg, Start: start}
	for k := 0; k < n; k++ {
		cr.Samples = append(cr.Samples, Sample{StartMs: float64(k) * gapMs, LatencyMs: lat(k), Pairs: pairs, Status: 200})
	}
	last := cr.Samples[n-1]
	cr.End = start.Add(time.Duration((last.StartMs + last.LatencyMs) * float64(time.Millisecond)))
	return cr
}

func f64(v float64) *float64 { return &v }

// sweepReport is a sweep whose configurations differ by orders of
// magnitude, the slowest with a latency spike at its very end, plus one
// configuration at a low open-loop rate.
func sweepReport() *Report {
	t0 := time.Unix(1_700_000_000, 0)
	r := &Report{}
	at := t0
	for i, c := range []struct {
		cfg   Config
		n     int
		gap   float64
		pairs int
		lat   func(k int) float64
	}{
		{Config{Batch: 16, Concurrency: 1}, 300, 20, 16, func(k int) float64 { return 15 + float64(k%5) }},
		{Config{Batch: 64, Concurrency: 4}, 200, 30, 64, func(k int) float64 { return 80 + float64(k%17) }},
		{Config{Batch: 256, Concurrency: 8}, 60, 100, 256, func(k int) float64 {
			if k == 59 {
				return 2400 // the spike that ran off the top
			}
			return 600 + float64(k%11)*10
		}},
		{Config{Batch: 32, Rate: 0.5}, 30, 2000, 32, func(k int) float64 { return 40 }},
	} {
		cr := syntheticConfig(i+1, at, c.cfg, c.n, c.gap, c.pairs, c.lat)
		cr.StageMs = StageTimes{Tokenize: f64(float64(i + 1)), Queue: f64(float64(10 * i)), Inference: f64(float64(50 * (i + 1)))}
		r.Configs = append(r.Configs, cr)
		at = cr.End.Add(time.Second)
	}
	return r
}

// TestPlotsContainEveryPointAndKeepLegendsOff draws every figure of a sweep
// and checks, from gonum's own layout of the canvas, that the axes contain
// every point with room above the highest, and that the legend's box lies
// outside the data area and inside the image.
func TestPlotsContainEveryPointAndKeepLegendsOff(t *testing.T) {
	figs, err := buildPlots(sweepReport())
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range figs {
		names[f.name] = true
	}
	for _, want := range []string{"latency_over_time.png", "throughput_over_time.png", "latency_histogram_1.png", "latency_histogram_4.png", "stage_breakdown.png"} {
		if !names[want] {
			t.Errorf("no %s among %v", want, names)
		}
	}
	for _, f := range figs {
		t.Run(f.name, func(t *testing.T) {
			img := vgimg.New(plotWidth, plotHeight)
			lay := f.draw(draw.New(img))
			x, y := f.p.X, f.p.Y
			if len(f.points) == 0 {
				t.Fatal("no points recorded")
			}
			top := math.Inf(-1)
			for _, pt := range f.points {
				if pt.X < x.Min || pt.X > x.Max || pt.Y < y.Min || pt.Y > y.Max {
					t.Errorf("point (%g, %g) outside the axes x [%g, %g] y [%g, %g]", pt.X, pt.Y, x.Min, x.Max, y.Min, y.Max)
				}
				top = math.Max(top, pt.Y)
			}
			if room := (y.Max - top) / (y.Max - y.Min); room < headroom*0.9 {
				t.Errorf("highest point %g leaves %.1f%% of the y-axis above it, want ≥ %.0f%%", top, 100*room, 100*headroom)
			}
			if !inside(lay.Canvas, lay.Data) {
				t.Errorf("data area %v outside the image %v", lay.Data, lay.Canvas)
			}
			if len(f.labels) == 0 {
				return
			}
			if lay.Legend.Size().X <= 0 || lay.Legend.Size().Y <= 0 {
				t.Fatalf("legend box %v is empty with %d entries", lay.Legend, len(f.labels))
			}
			if lay.Legend != lay.LegendGonum {
				t.Errorf("legend drawn at %v, gonum's layout puts it at %v", lay.Legend, lay.LegendGonum)
			}
			for _, box := range []vg.Rectangle{lay.Legend, lay.LegendGonum} {
				if overlap(box, lay.Data) {
					t.Errorf("legend %v overlaps the data area %v", box, lay.Data)
				}
			}
			if !inside(lay.Canvas, lay.Legend) {
				t.Errorf("legend %v is cut by the image's edge %v", lay.Legend, lay.Canvas)
			}
		})
	}
}

func overlap(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

func inside(outer, r vg.Rectangle) bool {
	return r.Min.X >= outer.Min.X && r.Min.Y >= outer.Min.Y && r.Max.X <= outer.Max.X && r.Max.Y <= outer.Max.Y
}

// TestRollingThroughputAtLowRate: one request of 32 pairs every 2 s leaves
// every other second empty, so per-second counts jump between 0 and 32;
// the 5 s window holds two or three requests, 12.8 or 19.2 pairs/s.
func TestRollingThroughputAtLowRate(t *testing.T) {
	cr := syntheticConfig(1, time.Unix(0, 0), Config{Batch: 32, Rate: 0.5}, 30, 2000, 32, func(int) float64 { return 40 })
	perSecond := map[int]int{}
	for _, s := range cr.Samples {
		perSecond[int((s.StartMs+s.LatencyMs)/1000)] += s.Pairs
	}
	if perSecond[1] != 0 || perSecond[2] != 32 {
		t.Fatalf("the input is not the sawtooth case: per-second pairs %v", perSecond)
	}
	pts := rollingThroughput(cr.Samples, throughputWindowS)
	if len(pts) < 100 {
		t.Fatalf("%d points over a 58 s run", len(pts))
	}
	for _, p := range pts {
		if p.Y < 12.8-1e-9 || p.Y > 19.2+1e-9 {
			t.Errorf("rolling throughput %g pairs/s at %.2f s, want 12.8..19.2", p.Y, p.X)
		}
	}
	if first, last := pts[0].X, pts[len(pts)-1].X; first != throughputWindowS || math.Abs(last-58.04) > 1e-9 {
		t.Errorf("points from %g s to %g s, want 5 s (first full window) to 58.04 s (last completion)", first, last)
	}
	// A run shorter than the window is one window: its pairs over its length.
	short := rollingThroughput([]Sample{{StartMs: 0, LatencyMs: 500, Pairs: 10, Status: 200}, {StartMs: 500, LatencyMs: 500, Pairs: 10, Status: 200}}, 5)
	if len(short) != 1 || short[0] != (plotter.XY{X: 1, Y: 20}) {
		t.Errorf("short run: %v, want one point (1 s, 20 pairs/s)", short)
	}
	if got := rollingThroughput([]Sample{{Status: 500, Err: "HTTP 500"}}, 5); got != nil {
		t.Errorf("failed requests only: %v, want none", got)
	}
}

// TestWritePlotsFiles writes the PNGs and decodes them at the set size; bad
// input (no configurations, only failures, NaN stage times) draws what it
// can without panicking.
func TestWritePlotsFiles(t *testing.T) {
	dir := t.TempDir()
	if d := os.Getenv("CROSSRANK_PLOTS_KEEP"); d != "" {
		dir = d // keep the pictures for a look
	}
	names, err := WritePlots(dir, sweepReport())
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 7 { // 2 over time, 4 histograms, 1 breakdown
		t.Errorf("plots %v, want 7", names)
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width != int(plotWidth.Dots(vgimg.DefaultDPI)+0.5) || cfg.Height != int(plotHeight.Dots(vgimg.DefaultDPI)+0.5) {
			t.Errorf("%s: %+v %v", n, cfg, err)
		}
	}

	for name, r := range map[string]*Report{
		"no configs":    {},
		"only failures": {Configs: []ConfigReport{{Index: 1, Samples: []Sample{{Status: 503, Err: "HTTP 503"}}}}},
		"nan stages":    {Configs: []ConfigReport{{Index: 1, StageMs: StageTimes{Inference: f64(math.NaN()), Queue: f64(math.Inf(1))}}}},
	} {
		names, err := WritePlots(t.TempDir(), r)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if name != "nan stages" && len(names) != 0 {
			t.Errorf("%s: plots %v from no data", name, names)
		}
	}
}
