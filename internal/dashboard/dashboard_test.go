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

// traffic records n seconds of events; seconds in idle get none. It returns
// how many values each chart should then hold.
func traffic(rec *prom.Prom, clk *clock, n int, idle map[int]bool) map[string]int {
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

func TestDashboardInChromium(t *testing.T) {
	clk := &clock{t: time.Now().Add(-2 * time.Minute).Truncate(time.Second)}
	rec := prom.New(prom.WithoutSampler(), prom.WithClock(clk.Now))
	defer rec.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /dashboard", dashboard.Handler())
	mux.Handle("GET /v1/stats", rec.StatsHandler())
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Close()

	want := traffic(rec, clk, 30, map[int]bool{10: true, 11: true, 12: true})

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
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
	check := func(s dashboardtest.State, want map[string]int) {
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
	shot := filepath.Join(dir, "dashboard.png")
	if err := br.Screenshot(ctx, shot); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
	t.Logf("screenshot: %s", shot)
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

func ExampleHandler() {
	h := dashboard.Handler() // mount on GET /dashboard beside metrics' StatsHandler on GET /v1/stats
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/dashboard", nil))
	fmt.Println(w.Header().Get("Content-Type"), strings.Contains(w.Body.String(), "v1/stats"))
	// Output: text/html; charset=utf-8 true
}
