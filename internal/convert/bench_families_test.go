package convert_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/ort"
)

// BenchmarkFamilies scores batches of 16 full pairs of 128 and of 512
// tokens with 2 intra-op threads through the server's ONNX Runtime session
// (models/ort) on two graphs of one family's bench-size twin: the official
// export ($CROSSRANK_BENCH_OFFICIAL, optimum) and crossrank model convert's
// graph ($CROSSRANK_BENCH_CONVERTED) of the same weights. Each graph is
// loaded once and warmed up at each length before it is timed. make
// bench-families builds the twins (scripts/models/bench_families.py) and runs
// it per family in interleaved rounds (scripts/models/bench-families.sh).
func BenchmarkFamilies(b *testing.B) {
	const batchSize = 16
	dirs := []struct{ name, env string }{
		{"official", "CROSSRANK_BENCH_OFFICIAL"},
		{"converted", "CROSSRANK_BENCH_CONVERTED"},
	}
	ctx := context.Background()
	for _, d := range dirs {
		b.Run(d.name, func(b *testing.B) {
			dir := os.Getenv(d.env)
			if dir == "" {
				b.Skipf("$%s is not set: run make bench-families", d.env)
			}
			vocab, err := vocabSize(dir)
			if err != nil {
				b.Fatal(err)
			}
			s, err := ort.Load(ctx, dir, ort.WithLibrary(testenv.ORTLib(b)), ort.WithThreads(2, 1))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for _, l := range []int{128, 512} {
				batch := fullBatch(batchSize, l, vocab)
				if _, err := s.Score(ctx, batch); err != nil {
					b.Fatalf("%s, batch %d × %d: %v", dir, batchSize, l, err)
				}
				b.Run(fmt.Sprintf("seq=%d", l), func(b *testing.B) {
					b.ResetTimer()
					for range b.N {
						if _, err := s.Score(ctx, batch); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(batchSize*b.N)/b.Elapsed().Seconds(), "pairs/s")
				})
			}
		})
	}
}

// vocabSize is config.json's vocab_size.
func vocabSize(dir string) (int64, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return 0, err
	}
	var c struct {
		VocabSize int64 `json:"vocab_size"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return 0, fmt.Errorf("%s/config.json: %w", dir, err)
	}
	if c.VocabSize < 1000 {
		return 0, fmt.Errorf("%s/config.json: vocab_size %d, want at least 1000", dir, c.VocabSize)
	}
	return c.VocabSize, nil
}

// fullBatch is n pairs of l tokens each (no padding), the synthetic pairs'
// layout with their ids folded into [5, vocab).
func fullBatch(n, l int, vocab int64) *models.Batch {
	p := testenv.SyntheticPairs(n, l, 3)
	for i := range p.Mask {
		p.Mask[i] = 1
		if p.IDs[i] == 0 {
			p.IDs[i] = 2000
		}
		p.IDs[i] = 5 + p.IDs[i]%(vocab-5)
	}
	return &models.Batch{N: p.N, L: p.L, InputIDs: p.IDs, AttentionMask: p.Mask, TokenTypeIDs: p.Types}
}
