package bench_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/crossrank/crossrank/internal/bench"
	"github.com/crossrank/crossrank/internal/metrics/prom"
	"github.com/crossrank/crossrank/sidecar/metrics"
)

// stubTarget is a loopback fasthttp server answering /v1/rerank with one
// score per document and recording metrics like the sidecar.
func stubTarget(t *testing.T, fail func(i int) bool) (string, *prom.Prom) {
	t.Helper()
	rec := prom.New()
	t.Cleanup(func() { rec.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mh, sh := fasthttpadaptor.NewFastHTTPHandler(rec.MetricsHandler()), fasthttpadaptor.NewFastHTTPHandler(rec.StatsHandler())
	var n atomic.Int64
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/metrics":
			mh(ctx)
		case "/v1/stats":
			sh(ctx)
		case "/v1/rerank":
			start := time.Now()
			var req struct {
				Query     string            `json:"query"`
				Documents []json.RawMessage `json:"documents"`
			}
			i := int(n.Add(1))
			if err := json.Unmarshal(ctx.PostBody(), &req); err != nil || (fail != nil && fail(i)) {
				ctx.SetStatusCode(500)
				rec.Request("/v1/rerank", 500, time.Since(start), 0)
				return
			}
			time.Sleep(2 * time.Millisecond)
			rec.Stage(metrics.StageTokenize, time.Millisecond)
			rec.Stage(metrics.StageQueue, 0)
			rec.Stage(metrics.StageInference, time.Millisecond)
			rec.Batch("stub", len(req.Documents), 10*len(req.Documents), 16*len(req.Documents))
			type res struct {
				Index int     `json:"index"`
				Score float64 `json:"relevance_score"`
			}
			out := struct {
				Results []res `json:"results"`
			}{}
			for i := range req.Documents {
				out.Results = append(out.Results, res{i, 1 / float64(i+1)})
			}
			b, _ := json.Marshal(out)
			ctx.SetContentType("application/json")
			ctx.SetBody(b)
			rec.Request("/v1/rerank", 200, time.Since(start), len(req.Documents))
		default:
			ctx.NotFound()
		}
	}}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String(), rec
}

func TestBenchReportHasEverySection(t *testing.T) {
	url, _ := stubTarget(t, nil)
	c, err := bench.NewClient(url, "")
	if err != nil {
		t.Fatal(err)
	}
	cfgs, err := bench.ParseSweep("batch=4,8;concurrency=1,2", bench.Config{Requests: 30, Warmup: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := bench.Bench(ctx, bench.Options{Name: "short", Client: c, Corpus: bench.NewSynthetic(bench.SyntheticConfig{Seed: 1}), Configs: cfgs})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if d := os.Getenv("CROSSRANK_BENCH_KEEP"); d != "" {
		dir = d // keep the report for a look
	}
	if err := rep.Write(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# short", "**Timestamp:**", "**Model:**", "**Backend:**",
		"## Results Summary", "| Batch | Conc | Pairs | Time(s) | Lat Avg | Lat P95 | Lat P99 | TP Avg | TP P95 |",
		"## Detailed Metrics", "### Config 1: batch=4, concurrency=1", "### Config 4: batch=8, concurrency=2",
		"#### Latency (ms)", "#### Throughput (pairs/s)", "| Std Dev |", "| P90 |", "| P99 |",
		"#### Latency vs Throughput Analysis", "(P50-P75)", "(P90+)", "**Correlation:**",
		"## Overall Summary", "| Best Throughput |", "| Best Latency |",
		"## Dashboard Metrics Summary", "| Memory (MB) |", "| CPU Usage (%) |", "| Tokenization (ms) |", "| Inference (ms) |", "| Queue Wait (ms) |", "| Padding Waste (%) |",
		"## Dashboard Time-Series Data", "| Index | Config |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	var back bench.Report
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if len(back.Configs) != 4 {
		t.Fatalf("%d configs in report.json", len(back.Configs))
	}
	for _, cr := range back.Configs {
		if cr.Requests != 30 || cr.Errors != 0 || len(cr.Samples) != 30 || cr.Pairs != 30*cr.Config.Batch {
			t.Errorf("%s: %d requests %d errors %d samples %d pairs", cr.Label, cr.Requests, cr.Errors, len(cr.Samples), cr.Pairs)
		}
	}
	if len(back.Stats) == 0 {
		t.Error("no /v1/stats points in the report")
	}
	// Padding waste of the stub is 6/16 = 37.5 % in every second.
	for _, m := range back.Dashboard {
		if m.Name == "Padding Waste (%)" && (m.Min != 37.5 || m.Max != 37.5) {
			t.Errorf("padding waste = %+v, want 37.5", m)
		}
	}
	for _, p := range []string{"latency_over_time.png", "throughput_over_time.png", "latency_histogram_1.png", "stage_breakdown.png"} {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || len(b) < 8 || string(b[1:4]) != "PNG" {
			t.Errorf("plot %s missing or not a PNG (%v)", p, err)
		}
		if !strings.Contains(string(md), "("+p+")") {
			t.Errorf("report.md does not link %s", p)
		}
	}
}

func TestOpenLoopSchedule(t *testing.T) {
	url, _ := stubTarget(t, nil)
	c, _ := bench.NewClient(url, "")
	res, err := bench.Run(context.Background(), c, bench.NewSynthetic(bench.SyntheticConfig{Seed: 1}),
		bench.Config{Batch: 2, Rate: 50, Requests: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cr := bench.NewConfigReport(1, res)
	if cr.Requests != 10 || cr.Errors != 0 {
		t.Fatalf("%+v", cr)
	}
	// Open loop: request k is scheduled at k/rate, and latency counts from then.
	for k, s := range cr.Samples {
		if want := float64(k) * 20; s.StartMs < want-0.001 || s.StartMs > want+0.001 {
			t.Errorf("request %d scheduled at %.3fms, want %.0fms", k, s.StartMs, want)
		}
	}
}

func TestErrorsAreCounted(t *testing.T) {
	url, _ := stubTarget(t, func(i int) bool { return i%3 == 0 })
	c, _ := bench.NewClient(url, "")
	res, err := bench.Run(context.Background(), c, bench.NewSynthetic(bench.SyntheticConfig{Seed: 1}),
		bench.Config{Batch: 2, Concurrency: 1, Requests: 9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cr := bench.NewConfigReport(1, res)
	if cr.Errors != 3 || cr.Latency.N != 6 || !strings.Contains(cr.FirstErrors[0], "HTTP 500") {
		t.Errorf("errors %d, ok %d, first %v", cr.Errors, cr.Latency.N, cr.FirstErrors)
	}
}

func TestBadInput(t *testing.T) {
	for _, u := range []string{"", "localhost:8080", "ftp://x", "http://"} {
		if _, err := bench.NewClient(u, ""); err == nil {
			t.Errorf("NewClient(%q): want error", u)
		}
	}
	for _, c := range []bench.Config{
		{Batch: 0, Concurrency: 1, Requests: 1},
		{Batch: 1, Concurrency: 0, Requests: 1},
		{Batch: 1, Concurrency: 1},
		{Batch: 1, Rate: -1, Requests: 1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: want error", c)
		}
	}
}
