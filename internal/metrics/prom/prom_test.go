package prom_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/crossrank/crossrank/internal/metrics/prom"
	"github.com/crossrank/crossrank/internal/metrics/stats"
	"github.com/crossrank/crossrank/sidecar/metrics"
)

// clock is a settable test clock.
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

// serve starts a real HTTP server on loopback with the two handlers.
func serve(t *testing.T, p *prom.Prom) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", p.MetricsHandler())
	mux.Handle("GET /v1/stats", p.StatsHandler())
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func scrape(t *testing.T, base string) map[string]*dto {
	t.Helper()
	code, body := get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string]*dto{}
	for name, f := range fams {
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			d := &dto{}
			switch {
			case m.Counter != nil:
				d.value = m.Counter.GetValue()
			case m.Gauge != nil:
				d.value = m.Gauge.GetValue()
			case m.Histogram != nil:
				d.count = m.Histogram.GetSampleCount()
				d.sum = m.Histogram.GetSampleSum()
			}
			out[key] = d
		}
	}
	return out
}

type dto struct {
	value float64
	count uint64
	sum   float64
}

func TestMetricsExposition(t *testing.T) {
	p := prom.New(prom.WithoutSampler())
	defer p.Close()
	base := serve(t, p)

	p.Inflight(3)
	p.Inflight(-1)
	p.Request("/v1/rerank", 200, 20*time.Millisecond, 10)
	p.Request("/v1/rerank", 200, 40*time.Millisecond, 30)
	p.Request("/v1/rerank", 400, time.Millisecond, 5)
	p.Stage(metrics.StageTokenize, 2*time.Millisecond)
	p.Stage(metrics.StageInference, 8*time.Millisecond)
	p.Batch("twin", 40, 1000, 1600)
	p.QueuePairs(7)
	p.Cache(3, 37)
	p.EmbeddingCache(11, 5)
	p.PluginError("clean", "trap")
	p.Panic("/v1/rerank")
	p.Panic("/v1/rerank")

	m := scrape(t, base)
	tests := []struct {
		key  string
		want float64
	}{
		{"crossrank_requests_total{code=200,route=/v1/rerank}", 2},
		{"crossrank_requests_total{code=400,route=/v1/rerank}", 1},
		{"crossrank_pairs_total{}", 40}, // the 400 request's pairs are not scored
		{"crossrank_tokens_total{kind=real}", 1000},
		{"crossrank_tokens_total{kind=padded}", 600},
		{"crossrank_queue_pairs{}", 7},
		{"crossrank_inflight_requests{}", 2},
		{"crossrank_cache_hits_total{}", 3},
		{"crossrank_cache_misses_total{}", 37},
		{"crossrank_embedding_cache_hits_total{}", 11},
		{"crossrank_embedding_cache_misses_total{}", 5},
		{"crossrank_plugin_errors_total{kind=trap,plugin=clean}", 1},
		{"crossrank_panics_total{route=/v1/rerank}", 2},
	}
	for _, tc := range tests {
		d, ok := m[tc.key]
		if !ok {
			t.Errorf("%s missing", tc.key)
			continue
		}
		if d.value != tc.want {
			t.Errorf("%s = %v, want %v", tc.key, d.value, tc.want)
		}
	}
	hist := []struct {
		key   string
		count uint64
		sum   float64
	}{
		{"crossrank_request_duration_seconds{route=/v1/rerank}", 3, 0.061},
		{"crossrank_stage_duration_seconds{stage=tokenize}", 1, 0.002},
		{"crossrank_stage_duration_seconds{stage=inference}", 1, 0.008},
		{"crossrank_stage_duration_seconds{stage=queue}", 0, 0},
		{"crossrank_stage_duration_seconds{stage=plugins}", 0, 0},
		{"crossrank_batch_pairs{}", 1, 40},
	}
	for _, tc := range hist {
		d, ok := m[tc.key]
		if !ok {
			t.Errorf("%s missing", tc.key)
			continue
		}
		if d.count != tc.count || math.Abs(d.sum-tc.sum) > 1e-9 {
			t.Errorf("%s = count %d sum %v, want %d %v", tc.key, d.count, d.sum, tc.count, tc.sum)
		}
	}
	for _, want := range []string{"process_resident_memory_bytes{}", "go_goroutines{}"} {
		if _, ok := m[want]; !ok {
			t.Errorf("standard collector %s missing", want)
		}
	}
	for k := range m {
		if strings.HasPrefix(k, "crossrank_gpu") {
			t.Errorf("GPU metric %s present without a GPU probe", k)
		}
	}
}

func TestStatsRing(t *testing.T) {
	clk := &clock{t: time.Unix(1_000_000, 0)}
	p := prom.New(prom.WithoutSampler(), prom.WithClock(clk.Now), prom.WithWindow(10*time.Second),
		prom.WithProcessProbe(fixedProc{cpu: 150, rss: 321}))
	defer p.Close()
	base := serve(t, p)

	// Second 0: 5 requests 10..50 ms, 2 batches.
	for i := 1; i <= 5; i++ {
		p.Request("/v1/rerank", 200, time.Duration(i*10)*time.Millisecond, 20)
	}
	p.Request("/v1/rerank", 500, time.Second, 20) // error: not in latency or pairs
	p.Request("/v1/rerank", 422, time.Millisecond, 0)
	p.Request("/v1/rerank", 499, time.Millisecond, 0)
	p.Stage(metrics.StageTokenize, 4*time.Millisecond)
	p.Stage(metrics.StageTokenize, 6*time.Millisecond)
	p.Stage(metrics.StageInference, 30*time.Millisecond)
	p.Batch("m", 64, 600, 1000)
	p.Batch("m", 36, 400, 1000)
	p.EmbeddingCache(4, 1)
	p.EmbeddingCache(2, 0)
	p.Inflight(2)
	p.Sample(context.Background())
	clk.Add(time.Second)
	// Second 1: nothing. Second 2: one request.
	clk.Add(time.Second)
	p.Request("/v1/rerank", 200, 7*time.Millisecond, 3)
	clk.Add(time.Second)

	code, body := get(t, base+"/v1/stats")
	if code != 200 {
		t.Fatalf("/v1/stats: %d %s", code, body)
	}
	var s stats.Snapshot
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	if s.Now != 1_000_003 || s.WindowS != 10 || s.GPU {
		t.Errorf("header = %+v", s)
	}
	if len(s.Points) != 3 {
		t.Fatalf("points = %d, want 3 (seconds 0,1,2; current second excluded)", len(s.Points))
	}
	p0 := s.Points[0]
	if p0.EmbeddingCacheHits != 6 || p0.EmbeddingCacheMisses != 1 || s.Points[1].EmbeddingCacheHits != 0 {
		t.Errorf("embedding cache points: %+v", s.Points[:2])
	}
	checks := []struct {
		name string
		got  *float64
		want float64
	}{
		{"p50", p0.LatP50Ms, 30},
		{"p95", p0.LatP95Ms, 48}, // 40 + 0.8*10 (linear interpolation, 5 values)
		{"p99", p0.LatP99Ms, 49.6},
		{"avg", p0.LatAvgMs, 30},
		{"tokenize", p0.TokenizeMs, 5},
		{"inference", p0.InferenceMs, 30},
		{"batch", p0.BatchSize, 50},
		{"padding", p0.PaddingWastePct, 50},
		{"cpu", p0.CPUPct, 150},
		{"rss", p0.RSSMB, 321},
	}
	for _, c := range checks {
		if c.got == nil {
			t.Errorf("%s is null", c.name)
			continue
		}
		if math.Abs(*c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, *c.got, c.want)
		}
	}
	if p0.Errors4xx != 2 || p0.Errors5xx != 1 {
		t.Errorf("errors by class: 4xx %d, 5xx %d, want 2 and 1", p0.Errors4xx, p0.Errors5xx)
	}
	if p0.Requests != 8 || p0.Errors != 3 || p0.Pairs != 100 || p0.PairsPerSec != 100 || p0.QueueMs != nil {
		t.Errorf("second 0 = %+v", p0)
	}
	if p0.Inflight == nil || *p0.Inflight != 2 {
		t.Errorf("inflight = %v", p0.Inflight)
	}
	if p1 := s.Points[1]; p1.Requests != 0 || p1.LatP50Ms != nil || p1.CPUPct != nil {
		t.Errorf("empty second = %+v", p1)
	}
	if p2 := s.Points[2]; p2.Pairs != 3 || p2.LatP99Ms == nil || *p2.LatP99Ms != 7 {
		t.Errorf("second 2 = %+v", p2)
	}

	// since= filters, bad input is a clear 400.
	_, body = get(t, fmt.Sprintf("%s/v1/stats?since=%d", base, 1_000_001))
	if err := json.Unmarshal(body, &s); err != nil || len(s.Points) != 1 || s.Points[0].T != 1_000_002 {
		t.Errorf("since: %s", body)
	}
	for _, q := range []string{"since=abc", "window=-1s", "window=x"} {
		code, body := get(t, base+"/v1/stats?"+q)
		if code != 400 || !strings.Contains(string(body), "error") {
			t.Errorf("%s: %d %s, want 400 with an error", q, code, body)
		}
	}

	// After the window passes, old seconds are gone.
	clk.Add(20 * time.Second)
	_, body = get(t, base+"/v1/stats")
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Points) != 9 { // 10 buckets, one of them the current second
		t.Fatalf("after window: %d points, want 9", len(s.Points))
	}
	for _, pt := range s.Points {
		if pt.Requests != 0 {
			t.Errorf("stale second %d kept: %+v", pt.T, pt)
		}
	}
}

type fixedProc struct{ cpu, rss float64 }

func (f fixedProc) Sample() (stats.ProcessSample, error) {
	return stats.ProcessSample{CPUPercent: f.cpu, RSSMB: f.rss}, nil
}

func TestProcProbeReadsThisProcess(t *testing.T) {
	pr := stats.NewProcProbe()
	if _, err := pr.Sample(); err != nil {
		t.Fatal(err)
	}
	// Burn some CPU so the second sample sees it.
	deadline := time.Now().Add(200 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	s, err := pr.Sample()
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSMB < 1 || s.CPUPercent <= 0 {
		t.Errorf("sample = %+v (x=%d)", s, x)
	}
}

func TestSamplerFillsResources(t *testing.T) {
	p := prom.New()
	defer p.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s := p.Ring().Snapshot(stats.StatsQuery{Current: true})
		for _, pt := range s.Points {
			if pt.RSSMB != nil && *pt.RSSMB > 1 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("sampler recorded no memory reading within 5s")
}

func TestRingConcurrent(t *testing.T) {
	p := prom.New(prom.WithoutSampler())
	defer p.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				p.Request("/v1/rerank", 200, time.Millisecond, 2)
				p.Batch("m", 2, 10, 12)
				_ = p.Ring().Snapshot(stats.StatsQuery{Current: true})
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, pt := range p.Ring().Snapshot(stats.StatsQuery{Current: true}).Points {
		total += pt.Requests
	}
	if total != 8000 {
		t.Errorf("requests = %d, want 8000", total)
	}
}

func ExampleNew() {
	rec := prom.New(prom.WithoutSampler())
	defer rec.Close()
	var r metrics.Recorder = rec // hand it to the server, batcher and plugin host
	r.Request("/v1/rerank", 200, 12*time.Millisecond, 50)
	pts := rec.Ring().Snapshot(stats.StatsQuery{Current: true}).Points
	last := pts[len(pts)-1]
	fmt.Println(last.Requests, last.Pairs, *last.LatP50Ms)
	// Output: 1 50 12
}

// BenchmarkRecorder measures the cost the sidecar pays per request for
// metrics: one Request, three Stage and one Batch event, from parallel
// goroutines.
func BenchmarkRecorder(b *testing.B) {
	p := prom.New(prom.WithoutSampler())
	defer p.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Stage(metrics.StageTokenize, time.Millisecond)
			p.Stage(metrics.StageQueue, time.Millisecond)
			p.Stage(metrics.StageInference, 5*time.Millisecond)
			p.Batch("m", 32, 2000, 3000)
			p.Request("/v1/rerank", 200, 9*time.Millisecond, 32)
		}
	})
}

// BenchmarkSnapshot measures a full /v1/stats snapshot of a 15-minute ring
// with 100 requests in every second.
func BenchmarkSnapshot(b *testing.B) {
	clk := &clock{t: time.Unix(2_000_000, 0)}
	p := prom.New(prom.WithoutSampler(), prom.WithClock(clk.Now))
	defer p.Close()
	for s := 0; s < 900; s++ {
		for i := 0; i < 100; i++ {
			p.Request("/v1/rerank", 200, time.Duration(i)*time.Millisecond, 32)
		}
		clk.Add(time.Second)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n := len(p.Ring().Snapshot(stats.StatsQuery{}).Points); n != 899 {
			b.Fatalf("%d points", n)
		}
	}
}
