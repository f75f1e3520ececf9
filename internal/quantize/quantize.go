// Package quantize writes dynamically quantised int8 copies of ONNX models
// for ONNX Runtime. Every MatMul whose second input is a 2-D float
// initializer W becomes
//
//	max(ReduceMax(x), −ReduceMin(x)) over the last axis ÷ 127 ─ Max(tiny) ─ x_scale  (one per row)
//	x · Reciprocal(x_scale) ─ QuantizeLinear(scale 1, zero point 128) ─ x_q (uint8)
//	MatMulIntegerToFloat(x_q, W_q (int8), x_scale, W_scale, 128, 0)                 (com.microsoft)
//
// with W quantised per output column, symmetric (zero point 0, scale
// max|W[:,j]|/127), and the activation quantised per row (per token: over
// the last axis), symmetric, at run time, so no calibration data is needed.
// Because each token's scale depends on that token alone, a sequence's
// scores do not depend on its batch-mates or on padding, unlike ONNX
// Runtime's quantize_dynamic, whose DynamicQuantizeLinear takes one scale
// and zero point for the whole batch tensor.
//
// ONNX Runtime's CPU integer kernels (MatMulInteger, MatMulIntegerToFloat)
// take only a scalar activation zero point, hence the symmetric scheme with
// the fixed zero point 128; MatMulIntegerToFloat applies the per-column
// weight scales in its GEMM output stage and the per-row activation scale in
// one more pass. The contrib operator is written directly rather than left
// to ONNX Runtime's fusion of MatMulInteger─Cast─Mul, because that fusion
// also absorbs the following bias Add, which the kernel then multiplies by
// the per-row scale (wrong scores; RATIONALE.md has the measurements).
//
// Every Gather from a 2-D float initializer (the embedding tables) gathers
// int8 rows and dequantises them (DequantizeLinear, per tensor), like
// quantize_dynamic's Gather quantisation. Bias Adds, attention score MatMuls
// (both inputs are activations), LayerNorm and Gemm stay float.
package quantize

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/crossrank/crossrank/internal/onnx"
)

// Version changes when the output of Dynamic changes; quantize_config.json
// records it.
const Version = 6

// msDomain is ONNX Runtime's contrib operator domain (MatMulIntegerToFloat).
const msDomain = "com.microsoft"

// ConfigFile is written beside the quantised model and describes it.
const ConfigFile = "quantize_config.json"

// copiedFiles are the model-folder files carried over unchanged when present:
// the model's and tokenizer's, and a sentence-transformers layout's (so a
// quantised bi-encoder keeps its pooling). crossrank.json is carried over
// with int8 set (see Dynamic).
func copiedFiles() []string {
	return []string{"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
		"modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json"}
}

// markInt8 copies in's crossrank.json (the converter's description of the
// folder), if any, to out with "int8": true.
func markInt8(in, out string) error {
	data, err := os.ReadFile(filepath.Join(in, "crossrank.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	var meta map[string]any
	if err := json.Unmarshal(data, &meta); err != nil {
		return fmt.Errorf("quantize: %s: %w", filepath.Join(in, "crossrank.json"), err)
	}
	meta["int8"] = true
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "crossrank.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	return nil
}

// Config is the content of quantize_config.json.
type Config struct {
	Format         string `json:"format"`
	Mode           string `json:"mode"`
	WeightType     string `json:"weight_type"`
	ActivationType string `json:"activation_type"`
	PerChannel     bool   `json:"per_channel"`
	Symmetric      bool   `json:"weight_symmetric"`
	// ActivationGranularity is "per-row": one scale per token (last axis).
	ActivationGranularity string   `json:"activation_granularity,omitempty"`
	OpTypes               []string `json:"op_types_to_quantize"`
	Quantized             int      `json:"quantized_nodes"`
	Source                string   `json:"source_file"`
	Version               int      `json:"crossrank_quantize_version"`
}

// Dynamic reads the model folder in (onnx/model.onnx, or model.onnx) and
// writes a quantised copy to the folder out: onnx/model_quantized.onnx, the
// same graph as onnx/model.onnx (so loaders that take the default file get
// the int8 model), quantize_config.json, and config.json/tokenizer.json and
// the other tokenizer files copied unchanged.
func Dynamic(in, out string) error {
	src, err := sourceModel(in)
	if err != nil {
		return err
	}
	m, err := onnx.ReadFile(src)
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	n, err := Model(m)
	if err != nil {
		return fmt.Errorf("quantize %s: %w", src, err)
	}
	if err != nil {
		return fmt.Errorf("quantize %s: %w", src, err)
	}
	if n == 0 {
		return fmt.Errorf("quantize %s: no MatMul or Gather with a float weight initializer to quantise", src)
	}
	m.ProducerName, m.ProducerVersion = "crossrank-quantize", fmt.Sprint(Version)
	b, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(out, "onnx"), 0o755); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	for _, name := range []string{"model_quantized.onnx", "model.onnx"} {
		p := filepath.Join(out, "onnx", name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fmt.Errorf("quantize: write %s: %w", p, err)
		}
	}
	for _, name := range copiedFiles() {
		data, err := os.ReadFile(filepath.Join(in, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("quantize: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(out, name)), 0o755); err != nil {
			return fmt.Errorf("quantize: %w", err)
		}
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			return fmt.Errorf("quantize: %w", err)
		}
	}
	if err := markInt8(in, out); err != nil {
		return err
	}
	rel, _ := filepath.Rel(in, src)
	cfg := Config{Format: "QOperator", Mode: "dynamic", WeightType: "QInt8", ActivationType: "QUInt8",
		PerChannel: true, Symmetric: true, ActivationGranularity: "per-row", OpTypes: []string{"MatMul", "Gather"}, Quantized: n, Source: rel, Version: Version}
	cb, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, ConfigFile), append(cb, '\n'), 0o644); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	return nil
}

// Fresh reports whether dir holds a complete output of this package's
// current Version.
func Fresh(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return false
	}
	var c Config
	if json.Unmarshal(b, &c) != nil || c.Version != Version {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, "onnx", "model_quantized.onnx"))
	return err == nil
}

func sourceModel(dir string) (string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("quantize: input %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("quantize: input %s is not a model folder", dir)
	}
	for _, rel := range []string{"onnx/model.onnx", "model.onnx"} {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("quantize: %s has neither onnx/model.onnx nor model.onnx", dir)
}

// Model quantises m in place: its default-domain opset is raised to at
// least 11 (MatMulInteger and QuantizeLinear need it), its graph quantised
// (Graph) and the com.microsoft domain (MatMulIntegerToFloat) imported. It
// returns the number of nodes replaced.
func Model(m *onnx.Model) (int, error) {
	opset := int64(11)
	found := false
	for i, o := range m.Opsets {
		if o.Domain == "" {
			m.Opsets[i].Version = max(o.Version, 11)
			opset, found = m.Opsets[i].Version, true
		}
	}
	if !found {
		m.Opsets = append(m.Opsets, onnx.OpsetID{Version: opset})
	}
	n, err := Graph(m.Graph, opset)
	if err != nil {
		return 0, err
	}
	if !slices.ContainsFunc(m.Opsets, func(o onnx.OpsetID) bool { return o.Domain == msDomain }) {
		m.Opsets = append(m.Opsets, onnx.OpsetID{Domain: msDomain, Version: 1})
	}
	return n, nil
}

// Graph quantises g in place and returns the number of MatMul and Gather
// nodes replaced. opset is the model's default-domain opset (at least 11),
// which decides how ReduceMax takes its axes.
func Graph(g *onnx.Graph, opset int64) (int, error) {
	if opset < 11 {
		return 0, fmt.Errorf("opset %d: quantisation needs opset ≥ 11", opset)
	}
	inits := map[string]*onnx.Tensor{}
	for _, t := range g.Initializers {
		inits[t.Name] = t
	}
	for _, n := range g.Nodes {
		if n.OpType == "DynamicQuantizeLinear" || n.OpType == "MatMulInteger" || n.OpType == "QuantizeLinear" {
			return 0, errors.New("graph is already quantised")
		}
	}
	type qin struct{ q, scale, zp string }
	quantised := map[string]qin{} // activation -> its quantised form, per-row scale, zero point
	weights := map[string]qin{}   // weight -> its int8 initializers
	count := 0
	var nodes []*onnx.Node
	// weight quantises w once: per output column (MatMul weights, K×N: one
	// scale per column j, which MatMulIntegerToFloat applies in its output
	// stage) or per tensor (Gather tables: DequantizeLinear at opset 11
	// takes a scalar scale).
	weight := func(w *onnx.Tensor, perColumn bool) (qin, error) {
		key := fmt.Sprint(w.Name, perColumn)
		if b, ok := weights[key]; ok {
			return b, nil
		}
		vals, err := w.Floats()
		if err != nil {
			return qin{}, err
		}
		b := qin{w.Name + "_quantized", w.Name + "_scale", w.Name + "_zero_point"}
		if perColumn {
			q, scales := symmetricInt8Columns(vals, int(w.Dims[1]))
			g.Initializers = append(g.Initializers,
				onnx.Int8Tensor(b.q, w.Dims, q),
				onnx.FloatTensor(b.scale, []int64{w.Dims[1]}, scales))
		} else {
			q, scale := symmetricInt8(vals)
			g.Initializers = append(g.Initializers,
				onnx.Int8Tensor(b.q, w.Dims, q),
				onnx.FloatTensor(b.scale, nil, []float32{scale}))
		}
		g.Initializers = append(g.Initializers, onnx.Int8Tensor(b.zp, nil, []int8{0}))
		weights[key] = b
		return b, nil
	}
	floatInit := func(name string) *onnx.Tensor {
		w, ok := inits[name]
		if !ok || w.DataType != onnx.Float || len(w.Dims) != 2 {
			return nil
		}
		return w
	}
	// Constants shared by every activation quantiser.
	const (
		c127, cTiny, cZP, cFlat, cOne = "crossrank_quant_127", "crossrank_quant_tiny", "crossrank_quant_zero_point", "crossrank_quant_minus_one", "crossrank_quant_one"
	)
	constants := false
	activation := func(x string) qin {
		if a, ok := quantised[x]; ok {
			return a
		}
		if !constants {
			g.Initializers = append(g.Initializers,
				onnx.FloatTensor(c127, nil, []float32{127}),
				// A row of zeros gets this scale instead of 0 (no 0/0).
				onnx.FloatTensor(cTiny, nil, []float32{1e-30}),
				onnx.Uint8Tensor(cZP, nil, []uint8{128}),
				onnx.Int64Tensor(cFlat, []int64{1}, []int64{-1}),
				onnx.FloatTensor(cOne, nil, []float32{1}))
			constants = true
		}
		a := qin{x + "_quantized", x + "_scale", cZP}
		reduce := func(op, out string) *onnx.Node {
			n := &onnx.Node{Name: x + "_row_" + op, OpType: op, Inputs: []string{x}, Outputs: []string{out},
				Attrs: []*onnx.Attribute{onnx.Int("keepdims", 1)}}
			if opset >= 18 {
				n.Inputs = append(n.Inputs, cFlat) // axes [-1]
			} else {
				n.Attrs = append(n.Attrs, onnx.Ints("axes", -1))
			}
			return n
		}
		nodes = append(nodes,
			// max |x| per row from ReduceMax and ReduceMin (two reads, no
			// Abs copy of x).
			reduce("ReduceMax", x+"_rowmax"),
			reduce("ReduceMin", x+"_rowmin"),
			&onnx.Node{Name: x + "_row_neg_min", OpType: "Neg", Inputs: []string{x + "_rowmin"}, Outputs: []string{x + "_rowmin_neg"}},
			&onnx.Node{Name: x + "_row_absmax", OpType: "Max",
				Inputs: []string{x + "_rowmax", x + "_rowmin_neg"}, Outputs: []string{x + "_absmax"}},
			&onnx.Node{Name: x + "_row_scale_div", OpType: "Div",
				Inputs: []string{x + "_absmax", c127}, Outputs: []string{x + "_scale_raw"}},
			&onnx.Node{Name: x + "_row_scale", OpType: "Max",
				Inputs: []string{x + "_scale_raw", cTiny}, Outputs: []string{a.scale}},
			&onnx.Node{Name: x + "_row_inv_scale", OpType: "Reciprocal", Inputs: []string{a.scale}, Outputs: []string{x + "_inv_scale"}},
			&onnx.Node{Name: x + "_row_scaled", OpType: "Mul",
				Inputs: []string{x, x + "_inv_scale"}, Outputs: []string{x + "_scaled"}},
			// Rounds half to even, adds 128 and saturates to [0, 255]; |x/scale| ≤ 127.
			&onnx.Node{Name: x + "_QuantizeLinear", OpType: "QuantizeLinear",
				Inputs: []string{x + "_scaled", cOne, cZP}, Outputs: []string{a.q}},
		)
		quantised[x] = a
		return a
	}
	for _, n := range g.Nodes {
		switch {
		case n.OpType == "MatMul" && n.Domain == "" && len(n.Inputs) == 2 && floatInit(n.Inputs[1]) != nil:
			a := activation(n.Inputs[0])
			b, err := weight(floatInit(n.Inputs[1]), true)
			if err != nil {
				return 0, err
			}
			nodes = append(nodes, &onnx.Node{Name: n.Name + "_quant", OpType: "MatMulIntegerToFloat", Domain: msDomain,
				Inputs: []string{a.q, b.q, a.scale, b.scale, a.zp, b.zp}, Outputs: []string{n.Outputs[0]}})
			count++
		case n.OpType == "Gather" && n.Domain == "" && len(n.Inputs) == 2 && floatInit(n.Inputs[0]) != nil &&
			(n.Attr("axis") == nil || n.Attr("axis").I == 0):
			// Embedding lookups: gather int8 rows, then dequantise them.
			b, err := weight(floatInit(n.Inputs[0]), false)
			if err != nil {
				return 0, err
			}
			out := n.Outputs[0]
			nodes = append(nodes,
				&onnx.Node{Name: n.Name + "_quant", OpType: "Gather",
					Inputs: []string{b.q, n.Inputs[1]}, Outputs: []string{out + "_gathered_int8"}, Attrs: n.Attrs},
				&onnx.Node{Name: n.Name + "_quant_dequantize", OpType: "DequantizeLinear",
					Inputs: []string{out + "_gathered_int8", b.scale, b.zp}, Outputs: []string{out}},
			)
			count++
		default:
			nodes = append(nodes, n)
		}
	}
	g.Nodes = nodes
	// Drop float weights no node reads any more.
	used := map[string]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			used[in] = true
		}
	}
	for _, o := range g.Outputs {
		used[o.Name] = true
	}
	kept := g.Initializers[:0]
	for _, t := range g.Initializers {
		if used[t.Name] {
			kept = append(kept, t)
		}
	}
	g.Initializers = kept
	return count, nil
}

// symmetricInt8Columns quantises the row-major matrix w (cols columns) per
// column: scale_j = max_i |w_ij| / 127.
func symmetricInt8Columns(w []float32, cols int) ([]int8, []float32) {
	scales := make([]float32, cols)
	for j := range cols {
		var m float64
		for i := j; i < len(w); i += cols {
			m = math.Max(m, math.Abs(float64(w[i])))
		}
		scales[j] = 1
		if m > 0 {
			scales[j] = float32(m / 127)
		}
	}
	q := make([]int8, len(w))
	for i, v := range w {
		r := math.RoundToEven(float64(v) / float64(scales[i%cols]))
		q[i] = int8(max(-127, min(127, r)))
	}
	return q, scales
}

// symmetricInt8 quantises w per tensor: scale = max|w| / 127, q = round(w / scale).
func symmetricInt8(w []float32) ([]int8, float32) {
	var m float64
	for _, v := range w {
		m = math.Max(m, math.Abs(float64(v)))
	}
	q := make([]int8, len(w))
	if m == 0 {
		return q, 1
	}
	scale := float32(m / 127)
	for i, v := range w {
		r := math.RoundToEven(float64(v) / float64(scale))
		q[i] = int8(max(-127, min(127, r)))
	}
	return q, scale
}

// Dequantize returns q·scale (used by tests to measure the weight error).
func Dequantize(q []int8, scale float32) []float32 {
	out := make([]float32, len(q))
	for i, v := range q {
		out[i] = float32(v) * scale
	}
	return out
}
