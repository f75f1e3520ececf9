package convert_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/internal/onnx"
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
