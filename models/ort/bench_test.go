package ort_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/crossrank/crossrank/internal/onnx"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models/ort"
)

// Benchmark grid. The names let a run pick a subset, e.g.
//
//	go test ./models/ort -run '^$' -bench 'Session/fp32/t=2/b=32/L=128$'
//
// (make bench-runtime runs the whole grid three times and tabulates the
// medians with testdata/benchtable.awk.)
var (
	benchDtypes  = []string{"fp32", "int8"}
	benchThreads = []int{1, 2}
	benchBatches = []int{1, 8, 32, 96}
	benchLengths = []int{64, 128, 256}
)

// modelFLOPs counts the multiply-adds (×2) of one BERT cross-encoder pair
// of length l, analytically from config.json: per layer the Q, K, V and
// output projections (4·2·l·h²), the feed-forward pair (2·2·l·h·i), and the
// attention products QKᵀ and AV (2·2·l²·h); then the pooler (2h²) and the
// classifier (2h·labels). Embeddings, softmax, GELU and LayerNorm are left
// out (a few percent).
func modelFLOPs(tb testing.TB, dir string, l int) float64 {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var c struct {
		Hidden int `json:"hidden_size"`
		Inter  int `json:"intermediate_size"`
		Layers int `json:"num_hidden_layers"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.Hidden == 0 || c.Inter == 0 || c.Layers == 0 {
		tb.Fatalf("config.json: hidden %d intermediate %d layers %d (%v)", c.Hidden, c.Inter, c.Layers, err)
	}
	L, h, i := float64(l), float64(c.Hidden), float64(c.Inter)
	perLayer := 8*L*h*h + 4*L*h*i + 4*L*L*h
	return float64(c.Layers)*perLayer + 2*h*h + 2*h
}

func TestModelFLOPs(t *testing.T) {
	// MiniLM-L6-H384 at 128 tokens, worked by hand:
	// per layer 8·128·384² + 4·128·384·1536 + 4·128²·384
	//         = 150,994,944 + 301,989,888 + 25,165,824 = 478,150,656;
	// ×6 = 2,868,903,936; + pooler 294,912 + classifier 768 = 2,869,199,616.
	got := modelFLOPs(t, testenv.TwinDir(t), 128)
	if got != 2_869_199_616 {
		t.Fatalf("modelFLOPs(twin, 128) = %.0f, want 2869199616", got)
	}
}

// cpuSeconds is the user+system CPU time this process has used. On a
// shared machine, work per CPU-second is far steadier than work per
// wall-second: time spent waiting for a core is not counted. (With more than
// one intra-op thread it also counts ONNX Runtime's spin-waiting.)
func cpuSeconds(tb testing.TB) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// sgemmPeak measures ONNX Runtime's fp32 MatMul (MLAS, the kernels the
// model runs on) on a 2048×2048 by 2048×2048 product with a constant
// right-hand side (pre-packed, like model weights), with the given intra-op
// threads, and returns the best of reps runs in GFLOP per wall-second and
// in GFLOP per CPU-second (per core busy).
func sgemmPeak(tb testing.TB, threads, reps int) (wall, cpu float64) {
	tb.Helper()
	const n = 2048
	r := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, n*n)
	for i := range w {
		w[i] = r.Float32() - 0.5
	}
	m := &onnx.Model{IRVersion: 8, ProducerName: "crossrank-bench", Opsets: []onnx.OpsetID{{Version: 13}}, Graph: &onnx.Graph{
		Name:         "sgemm",
		Nodes:        []*onnx.Node{{OpType: "MatMul", Inputs: []string{"A", "B"}, Outputs: []string{"C"}}},
		Initializers: []*onnx.Tensor{onnx.FloatTensor("B", []int64{n, n}, w)},
		Inputs:       []*onnx.ValueInfo{onnx.Input("A", onnx.Float, n, n)},
		Outputs:      []*onnx.ValueInfo{onnx.Input("C", onnx.Float, n, n)},
	}}
	path := filepath.Join(tb.TempDir(), "sgemm.onnx")
	if err := onnx.WriteFile(path, m); err != nil {
		tb.Fatal(err)
	}
	if _, err := ort.Version(testenv.ORTLib(tb)); err != nil {
		tb.Fatal(err)
	}
	so, err := onnxruntime.NewSessionOptions()
	if err != nil {
		tb.Fatal(err)
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		tb.Fatal(err)
	}
	a, err := onnxruntime.NewTensor(onnxruntime.NewShape(n, n), w)
	if err != nil {
		tb.Fatal(err)
	}
	defer a.Destroy()
	c, err := onnxruntime.NewEmptyTensor[float32](onnxruntime.NewShape(n, n))
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Destroy()
	s, err := onnxruntime.NewAdvancedSession(path, []string{"A"}, []string{"C"}, []onnxruntime.Value{a}, []onnxruntime.Value{c}, so)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Destroy()
	best, bestCPU := time.Duration(1<<63-1), math.Inf(1)
	for i := range reps + 1 {
		start, startCPU := time.Now(), cpuSeconds(tb)
		if err := s.Run(); err != nil {
			tb.Fatal(err)
		}
		if i == 0 {
			continue // warm-up
		}
		best = min(best, time.Since(start))
		bestCPU = min(bestCPU, cpuSeconds(tb)-startCPU)
	}
	const flops = 2 * n * n * n
	return flops / best.Seconds() / 1e9, flops / bestCPU / 1e9
}

// BenchmarkSgemmPeak reports this machine's fp32 matrix-multiply peak as
// ONNX Runtime reaches it (best of 10 runs per iteration).
func BenchmarkSgemmPeak(b *testing.B) {
	for _, t := range benchThreads {
		b.Run(fmt.Sprintf("t=%d", t), func(b *testing.B) {
			var peak, peakCPU float64
			for range b.N {
				w, c := sgemmPeak(b, t, 10)
				peak, peakCPU = max(peak, w), max(peakCPU, c)
			}
			b.ReportMetric(peak, "GFLOP/s")
			b.ReportMetric(peakCPU, "GFLOP/cpu-s")
		})
	}
}

// BenchmarkSession measures Session.Score throughput over the grid
// dtype × threads × batch × length, on full rows (no padding): pairs/s and
// achieved GFLOP/s (modelFLOPs; for int8 the same count, i.e. fp32-
// equivalent work), per wall-second and per CPU-second (see cpuSeconds). testdata/benchtable.awk turns a run of this and
// BenchmarkSgemmPeak into a table with the percentage of the peak (the
// median peak of the same thread count), which is more robust on a shared
// machine than a peak measured beside each point.
func BenchmarkSession(b *testing.B) {
	ctx := context.Background()
	for _, dtype := range benchDtypes {
		b.Run(dtype, func(b *testing.B) {
			dir := testenv.TwinDir(b)
			if dtype == "int8" {
				dir = testenv.TwinInt8Dir(b)
			}
			for _, threads := range benchThreads {
				b.Run(fmt.Sprintf("t=%d", threads), func(b *testing.B) {
					s, err := ort.Load(ctx, dir, ort.WithLibrary(testenv.ORTLib(b)), ort.WithThreads(threads, 1))
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					for _, n := range benchBatches {
						for _, l := range benchLengths {
							b.Run(fmt.Sprintf("b=%d/L=%d", n, l), func(b *testing.B) {
								batch := randomBatch(uint64(n*1000+l), n, l, true)
								if _, err := s.Score(ctx, batch); err != nil { // warm this shape
									b.Fatal(err)
								}
								b.ResetTimer()
								cpu0 := cpuSeconds(b)
								for range b.N {
									if _, err := s.Score(ctx, batch); err != nil {
										b.Fatal(err)
									}
								}
								cpu := cpuSeconds(b) - cpu0
								sec := b.Elapsed().Seconds()
								pairs := float64(n*b.N) / sec
								flops := modelFLOPs(b, dir, l)
								b.ReportMetric(pairs, "pairs/s")
								b.ReportMetric(pairs*flops/1e9, "GFLOP/s")
								b.ReportMetric(float64(n*b.N)/cpu, "pairs/cpu-s")
								b.ReportMetric(float64(n*b.N)*flops/cpu/1e9, "GFLOP/cpu-s")
							})
						}
					}
				})
			}
		})
	}
}

// BenchmarkScoreOverhead runs the smallest useful batch (one row of four
// tokens) to show the per-call cost around the model: tensors over the
// batch's slices, the run, the result slice (allocs/op), with and without a
// cancellable context (which adds ORT run options and a context.AfterFunc).
func BenchmarkScoreOverhead(b *testing.B) {
	s := loadTwin(b)
	batch := randomBatch(5, 1, 4, true)
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
	}{{"background", context.Background()}, {"cancellable", cctx}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := s.Score(tc.ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGraphOptimizers compares the CPU session Load creates by default
// (AttentionFusion skipped, see DefaultDisabledOptimizers) with one running
// every ONNX Runtime fusion, one thread, interleaved per shape so both meet
// the same machine state.
func BenchmarkGraphOptimizers(b *testing.B) {
	ctx := context.Background()
	graphs := []struct {
		name string
		opts []ort.Option
	}{{"default", nil}, {"all-fusions", []ort.Option{ort.WithDisabledOptimizers("none")}}}
	sessions := make([]*ort.Session, len(graphs))
	for i, g := range graphs {
		sessions[i] = loadTwin(b, g.opts...)
	}
	for _, n := range []int{2, 8, 32} {
		for _, l := range []int{64, 128} {
			batch := randomBatch(uint64(n*100+l), n, l, true)
			for i, g := range graphs {
				b.Run(fmt.Sprintf("b=%d/L=%d/%s", n, l, g.name), func(b *testing.B) {
					if _, err := sessions[i].Score(ctx, batch); err != nil { // warm this shape
						b.Fatal(err)
					}
					b.ResetTimer()
					for range b.N {
						if _, err := sessions[i].Score(ctx, batch); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "pairs/s")
				})
			}
		}
	}
}
