package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/crossrank/crossrank/internal/onnx"
)

// stModule is one entry of a sentence-transformers modules.json.
type stModule struct {
	Idx  int    `json:"idx"`
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"`
}

// Pooling is a sentence-transformers Pooling module's configuration
// (1_Pooling/config.json).
type Pooling struct {
	Dimension    int  `json:"word_embedding_dimension"`
	CLS          bool `json:"pooling_mode_cls_token"`
	Mean         bool `json:"pooling_mode_mean_tokens"`
	Max          bool `json:"pooling_mode_max_tokens"`
	MeanSqrtLen  bool `json:"pooling_mode_mean_sqrt_len_tokens"`
	WeightedMean bool `json:"pooling_mode_weightedmean_tokens"`
	LastToken    bool `json:"pooling_mode_lasttoken"`
	// IncludePrompt (default true) only matters when a prompt is prepended
	// to the text; crossrank encodes texts without prompts, for which
	// pooling with and without the prompt tokens is the same.
	IncludePrompt *bool `json:"include_prompt"`
}

// Modes returns the active pooling modes in the order sentence-transformers
// concatenates them.
func (p Pooling) Modes() []string {
	var m []string
	for _, x := range []struct {
		on   bool
		name string
	}{{p.CLS, "cls"}, {p.Max, "max"}, {p.Mean, "mean"}, {p.MeanSqrtLen, "mean_sqrt_len_tokens"}, {p.WeightedMean, "weightedmean"}, {p.LastToken, "lasttoken"}} {
		if x.on {
			m = append(m, x.name)
		}
	}
	return m
}

// biEncoder is a sentence-transformers layout: Transformer, Pooling and an
// optional Normalize, in that order.
type biEncoder struct {
	Pooling   Pooling
	Normalize bool
	MaxLength int // sentence_bert_config.json max_seq_length (0: the model's)
}

// ErrIncompleteLayout is wrapped by errors for a folder that is neither a
// classifier nor a complete sentence-transformers layout.
var ErrIncompleteLayout = errors.New("not a complete sentence-transformers layout")

// readBiEncoder reads modules.json and its Pooling module; it returns nil,
// nil for a folder without modules.json.
func readBiEncoder(dir string) (*biEncoder, error) {
	p := filepath.Join(dir, "modules.json")
	raw, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	var mods []stModule
	if err := json.Unmarshal(raw, &mods); err != nil {
		return nil, fmt.Errorf("parse %s: %w", p, err)
	}
	be := &biEncoder{}
	var pooling string
	for i, m := range mods {
		kind := m.Type[strings.LastIndex(m.Type, ".")+1:]
		switch {
		case kind == "Transformer" && i == 0:
		case kind == "Pooling" && i == 1:
			pooling = m.Path
		case kind == "Normalize" && i == 2:
			be.Normalize = true
		default:
			return nil, fmt.Errorf("%s: module %d %q (%s) is not supported: crossrank converts Transformer, Pooling, then an optional Normalize", p, i, m.Name, m.Type)
		}
	}
	if pooling == "" {
		return nil, fmt.Errorf("%s: no sentence_transformers.models.Pooling module after the Transformer: %w", p, ErrIncompleteLayout)
	}
	pp := filepath.Join(dir, filepath.FromSlash(pooling), "config.json")
	if !filepath.IsLocal(filepath.FromSlash(pooling)) {
		return nil, fmt.Errorf("%s: Pooling path %q leaves the model folder", p, pooling)
	}
	raw, err = os.ReadFile(pp)
	if err != nil {
		return nil, fmt.Errorf("%s: Pooling module: %w (%w)", p, err, ErrIncompleteLayout)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&be.Pooling); err != nil {
		return nil, fmt.Errorf("parse %s: %w", pp, err)
	}
	modes := be.Pooling.Modes()
	if len(modes) == 0 {
		return nil, fmt.Errorf("%s: no pooling mode is set", pp)
	}
	for _, m := range modes {
		if m == "weightedmean" || m == "lasttoken" {
			return nil, fmt.Errorf("%s: pooling mode %q is not supported (cls, max, mean, mean_sqrt_len_tokens)", pp, m)
		}
	}
	sp := filepath.Join(dir, "sentence_bert_config.json")
	if raw, err := os.ReadFile(sp); err == nil {
		var sc struct {
			MaxSeqLength int `json:"max_seq_length"`
		}
		if err := json.Unmarshal(raw, &sc); err != nil {
			return nil, fmt.Errorf("parse %s: %w", sp, err)
		}
		be.MaxLength = sc.MaxSeqLength
	}
	return be, nil
}

// poolingHead appends sentence-transformers pooling (and Normalize) on the
// last hidden state x [N, L, H] and names the result "sentence_embedding".
func (b *graphBuilder) poolingHead(x string, be *biEncoder) {
	h := int64(b.cfg.HiddenSize)
	if be.Pooling.Dimension != 0 && int64(be.Pooling.Dimension) != h {
		b.fail(fmt.Errorf("pooling word_embedding_dimension %d differs from hidden_size %d", be.Pooling.Dimension, h))
		return
	}
	s := "/pooling"
	mf := b.Node("Cast", s+"/Cast", []string{"attention_mask"}, onnx.Int("to", int64(onnx.Float)))
	m3 := b.Node("Unsqueeze", s+"/Unsqueeze", []string{mf}, onnx.Ints("axes", 2)) // [N, L, 1]
	var parts []string
	var sum, count string
	sums := func() {
		if sum != "" {
			return
		}
		xm := b.Node("Mul", s+"/Mul", []string{x, m3})
		sum = b.Node("ReduceSum", s+"/ReduceSum", []string{xm}, onnx.Ints("axes", 1), onnx.Int("keepdims", 0))
		count = b.Node("ReduceSum", s+"/ReduceSum_1", []string{m3}, onnx.Ints("axes", 1), onnx.Int("keepdims", 0)) // [N, 1]
		count = b.Node("Max", s+"/Clamp", []string{count, b.Scalar(1e-9)})
	}
	for _, mode := range be.Pooling.Modes() {
		switch mode {
		case "cls":
			parts = append(parts, b.Node("Gather", s+"/cls/Gather", []string{x, b.Ints(nil, 0)}, onnx.Int("axis", 1)))
		case "max": // padded tokens set to -1e9, then the maximum over tokens
			mb := b.Node("Cast", s+"/max/Cast", []string{m3}, onnx.Int("to", int64(onnx.Bool)))
			w := b.Node("Where", s+"/max/Where", []string{mb, x, b.Scalar(-1e9)})
			parts = append(parts, b.Node("ReduceMax", s+"/max/ReduceMax", []string{w}, onnx.Ints("axes", 1), onnx.Int("keepdims", 0)))
		case "mean":
			sums()
			parts = append(parts, b.Node("Div", s+"/mean/Div", []string{sum, count}))
		case "mean_sqrt_len_tokens":
			sums()
			sq := b.Node("Sqrt", s+"/mean_sqrt_len/Sqrt", []string{count})
			parts = append(parts, b.Node("Div", s+"/mean_sqrt_len/Div", []string{sum, sq}))
		}
	}
	emb := parts[0]
	if len(parts) > 1 {
		emb = b.Node("Concat", s+"/Concat", parts, onnx.Int("axis", 1))
	}
	if be.Normalize { // F.normalize: x / max(‖x‖₂, 1e-12)
		sq := b.Node("Mul", "/normalize/Mul", []string{emb, emb})
		n := b.Node("ReduceSum", "/normalize/ReduceSum", []string{sq}, onnx.Ints("axes", 1), onnx.Int("keepdims", 1))
		n = b.Node("Sqrt", "/normalize/Sqrt", []string{n})
		n = b.Node("Max", "/normalize/Clamp", []string{n, b.Scalar(1e-12)})
		emb = b.Node("Div", "/normalize/Div", []string{emb, n})
	}
	b.NodeTo("Identity", "/sentence_embedding", "sentence_embedding", []string{emb})
}
