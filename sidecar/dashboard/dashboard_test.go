package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/valyala/fasthttp"

	"github.com/crossrank/crossrank/sidecar/dashboard"
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

// traffic records n seconds of events; seconds in idle get none. It returns
// how many values each chart should then hold.
func traffic(rec *metrics.Prom, clk *clock, n int, idle map[int]bool) map[string]int {
	want := map[string]int{}
	for s := 0; s < n; s++ {
		if !idle[s] {
			for i := 0; i < 5; i++ {
				rec.Request("/v1/rerank", 200, time.Duration(20+5*i+s%7)*time.Millisecond, 32)
				rec.Stage(metrics.StageTokenize, time.Duration(2+s%3)*time.Millisecond)
				rec.Stage(metrics.StageQueue, time.Duration(s%4)*time.Millisecond)
				rec.Stage(metrics.StageInference, time.Duration(15+s%5)*time.Millisecond)
			}
			rec.Batch("m", 64, 64*40, 64*(60+s%20))
			rec.Batch("m", 96, 96*40, 96*(50+s%10))
			want["latency"] += 3 // p50, p95, p99
			want["stages"] += 3  // tokenize, queue, inference (no plugins)
			want["padding"]++
			want["batch"]++
		}
		want["throughput"]++ // pairs/s is 0, not null, in an idle second
		want["cpu"]++
		want["memory"]++
		rec.Sample(context.Background())
		clk.Add(time.Second)
	}
	return want
}

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: run `make setup` (target setup-chromium installs Debian's chromium)")
	return ""
}

func TestDashboardInChromium(t *testing.T) {
	bin := chromium(t)
	clk := &clock{t: time.Now().Add(-2 * time.Minute).Truncate(time.Second)}
	rec := metrics.New(metrics.WithoutSampler(), metrics.WithClock(clk.Now))
	defer rec.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dh, sh := dashboard.Handler(), rec.StatsHandler()
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/dashboard":
			dh(ctx)
		case "/v1/stats":
			sh(ctx)
		default:
			ctx.NotFound()
		}
	}}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Shutdown()

	want := traffic(rec, clk, 30, map[int]bool{10: true, 11: true, 12: true})

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	var mu sync.Mutex
	var consoleErrors []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError || e.Type == runtime.APITypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				consoleErrors = append(consoleErrors, "console."+string(e.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			consoleErrors = append(consoleErrors, "exception: "+e.ExceptionDetails.Error())
		case *log.EventEntryAdded:
			if e.Entry.Level == log.LevelError {
				consoleErrors = append(consoleErrors, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		}
	})

	url := "http://" + ln.Addr().String() + "/dashboard"
	state := func() (dashState, error) {
		var raw string
		err := chromedp.Run(ctx, chromedp.Evaluate(`JSON.stringify(window.crossrankDashboard)`, &raw))
		var s dashState
		if err == nil {
			err = json.Unmarshal([]byte(raw), &s)
		}
		return s, err
	}
	waitUpdates := func(n int) dashState {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			s, err := state()
			if err == nil && s.Updates >= n {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("dashboard made %d updates, want %d (err %v)", s.Updates, n, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if err := chromedp.Run(ctx, log.Enable(), runtime.Enable(), chromedp.Navigate(url), chromedp.WaitVisible("#chart-latency canvas")); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	s := waitUpdates(2)
	check := func(s dashState, want map[string]int) {
		t.Helper()
		for id, n := range want {
			if got := s.Charts[id].Points; got != n {
				t.Errorf("chart %s holds %d values, want %d", id, got, n)
			}
		}
		for _, id := range []string{"gpu_mem", "gpu_util"} {
			if s.Charts[id].Points != 0 {
				t.Errorf("GPU chart %s has data without a GPU", id)
			}
		}
		if len(s.Errors) > 0 {
			t.Errorf("dashboard fetch errors: %v", s.Errors)
		}
	}
	check(s, want)
	if s.Points != 30 {
		t.Errorf("dashboard holds %d seconds, want 30", s.Points)
	}

	// More traffic: the page's incremental polls (?since=) pick it up.
	more := traffic(rec, clk, 5, nil)
	for k, v := range more {
		want[k] += v
	}
	s = waitUpdates(s.Updates + 2)
	check(s, want)

	var visible bool
	if err := chromedp.Run(ctx, chromedp.Evaluate(`document.getElementById("chart-gpu_mem").classList.contains("hidden") && document.getElementById("k-pps").textContent === "160"`, &visible)); err != nil {
		t.Fatal(err)
	}
	if !visible {
		t.Error("GPU charts shown without a GPU, or the pairs/s KPI is not the last second's 160")
	}

	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	if d := os.Getenv("CROSSRANK_SCREENSHOT_DIR"); d != "" {
		shot = filepath.Join(d, "dashboard.png")
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	if len(png) < 10_000 {
		t.Errorf("screenshot only %d bytes", len(png))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(consoleErrors) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(consoleErrors, "\n"))
	}
}

type dashState struct {
	Updates int      `json:"updates"`
	Errors  []string `json:"errors"`
	Points  int      `json:"points"`
	GPU     bool     `json:"gpu"`
	Charts  map[string]struct {
		Points int `json:"points"`
	} `json:"charts"`
}

func ExampleHandler() {
	h := dashboard.Handler() // mount on GET /dashboard beside metrics' StatsHandler on GET /v1/stats
	var ctx fasthttp.RequestCtx
	h(&ctx)
	fmt.Println(string(ctx.Response.Header.ContentType()), strings.Contains(string(ctx.Response.Body()), "v1/stats"))
	// Output: text/html; charset=utf-8 true
}
