package ort_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/onnx"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/ort"
)

func loadTwin(t testing.TB, opts ...ort.Option) *ort.Session {
	t.Helper()
	dir := testenv.TwinDir(t)
	opts = append([]ort.Option{ort.WithLibrary(testenv.ORTLib(t)), ort.WithThreads(1, 1)}, opts...)
	s, err := ort.Load(context.Background(), dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// randomBatch fills n rows of length l: [CLS] query [SEP] passage [SEP] with
// random word-piece ids, rows of random real length (the rest padding).
func randomBatch(seed uint64, n, l int, full bool) *models.Batch {
	r := rand.New(rand.NewPCG(seed, 7))
	var b models.Batch
	b.Reset(n, l)
	for i := range n {
		k := l
		if !full {
			k = 4 + r.IntN(l-3)
		}
		q := 1 + r.IntN(k-3)
		ids := make([]int64, k)
		types := make([]int64, k)
		for j := range ids {
			ids[j] = int64(1000 + r.IntN(29000))
			if j > q {
				types[j] = 1
			}
		}
		ids[0], ids[q], ids[k-1] = 101, 102, 102
		b.SetRow(i, ids, types)
	}
	return &b
}

func TestLoadTwin(t *testing.T) {
	s := loadTwin(t)
	info := s.Info()
	want := models.Info{Name: "twin", Dir: testenv.TwinDir(t), File: "onnx/model.onnx", Provider: "cpu",
		MaxLength: 512, NumLabels: 1, HasTypeIDs: true, Twin: true, Kind: models.CrossEncoder, Label: "LABEL_0", Precision: "fp32"}
	if info != want {
		t.Fatalf("Info = %+v\nwant %+v", info, want)
	}
	logits, err := s.Score(context.Background(), randomBatch(1, 16, 64, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(logits) != 16 {
		t.Fatalf("%d logits for 16 rows", len(logits))
	}
	var mean, sd float64
	for _, x := range logits {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			t.Fatalf("logit %v", x)
		}
		mean += float64(x) / 16
	}
	for _, x := range logits {
		sd += (float64(x) - mean) * (float64(x) - mean) / 16
	}
	if math.Sqrt(sd) < 1e-3 {
		t.Fatalf("all 16 random rows score the same (%v): the output does not depend on the input", logits)
	}
}

// TestScoreConcurrent scores different batches from 8 goroutines on one
// session and checks each result equals the same batch scored alone.
func TestScoreConcurrent(t *testing.T) {
	s := loadTwin(t, ort.WithThreads(2, 1))
	ctx := context.Background()
	const workers = 8
	batches := make([]*models.Batch, workers)
	want := make([][]float32, workers)
	for i := range batches {
		batches[i] = randomBatch(uint64(100+i), 1+i, 24+8*i, false)
		var err error
		if want[i], err = s.Score(ctx, batches[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*4)
	for i := range workers {
		wg.Go(func() {
			for range 4 {
				got, err := s.Score(ctx, batches[i])
				if err != nil {
					errs <- err
					return
				}
				for j := range got {
					if d := math.Abs(float64(got[j] - want[i][j])); d > 1e-6 {
						errs <- errors.New("concurrent result differs from the sequential one")
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestScoreErrors(t *testing.T) {
	s := loadTwin(t)
	short := randomBatch(1, 2, 8, true)
	short.TokenTypeIDs = short.TokenTypeIDs[:10]
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		b    *models.Batch
		want string
	}{
		{"nil batch", context.Background(), nil, "empty batch"},
		{"zero rows", context.Background(), &models.Batch{}, "empty batch"},
		{"too long", context.Background(), randomBatch(1, 1, 513, true), "exceeds the model maximum 512"},
		{"short slices", context.Background(), short, "needs 16 values"},
		{"cancelled", cancelled, randomBatch(1, 1, 8, true), "context canceled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Score(tc.ctx, tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Score error = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestScoreCancelInFlight cancels a long run (16 rows of 512 tokens, about
// 240 GFLOP: seconds of work on one thread) 20 ms after it starts.
func TestScoreCancelInFlight(t *testing.T) {
	s := loadTwin(t)
	ctx, cancel := context.WithCancel(context.Background())
	b := randomBatch(3, 16, 512, true)
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	_, err := s.Score(ctx, b)
	t.Logf("cancelled run returned after %v", time.Since(start))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Score error = %v, want context.Canceled", err)
	}
	// The session still works afterwards.
	if _, err := s.Score(context.Background(), randomBatch(3, 1, 8, true)); err != nil {
		t.Fatal(err)
	}
}

func TestClose(t *testing.T) {
	s := loadTwin(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Score(context.Background(), randomBatch(1, 1, 8, true)); !errors.Is(err, ort.ErrClosed) {
		t.Fatalf("Score after Close: %v", err)
	}
}

// TestProviderUnavailable: the npm CPU build of ONNX Runtime has none of the
// accelerator providers; asking for one must fail at load, naming the
// provider and the library.
func TestProviderUnavailable(t *testing.T) {
	dir := testenv.TwinDir(t)
	lib := testenv.ORTLib(t)
	for _, p := range []string{"cuda", "tensorrt", "coreml", "tpu"} {
		t.Run(p, func(t *testing.T) {
			s, err := ort.Load(context.Background(), dir, ort.WithLibrary(lib), ort.WithProvider(p))
			if err == nil {
				s.Close()
				t.Skipf("this ONNX Runtime library has %s", p) // an accelerator build: nothing to check
			}
			t.Log(err)
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q does not name provider %s", err, p)
			}
			if p != "tpu" && !strings.Contains(err.Error(), lib) {
				t.Fatalf("error %q does not name the library %s", err, lib)
			}
		})
	}
}

// tinyModel writes a model folder whose graph computes, for each row,
// s = sum(input_ids * attention_mask), and outputs logits = s * [1, 2, ...,
// classes] ([N,classes]), or s alone as [N] when rank1. It has no
// token_type_ids input. Expected outputs follow from the ids by hand.
func tinyModel(t *testing.T, classes int, rank1 bool, inputName string, inputType onnx.DataType) string {
	t.Helper()
	dir := t.TempDir()
	scale := make([]float32, classes)
	for i := range scale {
		scale[i] = float32(i + 1)
	}
	g := &onnx.Graph{
		Name: "tiny",
		Nodes: []*onnx.Node{
			{OpType: "Mul", Inputs: []string{inputName, "attention_mask"}, Outputs: []string{"masked"}},
			{OpType: "Cast", Inputs: []string{"masked"}, Outputs: []string{"maskedf"}, Attrs: []*onnx.Attribute{onnx.Int("to", int64(onnx.Float))}},
		},
		Initializers: []*onnx.Tensor{onnx.Int64Tensor("axes", []int64{1}, []int64{1})},
		Inputs: []*onnx.ValueInfo{
			onnx.Input(inputName, inputType, "batch", "seq"),
			onnx.Input("attention_mask", inputType, "batch", "seq"),
		},
	}
	if rank1 {
		g.Nodes = append(g.Nodes, &onnx.Node{OpType: "ReduceSum", Inputs: []string{"maskedf", "axes"}, Outputs: []string{"logits"},
			Attrs: []*onnx.Attribute{onnx.Int("keepdims", 0)}})
		g.Outputs = []*onnx.ValueInfo{onnx.Input("logits", onnx.Float, "batch")}
	} else {
		g.Initializers = append(g.Initializers, onnx.FloatTensor("scale", []int64{1, int64(classes)}, scale))
		g.Nodes = append(g.Nodes,
			&onnx.Node{OpType: "ReduceSum", Inputs: []string{"maskedf", "axes"}, Outputs: []string{"sum"}, Attrs: []*onnx.Attribute{onnx.Int("keepdims", 1)}},
			&onnx.Node{OpType: "Mul", Inputs: []string{"sum", "scale"}, Outputs: []string{"logits"}})
		g.Outputs = []*onnx.ValueInfo{onnx.Input("logits", onnx.Float, "batch", classes)}
	}
	m := &onnx.Model{IRVersion: 8, ProducerName: "crossrank-test", Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}
	if err := onnx.WriteFile(filepath.Join(dir, "model.onnx"), m); err != nil {
		t.Fatal(err)
	}
	cfg := `{"model_type":"bert","max_position_embeddings":64,"num_labels":` + string(rune('0'+classes)) + `}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOutputsAndLabels(t *testing.T) {
	lib := testenv.ORTLib(t)
	var b models.Batch
	b.Reset(3, 4)
	b.SetRow(0, []int64{1, 2, 3, 4}, nil)
	b.SetRow(1, []int64{10, 20}, nil) // padded: the mask zeroes the rest
	b.SetRow(2, []int64{7}, nil)
	sums := []float32{10, 30, 7}
	tests := []struct {
		name    string
		classes int
		rank1   bool
		label   int
		input   string
		dtype   onnx.DataType
		wantErr string
	}{
		{name: "[N,1]", classes: 1},
		{name: "[N] rank 1", classes: 1, rank1: true},
		{name: "[N,3] label 0", classes: 3, label: 0},
		{name: "[N,3] label 2", classes: 3, label: 2},
		{name: "label out of range", classes: 3, label: 3, wantErr: "label 3 out of range"},
		{name: "unknown input", classes: 1, input: "pixel_values", wantErr: `unsupported model input "pixel_values"`},
		{name: "int32 inputs", classes: 1, dtype: onnx.Int32, wantErr: "want int64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.input == "" {
				tc.input = "input_ids"
			}
			if tc.dtype == 0 {
				tc.dtype = onnx.Int64
			}
			dir := tinyModel(t, tc.classes, tc.rank1, tc.input, tc.dtype)
			s, err := ort.Load(context.Background(), dir, ort.WithLibrary(lib), ort.WithLabel(tc.label))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if info := s.Info(); info.HasTypeIDs || info.NumLabels != tc.classes || info.MaxLength != 64 || info.Twin {
				t.Fatalf("Info = %+v", info)
			}
			got, err := s.Score(context.Background(), &b)
			if err != nil {
				t.Fatal(err)
			}
			for i, sum := range sums {
				if want := sum * float32(tc.label+1); got[i] != want {
					t.Fatalf("row %d: logit %v, want %v (all %v)", i, got[i], want, got)
				}
			}
		})
	}
}

func ExampleLoad() {
	lib, err := ort.FindLibrary("")
	if err != nil {
		panic(err)
	}
	s, err := ort.Load(context.Background(), "../../.cache/models/twin", ort.WithLibrary(lib), ort.WithThreads(1, 1))
	if err != nil {
		panic(err)
	}
	defer s.Close()
	var b models.Batch
	b.Reset(2, 6)
	b.SetRow(0, []int64{101, 2054, 2003, 102, 2009, 102}, []int64{0, 0, 0, 0, 1, 1})
	b.SetRow(1, []int64{101, 2054, 102, 2009, 102}, []int64{0, 0, 0, 1, 1})
	logits, err := s.Score(context.Background(), &b)
	if err != nil {
		panic(err)
	}
	info := s.Info()
	fmt.Println(len(logits), info.MaxLength, info.HasTypeIDs, info.Twin)
	// Output: 2 512 true true
}

func ExampleFindLibrary() {
	// --ort-lib flag value first, then $CROSSRANK_ORT_LIB, .cache/ort, ~/.cache/crossrank/ort.
	lib, err := ort.FindLibrary("")
	fmt.Println(err == nil, filepath.Base(lib) == ort.LibraryName())
	// Output: true true
}

func ExampleScorePairs() {
	s, err := ort.Load(context.Background(), "../../.cache/models/twin", ort.WithThreads(1, 1))
	if err != nil {
		panic(err)
	}
	defer s.Close()
	// A toy encoder: [CLS] one id per query word [SEP] one per passage word [SEP].
	// Real callers wrap models/tokenizer's EncodePair.
	enc := func(q, p string) ([]int64, []int64, error) {
		ids, types := []int64{101}, []int64{0}
		for i, text := range []string{q, p} {
			for _, w := range strings.Fields(text) {
				ids, types = append(ids, 1000+int64(len(w))), append(types, int64(i))
			}
			ids, types = append(ids, 102), append(types, int64(i))
		}
		return ids, types, nil
	}
	pairs := []ort.Pair{{"what is ranking", "ranking orders results"}, {"what is ranking", "bananas"}}
	logits, err := ort.ScorePairs(context.Background(), s, enc, pairs, 32)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(logits), logits[0] != logits[1])
	// Output: 2 true
}

// TestDisabledOptimizers checks that the graph optimisers Load skips by
// default on the CPU provider are really skipped (ONNX Runtime's optimised
// graph has no fused Attention), that WithDisabledOptimizers overrides the
// default in both directions, and that every variant scores alike.
func TestDisabledOptimizers(t *testing.T) {
	batch := randomBatch(3, 8, 48, false)
	cases := []struct {
		name      string
		opts      []ort.Option
		attention int // fused Attention nodes in the optimised graph
		biasGelu  int // fused BiasGelu nodes
	}{
		{"default", nil, 0, 6},
		// 5: the twin's last layer computes [CLS]'s query alone, which
		// AttentionFusion does not match.
		{"none", []ort.Option{ort.WithDisabledOptimizers("none")}, 5, 6},
		{"empty", []ort.Option{ort.WithDisabledOptimizers()}, 5, 6},
		// Both names must take effect (ORT wants them ';'-separated).
		{"two names", []ort.Option{ort.WithDisabledOptimizers("AttentionFusion", "BiasGeluFusion")}, 0, 0},
	}
	var ref []float32
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "optimised.onnx")
			s := loadTwin(t, append(c.opts, ort.WithOptimizedModelPath(path))...)
			m, err := onnx.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ops := m.Graph.OpCounts()
			if ops["Attention"] != c.attention {
				t.Errorf("optimised graph has %d Attention nodes, want %d (ops %v)", ops["Attention"], c.attention, ops)
			}
			if ops["BiasGelu"] != c.biasGelu {
				t.Errorf("optimised graph has %d BiasGelu nodes, want %d (ops %v)", ops["BiasGelu"], c.biasGelu, ops)
			}
			got, err := s.Score(context.Background(), batch)
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = got
				return
			}
			for i := range got {
				if d := math.Abs(float64(got[i] - ref[i])); d > 1e-5 {
					t.Errorf("row %d: logit %v, default graph gives %v (|diff| %.2g > 1e-5)", i, got[i], ref[i], d)
				}
			}
		})
	}
}

func TestDefaultDisabledOptimizers(t *testing.T) {
	for _, c := range []struct {
		provider string
		want     []string
	}{
		{"cpu", []string{"AttentionFusion"}},
		{"", []string{"AttentionFusion"}},
		{"cuda", nil},
		{"tensorrt", nil},
		{"coreml", nil},
	} {
		if got := ort.DefaultDisabledOptimizers(c.provider); !slices.Equal(got, c.want) {
			t.Errorf("DefaultDisabledOptimizers(%q) = %v, want %v", c.provider, got, c.want)
		}
	}
}
