package rerank_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/bench"
	"github.com/crossrank/crossrank/internal/reranktest"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// BenchmarkCascade1000 compares, on 1,000-candidate requests, the
// cross-encoder alone (the MiniLM-L6-H384 shape twin: the cost of
// cross-encoder/ms-marco-MiniLM-L-6-v2) with the cascade all-MiniLM-L6-v2
// (bi-encoder, every candidate) → cross-encoder (its top 50), with a cold
// embedding cache (every passage new) and a warm one (the same passages
// under a new query). The modes run in interleaved rounds, one request per
// mode per round, so a machine shared with other jobs slows them alike; it
// reports per mode the median over rounds of pairs/s (candidates per
// second of wall time) and the p50 and p95 of request latency over all
// rounds. The score cache is off. Run it with
//
//	go test -run '^$' -bench Cascade1000 -benchtime 1x ./sidecar/rerank/
//
// (CROSSRANK_CASCADE_ROUNDS sets the rounds, default 5).
func BenchmarkCascade1000(b *testing.B) {
	const candidates, keep = 1000, 50
	rounds := 5
	if v := envInt("CROSSRANK_CASCADE_ROUNDS"); v > 0 {
		rounds = v
	}
	bi := reranktest.MiniLM(b, "minilm", 1)
	ce := reranktest.Twin(b, 1)
	e, err := rerank.New([]rerank.Model{ce, bi}, rerank.WithCacheSize(0), rerank.WithMaxDocuments(candidates),
		rerank.WithCascades(map[string][]rerank.Stage{"fast": {{Model: "minilm", Keep: keep}, {Model: "twin", Keep: keep}}}))
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	corpus := bench.NewSynthetic(bench.SyntheticConfig{Seed: 14, Passages: candidates * (rounds*b.N + 2), Queries: 4 * rounds * b.N})
	modes := []string{"cross-encoder alone", "cascade, cold embedding cache", "cascade, warm embedding cache"}
	lat := make([][]float64, len(modes))  // ms, every request
	rate := make([][]float64, len(modes)) // candidates/s, per round
	ctx := context.Background()
	req := 0
	for range b.N {
		for range rounds {
			cold := req + 1 // the cold cascade request's index
			for m := range modes {
				i := req
				if m == 2 { // the cold cascade request's passages, a new query
					i = cold
				}
				_, docs := corpus.Request(i, candidates)
				query, _ := corpus.Request(4*rounds*b.N-1-req, 1)
				r := rerank.Request{Query: query, Documents: docs}
				if m == 0 {
					r.Model = "twin"
				} else {
					r.Cascade = "fast"
				}
				t0 := time.Now()
				res, err := e.Score(ctx, r)
				d := time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				if m == 2 && res.Meta.EmbeddingCacheHits < candidates/2 {
					b.Fatalf("warm request: %d embedding cache hits", res.Meta.EmbeddingCacheHits)
				}
				lat[m] = append(lat[m], float64(d.Microseconds())/1000)
				rate[m] = append(rate[m], candidates/d.Seconds())
				req++
			}
		}
	}
	for m, name := range modes {
		p50, p95 := quantile(lat[m], 0.5), quantile(lat[m], 0.95)
		tag := []string{"alone", "cold", "warm"}[m]
		b.ReportMetric(quantile(rate[m], 0.5), tag+"_pairs/s")
		b.ReportMetric(p50, tag+"_p50_ms")
		b.ReportMetric(p95, tag+"_p95_ms")
		b.Logf("%-32s median %.1f candidates/s, p50 %.0f ms, p95 %.0f ms (%d requests)", name, quantile(rate[m], 0.5), p50, p95, len(lat[m]))
	}
}

// quantile returns the q-quantile of v by linear interpolation.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	lo := int(pos)
	if lo+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[lo] + (pos-float64(lo))*(s[lo+1]-s[lo])
}

func envInt(name string) int {
	var n int
	if v := os.Getenv(name); v != "" {
		fmt.Sscan(v, &n)
	}
	return n
}
