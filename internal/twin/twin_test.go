package twin_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/convert"
	"github.com/crossrank/crossrank/internal/onnx"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/internal/twin"
)

// files are the files a twin folder holds.
func files() []string {
	return []string{"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "onnx/model.onnx", "model.safetensors"}
}

// small is a quick-to-write configuration for tests of the writer itself.
func small(seed uint64) twin.Config {
	return twin.Config{Layers: 2, Hidden: 64, Heads: 4, Intermediate: 128, Vocab: 30522, MaxPositions: 128, TypeVocab: 2, NumLabels: 1, Seed: seed}
}

func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range files() {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

func TestWriteDeterministic(t *testing.T) {
	// The default twin, cached by testenv, against a fresh write.
	cached := readAll(t, testenv.TwinDir(t))
	fresh := t.TempDir()
	if err := twin.Write(fresh, twin.Default()); err != nil {
		t.Fatal(err)
	}
	again := readAll(t, fresh)
	for _, f := range files() {
		if !bytes.Equal(cached[f], again[f]) {
			t.Errorf("%s differs between two writes with seed 42", f)
		}
	}
	// Another seed changes the weights but nothing else.
	a, b := t.TempDir(), t.TempDir()
	if err := twin.Write(a, small(1)); err != nil {
		t.Fatal(err)
	}
	if err := twin.Write(b, small(2)); err != nil {
		t.Fatal(err)
	}
	x, y := readAll(t, a), readAll(t, b)
	if bytes.Equal(x["onnx/model.onnx"], y["onnx/model.onnx"]) || bytes.Equal(x["model.safetensors"], y["model.safetensors"]) {
		t.Error("seeds 1 and 2 wrote the same weights")
	}
	if !bytes.Equal(x["tokenizer.json"], y["tokenizer.json"]) {
		t.Error("tokenizer.json depends on the seed")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*twin.Config)
		want string
	}{
		{"heads do not divide hidden", func(c *twin.Config) { c.Heads = 5 }, "not a multiple"},
		{"no layers", func(c *twin.Config) { c.Layers = 0 }, "layers"},
		{"tiny vocab", func(c *twin.Config) { c.Vocab = 50 }, "vocab"},
		{"no labels", func(c *twin.Config) { c.NumLabels = 0 }, "labels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := twin.Default()
			tc.edit(&c)
			err := twin.Write(t.TempDir(), c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Write(%+v) = %v, want an error about %q", c, err, tc.want)
			}
		})
	}
}

// st is a parsed safetensors file.
type st struct {
	header map[string]struct {
		Dtype   string  `json:"dtype"`
		Shape   []int64 `json:"shape"`
		Offsets [2]int  `json:"data_offsets"`
	}
	data []byte
}

func readSafetensors(t *testing.T, path string) *st {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	if (8+n)%8 != 0 || int(8+n) > len(b) {
		t.Fatalf("safetensors header length %d not aligned or too long", n)
	}
	s := &st{data: b[8+n:]}
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal(b[8:8+n], &raw); err != nil {
		t.Fatal(err)
	}
	delete(raw, "__metadata__")
	rb, _ := json.Marshal(raw)
	if err := json.Unmarshal(rb, &s.header); err != nil {
		t.Fatal(err)
	}
	end := 0
	for name, e := range s.header {
		if e.Dtype != "F32" {
			t.Errorf("%s: dtype %s", name, e.Dtype)
		}
		if got := int(onnx.NumElements(e.Shape)) * 4; e.Offsets[1]-e.Offsets[0] != got {
			t.Errorf("%s: offsets %v for shape %v", name, e.Offsets, e.Shape)
		}
		end = max(end, e.Offsets[1])
	}
	if end != len(s.data) {
		t.Errorf("safetensors data is %d bytes, offsets end at %d", len(s.data), end)
	}
	return s
}

func (s *st) floats(name string) []float32 {
	e := s.header[name]
	out := make([]float32, (e.Offsets[1]-e.Offsets[0])/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(s.data[e.Offsets[0]+4*i:]))
	}
	return out
}

// TestSafetensorsMatchONNX checks model.safetensors holds every
// BertForSequenceClassification parameter under its Hugging Face name, in
// PyTorch layout, with exactly the values of the ONNX initializers (MatMul
// weights transposed), and that both count 22,713,601 parameters:
// embeddings (30522+512+2)·384 + 2·384, six layers of 4·(384²+384) + 2·384 +
// (384·1536+1536) + (1536·384+384) + 2·384, pooler 384²+384, classifier 385.
func TestSafetensorsMatchONNX(t *testing.T) {
	dir := testenv.TwinDir(t)
	s := readSafetensors(t, filepath.Join(dir, "model.safetensors"))
	m, err := onnx.ReadFile(filepath.Join(dir, "onnx", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	inits := map[string]*onnx.Tensor{}
	for _, x := range m.Graph.Initializers {
		inits[x.Name] = x
	}
	want := []string{
		"bert.embeddings.word_embeddings.weight", "bert.embeddings.position_embeddings.weight",
		"bert.embeddings.token_type_embeddings.weight", "bert.embeddings.LayerNorm.weight", "bert.embeddings.LayerNorm.bias",
		"bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias",
	}
	for l := 0; l < 6; l++ {
		for _, p := range []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
			"attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"} {
			want = append(want, fmt.Sprintf("bert.encoder.layer.%d.%s.weight", l, p), fmt.Sprintf("bert.encoder.layer.%d.%s.bias", l, p))
		}
	}
	if len(s.header) != len(want) {
		t.Errorf("safetensors has %d tensors, want %d", len(s.header), len(want))
	}
	var total, onnxParams int64
	for _, name := range want {
		e, ok := s.header[name]
		if !ok {
			t.Errorf("safetensors lacks %s", name)
			continue
		}
		total += onnx.NumElements(e.Shape)
		got := s.floats(name)
		x, transposed := inits[name], false
		if x == nil {
			x, transposed = inits["onnx::MatMul_"+name], true
		}
		if x == nil {
			t.Errorf("model.onnx has no initializer for %s", name)
			continue
		}
		onnxParams += onnx.NumElements(x.Dims)
		vals, err := x.Floats()
		if err != nil {
			t.Fatal(err)
		}
		if transposed {
			if len(e.Shape) != 2 || x.Dims[0] != e.Shape[1] || x.Dims[1] != e.Shape[0] {
				t.Errorf("%s: onnx dims %v are not the transpose of %v", name, x.Dims, e.Shape)
				continue
			}
			rows, cols := int(e.Shape[0]), int(e.Shape[1])
			for i := 0; i < rows && !t.Failed(); i++ {
				for j := 0; j < cols; j++ {
					if got[i*cols+j] != vals[j*rows+i] {
						t.Errorf("%s[%d,%d] = %v in safetensors, %v in onnx", name, i, j, got[i*cols+j], vals[j*rows+i])
						break
					}
				}
			}
			continue
		}
		if fmt.Sprint(x.Dims) != fmt.Sprint(e.Shape) {
			t.Errorf("%s: onnx dims %v, safetensors shape %v", name, x.Dims, e.Shape)
			continue
		}
		for i := range got {
			if got[i] != vals[i] {
				t.Errorf("%s[%d] = %v in safetensors, %v in onnx", name, i, got[i], vals[i])
				break
			}
		}
	}
	const miniLMParams = 22_713_601
	if total != miniLMParams || onnxParams != miniLMParams || twin.Default().Params() != miniLMParams {
		t.Errorf("parameters: safetensors %d, onnx %d, Config.Params %d; want %d", total, onnxParams, twin.Default().Params(), miniLMParams)
	}
	// The padding row of the word embeddings is zero, like HF's padding_idx.
	for i, v := range s.floats("bert.embeddings.word_embeddings.weight")[:384] {
		if v != 0 {
			t.Fatalf("word embedding of [PAD] (id 0) is not zero at %d: %v", i, v)
		}
	}
}

// TestGraphInterface checks the graph's inputs, outputs and opset, which
// loaders and ONNX Runtime's fusions rely on.
func TestGraphInterface(t *testing.T) {
	m, err := onnx.ReadFile(filepath.Join(testenv.TwinDir(t), "onnx", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Opsets) != 1 || m.Opsets[0].Domain != "" || m.Opsets[0].Version != twin.Opset || twin.Opset != 11 {
		t.Errorf("opsets %v, want default domain at 11", m.Opsets)
	}
	var ins []string
	for _, in := range m.Graph.Inputs {
		ins = append(ins, fmt.Sprintf("%s:%v%v", in.Name, in.ElemType, in.Shape))
	}
	if got, want := strings.Join(ins, " "), "input_ids:int64[{0 batch_size} {0 sequence_length}] attention_mask:int64[{0 batch_size} {0 sequence_length}] token_type_ids:int64[{0 batch_size} {0 sequence_length}]"; got != want {
		t.Errorf("inputs %s\nwant %s", got, want)
	}
	if len(m.Graph.Outputs) != 1 || fmt.Sprintf("%s:%v%v", m.Graph.Outputs[0].Name, m.Graph.Outputs[0].ElemType, m.Graph.Outputs[0].Shape) != "logits:float[{0 batch_size} {1 }]" {
		t.Errorf("outputs %+v, want logits float [batch_size, 1]", m.Graph.Outputs[0])
	}
	if !convert.LastLayerCLSOnly(m.Graph) {
		t.Error("the default twin's last layer is not the [CLS]-only one")
	}
	all, err := onnx.ReadFile(filepath.Join(testenv.TwinAllTokensDir(t), "onnx", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if convert.LastLayerCLSOnly(all.Graph) {
		t.Error("the AllTokens twin's last layer is the [CLS]-only one")
	}
}

func TestConfigAndTokenizer(t *testing.T) {
	dir := testenv.TwinDir(t)
	var c map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"model_type": "bert", "hidden_size": 384.0, "num_hidden_layers": 6.0, "num_attention_heads": 12.0,
		"intermediate_size": 1536.0, "vocab_size": 30522.0, "max_position_embeddings": 512.0, "type_vocab_size": 2.0,
		"layer_norm_eps": 1e-12, "hidden_act": "gelu", "crossrank_twin": true, "crossrank_twin_seed": 42.0,
	} {
		if c[k] != want {
			t.Errorf("config.json %s = %v, want %v", k, c[k], want)
		}
	}
	if a, _ := c["architectures"].([]any); len(a) != 1 || a[0] != "BertForSequenceClassification" {
		t.Errorf("architectures %v", c["architectures"])
	}
	var tok struct {
		Truncation map[string]any `json:"truncation"`
		Model      struct {
			Vocab map[string]int `json:"vocab"`
		} `json:"model"`
	}
	b, err = os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tok); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(tok.Truncation) != "map[direction:Right max_length:512 strategy:LongestFirst stride:0]" {
		t.Errorf("tokenizer truncation %v", tok.Truncation)
	}
	if len(tok.Model.Vocab) != 30522 || tok.Model.Vocab["[CLS]"] != 101 || tok.Model.Vocab["[SEP]"] != 102 {
		t.Errorf("vocab: %d entries, [CLS]=%d [SEP]=%d", len(tok.Model.Vocab), tok.Model.Vocab["[CLS]"], tok.Model.Vocab["[SEP]"])
	}
	b, err = os.ReadFile(filepath.Join(dir, "vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(tok.Model.Vocab) {
		t.Fatalf("vocab.txt has %d lines, tokenizer.json %d tokens", len(lines), len(tok.Model.Vocab))
	}
	for id, line := range lines {
		if tok.Model.Vocab[line] != id {
			t.Fatalf("vocab.txt line %d is %q, which tokenizer.json gives id %d", id, line, tok.Model.Vocab[line])
		}
	}
	var tc map[string]any
	b, err = os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tc); err != nil {
		t.Fatal(err)
	}
	if tc["model_max_length"] != 512.0 || tc["do_lower_case"] != true || tc["tokenizer_class"] != "BertTokenizer" {
		t.Errorf("tokenizer_config.json %v", tc)
	}
}

func ExampleWrite() {
	dir, _ := os.MkdirTemp("", "twin")
	defer os.RemoveAll(dir)
	cfg := twin.Default() // MiniLM-L6-H384 cross-encoder shape, seed 42
	cfg.Layers = 2        // a smaller twin, same vocabulary and tokenizer
	if err := twin.Write(dir, cfg); err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range []string{"config.json", "tokenizer.json", "onnx/model.onnx", "model.safetensors"} {
		_, err := os.Stat(filepath.Join(dir, f))
		fmt.Println(f, err == nil)
	}
	fmt.Println(cfg.Params(), "parameters")
	// Output:
	// config.json true
	// tokenizer.json true
	// onnx/model.onnx true
	// model.safetensors true
	// 15615745 parameters
}

// BenchmarkWrite measures generating the default twin (weights, graph,
// safetensors, files): go test -bench Write -run ^$ ./internal/twin.
func BenchmarkWrite(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		if err := twin.Write(dir, twin.Default()); err != nil {
			b.Fatal(err)
		}
	}
}
