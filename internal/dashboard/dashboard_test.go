package dashboard_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/dashboard"
	"github.com/crossrank/crossrank/internal/dashboardtest"
	"github.com/crossrank/crossrank/internal/metrics/prom"
	"github.com/crossrank/crossrank/sidecar/metrics"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// counts is how many values each chart's series should hold: chart id →
// legend name → values.
type counts map[string]map[string]int

func (c counts) add(chart string, series ...string) {
	if c[chart] == nil {
		c[chart] = map[string]int{}
	}
	for _, s := range series {
		c[chart][s]++
	}
}

func (c counts) merge(o counts) {
	for chart, m := range o {
		for s, n := range m {
			if c[chart] == nil {
				c[chart] = map[string]int{}
			}
			c[chart][s] += n
		}
	}
}

// traffic records n seconds of events; seconds in idle get none. It returns
// how many values each chart should then hold and how many errors it
// recorded.
func traffic(rec *prom.Prom, clk *clock, n int, idle map[int]bool) (counts, int) {
	want := counts{}
	errors := 0
	for s := 0; s < n; s++ {
		if !idle[s] {
			for i := 0; i < 5; i++ {
				rec.Request("/v1/rerank", 200, time.Duration(20+5*i+s%7)*time.Millisecond, 32)
				rec.Stage(metrics.StageTokenize, time.Duration(2+s%3)*time.Millisecond)
				rec.Stage(metrics.StageQueue, time.Duration(s%4)*time.Millisecond)
				rec.Stage(metrics.StageInference, time.Duration(15+s%5)*time.Millisecond)
			}
			for i := 0; i < s%3; i++ {
				rec.Request("/v1/rerank", 422, time.Millisecond, 0)
				errors++
			}
			if s%4 == 0 {
				rec.Request("/v1/rerank", 503, time.Millisecond, 0)
				errors++
			}
			if s%6 == 0 {
				rec.PluginError("truncate", "trap")
			}
			rec.Cache(s%10, 10-s%10)
			rec.Batch("m", 64, 64*40, 64*(60+s%20))
			rec.Batch("m", 96, 96*40, 96*(50+s%10))
			want.add("latency", "p50", "p95", "p99")
			want.add("stages", "tokenize", "queue", "inference") // no plugins
			want.add("padding", "padding")
			want.add("batch", "pairs/batch")
			want.add("cache", "score") // no embedding cache in these stats
		}
		// Counts are 0, not null, in an idle second.
		want.add("throughput", "pairs/s")
		want.add("errors", "4xx", "5xx", "plugin")
		want.add("cpu", "cpu")
		want.add("memory", "rss")
		rec.Sample(context.Background())
		clk.Add(time.Second)
	}
	return want, errors
}

// modelsDoc is GET /v1/models as sidecar/server writes it: a twin, and a
// server that says nothing of the kind (cross-encoders only).
const modelsTwin = `{"object":"list","data":[{"id":"ms-marco","object":"model","default":true,"dir":"/m","file":"model.onnx","provider":"cpu","max_length":512,"twin":true}]}`

// modelsTrained adds the fields the dashboard reads from a server with
// bi-encoders: kind per model.
const modelsTrained = `{"object":"list","data":[{"id":"bge-small","object":"model","default":true,"kind":"bi-encoder","twin":false},{"id":"ms-marco","object":"model","default":false,"kind":"cross-encoder","twin":false}]}`

func TestDashboardInChromium(t *testing.T) {
	clk := &clock{t: time.Now().Add(-2 * time.Minute).Truncate(time.Second)}
	rec := prom.New(prom.WithoutSampler(), prom.WithClock(clk.Now))
	defer rec.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var models atomic.Value
	models.Store(modelsTwin)
	mux := http.NewServeMux()
	mux.Handle("GET /dashboard", dashboard.Handler())
	mux.Handle("GET /v1/stats", rec.StatsHandler())
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(models.Load().(string)))
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Close()

	want, errors := traffic(rec, clk, 30, map[int]bool{10: true, 11: true, 12: true})

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	br := dashboardtest.Start(t)
	url := "http://" + ln.Addr().String() + "/dashboard"
	if err := br.Open(ctx, url, "#chart-latency canvas"); err != nil {
		t.Fatal(err)
	}
	s, err := br.WaitUpdates(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	check := func(s dashboardtest.State, want counts) {
		t.Helper()
		for id, series := range want {
			total := 0
			for name, n := range series {
				total += n
				if got := s.Charts[id].Series[name]; got != n {
					t.Errorf("chart %s series %s holds %d values, want %d", id, name, got, n)
				}
			}
			if got := s.Charts[id].Points; got != total {
				t.Errorf("chart %s holds %d values, want %d", id, got, total)
			}
		}
		for _, id := range []string{"gpu_mem", "gpu_util"} {
			if s.Charts[id].Points != 0 {
				t.Errorf("GPU chart %s has data without a GPU", id)
			}
		}
		if n := s.Charts["cache"].Series["embedding"]; n != 0 {
			t.Errorf("embedding cache series has %d values; the stats carry none", n)
		}
		if len(s.Errors) > 0 {
			t.Errorf("dashboard fetch errors: %v", s.Errors)
		}
	}
	check(s, want)
	if s.Points != 30 {
		t.Errorf("dashboard holds %d seconds, want 30", s.Points)
	}
	if m := s.Model; m == nil || m.ID != "ms-marco" || m.Kind != "cross-encoder" || m.Weights != "random twin" {
		t.Errorf("model in the header = %+v (%s), want ms-marco, cross-encoder, random twin", m, s.ModelError)
	}
	header := func() string {
		t.Helper()
		var h string
		if err := br.Eval(ctx, `document.querySelector("header").innerText`, &h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	if h := header(); !strings.Contains(h, "ms-marco") || !strings.Contains(h, "cross-encoder") || !strings.Contains(h, "random twin") ||
		!strings.Contains(h, fmt.Sprintf("errors (15 min) %d", errors)) {
		t.Errorf("header %q lacks the model, its kind, its weights or %d errors", h, errors)
	}

	// More traffic: the page's incremental polls (?since=) pick it up.
	more, moreErrors := traffic(rec, clk, 5, nil)
	want.merge(more)
	errors += moreErrors
	if s, err = br.WaitUpdates(ctx, s.Updates+2); err != nil {
		t.Fatal(err)
	}
	check(s, want)

	var ok bool
	if err := br.Eval(ctx, `document.getElementById("chart-gpu_mem").classList.contains("hidden") && document.getElementById("k-pps").textContent === "160"`, &ok); err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Error("GPU charts shown without a GPU, or the pairs/s KPI is not the last second's 160")
	}

	dir := t.TempDir()
	if d := os.Getenv("CROSSRANK_SCREENSHOT_DIR"); d != "" {
		dir = d
	}
	// The browser's default window, then a common laptop screen.
	for _, vp := range []struct {
		name string
		w, h int64
	}{{"default", 0, 0}, {"1280x800", 1280, 800}} {
		if vp.w > 0 {
			if err := br.SetViewport(ctx, vp.w, vp.h); err != nil {
				t.Fatal(err)
			}
			if _, err := br.WaitUpdates(ctx, s.Updates+1); err != nil { // a redraw at the new size
				t.Fatal(err)
			}
		}
		checkLayout(ctx, t, br, vp.name, want)
		shot := filepath.Join(dir, "dashboard-"+vp.name+".png")
		if err := br.Screenshot(ctx, shot); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
			t.Errorf("screenshot %s: %v", shot, err)
		}
		t.Logf("screenshot: %s", shot)
	}

	// A server with a trained bi-encoder as its default and a second model.
	models.Store(modelsTrained)
	if err := br.Open(ctx, url, "#chart-latency canvas"); err != nil {
		t.Fatal(err)
	}
	if s, err = br.WaitUpdates(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if m := s.Model; m == nil || m.ID != "bge-small" || m.Kind != "bi-encoder" || m.Weights != "trained" || m.Models != 2 {
		t.Errorf("model in the header = %+v (%s), want bge-small, bi-encoder, trained, 2 models", m, s.ModelError)
	}
	if h := header(); !strings.Contains(h, "bge-small +1") || !strings.Contains(h, "bi-encoder") || !strings.Contains(h, "trained") {
		t.Errorf("header %q lacks the trained bi-encoder", h)
	}

	if errs := br.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	// The console listener itself works: a deliberate error is seen.
	var one int
	if err := br.Eval(ctx, `console.error("probe-error"); 1`, &one); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(br.ConsoleErrors(), "\n"), "probe-error") {
		if time.Now().After(deadline) {
			t.Fatal("a console.error in the page was not seen: the console check is blind")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkLayout asserts that every shown chart's title is one line high and
// not cut, that its legend is one row whose items neither overlap each
// other nor the plot's canvas, that all of it lies inside the panel, and
// that exactly the series with values (want) left pixels of their legend
// colour on the canvas.
func checkLayout(ctx context.Context, t *testing.T, br *dashboardtest.Browser, viewport string, want counts) {
	t.Helper()
	layout, err := br.Layout(ctx)
	if err != nil {
		t.Fatal(err)
	}
	shown := 0
	for _, c := range layout {
		if c.Hidden {
			continue
		}
		shown++
		where := viewport + " " + c.ID
		if c.TitleLine <= 0 || c.Title.H > c.TitleLine+0.5 {
			t.Errorf("%s: title is %.1f px high, one line is %.1f px", where, c.Title.H, c.TitleLine)
		}
		if c.TitleClip {
			t.Errorf("%s: title is cut short", where)
		}
		if c.LegendLine <= 0 || c.Legend.H > c.LegendLine+0.5 {
			t.Errorf("%s: legend is %.1f px high, one line is %.1f px", where, c.Legend.H, c.LegendLine)
		}
		if c.Canvas.H < 100 || c.Canvas.W < 300 {
			t.Errorf("%s: canvas is only %.0f×%.0f px", where, c.Canvas.W, c.Canvas.H)
		}
		for _, part := range []struct {
			name string
			r    dashboardtest.Rect
		}{{"title", c.Title}, {"legend", c.Legend}, {"canvas", c.Canvas}} {
			if !c.Section.Contains(part.r) {
				t.Errorf("%s: %s %+v sticks out of its panel %+v", where, part.name, part.r, c.Section)
			}
		}
		for name, n := range c.Ink {
			if has := want[c.ID][name] > 0; has != (n > 0) {
				t.Errorf("%s: series %s has %d values and %d pixels of its colour", where, name, want[c.ID][name], n)
			}
		}
		if len(c.Ink) != len(c.Items) {
			t.Errorf("%s: ink measured for %d of %d series", where, len(c.Ink), len(c.Items))
		}
		if c.Title.Intersects(c.Canvas) || c.Legend.Intersects(c.Canvas) || c.Title.Intersects(c.Legend) {
			t.Errorf("%s: title %+v, legend %+v and canvas %+v overlap", where, c.Title, c.Legend, c.Canvas)
		}
		for i, it := range c.Items {
			if it.W == 0 || !c.Legend.Contains(it) {
				t.Errorf("%s: legend item %d %+v is not fully inside the legend row %+v", where, i, it, c.Legend)
			}
			if it.Intersects(c.Canvas) {
				t.Errorf("%s: legend item %d %+v overlaps the plot %+v", where, i, it, c.Canvas)
			}
			for j := 0; j < i; j++ {
				if it.Intersects(c.Items[j]) {
					t.Errorf("%s: legend items %d and %d overlap", where, j, i)
				}
			}
		}
	}
	if shown != 9 {
		t.Errorf("%s: %d charts shown, want 9 (no GPU)", viewport, shown)
	}
}

func TestIndexRedirects(t *testing.T) {
	srv := httptest.NewServer(dashboard.Index())
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasSuffix(loc, "/dashboard") {
		t.Errorf("GET / = %d Location %q, want 302 to /dashboard", resp.StatusCode, loc)
	}
}

func ExampleHandler() {
	h := dashboard.Handler() // mount on GET /dashboard beside the stats handler on GET /v1/stats
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/dashboard", nil))
	fmt.Println(rec.Header().Get("Content-Type"), strings.Contains(rec.Body.String(), "v1/stats"))
	// Output: text/html; charset=utf-8 true
}
