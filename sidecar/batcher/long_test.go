package batcher_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/crossrank/crossrank/sidecar/batcher"
)

// TestLongPairRunsAlone: a pair whose length passes MaxBatchTokens is not
// refused; it runs in a batch of its own while the short pairs share
// batches within the budget, in grouped and FIFO modes. Logits equal each
// pair scored alone.
func TestLongPairRunsAlone(t *testing.T) {
	s := loadTwin(t)
	for _, fifo := range []bool{false, true} {
		t.Run(map[bool]string{false: "grouped", true: "fifo"}[fifo], func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			in := []batcher.Seq{seq(rng, 4, 10), seq(rng, 4, 300), seq(rng, 4, 12), seq(rng, 4, 8), seq(rng, 4, 11)}
			var log batchLog
			cfg := batcher.Config{MaxBatchPairs: 8, MaxBatchTokens: 100, Workers: 1, FIFO: fifo}
			b := batcher.New("twin", s, cfg, batcher.WithObserver(log.observe))
			defer b.Close(context.Background())
			res, err := b.Submit(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			long := len(in[1].IDs)
			sawLong := false
			for _, bi := range log.all() {
				if bi.PaddedTokens > cfg.MaxBatchTokens {
					if bi.Pairs != 1 || bi.RealTokens != long {
						t.Fatalf("batch over the token budget: %+v", bi)
					}
					sawLong = true
				}
			}
			if !sawLong {
				t.Fatalf("the %d-token pair never ran alone: %+v", long, log.all())
			}
			for i, q := range in {
				if want := direct(t, s, q); absf(res.Logits[i]-want) > 1e-4 {
					t.Fatalf("pair %d: logit %v, alone %v", i, res.Logits[i], want)
				}
			}
		})
	}
}

func absf(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
