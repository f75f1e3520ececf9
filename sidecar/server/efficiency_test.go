package server_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/convert"
	"github.com/crossrank/crossrank/internal/onnx"
	"github.com/crossrank/crossrank/internal/reranktest"
	"github.com/crossrank/crossrank/internal/roofline"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/sidecar/batcher"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// The efficiency mix of issue 18: 12 requests of 32 MS MARCO-like passages
// from 4 closed-loop clients, over loopback HTTP, score cache off.
const (
	effRequests = 12
	effDocs     = 32
	effClients  = 4
)

// effConfig is one serving configuration BenchmarkEfficiency compares.
type effConfig struct {
	batch, workers, threads, overhead int
	allTokens                         bool // the twin graph that keeps every token through the last layer
}

func (c effConfig) name() string {
	n := fmt.Sprintf("batch=%d/workers=%dx%d/overhead=%d", c.batch, c.workers, c.threads, c.overhead)
	if c.allTokens {
		n += "/last-layer=all-tokens"
	}
	return n
}

// effConfigs: the defaults first, then the same with the graph that keeps
// every token through the last layer (what the checkpoint computes and
// other servers run); CROSSRANK_EFF_ALL=1 adds the variants the findings in
// sidecar/RATIONALE.md compare.
func effConfigs() []effConfig {
	defOverhead := batcher.DefaultConfig().OverheadTokens
	cs := []effConfig{{16, 2, 1, defOverhead, false}, {16, 2, 1, defOverhead, true}}
	if os.Getenv("CROSSRANK_EFF_ALL") != "" {
		cs = append(cs, effConfig{16, 1, 2, defOverhead, false}, effConfig{32, 2, 1, defOverhead, false},
			effConfig{16, 2, 1, 64, false}, effConfig{8, 2, 1, defOverhead, false})
	}
	return cs
}

// BenchmarkEfficiency runs the mix end to end and, in the same round just
// before it, ONNX Runtime's fp32 matrix-multiply peak on 2 threads
// (roofline.SgemmPeak). Each op is one round; the reported figures are
// medians over rounds (-benchtime Nx):
//
//   - eff%: useful FLOPs per second (real tokens only, roofline's count) over
//     the peak — the share of the machine's limit the sidecar reaches;
//   - busy%: the workers' inference time over wall time × workers;
//   - pad%: padded tokens that are not real;
//   - kernel%: the FLOP rate inside inference on padded tokens, counting
//     the FLOPs the graph executes (roofline's Executed counts: the twin's
//     last layer computes [CLS] alone), over the per-worker share of the
//     peak — how well ONNX Runtime runs these shapes;
//   - exec-eff%: eff% counting executed FLOPs instead of the model's;
//   - cpu%: process CPU time over wall × cores (what the rest of the
//     process, tokenizer, HTTP and JSON, adds beside inference shows as
//     cpu% - busy%);
//   - cpu-eff%: useful FLOPs per CPU-second of the whole process over the
//     peak per CPU-second: the same share counted in CPU time, which time
//     spent waiting for a core on a shared machine does not move.
//
// eff ≈ busy × (1 - pad) × kernel × (model FLOPs / executed FLOPs), so the
// factors say where the rest goes.
//
//	CROSSRANK_EFF_ALL=1 go test -run '^$' -bench Efficiency -benchtime 5x ./sidecar/server/
func BenchmarkEfficiency(b *testing.B) {
	rng := rand.New(rand.NewPCG(2026, 18))
	bodies := make([][]byte, effRequests)
	for i := range bodies {
		bodies[i] = mustJSON(b, map[string]any{"query": sentence(rng, 3+rng.IntN(8)), "documents": passagesAround(rng, effDocs, 55)})
	}
	cfg, err := roofline.LoadConfig(testenv.TwinDir(b))
	if err != nil {
		b.Fatal(err)
	}
	clsOnly := map[string]bool{}
	for _, dir := range []string{testenv.TwinDir(b), testenv.TwinAllTokensDir(b)} {
		graph, err := onnx.ReadFile(filepath.Join(dir, "onnx", "model.onnx"))
		if err != nil {
			b.Fatal(err)
		}
		clsOnly[dir] = convert.LastLayerCLSOnly(graph.Graph)
	}
	cores := 2
	if v, err := strconv.Atoi(os.Getenv("CROSSRANK_EFF_CORES")); err == nil && v > 0 {
		cores = v
	}
	for _, c := range effConfigs() {
		b.Run(c.name(), func(b *testing.B) {
			dir := testenv.TwinDir(b)
			if c.allTokens {
				dir = testenv.TwinAllTokensDir(b)
			}
			cfg := cfg
			cfg.CLSOnlyLast = clsOnly[dir]
			m := reranktest.Load(b, "twin", dir, c.threads)
			var mu sync.Mutex
			var flops, execFLOPs, padFLOPs float64
			var real, padded int
			var inference time.Duration
			obs := func(bi batcher.BatchInfo) {
				mu.Lock()
				defer mu.Unlock()
				flops += cfg.BatchFLOPs(bi.Pairs, bi.RealTokens)
				execFLOPs += cfg.ExecutedBatchFLOPs(bi.Pairs, bi.RealTokens)
				padFLOPs += cfg.ExecutedBatchFLOPs(bi.Pairs, bi.PaddedTokens)
				real += bi.RealTokens
				padded += bi.PaddedTokens
				inference += bi.Inference
			}
			sc := start(b, []rerank.Model{m}, []rerank.Option{rerank.WithCacheSize(0), rerank.WithBatchObserver(obs),
				rerank.WithBatcher(batcher.Config{MaxBatchPairs: c.batch, Workers: c.workers, OverheadTokens: c.overhead})})
			post(b, sc.base+"/v1/rerank", bodies[0]) // warm
			var effs, execEffs, busys, pads, kernels, cpus, cpuEffs, rates, peaks []float64
			for range b.N {
				b.StopTimer()
				peak, err := roofline.SgemmPeak(b.TempDir(), cores, 3)
				if err != nil {
					b.Fatal(err)
				}
				mu.Lock()
				flops, execFLOPs, padFLOPs, real, padded, inference = 0, 0, 0, 0, 0, 0
				mu.Unlock()
				b.StartTimer()
				t0, cpu0 := time.Now(), roofline.CPUSeconds()
				closedLoop(b, sc.base+"/v1/rerank", bodies, effClients, func(time.Duration) {})
				el, cpu := time.Since(t0).Seconds(), roofline.CPUSeconds()-cpu0
				mu.Lock()
				perWorker := peak.Wall * float64(c.threads) / float64(cores) // GFLOP/s one worker can reach
				effs = append(effs, 100*flops/el/1e9/peak.Wall)
				execEffs = append(execEffs, 100*execFLOPs/el/1e9/peak.Wall)
				busys = append(busys, 100*inference.Seconds()/(el*float64(c.workers)))
				pads = append(pads, 100*float64(padded-real)/float64(padded))
				kernels = append(kernels, 100*padFLOPs/inference.Seconds()/1e9/perWorker)
				cpus = append(cpus, 100*cpu/(el*float64(cores)))
				cpuEffs = append(cpuEffs, 100*flops/cpu/1e9/peak.CPU)
				rates = append(rates, effRequests*effDocs/el)
				peaks = append(peaks, peak.Wall)
				mu.Unlock()
			}
			b.ReportMetric(median(effs), "eff%")
			b.ReportMetric(median(execEffs), "exec-eff%")
			b.ReportMetric(median(busys), "busy%")
			b.ReportMetric(median(pads), "pad%")
			b.ReportMetric(median(kernels), "kernel%")
			b.ReportMetric(median(cpus), "cpu%")
			b.ReportMetric(median(cpuEffs), "cpu-eff%")
			b.ReportMetric(median(rates), "pairs/s")
			b.ReportMetric(median(peaks), "peak-GFLOP/s")
		})
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkLightLoad answers whether small batches are right when the
// sidecar is nearly idle: one client sends one request at a time (docs
// passages each), so the two workers share one request's pairs. Overhead
// tokens set how much a larger batch is worth against its padding: the
// default 16 makes batches of 2-3 pairs at this load; larger values make
// fewer, larger batches. Reported: p50 latency (median over rounds of each
// round's median), pairs per batch.
//
//	go test -run '^$' -bench LightLoad -benchtime 5x ./sidecar/server/
func BenchmarkLightLoad(b *testing.B) {
	const perRound = 12
	for _, docs := range []int{10, 32} {
		rng := rand.New(rand.NewPCG(2026, uint64(docs)))
		bodies := make([][]byte, perRound)
		for i := range bodies {
			bodies[i] = mustJSON(b, map[string]any{"query": sentence(rng, 3+rng.IntN(8)), "documents": passagesAround(rng, docs, 55)})
		}
		for _, overhead := range []int{16, 48, 128, 512} {
			b.Run(fmt.Sprintf("docs=%d/overhead=%d", docs, overhead), func(b *testing.B) {
				m := reranktest.Twin(b, 1)
				var batches, pairs atomic.Int64
				obs := func(bi batcher.BatchInfo) {
					batches.Add(1)
					pairs.Add(int64(bi.Pairs))
				}
				sc := start(b, []rerank.Model{m}, []rerank.Option{rerank.WithCacheSize(0), rerank.WithBatchObserver(obs),
					rerank.WithBatcher(batcher.Config{OverheadTokens: overhead})})
				post(b, sc.base+"/v1/rerank", bodies[0]) // warm
				batches.Store(0)
				pairs.Store(0)
				var p50s []float64
				for range b.N {
					lat := make([]float64, 0, perRound)
					for _, body := range bodies {
						t0 := time.Now()
						if r := post(b, sc.base+"/v1/rerank", body); r.status != 200 {
							b.Fatalf("status %d: %s", r.status, r.body)
						}
						lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
					}
					p50s = append(p50s, median(lat))
				}
				b.ReportMetric(median(p50s), "p50-ms")
				b.ReportMetric(float64(pairs.Load())/float64(batches.Load()), "pairs/batch")
			})
		}
	}
}
