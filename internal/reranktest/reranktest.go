// Package reranktest holds helpers for tests that need a real rerank model:
// the default shape twin (a cross-encoder) and the trained bi-encoder
// all-MiniLM-L6-v2 with its sentence-transformers goldens, on the real ONNX
// Runtime.
package reranktest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models/loader"
	"github.com/crossrank/crossrank/models/ort"
	"github.com/crossrank/crossrank/models/tokenizer"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// Twin loads the default shape twin with the given intra-op threads; the
// session is closed when the test ends.
func Twin(t testing.TB, threads int) rerank.Model {
	t.Helper()
	return Load(t, "twin", testenv.TwinDir(t), threads)
}

// Load loads the model folder dir served as name with the given intra-op
// threads; it is closed when the test ends.
func Load(t testing.TB, name, dir string, threads int) rerank.Model {
	t.Helper()
	m, err := loader.Load(context.Background(), name, dir, ort.WithLibrary(testenv.ORTLib(t)), ort.WithThreads(threads, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// Reference scores (query, passage) pairs the way `crossrank score` does,
// outside the engine, batcher and HTTP layers: the twin's own tokenizer with
// truncation tr, and ort.ScorePairs on m's session in batches of batch.
func Reference(t testing.TB, m rerank.Model, tr tokenizer.Truncation, batch int, query string, passages []string) []float32 {
	t.Helper()
	tok, err := tokenizer.Load(filepath.Join(testenv.TwinDir(t), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tok = tok.WithTruncation(tr)
	enc := func(q, p string) ([]int64, []int64, error) {
		e, err := tok.EncodePair(q, p)
		return e.IDs, e.TypeIDs, err
	}
	pairs := make([]ort.Pair, len(passages))
	for i, p := range passages {
		pairs[i] = ort.Pair{Query: query, Passage: p}
	}
	out, err := ort.ScorePairs(context.Background(), m.Scorer, enc, pairs, batch)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// MiniLM loads the trained bi-encoder all-MiniLM-L6-v2 (make setup-minilm)
// served as name; it is closed when the test ends.
func MiniLM(t testing.TB, name string, threads int) rerank.Model {
	t.Helper()
	return Load(t, name, testenv.MiniLMDir(t), threads)
}

// MiniLMGolden is internal/convert/testdata/minilm_goldens.json: texts and
// the cosines sentence-transformers (normalize_embeddings=True, PyTorch CPU)
// gives for (query, passage) pairs of them, written by make goldens-minilm.
type MiniLMGolden struct {
	MaxSeqLength int `json:"max_seq_length"`
	Texts        []struct {
		Text string `json:"text"`
	} `json:"texts"`
	Pairs []struct {
		Query   int     `json:"query"`
		Passage int     `json:"passage"`
		Cosine  float64 `json:"cosine"`
	} `json:"pairs"`
}

// MiniLMGoldens reads the goldens.
func MiniLMGoldens(t testing.TB) MiniLMGolden {
	t.Helper()
	raw, err := os.ReadFile(testenv.MiniLMGoldens(t))
	if err != nil {
		t.Fatal(err)
	}
	var g MiniLMGolden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("%s: %v", testenv.MiniLMGoldens(t), err)
	}
	return g
}
