package quantize_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/crossrank/crossrank/internal/onnx"
	"github.com/crossrank/crossrank/internal/quantize"
	"github.com/crossrank/crossrank/internal/testenv"
)

// tinyModel is ids[N] → Gather(E[10,8]) → MatMul(W[8,4]) → y[N,4], plus
// y·yᵀ (an activation-by-activation MatMul, which must stay float).
func tinyModel(e, w []float32) *onnx.Model {
	g := &onnx.Graph{
		Name: "tiny",
		Nodes: []*onnx.Node{
			{Name: "gather", OpType: "Gather", Inputs: []string{"E", "ids"}, Outputs: []string{"x"}},
			{Name: "mm", OpType: "MatMul", Inputs: []string{"x", "W"}, Outputs: []string{"y"}},
			{Name: "t", OpType: "Transpose", Inputs: []string{"y"}, Outputs: []string{"yt"}, Attrs: []*onnx.Attribute{onnx.Ints("perm", 1, 0)}},
			{Name: "gram", OpType: "MatMul", Inputs: []string{"y", "yt"}, Outputs: []string{"gram"}},
		},
		Initializers: []*onnx.Tensor{onnx.FloatTensor("E", []int64{10, 8}, e), onnx.FloatTensor("W", []int64{8, 4}, w)},
		Inputs:       []*onnx.ValueInfo{onnx.Input("ids", onnx.Int64, "n")},
		Outputs:      []*onnx.ValueInfo{onnx.Input("y", onnx.Float, "n", 4), onnx.Input("gram", onnx.Float, "n", "n")},
	}
	return &onnx.Model{IRVersion: 7, ProducerName: "test", Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}
}

func runTiny(t *testing.T, path string, ids []int64) []float32 {
	t.Helper()
	testenv.InitORT(t)
	s, err := ort.NewDynamicAdvancedSession(path, []string{"ids"}, []string{"y", "gram"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	in, err := ort.NewTensor(ort.NewShape(int64(len(ids))), ids)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	outs := []ort.Value{nil, nil}
	if err := s.Run([]ort.Value{in}, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Destroy()
	defer outs[1].Destroy()
	return append([]float32(nil), outs[0].(*ort.Tensor[float32]).GetData()...)
}

// TestGraphOnORT quantises a tiny graph, checks its structure, runs it in
// ONNX Runtime and compares with y = E[ids]·W computed here in float64,
// within the error bound that int8 weights and uint8 activations allow.
func TestGraphOnORT(t *testing.T) {
	e := make([]float32, 80)
	w := make([]float32, 32)
	for i := range e {
		e[i] = float32(math.Sin(float64(i)*0.7)) * 0.5
	}
	for i := range w {
		w[i] = float32(math.Cos(float64(i)*1.3)) * 0.2
	}
	dir := t.TempDir()
	m := tinyModel(e, w)
	if err := onnx.WriteFile(filepath.Join(dir, "fp32.onnx"), m); err != nil {
		t.Fatal(err)
	}
	n, err := quantize.Graph(m.Graph, 13)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("quantised %d nodes, want 2 (the Gather and the weight MatMul, not y·yᵀ)", n)
	}
	var ops []string
	for _, nd := range m.Graph.Nodes {
		ops = append(ops, nd.OpType)
	}
	if got, want := strings.Join(ops, " "), "Gather DequantizeLinear ReduceMax ReduceMin Neg Max Div Max Reciprocal Mul QuantizeLinear MatMulIntegerToFloat Transpose MatMul"; got != want {
		t.Errorf("ops %s\nwant %s", got, want)
	}
	scales := map[string]float32{}
	for _, x := range m.Graph.Initializers {
		if x.DataType == onnx.Float && strings.HasSuffix(x.Name, "_scale") {
			v, _ := x.Floats()
			scales[strings.TrimSuffix(x.Name, "_scale")] = slices.Max(v)
		}
		if x.Name == "E" || x.Name == "W" {
			t.Errorf("float initializer %s kept after quantisation", x.Name)
		}
	}
	if _, err := quantize.Graph(m.Graph, 13); err == nil {
		t.Error("quantising twice succeeded")
	}
	if err := onnx.WriteFile(filepath.Join(dir, "int8.onnx"), m); err != nil {
		t.Fatal(err)
	}

	ids := []int64{0, 3, 9, 4, 4, 7}
	ref := make([]float64, len(ids)*4)
	for r, id := range ids {
		for j := 0; j < 4; j++ {
			for k := 0; k < 8; k++ {
				ref[r*4+j] += float64(e[int(id)*8+k]) * float64(w[k*4+j])
			}
		}
	}
	fp := runTiny(t, filepath.Join(dir, "fp32.onnx"), ids)
	q := runTiny(t, filepath.Join(dir, "int8.onnx"), ids)
	// Bound: E rows carry ±sE/2, W ±sW/2 (sW: the largest column scale), activations ±sX/2 where sX =
	// max|x_row|/127 (one scale per row) with |x| ≤ 0.5+sE/2.
	sE, sW := float64(scales["E"]), float64(scales["W"])
	sX := (0.5 + sE) / 127
	bound := 8 * ((0.5+sE)*sW/2 + 0.2*(sE/2+sX/2) + (sE/2+sX/2)*sW/2)
	for i := range ref {
		if d := math.Abs(float64(fp[i]) - ref[i]); d > 1e-5 {
			t.Errorf("fp32 y[%d] = %v, float64 reference %v", i, fp[i], ref[i])
		}
		if d := math.Abs(float64(q[i]) - ref[i]); d > bound {
			t.Errorf("int8 y[%d] = %v, reference %v: |Δ| %.3g > bound %.3g", i, q[i], ref[i], d, bound)
		}
	}
}

func TestDynamicErrors(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		name, in, want string
	}{
		{"missing folder", filepath.Join(empty, "nope"), "no such file"},
		{"no model", empty, "neither onnx/model.onnx nor model.onnx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := quantize.Dynamic(tc.in, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Dynamic(%s) = %v, want an error containing %q", tc.in, err, tc.want)
			}
		})
	}
	garbage := t.TempDir()
	if err := os.WriteFile(filepath.Join(garbage, "model.onnx"), []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := quantize.Dynamic(garbage, t.TempDir()); err == nil {
		t.Error("Dynamic on a garbage model.onnx succeeded")
	}
}

// groups builds g groups of k pairs sharing one query (like one rerank
// request), random word pieces, padded to l.
func groups(g, k, l int, seed uint64) *testenv.Pairs {
	p := testenv.SyntheticPairs(g*k, l, seed)
	for gi := 0; gi < g; gi++ {
		ids0, _, types0 := p.Row(gi * k)
		qlen := 1
		for types0[qlen] == 0 {
			qlen++
		}
		for j := 1; j < k; j++ {
			ids, mask, types := p.Row(gi*k + j)
			n := p.Lens[gi*k+j]
			// keep this row's passage, put the group's query in front of it
			var passage []int64
			for i := 0; i < n; i++ {
				if types[i] == 1 {
					passage = append(passage, ids[i])
				}
			}
			if qlen+len(passage) > l {
				passage = passage[:l-qlen]
				passage[len(passage)-1] = 102
			}
			clear(ids)
			clear(mask)
			clear(types)
			copy(ids, ids0[:qlen])
			copy(ids[qlen:], passage)
			for i := 0; i < qlen+len(passage); i++ {
				mask[i] = 1
				if i >= qlen {
					types[i] = 1
				}
			}
			p.Lens[gi*k+j] = qlen + len(passage)
		}
	}
	return p
}

func ranks(xs []float32) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return xs[idx[a]] > xs[idx[b]] })
	r := make([]float64, len(xs))
	for pos, i := range idx {
		r[i] = float64(pos)
	}
	return r
}

func spearman(a, b []float32) float64 {
	ra, rb := ranks(a), ranks(b)
	n := float64(len(a))
	var d2 float64
	for i := range ra {
		d2 += (ra[i] - rb[i]) * (ra[i] - rb[i])
	}
	return 1 - 6*d2/(n*(n*n-1))
}

// TestTwinRankAgreement scores 1,000 pairs (50 groups of 20 passages for one
// query) with the fp32 twin and its int8 copy in ONNX Runtime and reports how
// well int8 keeps the fp32 order.
func TestTwinRankAgreement(t *testing.T) {
	fp32 := testenv.NewORTSession(t, filepath.Join(testenv.TwinDir(t), "onnx", "model.onnx"), testenv.ORTOptions{Threads: 2})
	int8 := testenv.NewORTSession(t, filepath.Join(testenv.TwinInt8Dir(t), "onnx", "model_quantized.onnx"), testenv.ORTOptions{Threads: 2})
	const g, k, l = 50, 20, 48
	p := groups(g, k, l, 2024)
	var a, b []float32
	for start := 0; start < p.N; start += 100 {
		ids, mask, types := p.IDs[start*l:(start+100)*l], p.Mask[start*l:(start+100)*l], p.Types[start*l:(start+100)*l]
		x, err := fp32.Score(100, l, ids, mask, types)
		if err != nil {
			t.Fatal(err)
		}
		y, err := int8.Score(100, l, ids, mask, types)
		if err != nil {
			t.Fatal(err)
		}
		a, b = append(a, x...), append(b, y...)
	}
	var sum, worst, absErr float64 = 0, 1, 0
	top1 := 0
	for gi := 0; gi < g; gi++ {
		x, y := a[gi*k:(gi+1)*k], b[gi*k:(gi+1)*k]
		rho := spearman(x, y)
		sum += rho
		worst = math.Min(worst, rho)
		rx, ry := ranks(x), ranks(y)
		for i := range rx {
			if rx[i] == 0 && ry[i] == 0 {
				top1++
			}
		}
	}
	for i := range a {
		absErr += math.Abs(float64(a[i] - b[i]))
	}
	mean := sum / g
	all := spearman(a, b)
	t.Logf("int8 vs fp32 on %d pairs (%d groups of %d): Spearman per group mean %.4f min %.4f, over all pairs %.4f; top-1 agreement %d/%d; mean |Δlogit| %.3f",
		len(a), g, k, mean, worst, all, top1, g, absErr/float64(len(a)))
	if mean < 0.9 || top1 < g*7/10 {
		t.Errorf("int8 does not keep the fp32 ranking: mean Spearman %.3f (want ≥ 0.9), top-1 %d/%d (want ≥ 70%%)", mean, top1, g)
	}
}

// BenchmarkTwin compares fp32 and int8 throughput side by side: batch 32,
// sequence 128, 2 intra-op threads (go test -bench Twin -run ^$ ./internal/quantize).
// CROSSRANK_QUANTIZE_BASELINE=folder[,folder…] adds models, e.g. the twin
// quantised by an older version of this package, as "baseline-<folder name>".
func BenchmarkTwin(b *testing.B) {
	type model struct {
		name string
		path func(testing.TB) string
	}
	models := []model{
		{"fp32", func(t testing.TB) string { return filepath.Join(testenv.TwinDir(t), "onnx", "model.onnx") }},
		{"int8", func(t testing.TB) string {
			return filepath.Join(testenv.TwinInt8Dir(t), "onnx", "model_quantized.onnx")
		}},
	}
	if dirs := os.Getenv("CROSSRANK_QUANTIZE_BASELINE"); dirs != "" {
		for _, dir := range strings.Split(dirs, ",") {
			models = append(models, model{"baseline-" + filepath.Base(dir), func(testing.TB) string { return filepath.Join(dir, "onnx", "model.onnx") }})
		}
	}
	for _, tc := range models {
		b.Run(fmt.Sprintf("%s/batch=32/seq=128/threads=2", tc.name), func(b *testing.B) {
			s := testenv.NewORTSession(b, tc.path(b), testenv.ORTOptions{Threads: 2})
			p := testenv.SyntheticPairs(32, 128, 5)
			for i := range p.Mask { // every row full length: the benchmark's shape is exact
				p.Mask[i] = 1
				if p.IDs[i] == 0 {
					p.IDs[i] = 2000
					p.Types[i] = 1
				}
			}
			if _, err := s.Score(p.N, p.L, p.IDs, p.Mask, p.Types); err != nil { // warm-up
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Score(p.N, p.L, p.IDs, p.Mask, p.Types); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*p.N)/b.Elapsed().Seconds(), "pairs/s")
		})
	}
}

// TestTwinInt8Kernels has ONNX Runtime optimise the int8 twin and checks
// that every weight MatMul runs on MatMulIntegerToFloat and that no
// batch-wide quantiser (DynamicQuantizeLinear, or DynamicQuantizeMatMul,
// which quantises its whole input with one scale) is left; and that the
// optimised graph scores as well as the unoptimised one, so no fusion broke
// the per-row activation scales.
func TestTwinInt8Kernels(t *testing.T) {
	model := filepath.Join(testenv.TwinInt8Dir(t), "onnx", "model_quantized.onnx")
	optimised := filepath.Join(t.TempDir(), "optimised.onnx")
	s := testenv.NewORTSession(t, model, testenv.ORTOptions{Threads: 1, OptimizedModel: optimised})
	m, err := onnx.ReadFile(optimised)
	if err != nil {
		t.Fatal(err)
	}
	ops := m.Graph.OpCounts()
	t.Logf("optimised int8 graph: %d nodes: %v", len(m.Graph.Nodes), ops)
	if got := ops["MatMulIntegerToFloat"]; got != 36 || ops["MatMulInteger"] != 0 {
		t.Errorf("%d MatMulIntegerToFloat and %d MatMulInteger nodes, want 36 (6 layers × 6) and 0", got, ops["MatMulInteger"])
	}
	for _, op := range []string{"DynamicQuantizeLinear", "DynamicQuantizeMatMul"} {
		if ops[op] != 0 {
			t.Errorf("%d %s nodes: activations quantised per batch tensor", ops[op], op)
		}
	}
	// A rounding flip in one activation moves a random twin's logit by a few
	// hundredths, so the optimised and unoptimised int8 graphs are compared
	// by their error against fp32, not with each other: had ONNX Runtime
	// fused a bias Add into MatMulIntegerToFloat, the kernel would scale the
	// bias by the per-row activation scale, ~4x further from fp32
	// (RATIONALE.md).
	plain := testenv.NewORTSession(t, model, testenv.ORTOptions{Threads: 1, NoOptimization: true})
	fp32 := testenv.NewORTSession(t, filepath.Join(testenv.TwinDir(t), "onnx", "model.onnx"), testenv.ORTOptions{Threads: 1})
	p := testenv.SyntheticPairs(32, 96, 77)
	score := func(s *testenv.ORTSession) []float32 {
		x, err := s.Score(p.N, p.L, p.IDs, p.Mask, p.Types)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	ref, opt, unopt := score(fp32), score(s), score(plain)
	var eOpt, ePlain float64
	for i := range ref {
		eOpt += math.Abs(float64(opt[i]-ref[i])) / float64(p.N)
		ePlain += math.Abs(float64(unopt[i]-ref[i])) / float64(p.N)
	}
	t.Logf("mean |int8 − fp32|: optimised graph %.4f, unoptimised %.4f", eOpt, ePlain)
	if eOpt > 2*ePlain {
		t.Errorf("optimised int8 graph is %.4f from fp32 on average, the unoptimised one %.4f: a fusion mishandles the per-row scales", eOpt, ePlain)
	}
}

// batchOf pads rows (each a pair's unpadded ids, mask and types) to l.
func batchOf(rows [][3][]int64, l int) (ids, mask, types []int64) {
	ids, mask, types = make([]int64, len(rows)*l), make([]int64, len(rows)*l), make([]int64, len(rows)*l)
	for i, r := range rows {
		copy(ids[i*l:], r[0])
		copy(mask[i*l:], r[1])
		copy(types[i*l:], r[2])
	}
	return ids, mask, types
}

// TestInt8BatchIndependence scores pairs alone (unpadded) and in batches
// with different batch-mates (short ones, long ones, the pair's own set) and
// padding (to the longest row, to 256, to 512): with one activation scale
// per token, a pair's int8 logit must not move at all.
func TestInt8BatchIndependence(t *testing.T) {
	s := testenv.NewORTSession(t, filepath.Join(testenv.TwinInt8Dir(t), "onnx", "model_quantized.onnx"), testenv.ORTOptions{Threads: 2})
	unpadded := func(p *testenv.Pairs) [][3][]int64 {
		var out [][3][]int64
		for i := range p.N {
			ids, mask, types := p.Row(i)
			n := p.Lens[i]
			out = append(out, [3][]int64{ids[:n], mask[:n], types[:n]})
		}
		return out
	}
	own := unpadded(testenv.SyntheticPairs(6, 200, 31))
	short := unpadded(testenv.SyntheticPairs(5, 16, 32))
	long := unpadded(testenv.SyntheticPairs(5, 512, 33))
	var alone []float32
	for _, r := range own {
		got, err := s.Score(1, len(r[0]), r[0], r[1], r[2])
		if err != nil {
			t.Fatal(err)
		}
		alone = append(alone, got[0])
	}
	longest := func(rows [][3][]int64) int {
		l := 0
		for _, r := range rows {
			l = max(l, len(r[0]))
		}
		return l
	}
	worst := 0.0
	for _, tc := range []struct {
		name  string
		mates [][3][]int64
		pad   int // 0: the longest row
	}{
		{"own set", nil, 0},
		{"own set padded to 512", nil, 512},
		{"short mates", short, 0},
		{"short mates padded to 256", short, 256},
		{"long mates", long, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []float32 // the own set's batch, scored once
			for i, r := range own {
				rows := [][3][]int64{r}
				if tc.mates == nil {
					rows = own
				} else {
					rows = append(rows, tc.mates...)
				}
				l := tc.pad
				if l == 0 {
					l = longest(rows)
				}
				row := 0
				if tc.mates == nil {
					row = i
				}
				if tc.mates != nil || got == nil {
					ids, mask, types := batchOf(rows, l)
					var err error
					if got, err = s.Score(len(rows), l, ids, mask, types); err != nil {
						t.Fatal(err)
					}
				}
				d := math.Abs(float64(got[row] - alone[i]))
				worst = max(worst, d)
				if d > 1e-6 {
					t.Errorf("pair %d (%d tokens): alone %v, in a batch of %d padded to %d %v (|Δ| %.3g)", i, len(r[0]), alone[i], len(rows), l, got[row], d)
				}
			}
		})
	}
	t.Logf("int8: pair alone vs with other batch-mates and padding: max |Δlogit| %.3g", worst)
}

// TestDynamicKeepsSentenceTransformersLayout: quantising a bi-encoder folder
// carries its sentence-transformers files over (pooling included) and marks
// crossrank.json as int8, so the quantised folder is served as the same kind.
func TestDynamicKeepsSentenceTransformersLayout(t *testing.T) {
	in := t.TempDir()
	twin := testenv.TwinDir(t)
	files := map[string]string{
		"modules.json":          `[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]`,
		"1_Pooling/config.json": `{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": true}`,
		"crossrank.json":        `{"crossrank_kind": "bi-encoder", "int8": false, "max_length": 256}`,
	}
	for _, name := range []string{"onnx/model.onnx", "config.json", "tokenizer.json"} {
		data, err := os.ReadFile(filepath.Join(twin, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(data)
	}
	for name, body := range files {
		p := filepath.Join(in, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "int8")
	if err := quantize.Dynamic(in, out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"modules.json", "1_Pooling/config.json"} {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || string(got) != files[name] {
			t.Errorf("%s not carried over: %q, %v", name, got, err)
		}
	}
	meta, err := os.ReadFile(filepath.Join(out, "crossrank.json"))
	if err != nil || !strings.Contains(string(meta), `"int8": true`) || !strings.Contains(string(meta), `"crossrank_kind": "bi-encoder"`) {
		t.Errorf("crossrank.json = %s, %v; want the kind kept and int8 true", meta, err)
	}
}
