package convert_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/internal/convert"
	"github.com/crossrank/crossrank/internal/onnx"
	"github.com/crossrank/crossrank/internal/testenv"
)

// writeGraph builds dir's graph with opts and writes it to a temporary
// file, returning its path and metadata.
func writeGraph(t testing.TB, dir string, opts ...convert.BuildOption) (string, *onnx.Model, *convert.Metadata) {
	t.Helper()
	m, md, err := convert.Build(context.Background(), dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "model.onnx")
	if err := onnx.WriteFile(p, m); err != nil {
		t.Fatal(err)
	}
	return p, m, md
}

// maxDiff runs the padded batch p through both graphs, checks each gives
// width values per row, and returns the largest difference.
func maxDiff(t *testing.T, x, y *graphRunner, p *testenv.Pairs, width int) float64 {
	t.Helper()
	a, err := x.run(p.N, p.L, p.IDs, p.Mask, p.Types)
	if err != nil {
		t.Fatal(err)
	}
	b, err := y.run(p.N, p.L, p.IDs, p.Mask, p.Types)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != p.N*width || len(b) != len(a) {
		t.Fatalf("%d×%d: %d and %d values, want %d", p.N, p.L, len(a), len(b), p.N*width)
	}
	worst := 0.0
	for i := range a {
		worst = max(worst, math.Abs(float64(a[i]-b[i])))
	}
	return worst
}

// TestLastLayerCLSOnly checks that the cross-encoder graph whose last layer
// computes [CLS] alone scores padded batches of varied pairs as the graph
// that keeps every token (the checkpoint's own forward pass), that the
// metadata and LastLayerCLSOnly say which is which, and that bi-encoders,
// which pool every token, keep them all.
func TestLastLayerCLSOnly(t *testing.T) {
	dir := testenv.TwinDir(t)
	clsPath, clsModel, clsMeta := writeGraph(t, dir)
	fullPath, fullModel, fullMeta := writeGraph(t, dir, convert.WithAllTokens())
	if !clsMeta.LastLayerCLSOnly || !convert.LastLayerCLSOnly(clsModel.Graph) {
		t.Fatalf("Build of the twin: metadata last_layer_cls_only %v, graph detected %v; want both true",
			clsMeta.LastLayerCLSOnly, convert.LastLayerCLSOnly(clsModel.Graph))
	}
	if fullMeta.LastLayerCLSOnly || convert.LastLayerCLSOnly(fullModel.Graph) {
		t.Fatal("Build WithAllTokens of the twin is marked [CLS]-only")
	}
	inputs := clsMeta.Inputs
	cls, full := newRunner(t, clsPath, inputs, "logits"), newRunner(t, fullPath, inputs, "logits")
	worst := 0.0
	for _, shape := range [][3]int{{16, 48, 1}, {7, 128, 2}, {1, 9, 3}, {32, 24, 4}} {
		worst = max(worst, maxDiff(t, cls, full, testenv.SyntheticPairs(shape[0], shape[1], uint64(shape[2])), 1))
	}
	t.Logf("[CLS]-only last layer vs every token: max |Δlogit| %.2g", worst)
	if worst > 1e-5 {
		t.Fatalf("[CLS]-only last layer differs from the full graph by %.2g (limit 1e-5)", worst)
	}

	// all-MiniLM-L6-v2 mean-pools every token: it keeps them all.
	_, biModel, biMeta := writeGraph(t, testenv.MiniLMDir(t))
	if biMeta.Kind != convert.KindBiEncoder || biMeta.LastLayerCLSOnly || convert.LastLayerCLSOnly(biModel.Graph) {
		t.Fatalf("mean-pooling bi-encoder: kind %s, last_layer_cls_only %v, detected %v; want a bi-encoder with every token kept",
			biMeta.Kind, biMeta.LastLayerCLSOnly, convert.LastLayerCLSOnly(biModel.Graph))
	}
}

// TestLastLayerCLSOnlyBiEncoder does the same for a bi-encoder that pools
// [CLS] alone (as BGE's embedding models do): all-MiniLM-L6-v2's weights
// with its Pooling module switched to cls.
func TestLastLayerCLSOnlyBiEncoder(t *testing.T) {
	src := testenv.MiniLMDir(t)
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors", "modules.json", "sentence_bert_config.json", "tokenizer.json"} {
		if err := os.Symlink(filepath.Join(src, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "1_Pooling"), 0o755); err != nil {
		t.Fatal(err)
	}
	pooling := `{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}`
	if err := os.WriteFile(filepath.Join(dir, "1_Pooling", "config.json"), []byte(pooling), 0o644); err != nil {
		t.Fatal(err)
	}
	clsPath, _, clsMeta := writeGraph(t, dir)
	fullPath, _, fullMeta := writeGraph(t, dir, convert.WithAllTokens())
	if clsMeta.Kind != convert.KindBiEncoder || !clsMeta.LastLayerCLSOnly || fullMeta.LastLayerCLSOnly {
		t.Fatalf("cls-pooling bi-encoder: kind %s, last_layer_cls_only %v (want true), with all tokens %v (want false)",
			clsMeta.Kind, clsMeta.LastLayerCLSOnly, fullMeta.LastLayerCLSOnly)
	}
	cls := newRunner(t, clsPath, clsMeta.Inputs, clsMeta.Output)
	full := newRunner(t, fullPath, fullMeta.Inputs, fullMeta.Output)
	p := testenv.SyntheticPairs(12, 40, 8)
	worst := maxDiff(t, cls, full, p, clsMeta.OutputDim)
	t.Logf("cls-pooling bi-encoder, [CLS]-only last layer vs every token: max |Δ| %.2g over %d embeddings", worst, p.N)
	if worst > 1e-5 {
		t.Fatalf("embeddings differ by %.2g (limit 1e-5)", worst)
	}
}
