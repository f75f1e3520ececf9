// Package prom is the sidecar's metrics.Recorder on Prometheus: collectors
// for GET /metrics and the one-second statistics ring (stats.Ring) behind
// GET /v1/stats and the dashboard.
package prom

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crossrank/crossrank/internal/metrics/stats"
	"github.com/crossrank/crossrank/sidecar/metrics"
)

// Prom is the production metrics.Recorder: Prometheus collectors on its own registry
// (never the global default one) plus a one-second stats.Ring of recent statistics
// for /v1/stats and the dashboard. Create it with New and stop its sampler
// with Close.
type Prom struct {
	reg *prometheus.Registry

	requests     *prometheus.CounterVec
	reqDuration  *prometheus.HistogramVec
	stages       *prometheus.HistogramVec
	batchPairs   prometheus.Histogram
	tokens       *prometheus.CounterVec
	queuePairs   prometheus.Gauge
	inflight     prometheus.Gauge
	pairs        prometheus.Counter
	cacheHits    prometheus.Counter
	cacheMisses  prometheus.Counter
	embHits      prometheus.Counter
	embMisses    prometheus.Counter
	pluginErrors *prometheus.CounterVec
	panics       *prometheus.CounterVec
	dropReqs     *prometheus.CounterVec
	dropPairs    *prometheus.CounterVec
	gpuMemory    prometheus.Gauge
	gpuUtil      prometheus.Gauge

	ring *stats.Ring
	cfg  config

	stop     context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

var _ metrics.Recorder = (*Prom)(nil)
var _ metrics.DropRecorder = (*Prom)(nil)

type config struct {
	window   time.Duration
	interval time.Duration
	now      func() time.Time
	sampler  bool
	gpu      stats.GPUProbe
	process  stats.ProcessProbe
}

// Option configures New.
type Option func(*config)

// WithWindow sets how much history the stats ring keeps (default 15 minutes).
func WithWindow(d time.Duration) Option {
	return func(c *config) {
		if d >= time.Second {
			c.window = d
		}
	}
}

// WithClock replaces time.Now for the stats ring (tests).
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithoutSampler disables the background goroutine that samples CPU, memory
// and GPU once a second; Sample can then be called by hand.
func WithoutSampler() Option { return func(c *config) { c.sampler = false } }

// WithGPU enables GPU memory and utilisation from probe (for example
// OpenNVML). Without it GPU series are absent, never zero-filled.
func WithGPU(probe stats.GPUProbe) Option { return func(c *config) { c.gpu = probe } }

// WithProcessProbe replaces the /proc based CPU and memory probe.
func WithProcessProbe(probe stats.ProcessProbe) Option {
	return func(c *config) { c.process = probe }
}

// Latency buckets in seconds: 0.5 ms … ~33 s, doubling.
var durationBuckets = prometheus.ExponentialBuckets(0.0005, 2, 17)

// New returns a Prom with every crossrank collector, the process and Go
// collectors registered on a fresh registry, and (unless WithoutSampler) a
// goroutine sampling process CPU and memory once a second until Close.
func New(opts ...Option) *Prom {
	cfg := config{window: 15 * time.Minute, interval: time.Second, now: time.Now, sampler: true}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.process == nil {
		cfg.process = stats.NewProcProbe()
	}
	p := &Prom{reg: prometheus.NewRegistry(), cfg: cfg}
	p.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crossrank_requests_total", Help: "Finished HTTP requests by route and status code.",
	}, []string{"route", "code"})
	p.reqDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "crossrank_request_duration_seconds", Help: "HTTP request duration by route.", Buckets: durationBuckets,
	}, []string{"route"})
	p.stages = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "crossrank_stage_duration_seconds", Help: "Time spent in a pipeline stage (plugins, tokenize, queue, inference).", Buckets: durationBuckets,
	}, []string{"stage"})
	p.batchPairs = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "crossrank_batch_pairs", Help: "Pairs per batch sent to the model.", Buckets: prometheus.ExponentialBuckets(1, 2, 10),
	})
	p.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crossrank_tokens_total", Help: "Tokens sent to the model: real ones and padding.",
	}, []string{"kind"})
	p.queuePairs = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "crossrank_queue_pairs", Help: "Pairs waiting in batcher queues.",
	})
	p.inflight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "crossrank_inflight_requests", Help: "HTTP requests in flight.",
	})
	p.pairs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crossrank_pairs_total", Help: "(query, passage) pairs scored.",
	})
	p.cacheHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crossrank_cache_hits_total", Help: "Score-cache hits.",
	})
	p.cacheMisses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crossrank_cache_misses_total", Help: "Score-cache misses.",
	})
	p.embHits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crossrank_embedding_cache_hits_total", Help: "Bi-encoder embedding-cache hits (query and passage texts).",
	})
	p.embMisses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crossrank_embedding_cache_misses_total", Help: "Bi-encoder embedding-cache misses (texts embedded).",
	})
	p.pluginErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crossrank_plugin_errors_total", Help: "Plugin failures by plugin and kind.",
	}, []string{"plugin", "kind"})
	p.dropReqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crossrank_dropped_requests_total", Help: "Requests whose waiting pairs the batcher dropped before inference, by model and reason (deadline: timeout_ms or request_timeout passed; cancelled: the client left).",
	}, []string{"model", "reason"})
	p.dropPairs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crossrank_dropped_pairs_total", Help: "Pairs the batcher dropped before inference because their request ended while they waited, by model and reason.",
	}, []string{"model", "reason"})
	p.panics = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crossrank_panics_total", Help: "Panics recovered while serving a request, by route (each answered 500; the server kept serving).",
	}, []string{"route"})
	p.reg.MustRegister(p.panics, p.requests, p.reqDuration, p.stages, p.batchPairs, p.tokens,
		p.queuePairs, p.inflight, p.pairs, p.cacheHits, p.cacheMisses, p.embHits, p.embMisses, p.pluginErrors,
		p.dropReqs, p.dropPairs,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector())
	if cfg.gpu != nil {
		p.gpuMemory = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "crossrank_gpu_memory_used_bytes", Help: "GPU memory in use (device-wide, from NVML).",
		})
		p.gpuUtil = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "crossrank_gpu_utilization_ratio", Help: "GPU utilisation 0..1 (from NVML).",
		})
		p.reg.MustRegister(p.gpuMemory, p.gpuUtil)
	}
	// Pre-create the label sets that always exist, so they read 0 before the
	// first event instead of being absent.
	for _, s := range []string{metrics.StagePlugins, metrics.StageTokenize, metrics.StageQueue, metrics.StageInference} {
		p.stages.WithLabelValues(s)
	}
	p.tokens.WithLabelValues("real")
	p.tokens.WithLabelValues("padded")

	p.ring = stats.NewRing(cfg.window, cfg.now)
	p.ring.SetGPU(cfg.gpu != nil)
	if cfg.sampler {
		ctx, cancel := context.WithCancel(context.Background())
		p.stop = cancel
		p.done = make(chan struct{})
		go p.sampleLoop(ctx)
	}
	return p
}

// Registry returns the registry holding every collector (for tests or for
// registering more collectors).
func (p *Prom) Registry() *prometheus.Registry { return p.reg }

// Ring returns the one-second statistics ring behind /v1/stats.
func (p *Prom) Ring() *stats.Ring { return p.ring }

// Close stops the sampler goroutine. It is safe to call more than once.
func (p *Prom) Close() error {
	p.stopOnce.Do(func() {
		if p.stop != nil {
			p.stop()
			<-p.done
		}
	})
	return nil
}

func (p *Prom) sampleLoop(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.cfg.interval)
	defer t.Stop()
	p.Sample(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.Sample(ctx)
		}
	}
}

// Sample reads process CPU and memory (and the GPU when enabled) once and
// stores them in the current second of the ring.
func (p *Prom) Sample(ctx context.Context) {
	var s stats.ResourceSample
	if ps, err := p.cfg.process.Sample(); err == nil {
		s.CPUPercent, s.RSSMB, s.HaveProcess = ps.CPUPercent, ps.RSSMB, true
	}
	if p.cfg.gpu != nil {
		if g, err := p.cfg.gpu.Sample(ctx); err == nil {
			s.GPUMemMB, s.GPUUtilPct, s.HaveGPU = g.MemoryMB, g.UtilPct, true
			p.gpuMemory.Set(g.MemoryMB * 1024 * 1024)
			p.gpuUtil.Set(g.UtilPct / 100)
		}
	}
	p.ring.Resources(s)
}

// Request implements metrics.Recorder.
func (p *Prom) Request(route string, code int, d time.Duration, pairs int) {
	p.requests.WithLabelValues(route, codeLabel(code)).Inc()
	p.reqDuration.WithLabelValues(route).Observe(d.Seconds())
	if pairs > 0 && code < 400 {
		p.pairs.Add(float64(pairs))
	}
	p.ring.Request(code, d, pairs)
}

// Stage implements metrics.Recorder.
func (p *Prom) Stage(stage string, d time.Duration) {
	p.stages.WithLabelValues(stage).Observe(d.Seconds())
	p.ring.Stage(stage, d)
}

// Batch implements metrics.Recorder.
func (p *Prom) Batch(model string, pairs, realTokens, paddedTokens int) {
	p.batchPairs.Observe(float64(pairs))
	p.tokens.WithLabelValues("real").Add(float64(realTokens))
	if paddedTokens > realTokens {
		p.tokens.WithLabelValues("padded").Add(float64(paddedTokens - realTokens))
	}
	p.ring.Batch(pairs, realTokens, paddedTokens)
}

// QueuePairs implements metrics.Recorder.
func (p *Prom) QueuePairs(delta int) {
	p.queuePairs.Add(float64(delta))
	p.ring.QueuePairs(delta)
}

// Inflight implements metrics.Recorder.
func (p *Prom) Inflight(delta int) {
	p.inflight.Add(float64(delta))
	p.ring.Inflight(delta)
}

// Cache implements metrics.Recorder.
func (p *Prom) Cache(hits, misses int) {
	if hits > 0 {
		p.cacheHits.Add(float64(hits))
	}
	if misses > 0 {
		p.cacheMisses.Add(float64(misses))
	}
	p.ring.Cache(hits, misses)
}

// EmbeddingCache counts bi-encoder embedding-cache look-ups (the engine's
// rerank.EmbeddingCacheRecorder).
func (p *Prom) EmbeddingCache(hits, misses int) {
	if hits > 0 {
		p.embHits.Add(float64(hits))
	}
	if misses > 0 {
		p.embMisses.Add(float64(misses))
	}
	p.ring.EmbeddingCache(hits, misses)
}

// Dropped counts requests and pairs the batcher dropped before inference
// (metrics.DropRecorder).
func (p *Prom) Dropped(model, reason string, requests, pairs int) {
	p.dropReqs.WithLabelValues(model, reason).Add(float64(requests))
	p.dropPairs.WithLabelValues(model, reason).Add(float64(pairs))
	p.ring.Dropped(requests, pairs)
}

// PluginError implements metrics.Recorder.
func (p *Prom) PluginError(plugin, kind string) {
	p.pluginErrors.WithLabelValues(plugin, kind).Inc()
	p.ring.PluginError()
}

// Panic implements metrics.Recorder.
func (p *Prom) Panic(route string) { p.panics.WithLabelValues(route).Inc() }

// MetricsHandler serves the Prometheus text exposition of the registry
// (mount it on GET /metrics).
func (p *Prom) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// StatsHandler serves the ring as JSON (mount it on GET /v1/stats). Query
// parameters: since=UNIX_SECONDS returns only later seconds; window=DURATION
// (e.g. 60s) limits how far back it goes; current=1 includes the second in
// progress. Bad parameters get a 400 in the sidecar's error shape.
func (p *Prom) StatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := stats.StatsQuery{}
		args := r.URL.Query()
		if b := args.Get("since"); b != "" {
			v, err := strconv.ParseUint(b, 10, 63)
			if err != nil {
				statsError(w, fmt.Sprintf("since: want unix seconds, got %q", b))
				return
			}
			q.Since = int64(v)
		}
		if b := args.Get("window"); b != "" {
			d, err := time.ParseDuration(b)
			if err != nil || d <= 0 {
				statsError(w, fmt.Sprintf("window: want a duration such as 60s, got %q", b))
				return
			}
			q.Window = d
		}
		q.Current, _ = strconv.ParseBool(args.Get("current"))
		body, err := json.Marshal(p.ring.Snapshot(q))
		if err != nil {
			http.Error(w, `{"error":{"type":"internal_error","message":"stats: encode failed"}}`, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})
}

// statsError writes a 400 in the sidecar's one error shape (API.md).
func statsError(w http.ResponseWriter, msg string) {
	b, _ := json.Marshal(map[string]map[string]string{"error": {"type": "invalid_request_error", "message": msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(b)
}

func codeLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 400:
		return "400"
	case 404:
		return "404"
	case 500:
		return "500"
	}
	return fmt.Sprint(code)
}
