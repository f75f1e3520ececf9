package server_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/reranktest"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/tokenizer"
	"github.com/crossrank/crossrank/sidecar/batcher"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// benchWorkload is MS MARCO-like: queries of 3-10 words, passages of
// log-normal length around 55 words, English words, fixed seed.
type benchWorkload struct {
	queries []string
	docs    [][]string
}

const (
	benchRequests = 16 // requests per benchmark op
	benchDocs     = 16 // documents per request
	benchClients  = 8  // concurrent clients (closed loop)
)

func newWorkload() benchWorkload {
	rng := rand.New(rand.NewPCG(2026, 4))
	var w benchWorkload
	for range benchRequests {
		w.queries = append(w.queries, sentence(rng, 3+rng.IntN(8)))
		w.docs = append(w.docs, passagesAround(rng, benchDocs, 55))
	}
	return w
}

type benchConfig struct {
	batch, workers, threads int
	fifo                    bool
}

func (c benchConfig) name() string {
	s := fmt.Sprintf("batch=%d/workers=%dx%d", c.batch, c.workers, c.threads)
	if c.fifo {
		return s + "/fifo"
	}
	return s + "/grouped"
}

var benchConfigs = []benchConfig{
	{8, 2, 1, false}, {16, 2, 1, false}, {32, 2, 1, false},
	{8, 1, 2, false}, {16, 1, 2, false}, {32, 1, 2, false},
	{16, 2, 1, true},
}

func loadBench(b *testing.B, threads int) rerank.Model {
	return reranktest.Twin(b, threads)
}

// BenchmarkSidecar measures end-to-end pairs/s over loopback HTTP
// (/v1/rerank, score cache off) for batch sizes, workers x threads, and
// length grouping against first-in-first-out batching. Each op sends
// benchRequests requests of benchDocs documents from benchClients clients.
func BenchmarkSidecar(b *testing.B) {
	w := newWorkload()
	bodies := make([][]byte, benchRequests)
	for i := range bodies {
		bodies[i] = mustJSON(b, map[string]any{"query": w.queries[i], "documents": w.docs[i]})
	}
	// CROSSRANK_BENCH_REQUESTS=FILE writes the requests as JSONL, for peers
	// such as scripts/peers/tjs_peer.mjs to score the same ones.
	if p := os.Getenv("CROSSRANK_BENCH_REQUESTS"); p != "" {
		if err := os.WriteFile(p, append(bytes.Join(bodies, []byte("\n")), '\n'), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range benchConfigs {
		b.Run(c.name(), func(b *testing.B) {
			m := loadBench(b, c.threads)
			var real, padded atomic.Int64
			obs := func(bi batcher.BatchInfo) {
				real.Add(int64(bi.RealTokens))
				padded.Add(int64(bi.PaddedTokens))
			}
			sc := start(b, []rerank.Model{m}, []rerank.Option{rerank.WithCacheSize(0), rerank.WithBatchObserver(obs),
				rerank.WithBatcher(batcher.Config{MaxBatchPairs: c.batch, Workers: c.workers, FIFO: c.fifo})})
			post(b, sc.base+"/v1/rerank", bodies[0]) // warm
			real.Store(0)
			padded.Store(0)
			var lat []time.Duration
			var mu sync.Mutex
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				closedLoop(b, sc.base+"/v1/rerank", bodies, benchClients, func(d time.Duration) {
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				})
			}
			el := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(b.N*benchRequests*benchDocs)/el.Seconds(), "pairs/s")
			b.ReportMetric(100*float64(padded.Load()-real.Load())/float64(padded.Load()), "pad%")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

// closedLoop posts every body once from clients concurrent clients, each
// taking the next body when its last answer came, and calls done (from the
// client's goroutine) with each request's latency; a status other than 200
// fails the benchmark.
func closedLoop(b *testing.B, url string, bodies [][]byte, clients int, done func(time.Duration)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				t0 := time.Now()
				r := post(b, url, bodies[i])
				d := time.Since(t0)
				if r.status != 200 {
					b.Errorf("status %d: %s", r.status, r.body)
				}
				done(d)
			}
		})
	}
	wg.Wait()
}

// BenchmarkRawSession scores the same pairs straight on the session: the
// pairs tokenized up front, sorted by length over the whole workload (the
// least padding any batching can reach), cut into batches, run by workers
// goroutines. It is the ceiling for BenchmarkSidecar.
func BenchmarkRawSession(b *testing.B) {
	w := newWorkload()
	tok, err := tokenizer.Load(filepath.Join(testenv.TwinDir(b), "tokenizer.json"))
	if err != nil {
		b.Fatal(err)
	}
	tok = tok.WithTruncation(tokenizer.Truncation{MaxLength: 512, Strategy: tokenizer.LongestFirst})
	type seq struct{ ids, types []int64 }
	var seqs []seq
	for i, q := range w.queries {
		for _, p := range w.docs[i] {
			e, err := tok.EncodePair(q, p)
			if err != nil {
				b.Fatal(err)
			}
			seqs = append(seqs, seq{e.IDs, e.TypeIDs})
		}
	}
	sort.SliceStable(seqs, func(i, j int) bool { return len(seqs[i].ids) < len(seqs[j].ids) })
	for _, c := range benchConfigs {
		if c.fifo {
			continue
		}
		b.Run(c.name(), func(b *testing.B) {
			m := loadBench(b, c.threads)
			var batches []*models.Batch
			real, padded := 0, 0
			for lo := 0; lo < len(seqs); lo += c.batch {
				hi := min(lo+c.batch, len(seqs))
				mb := &models.Batch{}
				l := len(seqs[hi-1].ids)
				mb.Reset(hi-lo, l)
				for i, s := range seqs[lo:hi] {
					mb.SetRow(i, s.ids, s.types)
					real += len(s.ids)
				}
				padded += (hi - lo) * l
				batches = append(batches, mb)
			}
			if _, err := m.Scorer.Score(context.Background(), batches[0]); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				var next atomic.Int64
				var wg sync.WaitGroup
				for range c.workers {
					wg.Go(func() {
						for {
							i := int(next.Add(1)) - 1
							if i >= len(batches) {
								return
							}
							if _, err := m.Scorer.Score(context.Background(), batches[i]); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
			}
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N*len(seqs))/el.Seconds(), "pairs/s")
			b.ReportMetric(100*float64(padded-real)/float64(padded), "pad%")
			b.ReportMetric(float64(real)/float64(len(seqs)), "tokens/pair")
		})
	}
}
