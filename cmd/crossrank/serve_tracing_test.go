package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/otlptest"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/sidecar/config"
)

// The client's trace context, as a W3C traceparent sends it.
const (
	clientTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpan   = "00f067aa0ba902b7"
	clientParent = "00-" + clientTrace + "-" + clientSpan + "-01"
	clientState  = "acme=t61rcWkgMzE"
)

func post(t *testing.T, url string, body any, header map[string]string) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// spanTree indexes received spans.
type spanTree struct {
	t     *testing.T
	spans []otlptest.Span
}

// one returns the only span named name whose parent is parent ("" : any).
func (s spanTree) one(name string, parent *otlptest.Span) otlptest.Span {
	s.t.Helper()
	var found []otlptest.Span
	for _, sp := range s.spans {
		if sp.Name == name && (parent == nil || (sp.ParentID == parent.SpanID && sp.TraceID == parent.TraceID)) {
			found = append(found, sp)
		}
	}
	if len(found) != 1 {
		s.t.Fatalf("%d spans named %q under %v, want 1; got: %s", len(found), name, parentName(parent), describeSpans(s.spans))
	}
	return found[0]
}

func (s spanTree) children(p otlptest.Span) []string {
	var out []string
	for _, sp := range s.spans {
		if sp.ParentID == p.SpanID && sp.TraceID == p.TraceID {
			out = append(out, sp.Name)
		}
	}
	return out
}

func parentName(p *otlptest.Span) string {
	if p == nil {
		return "any parent"
	}
	return p.Name
}

func describeSpans(spans []otlptest.Span) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "\n  %s trace=%s span=%s parent=%s attrs=%v links=%d", s.Name, s.TraceID, s.SpanID, s.ParentID, s.Attrs, len(s.Links))
	}
	return b.String()
}

// TestServeTraces runs serve in process on the twin with its OTLP exporter
// pointed at a real in-process receiver, over HTTP and over gRPC, and
// checks the span tree of a request through a plugin pipeline: names,
// parents, links, attributes, and that the client's trace id is kept.
func TestServeTraces(t *testing.T) {
	root := testenv.Root(t)
	rcv := otlptest.Start(t)
	for _, c := range []struct{ protocol, endpoint string }{
		{"http/protobuf", rcv.HTTPURL},
		{"grpc", rcv.GRPCURL},
	} {
		t.Run(c.protocol, func(t *testing.T) {
			rcv.Reset()
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", c.protocol)
			base, stop, err := startInProcess(context.Background(), testenv.TwinDir(t), func(cfg *config.Config) {
				cfg.OTLPEndpoint = c.endpoint
				cfg.PluginDir = filepath.Join(root, "plugins", "wasm")
				cfg.Pipelines = map[string][]config.PipelineStep{"clean": {{Plugin: "html"}, {Plugin: "normalize"}}}
			})
			if err != nil {
				t.Fatal(err)
			}
			stop = sync.OnceFunc(stop) // called early to flush the exporter
			defer stop()
			docs := []string{"<b>Rivers</b> carry water to the sea.", "Bridges cross <i>rivers</i>.", "A recipe for bread."}
			req := map[string]any{"query": "rivers", "documents": docs, "pipeline": "clean"}
			hdr := map[string]string{"traceparent": clientParent, "tracestate": clientState}
			if code, body := post(t, base+"/v1/rerank", req, hdr); code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			// The same request again, with a malformed traceparent (ignored:
			// a new trace): every pair from the cache.
			if code, body := post(t, base+"/v1/rerank", req, map[string]string{"traceparent": "00-not-a-trace-01"}); code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			if resp, err := http.Get(base + "/health"); err == nil { // polled: no span
				resp.Body.Close()
			}
			stop() // flushes the exporter
			spans, err := rcv.Wait(10*time.Second, func(s []otlptest.Span) bool { return len(otlptest.Find(s, "POST /v1/rerank")) == 2 })
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range spans {
				if strings.HasPrefix(s.Name, "GET") {
					t.Errorf("span %s: probes are not traced", s.Name)
				}
			}
			tree := spanTree{t, spans}
			var first, second otlptest.Span
			for _, s := range otlptest.Find(spans, "POST /v1/rerank") {
				if s.TraceID == clientTrace {
					first = s
				} else {
					second = s
				}
			}
			if first.SpanID == "" || second.SpanID == "" {
				t.Fatalf("want one server span in the client's trace %s and one in a new trace: %s", clientTrace, describeSpans(spans))
			}
			if first.ParentID != clientSpan || first.Kind.String() != "SPAN_KIND_SERVER" || first.Protocol != strings.Split(c.protocol, "/")[0] {
				t.Errorf("server span: parent %s kind %s via %s, want parent %s, server, %s", first.ParentID, first.Kind, first.Protocol, clientSpan, c.protocol)
			}
			if second.ParentID != "" {
				t.Errorf("a request with a malformed traceparent starts a trace; its server span has parent %s", second.ParentID)
			}
			wantAttrs(t, first, map[string]any{"http.request.method": "POST", "http.route": "/v1/rerank", "http.response.status_code": int64(200)})
			if id, _ := first.Attrs["crossrank.request_id"].(string); id == "" {
				t.Error("no crossrank.request_id on the server span")
			}
			if first.Resource["service.name"] != "crossrank" {
				t.Errorf("service.name %v", first.Resource["service.name"])
			}

			tree.one("decode", &first)
			tree.one("encode", &first)
			rr := tree.one("rerank", &first)
			wantAttrs(t, rr, map[string]any{"crossrank.model": "twin", "crossrank.pipeline": "clean", "crossrank.documents": int64(3), "crossrank.pairs": int64(3), "crossrank.cache_hits": int64(0), "crossrank.batches": int64(1)})
			tokens, _ := rr.Attrs["crossrank.tokens"].(int64)
			padded, _ := rr.Attrs["crossrank.padded_tokens"].(int64)
			if tokens <= 3*3 || padded < tokens {
				t.Errorf("tokens %d, padded %d: want real token counts, padded >= tokens", tokens, padded)
			}
			for _, name := range []string{"plugins", "tokenize", "queue", "inference", "reorder"} {
				tree.one(name, &rr)
			}
			pl := tree.one("plugins", &rr)
			html, norm := tree.one("plugin html", &pl), tree.one("plugin normalize", &pl)
			wantAttrs(t, html, map[string]any{"crossrank.pipeline": "clean", "crossrank.step": int64(0), "crossrank.plugin": "html"})
			wantAttrs(t, norm, map[string]any{"crossrank.step": int64(1), "crossrank.plugin": "normalize"})
			if !html.End.After(html.Start) || norm.Start.Before(html.End) {
				t.Errorf("steps out of order: html %v-%v, normalize %v-%v", html.Start, html.End, norm.Start, norm.End)
			}

			// The batch: a root span of its own trace, linked to the request.
			var batches []otlptest.Span
			for _, b := range otlptest.Find(spans, "batch") {
				for _, l := range b.Links {
					if l.TraceID == rr.TraceID && l.SpanID == rr.SpanID {
						batches = append(batches, b)
						if l.Attrs["crossrank.pairs"] != int64(3) {
							t.Errorf("batch link carries crossrank.pairs %v, want 3", l.Attrs["crossrank.pairs"])
						}
					}
				}
			}
			if len(batches) != 1 {
				t.Fatalf("%d batch spans link to the request's rerank span, want 1: %s", len(batches), describeSpans(spans))
			}
			b := batches[0]
			if b.ParentID != "" || b.TraceID == rr.TraceID {
				t.Errorf("batch span: parent %q trace %s, want a root span of its own trace", b.ParentID, b.TraceID)
			}
			wantAttrs(t, b, map[string]any{"crossrank.model": "twin", "crossrank.pairs": int64(3), "crossrank.padded_tokens": padded, "crossrank.tokens": tokens, "crossrank.requests": int64(1)})
			inf := tree.one("inference", &rr)
			if len(inf.Links) != 1 || inf.Links[0].SpanID != b.SpanID || inf.Links[0].TraceID != b.TraceID {
				t.Errorf("inference span links %v, want the batch span %s", inf.Links, b.SpanID)
			}
			if q := tree.one("queue", &rr); q.End.After(b.Start.Add(time.Millisecond)) || q.End.Before(b.Start.Add(-time.Millisecond)) {
				t.Errorf("queue span ends at %v, the batch starts at %v", q.End, b.Start)
			}

			// The cached request: no tokenize, queue or inference.
			rr2 := tree.one("rerank", &second)
			wantAttrs(t, rr2, map[string]any{"crossrank.cache_hits": int64(3), "crossrank.pairs": int64(0)})
			if got := strings.Join(tree.children(rr2), ","); got != "plugins,reorder" {
				t.Errorf("cached request's rerank children %s, want plugins,reorder", got)
			}
		})
	}
}

func wantAttrs(t *testing.T, s otlptest.Span, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if s.Attrs[k] != v {
			t.Errorf("span %s: %s = %v (%T), want %v (%T)", s.Name, k, s.Attrs[k], s.Attrs[k], v, v)
		}
	}
}

// TestServeTracesProxy: in _search proxy mode the upstream call is a client
// span whose trace context reaches the engine (traceparent and tracestate),
// in the client's trace; with tracing off the client's headers pass
// through as they were sent.
func TestServeTracesProxy(t *testing.T) {
	rcv := otlptest.Start(t)
	var mu sync.Mutex
	var seen []http.Header
	es := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"took":1,"hits":{"total":{"value":2},"max_score":2.0,"hits":[`+
			`{"_index":"idx","_id":"a","_score":2.0,"_source":{"text":"bread recipe"}},`+
			`{"_index":"idx","_id":"b","_score":1.0,"_source":{"text":"rivers and bridges"}}]}}`)
	}))
	defer es.Close()
	search := map[string]any{"query": map[string]any{"match": map[string]any{"text": "rivers"}}, "ext": map[string]any{"rerank": map[string]any{"query": "rivers", "fields": []string{"text"}}}}
	hdr := map[string]string{"traceparent": clientParent, "tracestate": clientState}

	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprintf("tracing=%v", on), func(t *testing.T) {
			rcv.Reset()
			mu.Lock()
			seen = nil
			mu.Unlock()
			base, stop, err := startInProcess(context.Background(), testenv.TwinDir(t), func(cfg *config.Config) {
				cfg.Upstream = es.URL
				if on {
					cfg.OTLPEndpoint = rcv.HTTPURL
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			stop = sync.OnceFunc(stop) // called early to flush the exporter
			defer stop()
			if code, body := post(t, base+"/idx/_search", search, hdr); code != 200 || !strings.Contains(string(body), "_rerank") {
				t.Fatalf("%d %s", code, body)
			}
			stop()
			mu.Lock()
			if len(seen) != 1 {
				t.Fatalf("upstream saw %d requests", len(seen))
			}
			got := seen[0]
			mu.Unlock()
			if !on {
				if got.Get("traceparent") != clientParent || got.Get("tracestate") != clientState {
					t.Errorf("tracing off: upstream got traceparent %q tracestate %q, want the client's", got.Get("traceparent"), got.Get("tracestate"))
				}
				if spans := rcv.Spans(); len(spans) != 0 {
					t.Errorf("tracing off, yet %d spans arrived", len(spans))
				}
				return
			}
			spans, err := rcv.Wait(10*time.Second, func(s []otlptest.Span) bool { return len(otlptest.Find(s, "POST /{index}/_search")) == 1 })
			if err != nil {
				t.Fatal(err)
			}
			tree := spanTree{t, spans}
			srv := tree.one("POST /{index}/_search", nil)
			if srv.TraceID != clientTrace || srv.ParentID != clientSpan {
				t.Errorf("server span trace %s parent %s, want %s %s", srv.TraceID, srv.ParentID, clientTrace, clientSpan)
			}
			wantAttrs(t, srv, map[string]any{"http.route": "/{index}/_search", "http.response.status_code": int64(200)})
			up := tree.one("upstream POST", &srv)
			if up.Kind.String() != "SPAN_KIND_CLIENT" {
				t.Errorf("upstream span kind %s", up.Kind)
			}
			wantAttrs(t, up, map[string]any{"http.response.status_code": int64(200), "http.request.method": "POST"})
			rr := tree.one("rerank", &srv)
			wantAttrs(t, rr, map[string]any{"crossrank.pairs": int64(2), "crossrank.documents": int64(2)})
			want := "00-" + clientTrace + "-" + up.SpanID + "-01"
			if got.Get("traceparent") != want || got.Get("tracestate") != clientState {
				t.Errorf("upstream got traceparent %q tracestate %q, want %q %q", got.Get("traceparent"), got.Get("tracestate"), want, clientState)
			}
			if n := len(got.Values("traceparent")); n != 1 {
				t.Errorf("upstream got %d traceparent headers", n)
			}
		})
	}
}

// BenchmarkTracingOverhead measures end-to-end time of /v1/rerank requests
// (16 documents of ~50 words, score cache off, loopback HTTP, the twin on
// ONNX Runtime) on two sidecars built the same way but for tracing: off, and
// on with every span exported over OTLP/HTTP to an in-process receiver
// (which decodes them on the same machine). Each op is one round: the same
// requests to each sidecar, in alternating order; the reported figures are
// the medians over rounds of the mean time per request, and the overhead of
// tracing on over off. Run with -benchtime=30x or more.
func BenchmarkTracingOverhead(b *testing.B) {
	rcv := otlptest.Start(b)
	dir := testenv.TwinDir(b)
	start := func(on bool) (string, func()) {
		base, stop, err := startInProcess(context.Background(), dir, func(cfg *config.Config) {
			cfg.CacheSize = 0
			if on {
				cfg.OTLPEndpoint = rcv.HTTPURL
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		return base, stop
	}
	// CROSSRANK_BENCH_AA=1 starts both sidecars with tracing off: the
	// figures then show how far two identical sidecars differ on this
	// machine (the noise floor of the comparison).
	aa := os.Getenv("CROSSRANK_BENCH_AA") == "1"
	offURL, stopOff := start(false)
	defer stopOff()
	onURL, stopOn := start(!aa)
	defer stopOn()

	const requests = 8
	words := strings.Fields("river bridge water stone city road light night market garden paper music winter summer forest ocean")
	bodies := make([][]byte, requests)
	for i := range bodies {
		docs := make([]string, 16)
		for j := range docs {
			var sb strings.Builder
			for k := range 50 {
				sb.WriteString(words[(i*7+j*3+k*k)%len(words)])
				sb.WriteByte(' ')
			}
			docs[j] = sb.String()
		}
		bodies[i], _ = json.Marshal(map[string]any{"query": words[i] + " " + words[i+1], "documents": docs})
	}
	client := &http.Client{}
	round := func(base string) time.Duration {
		t0 := time.Now()
		for _, body := range bodies {
			resp, err := client.Post(base+"/v1/rerank", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		return time.Since(t0) / requests
	}
	round(offURL) // warm both
	round(onURL)
	// Each round also measures the process's CPU time (both sidecars and
	// the receiver live in it), which a loaded machine inflates less than
	// wall time; the exporter's background work lands in whichever round
	// runs when it fires.
	timed := func(base string) (wall, cpu time.Duration) {
		c0 := cpuTime()
		wall = round(base)
		return wall, (cpuTime() - c0) / requests
	}
	var off, on, offCPU, onCPU []time.Duration
	var ratios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wOff, wOn, cOff, cOn time.Duration
		if i%2 == 0 {
			wOff, cOff = timed(offURL)
			wOn, cOn = timed(onURL)
		} else {
			wOn, cOn = timed(onURL)
			wOff, cOff = timed(offURL)
		}
		off, on, offCPU, onCPU = append(off, wOff), append(on, wOn), append(offCPU, cOff), append(onCPU, cOn)
		ratios = append(ratios, float64(wOn)/float64(wOff))
	}
	b.StopTimer()
	mOff, mOn := median(off), median(on)
	b.ReportMetric(float64(mOff.Microseconds())/1000, "ms/req-off")
	b.ReportMetric(float64(mOn.Microseconds())/1000, "ms/req-on")
	b.ReportMetric(100*(float64(mOn)-float64(mOff))/float64(mOff), "%overhead")
	sort.Float64s(ratios)
	b.ReportMetric(100*(ratios[len(ratios)/2]-1), "%overhead-paired")
	cOff, cOn := median(offCPU), median(onCPU)
	b.ReportMetric(float64(cOff.Microseconds())/1000, "cpu-ms/req-off")
	b.ReportMetric(float64(cOn.Microseconds())/1000, "cpu-ms/req-on")
	b.ReportMetric(100*(float64(cOn)-float64(cOff))/float64(cOff), "%cpu-overhead")
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
