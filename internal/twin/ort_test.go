package twin_test

import (
	"math"
	"path/filepath"
	"sort"
	"testing"

	"github.com/crossrank/crossrank/internal/onnx"
	"github.com/crossrank/crossrank/internal/testenv"
)

func stats(xs []float32) (mean, std float64) {
	for _, x := range xs {
		mean += float64(x)
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		std += (float64(x) - mean) * (float64(x) - mean)
	}
	return mean, math.Sqrt(std / float64(len(xs)-1))
}

// TestORTLogits loads the default twin in the real ONNX Runtime, scores 128
// varied pairs, and checks the logits are finite, spread (std ≥ 0.5, so
// ordering tests are not lost in float noise) and distinct.
func TestORTLogits(t *testing.T) {
	dir := testenv.TwinDir(t)
	s := testenv.NewORTSession(t, filepath.Join(dir, "onnx", "model.onnx"), testenv.ORTOptions{Threads: 2})
	p := testenv.SyntheticPairs(128, 64, 7)
	logits, err := s.Score(p.N, p.L, p.IDs, p.Mask, p.Types)
	if err != nil {
		t.Fatal(err)
	}
	if len(logits) != p.N {
		t.Fatalf("got %d logits for %d pairs", len(logits), p.N)
	}
	for i, x := range logits {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			t.Fatalf("logit %d is %v", i, x)
		}
	}
	mean, std := stats(logits)
	t.Logf("logits over %d varied pairs: mean %.3f std %.3f", p.N, mean, std)
	if std < 0.5 {
		t.Errorf("logit std %.3f < 0.5: the classifier head does not spread scores", std)
	}
	// Distinct pairs must get distinct scores, well above float noise
	// (fused vs unfused kernels differ by < 1e-5, TestORTFusion).
	sorted := append([]float32(nil), logits...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	nearTies := 0
	for i := 1; i < len(sorted); i++ {
		if sorted[i]-sorted[i-1] < 1e-5 {
			nearTies++
		}
	}
	if nearTies > 2 {
		t.Errorf("%d neighbouring logits within 1e-5 of each other: orderings would be decided by float noise", nearTies)
	}
}

// TestORTFusion has ONNX Runtime write its optimised graph and checks that
// the opset-11 export pattern was fused into ONNX Runtime's BERT kernels,
// and that the fused graph computes the same logits as the unoptimised one.
func TestORTFusion(t *testing.T) {
	dir := testenv.TwinDir(t)
	model := filepath.Join(dir, "onnx", "model.onnx")
	optimised := filepath.Join(t.TempDir(), "optimised.onnx")
	fused := testenv.NewORTSession(t, model, testenv.ORTOptions{Threads: 2, OptimizedModel: optimised})
	plain := testenv.NewORTSession(t, model, testenv.ORTOptions{Threads: 2, NoOptimization: true})

	m, err := onnx.ReadFile(optimised)
	if err != nil {
		t.Fatal(err)
	}
	ops := m.Graph.OpCounts()
	t.Logf("optimised graph: %d nodes: %v", len(m.Graph.Nodes), ops)
	for _, want := range []struct {
		op string
		n  int
	}{
		{"EmbedLayerNormalization", 1},
		// The last layer computes [CLS]'s query alone (convert's
		// clsOnly), which AttentionFusion does not match: 5 of 6.
		{"Attention", 5},
		{"SkipLayerNormalization", 12},
	} {
		if ops[want.op] != want.n {
			t.Errorf("optimised graph has %d %s nodes, want %d", ops[want.op], want.op, want.n)
		}
	}
	if ops["BiasGelu"]+ops["FastGelu"]+ops["Gelu"] != 6 {
		t.Errorf("optimised graph has %d BiasGelu, %d FastGelu, %d Gelu nodes; want 6 in all", ops["BiasGelu"], ops["FastGelu"], ops["Gelu"])
	}
	for _, gone := range []string{"Softmax", "Erf", "ReduceMean"} {
		if n := ops[gone]; n != 0 && !(gone == "Softmax" && n == 1) { // the last layer's own
			t.Errorf("optimised graph still has %d %s nodes", ops[gone], gone)
		}
	}

	p := testenv.SyntheticPairs(16, 48, 11)
	a, err := fused.Score(p.N, p.L, p.IDs, p.Mask, p.Types)
	if err != nil {
		t.Fatal(err)
	}
	b, err := plain.Score(p.N, p.L, p.IDs, p.Mask, p.Types)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range a {
		d := math.Abs(float64(a[i] - b[i]))
		worst = max(worst, d)
		if d > 2e-5 {
			t.Errorf("pair %d: fused %v vs unfused %v (|Δ| %.2g > 2e-5)", i, a[i], b[i], d)
		}
	}
	t.Logf("fused vs unfused logits: max |Δ| %.2g over %d pairs", worst, len(a))
}

// TestORTPaddingInvariance scores pairs alone (no padding) and inside one
// batch padded to 512 tokens: the attention mask must make padding
// irrelevant, up to float noise far below the logit spread.
func TestORTPaddingInvariance(t *testing.T) {
	dir := testenv.TwinDir(t)
	s := testenv.NewORTSession(t, filepath.Join(dir, "onnx", "model.onnx"), testenv.ORTOptions{Threads: 2})
	p := testenv.SyntheticPairs(6, 512, 3)
	worst := 0.0
	for i, d := range testenv.AloneVsBatch(t, s, p) {
		worst = max(worst, d)
		if d > 1e-5 {
			t.Errorf("pair %d (%d tokens): alone and padded to 512 in a batch differ by %.2g > 1e-5", i, p.Lens[i], d)
		}
	}
	t.Logf("alone vs padded to 512: max |Δ| %.2g", worst)
}
