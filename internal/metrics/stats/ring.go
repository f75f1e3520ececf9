// Package stats is the one-second statistics ring behind GET /v1/stats and
// the dashboard, and the process and GPU probes that feed it.
package stats

import (
	"github.com/crossrank/crossrank/sidecar/metrics"

	"math"
	"sort"
	"sync"
	"time"
)

// stageIndex maps a stage name to its slot in a bucket (-1: unknown).
func stageIndex(stage string) int {
	switch stage {
	case metrics.StagePlugins:
		return 0
	case metrics.StageTokenize:
		return 1
	case metrics.StageQueue:
		return 2
	case metrics.StageInference:
		return 3
	}
	return -1
}

// maxLatencySamples bounds the latencies kept per second; beyond it a
// reservoir sample keeps the percentiles unbiased.
const maxLatencySamples = 4096

// bucket holds one second of events.
type bucket struct {
	sec          int64
	requests     int
	errors       int
	errors4xx    int
	errors5xx    int
	pairs        int
	lat          []float64 // ms, a reservoir sample
	latSeen      int
	latSum       float64
	stageSum     [4]float64 // ms
	stageN       [4]int
	batches      int
	batchPairs   int
	realTokens   int
	paddedTokens int
	cacheHits    int
	cacheMisses  int
	embHits      int
	embMisses    int
	pluginErrors int
	dropReqs     int
	dropPairs    int
	res          ResourceSample
	inflight     int
	queuePairs   int
	gaugesSet    bool
}

func (b *bucket) reset(sec int64) {
	lat := b.lat[:0]
	*b = bucket{sec: sec, lat: lat}
}

// ResourceSample is one reading of process and GPU resources.
type ResourceSample struct {
	HaveProcess bool
	CPUPercent  float64 // of one core; 200 means two busy cores
	RSSMB       float64
	HaveGPU     bool
	GPUMemMB    float64
	GPUUtilPct  float64
}

// Ring keeps one bucket per second for a fixed window (15 minutes by
// default). It is safe for concurrent use.
type Ring struct {
	mu         sync.Mutex
	now        func() time.Time
	buckets    []bucket
	start      int64 // first second the ring covers
	inflight   int
	queuePairs int
	rng        uint64
	gpu        bool
}

// NewRing returns a ring covering window at one-second resolution; now is the
// clock (time.Now when nil).
func NewRing(window time.Duration, now func() time.Time) *Ring {
	if now == nil {
		now = time.Now
	}
	n := int(window / time.Second)
	if n < 1 {
		n = 1
	}
	r := &Ring{now: now, buckets: make([]bucket, n), rng: 0x9e3779b97f4a7c15}
	r.start = now().Unix()
	for i := range r.buckets {
		r.buckets[i].sec = -1
	}
	return r
}

// SetGPU says whether GPU series are recorded (Snapshot.GPU); call it before
// the ring is shared.
func (r *Ring) SetGPU(on bool) { r.gpu = on }

// cur returns the bucket of the current second; r.mu must be held.
func (r *Ring) cur() *bucket {
	sec := r.now().Unix()
	b := &r.buckets[int(sec%int64(len(r.buckets)))]
	if b.sec != sec {
		b.reset(sec)
	}
	return b
}

func (r *Ring) rand(n int) int {
	r.rng ^= r.rng << 13
	r.rng ^= r.rng >> 7
	r.rng ^= r.rng << 17
	return int(r.rng % uint64(n))
}

// Request records a finished request; codes ≥ 400 count as errors and are
// left out of the latency percentiles and pair counts.
func (r *Ring) Request(code int, d time.Duration, pairs int) {
	ms := float64(d) / float64(time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.cur()
	b.requests++
	if code >= 400 {
		b.errors++
		if code >= 500 {
			b.errors5xx++
		} else {
			b.errors4xx++
		}
		return
	}
	b.pairs += pairs
	b.latSum += ms
	b.latSeen++
	if len(b.lat) < maxLatencySamples {
		b.lat = append(b.lat, ms)
	} else if j := r.rand(b.latSeen); j < maxLatencySamples {
		b.lat[j] = ms
	}
}

// Stage records time spent in a stage.
func (r *Ring) Stage(stage string, d time.Duration) {
	i := stageIndex(stage)
	if i < 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.cur()
	b.stageSum[i] += float64(d) / float64(time.Millisecond)
	b.stageN[i]++
}

// Batch records one batch.
func (r *Ring) Batch(pairs, realTokens, paddedTokens int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.cur()
	b.batches++
	b.batchPairs += pairs
	b.realTokens += realTokens
	b.paddedTokens += paddedTokens
}

// QueuePairs moves the queued-pairs gauge.
func (r *Ring) QueuePairs(delta int) {
	r.mu.Lock()
	r.queuePairs += delta
	r.mu.Unlock()
}

// Inflight moves the in-flight gauge.
func (r *Ring) Inflight(delta int) {
	r.mu.Lock()
	r.inflight += delta
	r.mu.Unlock()
}

// Cache records cache look-ups.
func (r *Ring) Cache(hits, misses int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.cur()
	b.cacheHits += hits
	b.cacheMisses += misses
}

// EmbeddingCache records embedding-cache look-ups.
func (r *Ring) EmbeddingCache(hits, misses int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.cur()
	b.embHits += hits
	b.embMisses += misses
}

// Dropped records requests whose waiting pairs the batcher dropped before
// inference because their deadline passed (or their client left).
func (r *Ring) Dropped(requests, pairs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.cur()
	b.dropReqs += requests
	b.dropPairs += pairs
}

// PluginError counts one plugin failure.
func (r *Ring) PluginError() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur().pluginErrors++
}

// Resources stores a resource reading and the gauges in the current second.
func (r *Ring) Resources(s ResourceSample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.cur()
	b.res = s
	b.inflight, b.queuePairs, b.gaugesSet = r.inflight, r.queuePairs, true
}

// Point is one second of statistics as served by /v1/stats. Pointer fields
// are null when the second had no such event (no request, no batch, no GPU),
// so charts show a gap rather than a false zero.
type Point struct {
	T               int64    `json:"t"` // unix seconds
	Requests        int      `json:"requests"`
	Errors          int      `json:"errors"`
	Errors4xx       int      `json:"errors_4xx"` // client errors (400-499) among Errors
	Errors5xx       int      `json:"errors_5xx"` // server errors (≥ 500) among Errors
	Pairs           int      `json:"pairs"`
	PairsPerSec     float64  `json:"pairs_per_s"`
	LatAvgMs        *float64 `json:"latency_avg_ms"`
	LatP50Ms        *float64 `json:"latency_p50_ms"`
	LatP95Ms        *float64 `json:"latency_p95_ms"`
	LatP99Ms        *float64 `json:"latency_p99_ms"`
	PluginsMs       *float64 `json:"plugins_ms"`
	TokenizeMs      *float64 `json:"tokenize_ms"`
	QueueMs         *float64 `json:"queue_ms"`
	InferenceMs     *float64 `json:"inference_ms"`
	Batches         int      `json:"batches"`
	BatchSize       *float64 `json:"batch_size"`
	PaddingWastePct *float64 `json:"padding_waste_pct"`
	CacheHits       int      `json:"cache_hits"`
	CacheMisses     int      `json:"cache_misses"`
	// EmbeddingCacheHits and EmbeddingCacheMisses count a bi-encoder's
	// texts found in, or missing from, the embedding cache that second.
	EmbeddingCacheHits   int `json:"embedding_cache_hits"`
	EmbeddingCacheMisses int `json:"embedding_cache_misses"`
	PluginErrors         int `json:"plugin_errors"`
	// DroppedRequests and DroppedPairs count the requests whose waiting
	// pairs the batcher dropped before inference that second (deadline
	// passed or client gone), and those pairs.
	DroppedRequests int      `json:"dropped_requests"`
	DroppedPairs    int      `json:"dropped_pairs"`
	CPUPct          *float64 `json:"cpu_pct"`
	RSSMB           *float64 `json:"memory_mb"`
	GPUMemMB        *float64 `json:"gpu_memory_mb,omitempty"`
	GPUUtilPct      *float64 `json:"gpu_util_pct,omitempty"`
	Inflight        *int     `json:"inflight"`
	QueuePairs      *int     `json:"queue_pairs"`
}

// Snapshot is the /v1/stats document.
type Snapshot struct {
	Now       int64   `json:"now"` // unix seconds
	IntervalS int     `json:"interval_s"`
	WindowS   int     `json:"window_s"`
	GPU       bool    `json:"gpu"` // whether GPU series are recorded
	Points    []Point `json:"points"`
}

// StatsQuery selects the points of a Snapshot.
type StatsQuery struct {
	Since   int64         // only seconds after this unix second
	Window  time.Duration // only this far back (0: the whole ring)
	Current bool          // include the second in progress
}

// Snapshot returns the complete seconds (and the current one when asked)
// in the window, oldest first, starting at the first second the ring saw.
func (r *Ring) Snapshot(q StatsQuery) Snapshot {
	r.mu.Lock()
	now := r.now().Unix()
	n := int64(len(r.buckets))
	last := now - 1
	if q.Current {
		last = now
	}
	first := now - n + 1
	if q.Window > 0 {
		if w := now - int64(q.Window/time.Second) + 1; w > first {
			first = w
		}
	}
	if r.start > first {
		first = r.start
	}
	if q.Since+1 > first {
		first = q.Since + 1
	}
	s := Snapshot{Now: now, IntervalS: 1, WindowS: int(n), GPU: r.gpu, Points: []Point{}}
	// Copy the seconds under the lock; sort latencies after releasing it, so
	// a large snapshot does not hold up the request path.
	type second struct {
		b    bucket
		seen bool // the ring has this second (else: no event at all)
	}
	var copies []second
	for sec := first; sec <= last; sec++ {
		b := r.buckets[int(sec%n)]
		if b.sec != sec {
			copies = append(copies, second{b: bucket{sec: sec}})
			continue
		}
		b.lat = append([]float64(nil), b.lat...)
		copies = append(copies, second{b: b, seen: true})
	}
	r.mu.Unlock()
	for i := range copies {
		p := Point{T: copies[i].b.sec}
		if copies[i].seen {
			fillPoint(&p, &copies[i].b)
		}
		s.Points = append(s.Points, p)
	}
	return s
}

func fptr(v float64) *float64 { return &v }

func fillPoint(p *Point, b *bucket) {
	p.Requests, p.Errors, p.Pairs = b.requests, b.errors, b.pairs
	p.Errors4xx, p.Errors5xx = b.errors4xx, b.errors5xx
	p.PairsPerSec = float64(b.pairs)
	if b.latSeen > 0 {
		p.LatAvgMs = fptr(b.latSum / float64(b.latSeen))
		sorted := b.lat // a private copy (see Snapshot)
		sort.Float64s(sorted)
		p.LatP50Ms = fptr(PercentileSorted(sorted, 50))
		p.LatP95Ms = fptr(PercentileSorted(sorted, 95))
		p.LatP99Ms = fptr(PercentileSorted(sorted, 99))
	}
	for i, dst := range []**float64{&p.PluginsMs, &p.TokenizeMs, &p.QueueMs, &p.InferenceMs} {
		if b.stageN[i] > 0 {
			*dst = fptr(b.stageSum[i] / float64(b.stageN[i]))
		}
	}
	p.Batches = b.batches
	if b.batches > 0 {
		p.BatchSize = fptr(float64(b.batchPairs) / float64(b.batches))
	}
	if b.paddedTokens > 0 {
		p.PaddingWastePct = fptr(100 * float64(b.paddedTokens-b.realTokens) / float64(b.paddedTokens))
	}
	p.CacheHits, p.CacheMisses, p.PluginErrors = b.cacheHits, b.cacheMisses, b.pluginErrors
	p.EmbeddingCacheHits, p.EmbeddingCacheMisses = b.embHits, b.embMisses
	p.DroppedRequests, p.DroppedPairs = b.dropReqs, b.dropPairs
	if b.res.HaveProcess {
		p.CPUPct = fptr(b.res.CPUPercent)
		p.RSSMB = fptr(b.res.RSSMB)
	}
	if b.res.HaveGPU {
		p.GPUMemMB = fptr(b.res.GPUMemMB)
		p.GPUUtilPct = fptr(b.res.GPUUtilPct)
	}
	if b.gaugesSet {
		in, qp := b.inflight, b.queuePairs
		p.Inflight, p.QueuePairs = &in, &qp
	}
}

// PercentileSorted is the q-th percentile (0..100, clamped) of an ascending
// slice by linear interpolation between closest ranks (NumPy's default
// method); NaN when s is empty or q is NaN. The stats ring and the bench
// report share it, so their percentiles agree.
func PercentileSorted(s []float64, q float64) float64 {
	if len(s) == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	q = math.Max(0, math.Min(100, q))
	pos := q / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	if lo == hi {
		return s[lo]
	}
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}
