package ort_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/onnx"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/ort"
)

func TestDefaultLabel(t *testing.T) {
	named := func(names ...string) func(int) string {
		return func(i int) string {
			if i < len(names) {
				return names[i]
			}
			return ""
		}
	}
	tests := []struct {
		name    string
		classes int
		label   func(int) string
		want    int
	}{
		{"one column", 1, named("LABEL_0"), 0},
		{"binary LABEL_0/LABEL_1: the last", 2, named("LABEL_0", "LABEL_1"), 1},
		{"no names: the last", 3, named(), 2},
		{"relevant named first", 2, named("Relevant", "irrelevant"), 0},
		{"positive in the middle", 3, named("negative", "positive", "neutral"), 1},
		{"yes/no", 2, named("yes", "no"), 0},
		{"irrelevant is not relevant", 2, named("irrelevant", "other"), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ort.DefaultLabel(tc.classes, tc.label); got != tc.want {
				t.Fatalf("DefaultLabel = %d, want %d", got, tc.want)
			}
		})
	}
}

// posModel writes a folder whose graph outputs logits[N,1] =
// sum(position_ids * attention_mask) + sum(input_ids*0) per row, with
// inputs input_ids, attention_mask, position_ids (no token_type_ids), and
// a config with id2label.
func posModel(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	g := &onnx.Graph{
		Name: "pos",
		Nodes: []*onnx.Node{
			{OpType: "Mul", Inputs: []string{"position_ids", "attention_mask"}, Outputs: []string{"pm"}},
			{OpType: "Mul", Inputs: []string{"input_ids", "zero"}, Outputs: []string{"iz"}},
			{OpType: "Add", Inputs: []string{"pm", "iz"}, Outputs: []string{"sum"}},
			{OpType: "Cast", Inputs: []string{"sum"}, Outputs: []string{"sumf"}, Attrs: []*onnx.Attribute{onnx.Int("to", int64(onnx.Float))}},
			{OpType: "ReduceSum", Inputs: []string{"sumf", "axes"}, Outputs: []string{"logits"}, Attrs: []*onnx.Attribute{onnx.Int("keepdims", 1)}},
		},
		Initializers: []*onnx.Tensor{onnx.Int64Tensor("axes", []int64{1}, []int64{1}), onnx.Int64Tensor("zero", []int64{1}, []int64{0})},
		Inputs: []*onnx.ValueInfo{
			onnx.Input("input_ids", onnx.Int64, "batch", "seq"),
			onnx.Input("attention_mask", onnx.Int64, "batch", "seq"),
			onnx.Input("position_ids", onnx.Int64, "batch", "seq"),
		},
		Outputs: []*onnx.ValueInfo{onnx.Input("logits", onnx.Float, "batch", 1)},
	}
	m := &onnx.Model{IRVersion: 8, ProducerName: "crossrank-test", Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}
	if err := onnx.WriteFile(filepath.Join(dir, "model.onnx"), m); err != nil {
		t.Fatal(err)
	}
	cfg := `{"model_type":"modernbert","max_position_embeddings":8192}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPositionIDs: a graph declaring position_ids (and no token_type_ids)
// gets 0..len-1 over each row's real tokens.
func TestPositionIDs(t *testing.T) {
	s, err := ort.Load(context.Background(), posModel(t), ort.WithLibrary(testenv.ORTLib(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if info := s.Info(); info.HasTypeIDs || info.MaxLength != 8192 || info.Kind != models.CrossEncoder {
		t.Fatalf("Info = %+v", info)
	}
	var b models.Batch
	b.Reset(3, 5)
	b.SetRow(0, []int64{5, 6, 7, 8, 9}, nil)
	b.SetRow(1, []int64{5, 6}, nil)
	b.SetRow(2, []int64{5}, nil)
	got, err := s.Score(context.Background(), &b)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0 + 1 + 2 + 3 + 4, 0 + 1, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: %v, want %v (all %v)", i, got[i], want[i], got)
		}
	}
}

// TestMaxLengthSources: the maximum is the smallest of
// max_position_embeddings, tokenizer_config.json model_max_length and
// crossrank.json max_length.
func TestMaxLengthSources(t *testing.T) {
	lib := testenv.ORTLib(t)
	tests := []struct {
		name  string
		files map[string]string
		want  int
	}{
		{"positions only", nil, 8192},
		{"tokenizer_config lower", map[string]string{"tokenizer_config.json": `{"model_max_length": 512}`}, 512},
		{"tokenizer_config placeholder", map[string]string{"tokenizer_config.json": `{"model_max_length": 1000000000000000019884624838656}`}, 8192},
		{"crossrank.json lower", map[string]string{"tokenizer_config.json": `{"model_max_length": 512}`, "crossrank.json": `{"crossrank_kind":"cross-encoder","max_length":300}`}, 300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := posModel(t)
			for f, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := ort.Load(context.Background(), dir, ort.WithLibrary(lib), ort.WithoutWarmup())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.Info().MaxLength; got != tc.want {
				t.Fatalf("MaxLength = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestBiEncoderEmbed: the converted all-MiniLM-L6-v2 is served as a
// bi-encoder; Embed on the goldens' token ids, padded in one batch, gives
// sentence-transformers' embeddings within 1e-5; Score is refused.
func TestBiEncoderEmbed(t *testing.T) {
	s, err := ort.Load(context.Background(), testenv.MiniLMDir(t), ort.WithLibrary(testenv.ORTLib(t)), ort.WithThreads(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	info := s.Info()
	if info.Kind != models.BiEncoder || !info.Trained || info.Dim != 384 || info.MaxLength != 256 || info.Twin {
		t.Fatalf("Info = %+v", info)
	}
	raw, err := os.ReadFile(testenv.MiniLMGoldens(t))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Texts []struct {
			InputIDs     []int64   `json:"input_ids"`
			TokenTypeIDs []int64   `json:"token_type_ids"`
			Embedding    []float64 `json:"embedding"`
		}
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	var b models.Batch
	longest := 0
	for _, tx := range g.Texts {
		longest = max(longest, len(tx.InputIDs))
	}
	b.Reset(len(g.Texts), longest)
	for i, tx := range g.Texts {
		b.SetRow(i, tx.InputIDs, tx.TokenTypeIDs)
	}
	embs, err := s.Embed(context.Background(), &b)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, tx := range g.Texts {
		for j, v := range tx.Embedding {
			worst = max(worst, math.Abs(float64(embs[i][j])-v))
		}
	}
	t.Logf("max |embedding - sentence-transformers| = %.2g", worst)
	if worst > 1e-5 {
		t.Fatalf("embeddings differ by %g > 1e-5", worst)
	}
	if _, err := s.Score(context.Background(), &b); err == nil || !strings.Contains(err.Error(), "bi-encoder") {
		t.Fatalf("Score on a bi-encoder: err = %v", err)
	}
}

func ExampleDefaultLabel() {
	id2label := map[int]string{0: "LABEL_0", 1: "LABEL_1"}
	fmt.Println(ort.DefaultLabel(2, func(i int) string { return id2label[i] }))
	named := map[int]string{0: "relevant", 1: "irrelevant"}
	fmt.Println(ort.DefaultLabel(2, func(i int) string { return named[i] }))
	fmt.Println(ort.DefaultLabel(1, func(int) string { return "" }))
	// Output:
	// 1
	// 0
	// 0
}
