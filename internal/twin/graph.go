package twin

import (
	"fmt"
	"math"

	"github.com/crossrank/crossrank/internal/onnx"
)

// graphBuilder appends nodes and initializers, naming them the way
// torch.onnx.export does ("/bert/encoder/layer.0/attention/self/query/MatMul",
// outputs "<node>_output_0").
type graphBuilder struct {
	g      *onnx.Graph
	consts map[string]string // constant key -> initializer name
}

func (b *graphBuilder) node(op, name string, inputs []string, attrs ...*onnx.Attribute) string {
	out := name + "_output_0"
	b.g.Nodes = append(b.g.Nodes, &onnx.Node{Name: name, OpType: op, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

func (b *graphBuilder) init(t *onnx.Tensor) string {
	b.g.Initializers = append(b.g.Initializers, t)
	return t.Name
}

// scalar returns a shared float32 scalar initializer.
func (b *graphBuilder) scalar(v float32) string {
	key := fmt.Sprintf("f%08x", math.Float32bits(v))
	if n, ok := b.consts[key]; ok {
		return n
	}
	n := fmt.Sprintf("/Constant_f32_%d", len(b.consts))
	b.consts[key] = b.init(onnx.FloatTensor(n, nil, []float32{v}))
	return n
}

// ints returns a shared int64 initializer (dims nil: a scalar).
func (b *graphBuilder) ints(dims []int64, v ...int64) string {
	key := fmt.Sprintf("i%v%v", dims, v)
	if n, ok := b.consts[key]; ok {
		return n
	}
	n := fmt.Sprintf("/Constant_i64_%d", len(b.consts))
	b.consts[key] = b.init(onnx.Int64Tensor(n, dims, v))
	return n
}

// param adds a weight under its PyTorch name, as stored.
func (b *graphBuilder) param(w *weights, name string) string {
	t := w.get(name)
	return b.init(onnx.FloatTensor(name, t.shape, t.data))
}

// matmulWeight adds a Linear weight transposed to [in, out], named like the
// exporter names such initializers.
func (b *graphBuilder) matmulWeight(w *weights, name string) string {
	t := w.get(name)
	return b.init(onnx.FloatTensor("onnx::MatMul_"+name, []int64{t.shape[1], t.shape[0]}, t.transposed()))
}

// linear is x·Wᵀ + b for a 3-D x, exported as MatMul then Add(bias).
func (b *graphBuilder) linear(w *weights, x, scope, module string) string {
	mm := b.node("MatMul", scope+"/MatMul", []string{x, b.matmulWeight(w, module+".weight")})
	return b.node("Add", scope+"/Add", []string{mm, b.param(w, module+".bias")})
}

// layerNorm is the opset-11 decomposition torch exports for nn.LayerNorm:
// ReduceMean, Sub, Pow, ReduceMean, Add(eps), Sqrt, Div, Mul(γ), Add(β).
func (b *graphBuilder) layerNorm(w *weights, x, scope, module string) string {
	mean := b.node("ReduceMean", scope+"/ReduceMean", []string{x}, onnx.Ints("axes", -1), onnx.Int("keepdims", 1))
	d := b.node("Sub", scope+"/Sub", []string{x, mean})
	sq := b.node("Pow", scope+"/Pow", []string{d, b.scalar(2)})
	v := b.node("ReduceMean", scope+"/ReduceMean_1", []string{sq}, onnx.Ints("axes", -1), onnx.Int("keepdims", 1))
	ve := b.node("Add", scope+"/Add", []string{v, b.scalar(layerNormEps)})
	sd := b.node("Sqrt", scope+"/Sqrt", []string{ve})
	n := b.node("Div", scope+"/Div", []string{d, sd})
	g := b.node("Mul", scope+"/Mul", []string{n, b.param(w, module+".weight")})
	return b.node("Add", scope+"/Add_1", []string{g, b.param(w, module+".bias")})
}

// buildGraph writes BertForSequenceClassification the way a PyTorch opset-11
// export of it looks, in the node patterns ONNX Runtime's fusions match
// (EmbedLayerNormalization, Attention, SkipLayerNormalization, BiasGelu).
func buildGraph(cfg Config, w *weights) *onnx.Model {
	g := &onnx.Graph{Name: "main_graph"}
	b := &graphBuilder{g: g, consts: map[string]string{}}
	h := int64(cfg.Hidden)
	heads := int64(cfg.Heads)
	dh := h / heads

	g.Inputs = []*onnx.ValueInfo{
		onnx.Input("input_ids", onnx.Int64, "batch_size", "sequence_length"),
		onnx.Input("attention_mask", onnx.Int64, "batch_size", "sequence_length"),
		onnx.Input("token_type_ids", onnx.Int64, "batch_size", "sequence_length"),
	}
	g.Outputs = []*onnx.ValueInfo{onnx.Input("logits", onnx.Float, "batch_size", int64(cfg.NumLabels))}

	// Embeddings: word + position (arange(seq).unsqueeze(0).expand(shape)) + token type.
	s := "/bert/embeddings"
	word := b.node("Gather", s+"/word_embeddings/Gather", []string{b.param(w, "bert.embeddings.word_embeddings.weight"), "input_ids"})
	shape := b.node("Shape", s+"/Shape", []string{"input_ids"})
	seqLen := b.node("Gather", s+"/Gather", []string{shape, b.ints(nil, 1)}, onnx.Int("axis", 0))
	rng := b.node("Range", s+"/Range", []string{b.ints(nil, 0), seqLen, b.ints(nil, 1)})
	unsq := b.node("Unsqueeze", s+"/Unsqueeze", []string{rng}, onnx.Ints("axes", 0))
	posIDs := b.node("Expand", s+"/Expand", []string{unsq, shape})
	pos := b.node("Gather", s+"/position_embeddings/Gather", []string{b.param(w, "bert.embeddings.position_embeddings.weight"), posIDs})
	sum := b.node("Add", s+"/Add", []string{word, pos})
	typ := b.node("Gather", s+"/token_type_embeddings/Gather", []string{b.param(w, "bert.embeddings.token_type_embeddings.weight"), "token_type_ids"})
	sum = b.node("Add", s+"/Add_1", []string{sum, typ})
	x := b.layerNorm(w, sum, s+"/LayerNorm", "bert.embeddings.LayerNorm")

	// Extended attention mask: (1 - mask[:, None, None, :]) * -10000.
	m := b.node("Unsqueeze", "/bert/Unsqueeze", []string{"attention_mask"}, onnx.Ints("axes", 1))
	m = b.node("Unsqueeze", "/bert/Unsqueeze_1", []string{m}, onnx.Ints("axes", 2))
	m = b.node("Cast", "/bert/Cast", []string{m}, onnx.Int("to", int64(onnx.Float)))
	m = b.node("Sub", "/bert/Sub", []string{b.scalar(1), m})
	mask := b.node("Mul", "/bert/Mul", []string{m, b.scalar(-10000)})

	heads4 := b.ints([]int64{4}, 0, 0, heads, dh)
	merged3 := b.ints([]int64{3}, 0, 0, h)
	for l := 0; l < cfg.Layers; l++ {
		s := fmt.Sprintf("/bert/encoder/layer.%d", l)
		p := fmt.Sprintf("bert.encoder.layer.%d.", l)
		proj := func(name string, perm ...int64) string {
			v := b.linear(w, x, s+"/attention/self/"+name, p+"attention.self."+name)
			v = b.node("Reshape", s+"/attention/self/"+name+"/Reshape", []string{v, heads4})
			return b.node("Transpose", s+"/attention/self/"+name+"/Transpose", []string{v}, onnx.Ints("perm", perm...))
		}
		q := proj("query", 0, 2, 1, 3)
		k := proj("key", 0, 2, 3, 1)
		v := proj("value", 0, 2, 1, 3)
		sc := b.node("MatMul", s+"/attention/self/MatMul", []string{q, k})
		sc = b.node("Div", s+"/attention/self/Div", []string{sc, b.scalar(float32(math.Sqrt(float64(dh))))})
		sc = b.node("Add", s+"/attention/self/Add", []string{sc, mask})
		pr := b.node("Softmax", s+"/attention/self/Softmax", []string{sc}, onnx.Int("axis", 3))
		ctx := b.node("MatMul", s+"/attention/self/MatMul_1", []string{pr, v})
		ctx = b.node("Transpose", s+"/attention/self/Transpose_3", []string{ctx}, onnx.Ints("perm", 0, 2, 1, 3))
		ctx = b.node("Reshape", s+"/attention/self/Reshape_3", []string{ctx, merged3})
		o := b.linear(w, ctx, s+"/attention/output/dense", p+"attention.output.dense")
		o = b.node("Add", s+"/attention/output/Add", []string{o, x})
		x = b.layerNorm(w, o, s+"/attention/output/LayerNorm", p+"attention.output.LayerNorm")

		f := b.linear(w, x, s+"/intermediate/dense", p+"intermediate.dense")
		// GELU, erf form: x * 0.5 * (1 + erf(x / sqrt(2))).
		gs := s + "/intermediate/intermediate_act_fn"
		e := b.node("Div", gs+"/Div", []string{f, b.scalar(float32(math.Sqrt2))})
		e = b.node("Erf", gs+"/Erf", []string{e})
		e = b.node("Add", gs+"/Add", []string{e, b.scalar(1)})
		half := b.node("Mul", gs+"/Mul", []string{f, b.scalar(0.5)})
		f = b.node("Mul", gs+"/Mul_1", []string{half, e})
		f = b.linear(w, f, s+"/output/dense", p+"output.dense")
		f = b.node("Add", s+"/output/Add", []string{f, x})
		x = b.layerNorm(w, f, s+"/output/LayerNorm", p+"output.LayerNorm")
	}

	// Pooler on [CLS] and the classifier: 2-D Linear layers export as Gemm.
	cls := b.node("Gather", "/bert/pooler/Gather", []string{x, b.ints(nil, 0)}, onnx.Int("axis", 1))
	pooled := b.node("Gemm", "/bert/pooler/dense/Gemm", []string{cls, b.param(w, "bert.pooler.dense.weight"), b.param(w, "bert.pooler.dense.bias")},
		onnx.FloatAttr("alpha", 1), onnx.FloatAttr("beta", 1), onnx.Int("transB", 1))
	pooled = b.node("Tanh", "/bert/pooler/activation/Tanh", []string{pooled})
	g.Nodes = append(g.Nodes, &onnx.Node{Name: "/classifier/Gemm", OpType: "Gemm",
		Inputs:  []string{pooled, b.param(w, "classifier.weight"), b.param(w, "classifier.bias")},
		Outputs: []string{"logits"},
		Attrs:   []*onnx.Attribute{onnx.FloatAttr("alpha", 1), onnx.FloatAttr("beta", 1), onnx.Int("transB", 1)}})

	return &onnx.Model{
		IRVersion:       6,
		ProducerName:    "crossrank-twin",
		ProducerVersion: fmt.Sprint(Version),
		Opsets:          []onnx.OpsetID{{Version: Opset}},
		Graph:           g,
	}
}
