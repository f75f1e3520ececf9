package convert_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/internal/onnx"
	"github.com/crossrank/crossrank/internal/roofline"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/ort"
)

// BenchmarkConvertedVsOfficial scores batches of 16 full 128-token pairs
// with 2 intra-op threads through the server's ONNX Runtime session
// (models/ort) on two graphs of the same weights (the shape twin): the
// official export (optimum-cli export onnx, from the twin's
// model.safetensors) and crossrank model convert's. make bench-convert
// builds both, sets the two folders below and runs interleaved rounds.
func BenchmarkConvertedVsOfficial(b *testing.B) {
	dirs := []struct{ name, env string }{
		{"official", "CROSSRANK_BENCH_OFFICIAL"},
		{"converted", "CROSSRANK_BENCH_CONVERTED"},
	}
	ctx := context.Background()
	p := testenv.SyntheticPairs(16, 128, 3)
	// Full rows: every pair is 128 tokens long.
	for i := range p.Mask {
		p.Mask[i] = 1
		if p.IDs[i] == 0 {
			p.IDs[i] = 2000
		}
	}
	batch := &models.Batch{N: p.N, L: p.L, InputIDs: p.IDs, AttentionMask: p.Mask, TokenTypeIDs: p.Types}
	for _, d := range dirs {
		b.Run(d.name, func(b *testing.B) {
			dir := os.Getenv(d.env)
			if dir == "" {
				b.Skipf("$%s is not set: run make bench-convert", d.env)
			}
			opt := filepath.Join(b.TempDir(), "optimised.onnx")
			s, err := ort.Load(ctx, dir, ort.WithLibrary(testenv.ORTLib(b)), ort.WithThreads(2, 1), ort.WithOptimizedModelPath(opt))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if m, err := onnx.ReadFile(opt); err == nil {
				ops := m.Graph.OpCounts()
				b.Logf("%s after ONNX Runtime optimisation: %d nodes, Attention %d, SkipLayerNormalization %d, EmbedLayerNormalization %d, BiasGelu %d",
					d.name, len(m.Graph.Nodes), ops["Attention"], ops["SkipLayerNormalization"], ops["EmbedLayerNormalization"], ops["BiasGelu"]+ops["FastGelu"])
			}
			if _, err := s.Score(ctx, batch); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := s.Score(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(p.N*b.N)/b.Elapsed().Seconds(), "pairs/s")
		})
	}
}

// BenchmarkLastLayer compares, through the server's ONNX Runtime session
// (models/ort, one intra-op thread), the twin's graph as Build writes it
// (last layer for [CLS] only) with the graph that keeps every token
// through the last layer (testenv.TwinAllTokensDir). Each iteration runs
// both on the same batch, one after the other, so both meet the same
// machine; reported are CPU milliseconds per batch of each and their ratio.
//
//	go test -run '^$' -bench LastLayer -benchtime 20x ./internal/convert/
func BenchmarkLastLayer(b *testing.B) {
	ctx := context.Background()
	sessions := map[string]*ort.Session{}
	for name, dir := range map[string]string{"cls": testenv.TwinDir(b), "full": testenv.TwinAllTokensDir(b)} {
		s, err := ort.Load(ctx, dir, ort.WithLibrary(testenv.ORTLib(b)), ort.WithThreads(1, 1))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		sessions[name] = s
	}
	for _, shape := range [][2]int{{16, 72}, {4, 72}, {16, 128}} {
		b.Run(fmt.Sprintf("b=%d/L=%d", shape[0], shape[1]), func(b *testing.B) {
			p := testenv.SyntheticPairs(shape[0], shape[1], 5)
			batch := &models.Batch{N: p.N, L: p.L, InputIDs: p.IDs, AttentionMask: p.Mask, TokenTypeIDs: p.Types}
			cpu := map[string]float64{}
			for i := -1; i < b.N; i++ { // i = -1 warms both
				for _, name := range []string{"full", "cls"} {
					t0 := roofline.CPUSeconds()
					if _, err := sessions[name].Score(ctx, batch); err != nil {
						b.Fatal(err)
					}
					if i >= 0 {
						cpu[name] += roofline.CPUSeconds() - t0
					}
				}
			}
			b.ReportMetric(1000*cpu["full"]/float64(b.N), "full-cpu-ms")
			b.ReportMetric(1000*cpu["cls"]/float64(b.N), "cls-cpu-ms")
			b.ReportMetric(cpu["full"]/cpu["cls"], "speed-up")
		})
	}
}
