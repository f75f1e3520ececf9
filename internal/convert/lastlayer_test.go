package convert_test

import (
	"context"
	"math"
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
		p := testenv.SyntheticPairs(shape[0], shape[1], uint64(shape[2]))
		a, err := cls.run(p.N, p.L, p.IDs, p.Mask, p.Types)
		if err != nil {
			t.Fatal(err)
		}
		b, err := full.run(p.N, p.L, p.IDs, p.Mask, p.Types)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != len(b) || len(a) != p.N {
			t.Fatalf("%d×%d: %d and %d logits, want %d", p.N, p.L, len(a), len(b), p.N)
		}
		for i := range a {
			worst = max(worst, math.Abs(float64(a[i]-b[i])))
		}
	}
	t.Logf("[CLS]-only last layer vs every token: max |Δlogit| %.2g", worst)
	if worst > 1e-5 {
		t.Fatalf("[CLS]-only last layer differs from the full graph by %.2g (limit 1e-5)", worst)
	}

	_, biModel, biMeta := writeGraph(t, testenv.MiniLMDir(t))
	if biMeta.Kind != convert.KindBiEncoder || biMeta.LastLayerCLSOnly || convert.LastLayerCLSOnly(biModel.Graph) {
		t.Fatalf("bi-encoder: kind %s, last_layer_cls_only %v, detected %v; want a bi-encoder with every token kept",
			biMeta.Kind, biMeta.LastLayerCLSOnly, convert.LastLayerCLSOnly(biModel.Graph))
	}
}
