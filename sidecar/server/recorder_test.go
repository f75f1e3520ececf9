package server_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/crossrank/crossrank/sidecar/metrics"
	"github.com/crossrank/crossrank/sidecar/rerank"
	"github.com/crossrank/crossrank/sidecar/server"
)

// tally is a Recorder that keeps totals.
type tally struct {
	mu                     sync.Mutex
	requests               map[string]int // "route code"
	pairsServed            int
	stages                 map[string]int
	batchPairs, real, padd int
	queue, inflight        int
	maxQueue               int
	hits, misses           int
	panics                 map[string]int
}

var _ metrics.Recorder = (*tally)(nil)

func newTally() *tally {
	return &tally{requests: map[string]int{}, stages: map[string]int{}, panics: map[string]int{}}
}

func (r *tally) Request(route string, code int, _ time.Duration, pairs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[route+" "+strconv.Itoa(code)]++
	r.pairsServed += pairs
}
func (r *tally) Stage(stage string, _ time.Duration) { r.mu.Lock(); r.stages[stage]++; r.mu.Unlock() }
func (r *tally) Batch(_ string, pairs, real, padded int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batchPairs += pairs
	r.real += real
	r.padd += padded
}
func (r *tally) QueuePairs(d int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue += d
	r.maxQueue = max(r.maxQueue, r.queue)
}
func (r *tally) Inflight(d int)             { r.mu.Lock(); r.inflight += d; r.mu.Unlock() }
func (r *tally) Cache(h, m int)             { r.mu.Lock(); r.hits += h; r.misses += m; r.mu.Unlock() }
func (r *tally) PluginError(string, string) {}
func (r *tally) Panic(route string)         { r.mu.Lock(); r.panics[route]++; r.mu.Unlock() }

// TestRecorderEvents: the events the server, engine and batcher send add up
// to what the requests did (the observability area builds /metrics on them).
func TestRecorderEvents(t *testing.T) {
	m := twin(t)
	rec := newTally()
	sc := start(t, []rerank.Model{m}, []rerank.Option{rerank.WithRecorder(rec)}, server.WithRecorder(rec))
	post(t, sc.base+"/v1/rerank", []byte(`{"query": "q", "documents": ["a", "b", "c"]}`))
	post(t, sc.base+"/v1/rerank", []byte(`{"query": "q", "documents": ["a", "b", "c", "d"]}`)) // 3 cache hits
	post(t, sc.base+"/rerank", []byte(`{"query": "q", "texts": ["e"]}`))
	post(t, sc.base+"/v1/rerank", []byte(`{"query": 1}`))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	checks := []struct {
		name      string
		got, want int
	}{
		{"/v1/rerank 200", rec.requests["/v1/rerank 200"], 2},
		{"/rerank 200", rec.requests["/rerank 200"], 1},
		{"/v1/rerank 422", rec.requests["/v1/rerank 422"], 1},
		{"pairs served", rec.pairsServed, 3 + 1 + 1},
		{"batch pairs", rec.batchPairs, 5},
		{"cache hits", rec.hits, 3},
		{"cache misses", rec.misses, 5},
		{"queue back to zero", rec.queue, 0},
		{"inflight back to zero", rec.inflight, 0},
		{"tokenize stages", rec.stages[metrics.StageTokenize], 3},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.name, c.got, c.want)
		}
	}
	if rec.maxQueue < 1 || rec.padd < rec.real || rec.real == 0 || rec.stages[metrics.StageInference] == 0 || rec.stages[metrics.StageQueue] == 0 {
		t.Errorf("recorder totals %+v", rec)
	}
}
