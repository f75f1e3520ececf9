package batcher_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/crossrank/crossrank/models"
)

// BenchmarkBatchCost measures one session run (1 intra-op thread) for N
// pairs of 96 tokens. Fitting time = a + b*N*L over the sizes gives the
// per-batch overhead in token equivalents (a/b), the OverheadTokens the
// grouping weighs padding against (see sidecar/RATIONALE.md).
func BenchmarkBatchCost(b *testing.B) {
	s := loadTwin(b)
	rng := rand.New(rand.NewPCG(1, 1))
	const l = 96
	for _, n := range []int{1, 2, 4, 8, 16, 32} {
		b.Run(fmt.Sprintf("pairs=%d", n), func(b *testing.B) {
			var mb models.Batch
			mb.Reset(n, l)
			for i := range n {
				q := seq(rng, 8, l-11)
				mb.SetRow(i, q.IDs, q.TypeIDs)
			}
			for b.Loop() {
				if _, err := s.Score(context.Background(), &mb); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*l), "ns/token")
		})
	}
}
