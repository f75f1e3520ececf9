package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/crossrank/crossrank/internal/bench"
	"github.com/crossrank/crossrank/internal/dashboardtest"
	"github.com/crossrank/crossrank/internal/metrics/stats"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models/tokenizer"
	"github.com/crossrank/crossrank/sidecar/config"
)

// TestBenchMetricsMatchRequests runs a short bench against a real in-process
// sidecar (ONNX Runtime, the twin) and checks /metrics and /v1/stats against
// the requests the bench sent; real token counts are derived independently
// with the tokenizer.
func TestBenchMetricsMatchRequests(t *testing.T) {
	testenv.ORTLib(t)
	twin := testenv.TwinDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	url, stop, err := startInProcess(ctx, twin, func(c *config.Config) { c.CacheSize = 0; c.Workers = 1 })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	const batch, requests, warmup = 4, 10, 1
	corpus := bench.NewSynthetic(bench.SyntheticConfig{Seed: 9})
	c, err := bench.NewClient(url, "")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := bench.Bench(ctx, bench.Options{Client: c, Corpus: corpus,
		Configs: []bench.Config{{Batch: batch, Concurrency: 2, Requests: requests, Warmup: warmup}}})
	if err != nil {
		t.Fatal(err)
	}
	cr := rep.Configs[0]
	if cr.Errors != 0 || cr.Requests != requests || cr.Pairs != requests*batch {
		t.Fatalf("bench: %d requests, %d errors, %d pairs", cr.Requests, cr.Errors, cr.Pairs)
	}
	if rep.Backend == "unknown" || rep.Model == "unknown" {
		t.Errorf("target not described from /v1/models: model %q backend %q", rep.Model, rep.Backend)
	}
	// The report says which model ran, its kind and that its weights are a twin's.
	if !strings.Contains(rep.Model, "twin") || !strings.Contains(rep.Model, "cross-encoder") || !strings.Contains(rep.Model, "random weights") {
		t.Errorf("report model %q does not say twin, cross-encoder, random weights", rep.Model)
	}

	// Independent count of the real tokens of every pair sent.
	tok, err := tokenizer.Load(filepath.Join(twin, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	realTokens := 0
	for i := 0; i < warmup+requests; i++ {
		q, docs := corpus.Request(i, batch)
		for _, d := range docs {
			var text string
			if err := json.Unmarshal(d, &text); err != nil {
				t.Fatal(err)
			}
			enc, err := tok.EncodePair(q, text)
			if err != nil {
				t.Fatal(err)
			}
			realTokens += len(enc.IDs)
		}
	}

	m := scrapeMetrics(t, url)
	sent := float64(warmup + requests)
	pairs := sent * batch
	checks := []struct {
		name      string
		got, want float64
	}{
		{`crossrank_requests_total{route="/v1/rerank",code="200"}`, m.value("crossrank_requests_total", "route", "/v1/rerank", "code", "200"), sent},
		{`crossrank_request_duration_seconds_count{route="/v1/rerank"}`, m.count("crossrank_request_duration_seconds", "route", "/v1/rerank"), sent},
		{"crossrank_pairs_total", m.value("crossrank_pairs_total"), pairs},
		{"crossrank_batch_pairs_sum", m.sum("crossrank_batch_pairs"), pairs},
		{`crossrank_tokens_total{kind="real"}`, m.value("crossrank_tokens_total", "kind", "real"), float64(realTokens)},
		{`crossrank_stage_duration_seconds_count{stage="tokenize"}`, m.count("crossrank_stage_duration_seconds", "stage", "tokenize"), sent},
		{`crossrank_stage_duration_seconds_count{stage="inference"} = batches`, m.count("crossrank_stage_duration_seconds", "stage", "inference"), m.count("crossrank_batch_pairs")},
		{"crossrank_cache_misses_total", m.value("crossrank_cache_misses_total"), pairs},
		{"crossrank_cache_hits_total", m.value("crossrank_cache_hits_total"), 0},
		{"crossrank_inflight_requests", m.value("crossrank_inflight_requests"), 0},
		{"crossrank_queue_pairs", m.value("crossrank_queue_pairs"), 0},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	if m.value("crossrank_tokens_total", "kind", "padded") < 0 || m.count("crossrank_batch_pairs") < 1 {
		t.Error("no batches recorded")
	}

	// /v1/stats: every request and pair lands in some second.
	resp, err := http.Get(url + "/v1/stats?current=1")
	if err != nil {
		t.Fatal(err)
	}
	var snap stats.Snapshot
	err = json.NewDecoder(resp.Body).Decode(&snap)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var sReq, sPairs int
	for _, p := range snap.Points {
		sReq += p.Requests
		sPairs += p.Pairs
	}
	if sReq != int(sent) || sPairs != int(pairs) {
		t.Errorf("/v1/stats: %d requests %d pairs, want %v %v", sReq, sPairs, sent, pairs)
	}
	// The dashboard is mounted beside them.
	resp, err = http.Get(url + "/dashboard")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("crossrankDashboard")) {
		t.Errorf("/dashboard: %d", resp.StatusCode)
	}
}

// TestBenchCommand runs `crossrank bench --model` end to end and checks the
// report has every section of the reference report.
func TestBenchCommand(t *testing.T) {
	testenv.ORTLib(t)
	twin := testenv.TwinDir(t)
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	cmd := newBenchCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"--model", twin, "--synthetic", "--batch", "4", "--concurrency", "2", "--requests", "6", "--warmup", "1", "--report", dir, "--name", "cli"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "report: "+filepath.Join(dir, "report.md")) {
		t.Errorf("stdout: %s", out.String())
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# cli", "## Results Summary", "## Detailed Metrics", "### Config 1: batch=4, concurrency=2",
		"#### Latency (ms)", "#### Throughput (pairs/s)", "#### Latency vs Throughput Analysis", "**Correlation:**",
		"## Overall Summary", "## Dashboard Metrics Summary", "| Inference (ms) |", "## Dashboard Time-Series Data", "**Backend:** `onnxruntime` | **Device:** `cpu`"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, f := range []string{"report.json", "latency_over_time.png", "throughput_over_time.png", "latency_histogram_1.png", "stage_breakdown.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// Bad input gets a clear error.
	for _, args := range [][]string{
		{"--synthetic"},
		{"--target", "http://x", "--model", twin},
		{"--target", "http://127.0.0.1:1", "--sweep", "batch=0"},
		{"--target", "http://127.0.0.1:1", "--corpus", "x.jsonl", "--synthetic"},
	} {
		c := newBenchCmd()
		c.SetOut(io.Discard)
		c.SetErr(io.Discard)
		c.SetArgs(args)
		if err := c.ExecuteContext(ctx); err == nil {
			t.Errorf("bench %v: want an error", args)
		}
	}
}

type scraped map[string][]*promMetric

type promMetric struct {
	labels map[string]string
	value  float64
	count  float64
	sum    float64
}

func scrapeMetrics(t *testing.T, url string) scraped {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := scraped{}
	for name, f := range fams {
		for _, m := range f.Metric {
			pm := &promMetric{labels: map[string]string{}}
			for _, l := range m.Label {
				pm.labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.Counter != nil:
				pm.value = m.Counter.GetValue()
			case m.Gauge != nil:
				pm.value = m.Gauge.GetValue()
			case m.Histogram != nil:
				pm.count = float64(m.Histogram.GetSampleCount())
				pm.sum = m.Histogram.GetSampleSum()
			}
			out[name] = append(out[name], pm)
		}
	}
	return out
}

func (s scraped) find(name string, kv ...string) *promMetric {
	for _, m := range s[name] {
		ok := true
		for i := 0; i+1 < len(kv); i += 2 {
			if m.labels[kv[i]] != kv[i+1] {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	return &promMetric{value: -1, count: -1, sum: -1}
}

func (s scraped) value(name string, kv ...string) float64 { return s.find(name, kv...).value }
func (s scraped) count(name string, kv ...string) float64 { return s.find(name, kv...).count }
func (s scraped) sum(name string, kv ...string) float64   { return s.find(name, kv...).sum }

// TestDashboardLiveSidecar opens /dashboard of a real in-process sidecar in
// headless Chromium while the bench drives traffic, and checks the charts
// fill from /v1/stats with no console errors.
func TestDashboardLiveSidecar(t *testing.T) {
	testenv.ORTLib(t)
	twin := testenv.TwinDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	url, stop, err := startInProcess(ctx, twin, func(c *config.Config) { c.CacheSize = 0 })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	br := dashboardtest.Start(t)
	// The root URL opens the dashboard (a redirect Chromium follows).
	if err := br.Open(ctx, url+"/", "#chart-latency canvas"); err != nil {
		t.Fatal(err)
	}
	c, err := bench.NewClient(url, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bench.Run(ctx, c, bench.NewSynthetic(bench.SyntheticConfig{Seed: 5}),
		bench.Config{Batch: 4, Concurrency: 2, Duration: 3 * time.Second}, nil); err != nil {
		t.Fatal(err)
	}
	s, err := br.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Two more polls so the last traffic second is complete and fetched.
	if s, err = br.WaitUpdates(ctx, s.Updates+2); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"latency", "throughput", "stages", "padding", "batch", "cpu", "memory"} {
		if s.Charts[id].Points == 0 {
			t.Errorf("chart %s is empty after traffic", id)
		}
	}
	if s.Charts["gpu_mem"].Points != 0 {
		t.Error("GPU chart has data on a CPU sidecar")
	}
	// The header names the served model from the real /v1/models: the twin.
	if m := s.Model; m == nil || m.ID == "" || m.Kind != "cross-encoder" || m.Weights != "random twin" {
		t.Errorf("dashboard model = %+v (%s), want the twin: a cross-encoder with random weights", m, s.ModelError)
	}
	dir := t.TempDir()
	if d := os.Getenv("CROSSRANK_SCREENSHOT_DIR"); d != "" {
		dir = d
	}
	shot := filepath.Join(dir, "dashboard-live.png")
	if err := br.Screenshot(ctx, shot); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
	if errs := br.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// TestBenchRateSweep runs `bench --rate-sweep` on the twin in process: a
// closed-loop capacity run, then open-loop runs at fractions of it; the
// report holds the curve (table, knee rule, ASCII plot) and the capacity
// line, whose replica count follows the documented rule from the measured
// curve.
func TestBenchRateSweep(t *testing.T) {
	testenv.ORTLib(t)
	twin := testenv.TwinDir(t)
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	cmd := newBenchCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"--model", twin, "--batch", "4", "--rate-sweep", "0.5,1.5", "--capacity-concurrency", "2", "--duration", "2s",
		"--warmup", "1", "--deadline", "30s", "--target-qps", "20", "--p95-target", "30s", "--report", dir, "--quiet"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Configs []struct{ Label string } `json:"configs"`
		Curve   *bench.Curve             `json:"curve"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	c := rep.Curve
	if c == nil || len(rep.Configs) != 3 || len(c.Points) != 2 || !(c.CapacityRPS > 0) || c.CapacityConcurrency != 2 {
		t.Fatalf("report: %d configs, curve %+v", len(rep.Configs), c)
	}
	for i, f := range []float64{0.5, 1.5} {
		p := c.Points[i]
		if p.Fraction != f || math.Abs(p.OfferedRPS-f*c.CapacityRPS) > 1e-9 || p.Config != i+2 || p.Requests == 0 || p.Dropped < 0 {
			t.Errorf("point %d: %+v (capacity %g)", i, p, c.CapacityRPS)
		}
	}
	if c.Plan == nil {
		t.Fatal("no capacity line")
	}
	if c.Plan.PerReplicaRPS > 0 && c.Plan.Replicas != int(math.Ceil(20*4/(c.Plan.PerReplicaRPS*4))) {
		t.Errorf("capacity line %+v does not follow the rule", c.Plan)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Latency–Throughput Curve (open loop)", "| Offered | x Capacity |", "Dropped past deadline", "Knee = highest offered rate",
		"offered req/s  latency", "Capacity: 20 QPS × top-4 at p95 ≤ 30s", "### Config 1: batch=4, concurrency=2"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if !strings.Contains(out.String(), "capacity ") || !strings.Contains(out.String(), "offered ") {
		t.Errorf("stdout: %s", out.String())
	}
	for _, args := range [][]string{
		{"--model", twin, "--rate-sweep", "1,0.5"},
		{"--model", twin, "--rate-sweep", "auto", "--rate", "3"},
		{"--model", twin, "--rate-sweep", "auto", "--sweep", "batch=4"},
		{"--model", twin, "--target-qps", "10"},
	} {
		c := newBenchCmd()
		c.SetOut(io.Discard)
		c.SetErr(io.Discard)
		c.SetArgs(args)
		if err := c.ExecuteContext(ctx); err == nil {
			t.Errorf("bench %v: want an error", args)
		}
	}
}
