package quantize_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/crossrank/crossrank/internal/quantize"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models/tokenizer"
)

// embedder runs a sentence-transformers ONNX export (inputs input_ids,
// attention_mask, token_type_ids; output sentence_embedding).
type embedder struct {
	s   *ort.DynamicAdvancedSession
	tok *tokenizer.Tokenizer
}

func newEmbedder(t *testing.T, model, tokenizerJSON string) *embedder {
	t.Helper()
	testenv.InitORT(t)
	so, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(2); err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewDynamicAdvancedSession(model, []string{"input_ids", "attention_mask", "token_type_ids"}, []string{"sentence_embedding"}, so)
	if err != nil {
		t.Fatalf("open %s: %v", model, err)
	}
	t.Cleanup(func() { s.Destroy() })
	tok, err := tokenizer.Load(tokenizerJSON)
	if err != nil {
		t.Fatal(err)
	}
	return &embedder{s: s, tok: tok}
}

// embed returns one L2-normalised embedding per text, in padded batches of 16.
func (e *embedder) embed(t *testing.T, texts []string) [][]float32 {
	t.Helper()
	var out [][]float32
	for start := 0; start < len(texts); start += 16 {
		batch := texts[start:min(start+16, len(texts))]
		var encs []tokenizer.Encoding
		l := 0
		for _, s := range batch {
			enc, err := e.tok.Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			encs = append(encs, enc)
			l = max(l, enc.Len())
		}
		n := len(batch)
		ids, mask, types := make([]int64, n*l), make([]int64, n*l), make([]int64, n*l)
		for i, enc := range encs {
			copy(ids[i*l:], enc.IDs)
			copy(mask[i*l:], enc.AttentionMask)
			copy(types[i*l:], enc.TypeIDs)
		}
		var ins []ort.Value
		for _, d := range [][]int64{ids, mask, types} {
			tn, err := ort.NewTensor(ort.NewShape(int64(n), int64(l)), d)
			if err != nil {
				t.Fatal(err)
			}
			defer tn.Destroy()
			ins = append(ins, tn)
		}
		outs := []ort.Value{nil}
		if err := e.s.Run(ins, outs); err != nil {
			t.Fatal(err)
		}
		data := outs[0].(*ort.Tensor[float32]).GetData()
		dim := len(data) / n
		for i := range n {
			v := append([]float32(nil), data[i*dim:(i+1)*dim]...)
			var norm float64
			for _, x := range v {
				norm += float64(x) * float64(x)
			}
			for j := range v {
				v[j] /= float32(math.Sqrt(norm))
			}
			out = append(out, v)
		}
		outs[0].Destroy()
	}
	return out
}

// agreement compares the cosine rankings of every passage for every query
// under two models' embeddings.
type agreement struct {
	spearmanMean, spearmanMin float64
	top1                      int     // queries whose best passage is the same
	top10                     float64 // mean |top-10 ∩ top-10| / 10
	queries                   int
	cosErr                    float64 // mean |Δcos|
}

func (a agreement) String() string {
	return fmt.Sprintf("%d queries: Spearman per query mean %.4f min %.4f; top-1 agreement %d/%d; top-10 overlap %.3f; mean |Δcos| %.4f",
		a.queries, a.spearmanMean, a.spearmanMin, a.top1, a.queries, a.top10, a.cosErr)
}

func compareRankings(qa, pa, qb, pb [][]float32) agreement {
	cos := func(x, y []float32) float32 {
		var s float32
		for i := range x {
			s += x[i] * y[i]
		}
		return s
	}
	ag := agreement{spearmanMin: 1, queries: len(qa)}
	pairs := 0
	for q := range qa {
		a, b := make([]float32, len(pa)), make([]float32, len(pb))
		for p := range pa {
			a[p], b[p] = cos(qa[q], pa[p]), cos(qb[q], pb[p])
			ag.cosErr += math.Abs(float64(a[p] - b[p]))
			pairs++
		}
		rho := spearman(a, b)
		ag.spearmanMean += rho / float64(len(qa))
		ag.spearmanMin = min(ag.spearmanMin, rho)
		ra, rb := ranks(a), ranks(b)
		var topA, topB []int
		for p := range ra {
			if ra[p] < 10 {
				topA = append(topA, p)
			}
			if rb[p] < 10 {
				topB = append(topB, p)
			}
			if ra[p] == 0 && rb[p] == 0 {
				ag.top1++
			}
		}
		common := 0
		for _, p := range topA {
			if slices.Contains(topB, p) {
				common++
			}
		}
		ag.top10 += float64(common) / 10 / float64(len(qa))
	}
	ag.cosErr /= float64(pairs)
	return ag
}

// TestTrainedBiEncoderAgreement quantises the trained bi-encoder
// all-MiniLM-L6-v2 (.cache/models/all-MiniLM-L6-v2, set up by the bi-encoder
// issue's make target) and compares the int8 and fp32 cosine rankings of 72
// passages for each of 24 queries (testdata/retrieval.json). It skips when
// the model folder is absent. CROSSRANK_QUANTIZE_COMPARE=folder also reports
// another int8 copy (e.g. one quantised per tensor by an older Version).
func TestTrainedBiEncoderAgreement(t *testing.T) {
	dir := filepath.Join(testenv.Root(t), ".cache", "models", "all-MiniLM-L6-v2")
	if _, err := os.Stat(filepath.Join(dir, "onnx", "model.onnx")); err != nil {
		t.Skipf("no trained bi-encoder at %s (%v)", dir, err)
	}
	var set struct {
		Queries, Passages []string
	}
	b, err := os.ReadFile("testdata/retrieval.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	int8Dir := t.TempDir()
	if err := quantize.Dynamic(dir, int8Dir); err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(dir, "tokenizer.json")
	fp := newEmbedder(t, filepath.Join(dir, "onnx", "model.onnx"), tok)
	qf, pf := fp.embed(t, set.Queries), fp.embed(t, set.Passages)
	q8 := newEmbedder(t, filepath.Join(int8Dir, "onnx", "model.onnx"), tok)
	qi, pi := q8.embed(t, set.Queries), q8.embed(t, set.Passages)
	ag := compareRankings(qf, pf, qi, pi)
	t.Logf("int8 (per-row, Version %d) vs fp32: %v", quantize.Version, ag)
	if other := os.Getenv("CROSSRANK_QUANTIZE_COMPARE"); other != "" {
		e := newEmbedder(t, filepath.Join(other, "onnx", "model.onnx"), tok)
		t.Logf("%s vs fp32: %v", other, compareRankings(qf, pf, e.embed(t, set.Queries), e.embed(t, set.Passages)))
	}
	// Bounds documented in RATIONALE.md, with margin below the measurement.
	if ag.spearmanMean < 0.97 || ag.top1 < ag.queries*9/10 || ag.top10 < 0.85 {
		t.Errorf("int8 does not keep the fp32 ranking: %v (want Spearman mean ≥ 0.97, top-1 ≥ 90%%, top-10 overlap ≥ 0.85)", ag)
	}
}
