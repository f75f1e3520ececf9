package rerank_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/crossrank/crossrank/internal/reranktest"
	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// goldenRequests groups the goldens' pairs by query: one request per query
// with its passages as documents, and the cosines expected.
func goldenRequests(t *testing.T) (queries []string, passages [][]string, cosines [][]float64) {
	g := reranktest.MiniLMGoldens(t)
	at := map[int]int{}
	for _, p := range g.Pairs {
		k, ok := at[p.Query]
		if !ok {
			k = len(queries)
			at[p.Query] = k
			queries = append(queries, g.Texts[p.Query].Text)
			passages = append(passages, nil)
			cosines = append(cosines, nil)
		}
		passages[k] = append(passages[k], g.Texts[p.Passage].Text)
		cosines[k] = append(cosines[k], p.Cosine)
	}
	return queries, passages, cosines
}

// TestBiEncoderParity: the engine serving all-MiniLM-L6-v2 gives, for each
// golden (query, passage), sentence-transformers' cosine within 1e-5 as the
// logit and (cosine+1)/2 as the score, and ranks by it. A second pass is
// served from the embedding cache with the same scores.
func TestBiEncoderParity(t *testing.T) {
	e := engine(t, reranktest.MiniLM(t, "all-MiniLM-L6-v2", 1))
	queries, passages, cosines := goldenRequests(t)
	for pass := range 2 {
		for k, q := range queries {
			res, err := e.Score(context.Background(), rerank.Request{Query: q, Documents: docs(passages[k]...)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != models.BiEncoder {
				t.Fatalf("Kind = %q", res.Kind)
			}
			for i, want := range cosines[k] {
				if d := math.Abs(float64(res.Logits[i]) - want); d > 1e-5 {
					t.Fatalf("pass %d query %q passage %d: cosine %v, sentence-transformers %v (|d| %.2g)", pass, q, i, res.Logits[i], want, d)
				}
				if d := math.Abs(res.Scores[i] - (want+1)/2); d > 1e-5 {
					t.Fatalf("score %v, want (cos+1)/2 = %v", res.Scores[i], (want+1)/2)
				}
			}
			wantOrder := make([]int, len(cosines[k]))
			for i := range wantOrder {
				wantOrder[i] = i
			}
			slices.SortStableFunc(wantOrder, func(a, b int) int {
				switch {
				case cosines[k][a] > cosines[k][b]:
					return -1
				case cosines[k][a] < cosines[k][b]:
					return 1
				}
				return 0
			})
			if res.Order[0] != wantOrder[0] {
				t.Fatalf("query %q: best %d, sentence-transformers' best %d", q, res.Order[0], wantOrder[0])
			}
			m := res.Meta
			distinct := len(passages[k]) + 1
			switch pass {
			case 0:
				if k == 0 && (m.EmbeddingCacheMisses != distinct || m.EmbeddingCacheHits != 0 || m.Pairs != distinct) {
					t.Fatalf("first request meta %+v, want %d misses and sequences", m, distinct)
				}
			case 1:
				if m.EmbeddingCacheHits != distinct || m.EmbeddingCacheMisses != 0 || m.Pairs != 0 || m.Batches != 0 {
					t.Fatalf("second pass meta %+v, want %d hits and nothing embedded", m, distinct)
				}
			}
		}
	}
}

// TestBiEncoderCacheOff: with no embedding cache, a passage repeated in a
// request and across requests is embedded every time; scores stay equal.
func TestBiEncoderCacheOffAndTruncation(t *testing.T) {
	m := reranktest.MiniLM(t, "minilm", 1)
	e := engine(t, m, rerank.WithEmbeddingCacheBytes(0))
	texts := []string{"Bananas are yellow.", "Bananas are yellow.", "Canberra is the capital of Australia."}
	var first *rerank.Result
	for range 2 {
		res, err := e.Score(context.Background(), rerank.Request{Query: "capital of Australia", Documents: docs(texts...)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Meta.EmbeddingCacheHits != 0 || res.Meta.Pairs != 4 {
			t.Fatalf("meta %+v, want 4 texts embedded, no hits", res.Meta)
		}
		if res.Logits[0] != res.Logits[1] || res.Order[0] != 2 {
			t.Fatalf("logits %v order %v", res.Logits, res.Order)
		}
		if first != nil && !slices.Equal(first.Logits, res.Logits) {
			t.Fatalf("logits changed: %v then %v", first.Logits, res.Logits)
		}
		first = res
	}
	// Truncation off: a passage over the model's 256 tokens is a 422 naming it.
	long := ""
	for range 300 {
		long += "word "
	}
	_, err := e.Score(context.Background(), rerank.Request{Query: "q", Documents: docs("short", long), Truncation: models.Truncation{Off: true}})
	var re *rerank.Error
	if !errors.As(err, &re) || re.Kind != rerank.KindInvalid || re.Field != "documents[1]" {
		t.Fatalf("err = %v, want invalid documents[1]", err)
	}
	// A token budget cuts the passage: the same as sending its first words.
	res, err := e.Score(context.Background(), rerank.Request{Query: "q", Documents: docs(long), MaxTokensPerDoc: 5})
	if err != nil {
		t.Fatal(err)
	}
	cut, err := e.Score(context.Background(), rerank.Request{Query: "q", Documents: docs("word word word word word")})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(res.Logits[0]-cut.Logits[0])) > 1e-6 {
		t.Fatalf("budget 5: %v, first five words: %v", res.Logits[0], cut.Logits[0])
	}
}
