package convert_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/internal/convert"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models/tokenizer"
)

// minilmGolden is testdata/minilm_goldens.json, written by
// scripts/models/minilm_goldens.py (make goldens-minilm) from
// sentence-transformers on PyTorch.
type minilmGolden struct {
	MaxSeqLength int `json:"max_seq_length"`
	Texts        []struct {
		Text         string    `json:"text"`
		InputIDs     []int64   `json:"input_ids"`
		TokenTypeIDs []int64   `json:"token_type_ids"`
		Embedding    []float64 `json:"embedding"`
	} `json:"texts"`
	Pairs []struct {
		Query   int     `json:"query"`
		Passage int     `json:"passage"`
		Cosine  float64 `json:"cosine"`
	} `json:"pairs"`
}

// minilmDir is the folder make setup-minilm unpacks from PyPI.
func minilmDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(testenv.Root(t), ".cache", "models", "all-MiniLM-L6-v2")
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatalf("%v: run make setup-minilm", err)
	}
	return dir
}

// TestMiniLMParity converts all-MiniLM-L6-v2 from its safetensors and runs
// the graph on ONNX Runtime: embeddings and cosines equal
// sentence-transformers' (normalize_embeddings=True) within 1e-5.
func TestMiniLMParity(t *testing.T) {
	var g minilmGolden
	raw, err := os.ReadFile("testdata/minilm_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "minilm")
	res, err := convert.Convert(context.Background(), minilmDir(t), out, convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	md := res.Metadata
	if md.Kind != convert.KindBiEncoder || !md.Trained || md.OutputDim != 384 || md.MaxLength != g.MaxSeqLength || !md.Normalize {
		t.Fatalf("metadata %+v: want a trained, normalised bi-encoder, 384 dims, max length %d", md, g.MaxSeqLength)
	}
	// crossrank's tokenizer gives the token ids sentence-transformers does
	// when truncating at crossrank.json's max_length (sentence_bert_config's
	// 256, not tokenizer.json's own 128): tokenizer and graph together
	// reproduce the reference.
	tok, err := tokenizer.Load(filepath.Join(out, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tok = tok.WithTruncation(tokenizer.Truncation{MaxLength: md.MaxLength, Strategy: tokenizer.LongestFirst, Direction: tokenizer.Right})
	for i, tx := range g.Texts {
		enc, err := tok.Encode(tx.Text)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(enc.IDs) != fmt.Sprint(tx.InputIDs) {
			t.Errorf("text %d: crossrank tokenizer ids %v, sentence-transformers %v", i, enc.IDs, tx.InputIDs)
		}
	}

	r := newRunner(t, res.ONNX, md.Inputs, md.Output)
	var seqs, types [][]int64
	for _, tx := range g.Texts {
		seqs, types = append(seqs, tx.InputIDs), append(types, tx.TokenTypeIDs)
	}
	// One padded batch of every text, as the server batches them.
	ids, mask, tt, l := rows(seqs, types, 0)
	emb, err := r.run(len(seqs), l, ids, mask, tt)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, tx := range g.Texts {
		norm := 0.0
		for j, want := range tx.Embedding {
			got := float64(emb[i*384+j])
			norm += got * got
			worst = max(worst, math.Abs(got-want))
			if math.Abs(got-want) > 1e-5 {
				t.Fatalf("text %d (%.40q) dim %d: %v, sentence-transformers %v", i, tx.Text, j, got, want)
			}
		}
		if math.Abs(norm-1) > 1e-5 {
			t.Errorf("text %d: squared norm %v, want 1 (normalised in the graph)", i, norm)
		}
	}
	cos := func(a, b int) float64 {
		s := 0.0
		for j := 0; j < 384; j++ {
			s += float64(emb[a*384+j]) * float64(emb[b*384+j])
		}
		return s
	}
	worstCos := 0.0
	for _, p := range g.Pairs {
		got := cos(p.Query, p.Passage)
		worstCos = max(worstCos, math.Abs(got-p.Cosine))
		if math.Abs(got-p.Cosine) > 1e-5 {
			t.Errorf("pair (%d, %d): cosine %v, sentence-transformers %v", p.Query, p.Passage, got, p.Cosine)
		}
	}
	t.Logf("max |Δ| embedding %.2e, cosine %.2e over %d texts, %d pairs", worst, worstCos, len(g.Texts), len(g.Pairs))

	// --int8 (dynamic quantisation, per-tensor weights): each query's best
	// passage is unchanged and cosines stay within 0.1 of fp32's (measured:
	// 0.079 at worst on these pairs).
	q, err := convert.Convert(context.Background(), minilmDir(t), filepath.Join(t.TempDir(), "int8"), convert.Options{Int8: true})
	if err != nil {
		t.Fatal(err)
	}
	qemb, err := newRunner(t, q.ONNX, q.Metadata.Inputs, q.Metadata.Output).run(len(seqs), l, ids, mask, tt)
	if err != nil {
		t.Fatal(err)
	}
	worstQ := 0.0
	best := map[int][2]int{} // query -> best passage in fp32, in int8
	bestCos := map[int][2]float64{}
	for _, p := range g.Pairs {
		s := 0.0
		for j := 0; j < 384; j++ {
			s += float64(qemb[p.Query*384+j]) * float64(qemb[p.Passage*384+j])
		}
		worstQ = max(worstQ, math.Abs(s-p.Cosine))
		b, c := best[p.Query], bestCos[p.Query]
		if _, seen := best[p.Query]; !seen {
			b, c = [2]int{p.Passage, p.Passage}, [2]float64{p.Cosine, s}
		}
		if p.Cosine > c[0] {
			b[0], c[0] = p.Passage, p.Cosine
		}
		if s > c[1] {
			b[1], c[1] = p.Passage, s
		}
		best[p.Query], bestCos[p.Query] = b, c
	}
	for q, b := range best {
		if b[0] != b[1] {
			t.Errorf("query %d: best passage %d in fp32, %d in int8", q, b[0], b[1])
		}
	}
	if worstQ > 0.1 {
		t.Errorf("int8 cosines differ from sentence-transformers' fp32 by up to %.3f", worstQ)
	}
	t.Logf("int8: max |Δ cosine| %.4f", worstQ)

	// Each text alone (no padding) gives the same embedding as in the batch.
	for i, s := range seqs {
		ids, mask, tt, l := rows([][]int64{s}, [][]int64{types[i]}, 0)
		one, err := r.run(1, l, ids, mask, tt)
		if err != nil {
			t.Fatal(err)
		}
		for j := range one {
			if d := math.Abs(float64(one[j] - emb[i*384+j])); d > 1e-5 {
				t.Fatalf("text %d dim %d: alone %v, batched %v", i, j, one[j], emb[i*384+j])
			}
		}
	}
}
