// Package roofline measures how close a model run comes to the machine's
// limit: the fp32 matrix-multiply rate ONNX Runtime reaches on this CPU
// (SgemmPeak) and the multiply-adds a BERT-style encoder needs per token
// (Config.FLOPsPerToken). Efficiency is useful FLOPs per second over the
// peak measured in the same run; benchmarks report it (sidecar/server's
// BenchmarkEfficiency, models/ort's BenchmarkSession).
package roofline

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/crossrank/crossrank/internal/onnx"
)

// Config is the part of a model's config.json the FLOP count needs.
type Config struct {
	Hidden int `json:"hidden_size"`
	Inter  int `json:"intermediate_size"`
	Layers int `json:"num_hidden_layers"`
	// CLSOnlyLast says the graph's last layer computes the first token's
	// query, attention output and feed-forward only (keys and values for
	// every token), as crossrank's converted cross-encoders do; the
	// Executed counts then leave the skipped work out. config.json does not
	// say it: the caller sets it from the graph.
	CLSOnlyLast bool `json:"-"`
}

// LoadConfig reads dir/config.json.
func LoadConfig(dir string) (Config, error) {
	p := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		return Config{}, fmt.Errorf("roofline: %w", err)
	}
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return Config{}, fmt.Errorf("roofline: %s: %w", p, err)
	}
	if c.Hidden <= 0 || c.Inter <= 0 || c.Layers <= 0 {
		return Config{}, fmt.Errorf("roofline: %s: hidden_size %d, intermediate_size %d, num_hidden_layers %d: all must be positive",
			p, c.Hidden, c.Inter, c.Layers)
	}
	return c, nil
}

// PairFLOPs counts the multiply-adds (×2) of one sequence of l tokens: per
// layer the Q, K, V and output projections (4·2·l·h²), the feed-forward pair
// (2·2·l·h·i) and the attention products QKᵀ and AV (2·2·l²·h); then the
// pooler (2h²) and a one-logit classifier (2h). Embeddings, softmax, GELU
// and LayerNorm are left out (a few percent): they are the overhead that
// efficiency measures, not useful work.
func (c Config) PairFLOPs(l int) float64 {
	L, h, i := float64(l), float64(c.Hidden), float64(c.Inter)
	perLayer := 8*L*h*h + 4*L*h*i + 4*L*L*h
	return float64(c.Layers)*perLayer + 2*h*h + 2*h
}

// ExecutedPairFLOPs is PairFLOPs less what a CLSOnlyLast graph skips: its
// last layer runs the K and V projections on all l tokens (4·l·h²) but the
// Q and output projections (4h²), the feed-forward (4·h·i) and the
// attention products (4·l·h) for one query row only. Without CLSOnlyLast it
// is PairFLOPs.
func (c Config) ExecutedPairFLOPs(l int) float64 {
	if !c.CLSOnlyLast {
		return c.PairFLOPs(l)
	}
	L, h, i := float64(l), float64(c.Hidden), float64(c.Inter)
	full := 8*L*h*h + 4*L*h*i + 4*L*L*h
	last := 4*L*h*h + 4*h*h + 4*h*i + 4*L*h
	return c.PairFLOPs(l) - full + last
}

// BatchFLOPs is the useful work of a batch of pairs holding realTokens
// tokens before padding: pairs sequences of the mean real length. (The
// attention term grows with the square of the length, so this slightly
// undercounts a batch of unequal lengths; by under 1% for MiniLM-sized
// models at MS MARCO lengths.)
func (c Config) BatchFLOPs(pairs, realTokens int) float64 {
	return perBatch(c.PairFLOPs, pairs, realTokens)
}

// ExecutedBatchFLOPs is BatchFLOPs counted with ExecutedPairFLOPs.
func (c Config) ExecutedBatchFLOPs(pairs, realTokens int) float64 {
	return perBatch(c.ExecutedPairFLOPs, pairs, realTokens)
}

func perBatch(pair func(int) float64, pairs, realTokens int) float64 {
	if pairs <= 0 {
		return 0
	}
	return float64(pairs) * pair(int(math.Round(float64(realTokens)/float64(pairs))))
}

// Peak is one SgemmPeak measurement.
type Peak struct {
	Threads int
	// Wall is GFLOP per wall-clock second, CPU GFLOP per CPU-second
	// (user + system time of the process, all threads).
	Wall, CPU float64
}

// SgemmPeak measures ONNX Runtime's fp32 MatMul (MLAS, the kernels models
// run on) on a 2048×2048 by 2048×2048 product with a constant right-hand
// side (pre-packed, like model weights) with the given intra-op threads, and
// returns the best of reps runs after one warm-up. ONNX Runtime must already
// be initialised (ort.Version or ort.Load did it). tmp is a folder for the
// one-node graph.
func SgemmPeak(tmp string, threads, reps int) (Peak, error) {
	const n = 2048
	r := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, n*n)
	for i := range w {
		w[i] = r.Float32() - 0.5
	}
	m := &onnx.Model{IRVersion: 8, ProducerName: "crossrank-roofline", Opsets: []onnx.OpsetID{{Version: 13}}, Graph: &onnx.Graph{
		Name:         "sgemm",
		Nodes:        []*onnx.Node{{OpType: "MatMul", Inputs: []string{"A", "B"}, Outputs: []string{"C"}}},
		Initializers: []*onnx.Tensor{onnx.FloatTensor("B", []int64{n, n}, w)},
		Inputs:       []*onnx.ValueInfo{onnx.Input("A", onnx.Float, n, n)},
		Outputs:      []*onnx.ValueInfo{onnx.Input("C", onnx.Float, n, n)},
	}}
	path := filepath.Join(tmp, fmt.Sprintf("sgemm-%d.onnx", threads))
	if err := onnx.WriteFile(path, m); err != nil {
		return Peak{}, fmt.Errorf("roofline: %w", err)
	}
	defer os.Remove(path)
	so, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return Peak{}, fmt.Errorf("roofline: session options: %w", err)
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		return Peak{}, fmt.Errorf("roofline: threads: %w", err)
	}
	a, err := onnxruntime.NewTensor(onnxruntime.NewShape(n, n), w)
	if err != nil {
		return Peak{}, fmt.Errorf("roofline: input: %w", err)
	}
	defer a.Destroy()
	c, err := onnxruntime.NewEmptyTensor[float32](onnxruntime.NewShape(n, n))
	if err != nil {
		return Peak{}, fmt.Errorf("roofline: output: %w", err)
	}
	defer c.Destroy()
	s, err := onnxruntime.NewAdvancedSession(path, []string{"A"}, []string{"C"}, []onnxruntime.Value{a}, []onnxruntime.Value{c}, so)
	if err != nil {
		return Peak{}, fmt.Errorf("roofline: session: %w", err)
	}
	defer s.Destroy()
	best, bestCPU := time.Duration(math.MaxInt64), math.Inf(1)
	for i := range reps + 1 {
		start, startCPU := time.Now(), CPUSeconds()
		if err := s.Run(); err != nil {
			return Peak{}, fmt.Errorf("roofline: run: %w", err)
		}
		if i == 0 {
			continue // warm-up
		}
		best = min(best, time.Since(start))
		bestCPU = min(bestCPU, CPUSeconds()-startCPU)
	}
	const flops = 2 * n * n * n
	return Peak{Threads: threads, Wall: flops / best.Seconds() / 1e9, CPU: flops / bestCPU / 1e9}, nil
}

// CPUSeconds is the user+system CPU time this process has used. On a
// shared machine, work per CPU-second is far steadier than work per
// wall-second: time spent waiting for a core is not counted. (With more
// than one intra-op thread it also counts ONNX Runtime's spin-waiting.)
func CPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
