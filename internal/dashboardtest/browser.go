// Package dashboardtest drives a real headless Chromium (Debian's chromium,
// installed by `make setup`) over the DevTools protocol for the dashboard's
// tests: it opens a page, reads the page's window.crossrankDashboard state,
// collects console errors and takes screenshots.
package dashboardtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// State is the dashboard's window.crossrankDashboard.
type State struct {
	Updates int      `json:"updates"` // successful /v1/stats polls
	Errors  []string `json:"errors"`  // failed polls
	Points  int      `json:"points"`  // seconds held
	GPU     bool     `json:"gpu"`
	Charts  map[string]struct {
		Points int            `json:"points"` // values drawn (all series)
		Series map[string]int `json:"series"` // values drawn per series, by legend name
	} `json:"charts"`
	Model *struct {
		ID      string `json:"id"`
		Kind    string `json:"kind"`    // cross-encoder or bi-encoder
		Weights string `json:"weights"` // trained, random twin or weights unknown
		Models  int    `json:"models"`  // models served
	} `json:"model"` // the default model from /v1/models; nil until read
	ModelError string `json:"modelError"` // why /v1/models could not be read
}

// Rect is an element's bounding box in CSS pixels.
type Rect struct {
	X, Y, W, H float64
}

// Intersects reports whether r and o share an area.
func (r Rect) Intersects(o Rect) bool {
	return r.X < o.X+o.W && o.X < r.X+r.W && r.Y < o.Y+o.H && o.Y < r.Y+r.H
}

// Contains reports whether o lies inside r (within half a pixel).
func (r Rect) Contains(o Rect) bool {
	const e = 0.5
	return o.X >= r.X-e && o.Y >= r.Y-e && o.X+o.W <= r.X+r.W+e && o.Y+o.H <= r.Y+r.H+e
}

// ChartLayout is where one chart's parts are drawn.
type ChartLayout struct {
	ID         string  // chart id (section "chart-ID")
	Hidden     bool    // not displayed (GPU charts without a GPU)
	Section    Rect    // the chart's panel
	Title      Rect    // the h2 title's box
	TitleLine  float64 // the title's computed line height
	TitleClip  bool    // the title's text is wider than its box (ellipsis)
	Legend     Rect    // the legend row
	LegendLine float64 // the legend's computed line height
	Items      []Rect  // each legend item
	Canvas     Rect    // the plot's canvas
	// Ink counts, per legend name, the canvas pixels drawn in that
	// series' legend colour: a series with data has some, one without none.
	Ink map[string]int
}

// Layout measures every chart's title, legend and canvas in the page.
func (b *Browser) Layout(ctx context.Context) ([]ChartLayout, error) {
	const js = `JSON.stringify(Array.from(document.querySelectorAll("#charts > section")).map(function (sec) {
  function r(e) { const b = e.getBoundingClientRect(); return {X: b.x, Y: b.y, W: b.width, H: b.height}; }
  const h = sec.querySelector("h2"), lg = sec.querySelector(".legend"), cv = sec.querySelector("canvas");
  return {ID: sec.id.replace(/^chart-/, ""), Hidden: getComputedStyle(sec).display === "none",
    Section: r(sec), Title: r(h), TitleLine: parseFloat(getComputedStyle(h).lineHeight), TitleClip: h.scrollWidth > h.clientWidth,
    Legend: r(lg), LegendLine: parseFloat(getComputedStyle(lg).lineHeight),
    Items: Array.from(lg.children).map(r), Canvas: r(cv), Ink: ink(cv, lg)};
  function ink(cv, lg) {
    const out = {};
    if (cv.width === 0 || cv.height === 0) return out;
    const px = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
    for (const it of lg.children) {
      const m = getComputedStyle(it).color.match(/\d+/g).map(Number);
      let n = 0;
      for (let i = 0; i < px.length; i += 4) {
        if (px[i + 3] > 200 && Math.abs(px[i] - m[0]) + Math.abs(px[i + 1] - m[1]) + Math.abs(px[i + 2] - m[2]) < 24) n++;
      }
      out[it.getAttribute("data-series")] = n;
    }
    return out;
  }
}))`
	var raw string
	if err := b.Eval(ctx, js, &raw); err != nil {
		return nil, err
	}
	var out []ChartLayout
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return nil, fmt.Errorf("dashboardtest: layout %q: %w", raw, err)
	}
	return out, nil
}

// SetViewport resizes the page's viewport to w×h CSS pixels (the page gets
// a resize event).
func (b *Browser) SetViewport(ctx context.Context, w, h int64) error {
	tctx, cancel := b.tab(ctx)
	defer cancel()
	if err := chromedp.Run(tctx, chromedp.EmulateViewport(w, h)); err != nil {
		return fmt.Errorf("dashboardtest: viewport %dx%d: %w", w, h, err)
	}
	return nil
}

// Browser is one headless Chromium with one tab.
type Browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// ChromiumPath finds Debian's chromium.
func ChromiumPath() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("dashboardtest: chromium not found: run `make setup` (target setup-chromium installs Debian's chromium)")
}

// Start launches Chromium headless with a fresh profile; it is closed when
// the test ends. The test fails when Chromium is missing.
func Start(t testing.TB) *Browser {
	t.Helper()
	bin, err := ChromiumPath()
	if err != nil {
		t.Fatal(err)
	}
	// The profile lives outside t.TempDir: Chromium's helper processes can
	// still write into it for a moment after the browser exits, which made
	// t.TempDir's strict cleanup fail now and then.
	profile, err := os.MkdirTemp("", "crossrank-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelB()
		cancelA()
		removeProfile(profile)
	})
	b := &Browser{ctx: bctx}
	chromedp.ListenTarget(bctx, b.onEvent)
	if err := chromedp.Run(bctx, log.Enable(), runtime.Enable()); err != nil {
		t.Fatalf("dashboardtest: start chromium: %v", err)
	}
	return b
}

func (b *Browser) onEvent(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.APITypeError || e.Type == runtime.APITypeAssert {
			var args []string
			for _, a := range e.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.errors = append(b.errors, "console."+string(e.Type)+": "+strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		b.errors = append(b.errors, "exception: "+e.ExceptionDetails.Text+" "+exceptionText(e.ExceptionDetails))
	case *log.EventEntryAdded:
		if e.Entry.Level == log.LevelError {
			b.errors = append(b.errors, "log: "+e.Entry.Text+" "+e.Entry.URL)
		}
	}
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

// Open navigates to url and waits for selector to be visible.
func (b *Browser) Open(ctx context.Context, url, selector string) error {
	tctx, cancel := b.tab(ctx)
	defer cancel()
	if err := chromedp.Run(tctx, chromedp.Navigate(url), chromedp.WaitVisible(selector)); err != nil {
		return fmt.Errorf("dashboardtest: open %s: %w", url, err)
	}
	return nil
}

// tab returns the browser context bounded by ctx's deadline.
func (b *Browser) tab(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(b.ctx, dl)
	}
	return context.WithCancel(b.ctx)
}

// Eval evaluates a JavaScript expression into out.
func (b *Browser) Eval(ctx context.Context, expr string, out any) error {
	tctx, cancel := b.tab(ctx)
	defer cancel()
	if err := chromedp.Run(tctx, chromedp.Evaluate(expr, out)); err != nil {
		return fmt.Errorf("dashboardtest: eval %q: %w", expr, err)
	}
	return nil
}

// State reads window.crossrankDashboard.
func (b *Browser) State(ctx context.Context) (State, error) {
	var raw string
	var s State
	if err := b.Eval(ctx, `JSON.stringify(window.crossrankDashboard || null)`, &raw); err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return s, fmt.Errorf("dashboardtest: state %q: %w", raw, err)
	}
	return s, nil
}

// WaitUpdates waits until the page made at least n successful polls.
func (b *Browser) WaitUpdates(ctx context.Context, n int) (State, error) {
	for {
		s, err := b.State(ctx)
		if err == nil && s.Updates >= n {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("dashboardtest: %d updates, want %d: %w (last error %v)", s.Updates, n, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Screenshot saves a full-page PNG to path.
func (b *Browser) Screenshot(ctx context.Context, path string) error {
	var png []byte
	tctx, cancel := b.tab(ctx)
	defer cancel()
	if err := chromedp.Run(tctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		return fmt.Errorf("dashboardtest: screenshot: %w", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("dashboardtest: screenshot: %w", err)
	}
	return nil
}

// ConsoleErrors returns the console errors, uncaught exceptions and error
// log entries (failed loads) seen so far.
func (b *Browser) ConsoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// removeProfile removes a Chromium profile folder, retrying briefly while
// late helper processes finish writing into it.
func removeProfile(dir string) {
	for i := 0; i < 20; i++ {
		if err := os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
