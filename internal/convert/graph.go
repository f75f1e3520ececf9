package convert

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/crossrank/crossrank/internal/convert/safetensors"
	"github.com/crossrank/crossrank/internal/onnx"
)

// Opset is the ONNX opset of converted graphs: the opset-11 forms of
// Unsqueeze, Softmax, ReduceMean and Reshape are the ones ONNX Runtime's
// transformer fusions match (as for the shape twin).
const Opset = 11

// maskValue is the additive attention mask of padded keys. transformers
// uses the float32 minimum; any value this negative gives exp() = 0 after
// the softmax's max subtraction, and -10000 is the form ONNX Runtime's
// Attention fusion recognises.
const maskValue = -10000

// graphBuilder builds an encoder graph from checkpoint tensors. The first
// error (a missing tensor, a wrong shape, an unreadable file) is kept and
// every later call is a no-op, so building code reads straight through;
// build returns it.
type graphBuilder struct {
	*onnx.Builder
	st   *safetensors.File
	cfg  *hfConfig
	p    string // module prefix of the encoder ("bert.", "" ...)
	err  error
	used map[string]bool // checkpoint tensors read
	done map[string]bool // initializers added, by name
	// clsOnly computes the last layer's queries, attention output and
	// feed-forward for the first token only (keys and values still for
	// every token): the head reads nothing else. Set for cross-encoders and
	// cls-pooling bi-encoders of the BERT-style families; see RATIONALE.md,
	// "The last layer for [CLS] only".
	clsOnly bool
}

// added reports whether an initializer called name is in the graph, and
// marks it added.
func (b *graphBuilder) added(name string) bool {
	if b.done == nil {
		b.done = map[string]bool{}
	}
	if b.done[name] {
		return true
	}
	b.done[name] = true
	return false
}

// read loads a checkpoint tensor, checking its shape, and marks it used.
func (b *graphBuilder) read(name string, shape []int64) ([]float32, error) {
	if b.used == nil {
		b.used = map[string]bool{}
	}
	b.used[name] = true
	return b.st.Float32(name, shape)
}

// unused returns the checkpoint tensors the graph did not read, less the
// ones transformers itself ignores: registered buffers (position_ids,
// token_type_ids) and, for a bi-encoder, BERT's pooler.
func (b *graphBuilder) unused(biEncoder bool) []string {
	var out []string
	for _, n := range b.st.Names() {
		switch {
		case b.used[n],
			strings.HasSuffix(n, "embeddings.position_ids"), strings.HasSuffix(n, "embeddings.token_type_ids"),
			biEncoder && strings.HasPrefix(n, b.p+"pooler."):
			continue
		}
		out = append(out, n)
	}
	return out
}

func (b *graphBuilder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// weight adds a checkpoint tensor as an initializer under its own name,
// checking its shape.
func (b *graphBuilder) weight(name string, shape ...int64) string {
	if b.err != nil || b.added(name) {
		return name
	}
	data, err := b.read(name, shape)
	if err != nil {
		b.fail(err)
		return name
	}
	return b.Init(onnx.FloatTensor(name, shape, data))
}

// matmulWeight adds a Linear weight ([out, in] in PyTorch) transposed to
// [in, out], the layout MatMul takes, named the way torch.onnx.export names
// such initializers.
func (b *graphBuilder) matmulWeight(name string, out, in int64) string {
	if b.err != nil || b.added("onnx::MatMul_"+name) {
		return "onnx::MatMul_" + name
	}
	data, err := b.read(name, []int64{out, in})
	if err != nil {
		b.fail(err)
		return name
	}
	t := make([]float32, len(data))
	for i := int64(0); i < out; i++ {
		for j := int64(0); j < in; j++ {
			t[j*out+i] = data[i*in+j]
		}
	}
	return b.Init(onnx.FloatTensor("onnx::MatMul_"+name, []int64{in, out}, t))
}

// linear is x·Wᵀ + b for a 3-D x (MatMul then Add), as exported.
func (b *graphBuilder) linear(x, scope, module string, out, in int64) string {
	return b.dense(x, scope, module, out, in, true)
}

// dense is x·Wᵀ, plus b when bias.
func (b *graphBuilder) dense(x, scope, module string, out, in int64, bias bool) string {
	mm := b.Node("MatMul", scope+"/MatMul", []string{x, b.matmulWeight(module+".weight", out, in)})
	if !bias {
		return mm
	}
	return b.Node("Add", scope+"/Add", []string{mm, b.weight(module+".bias", out)})
}

// gemm is a 2-D Linear layer (Gemm with transB), as exported.
func (b *graphBuilder) gemm(x, scope, module string, out, in int64) string {
	return b.Node("Gemm", scope+"/Gemm", []string{x, b.weight(module+".weight", out, in), b.weight(module+".bias", out)},
		onnx.FloatAttr("alpha", 1), onnx.FloatAttr("beta", 1), onnx.Int("transB", 1))
}

// layerNorm is the opset-11 decomposition torch exports for nn.LayerNorm.
func (b *graphBuilder) layerNorm(x, scope, module string, n int64) string {
	mean := b.Node("ReduceMean", scope+"/ReduceMean", []string{x}, onnx.Ints("axes", -1), onnx.Int("keepdims", 1))
	d := b.Node("Sub", scope+"/Sub", []string{x, mean})
	sq := b.Node("Pow", scope+"/Pow", []string{d, b.Scalar(2)})
	v := b.Node("ReduceMean", scope+"/ReduceMean_1", []string{sq}, onnx.Ints("axes", -1), onnx.Int("keepdims", 1))
	ve := b.Node("Add", scope+"/Add", []string{v, b.Scalar(float32(b.cfg.LayerNormEps))})
	sd := b.Node("Sqrt", scope+"/Sqrt", []string{ve})
	nrm := b.Node("Div", scope+"/Div", []string{d, sd})
	g := b.Node("Mul", scope+"/Mul", []string{nrm, b.weight(module+".weight", n)})
	if b.cfg.ModelType == "modernbert" && !b.cfg.NormBias {
		return g
	}
	return b.Node("Add", scope+"/Add_1", []string{g, b.weight(module+".bias", n)})
}

// act applies the activation act ("gelu", "gelu_tanh", "relu", "tanh").
func (b *graphBuilder) act(x, scope, act string) string {
	switch act {
	case "gelu": // x · 0.5 · (1 + erf(x / √2))
		e := b.Node("Div", scope+"/Div", []string{x, b.Scalar(float32(math.Sqrt2))})
		e = b.Node("Erf", scope+"/Erf", []string{e})
		e = b.Node("Add", scope+"/Add", []string{e, b.Scalar(1)})
		half := b.Node("Mul", scope+"/Mul", []string{x, b.Scalar(0.5)})
		return b.Node("Mul", scope+"/Mul_1", []string{half, e})
	case "gelu_tanh": // 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 x³)))
		c := b.Node("Pow", scope+"/Pow", []string{x, b.Scalar(3)})
		c = b.Node("Mul", scope+"/Mul", []string{c, b.Scalar(0.044715)})
		c = b.Node("Add", scope+"/Add", []string{x, c})
		c = b.Node("Mul", scope+"/Mul_1", []string{c, b.Scalar(float32(math.Sqrt(2 / math.Pi)))})
		c = b.Node("Tanh", scope+"/Tanh", []string{c})
		c = b.Node("Add", scope+"/Add_1", []string{c, b.Scalar(1)})
		half := b.Node("Mul", scope+"/Mul_2", []string{x, b.Scalar(0.5)})
		return b.Node("Mul", scope+"/Mul_3", []string{half, c})
	case "relu":
		return b.Node("Relu", scope+"/Relu", []string{x})
	case "tanh":
		return b.Node("Tanh", scope+"/Tanh", []string{x})
	}
	b.fail(fmt.Errorf("activation %q", act))
	return x
}

// hasTokenTypes reports whether the graph takes token_type_ids: only when
// the model has more than one token type (with one, every id is 0 and
// transformers adds row 0 of the table).
func (c *hfConfig) hasTokenTypes() bool { return c.TypeVocabSize > 1 }

// bertStyle reports whether the family's layers are the BERT-style ones
// encoder writes itself (BERT, ELECTRA, RoBERTa, XLM-RoBERTa) rather than
// ModernBERT's or DeBERTa's; only these honour graphBuilder.clsOnly.
func (c *hfConfig) bertStyle() bool {
	return c.ModelType != "modernbert" && c.ModelType != "deberta-v2"
}

// encoder appends the embeddings and the transformer layers of a BERT-style
// encoder (BERT, ELECTRA, RoBERTa, XLM-RoBERTa) and returns the last hidden
// state [N, L, H].
func (b *graphBuilder) encoder(ctx context.Context) string {
	switch b.cfg.ModelType {
	case "modernbert":
		return b.modernEncoder(ctx)
	case "deberta-v2":
		return b.debertaEncoder(ctx)
	}
	c := b.cfg
	h, e := int64(c.HiddenSize), int64(c.EmbeddingSize)
	heads := int64(c.NumAttentionHeads)
	dh := h / heads
	act, _ := activation(c.HiddenAct)
	p := b.p

	s := "/embeddings"
	word := b.Node("Gather", s+"/word_embeddings/Gather", []string{b.weight(p+"embeddings.word_embeddings.weight", int64(c.VocabSize), e), "input_ids"})
	var posIDs string
	if c.roberta() {
		// create_position_ids_from_input_ids: padding_idx + cumsum(ids ≠ pad) · (ids ≠ pad).
		pad := int64(*c.PadTokenID)
		ne := b.Node("Equal", s+"/Equal", []string{"input_ids", b.Ints(nil, pad)})
		ne = b.Node("Not", s+"/Not", []string{ne})
		m := b.Node("Cast", s+"/Cast", []string{ne}, onnx.Int("to", int64(onnx.Int64)))
		cs := b.Node("CumSum", s+"/CumSum", []string{m, b.Ints(nil, 1)})
		cs = b.Node("Mul", s+"/Mul", []string{cs, m})
		posIDs = b.Node("Add", s+"/Add_pos", []string{cs, b.Ints(nil, pad)})
	} else {
		shape := b.Node("Shape", s+"/Shape", []string{"input_ids"})
		seqLen := b.Node("Gather", s+"/Gather", []string{shape, b.Ints(nil, 1)}, onnx.Int("axis", 0))
		rng := b.Node("Range", s+"/Range", []string{b.Ints(nil, 0), seqLen, b.Ints(nil, 1)})
		unsq := b.Node("Unsqueeze", s+"/Unsqueeze", []string{rng}, onnx.Ints("axes", 0))
		posIDs = b.Node("Expand", s+"/Expand", []string{unsq, shape})
	}
	pos := b.Node("Gather", s+"/position_embeddings/Gather", []string{b.weight(p+"embeddings.position_embeddings.weight", int64(c.MaxPositionEmbeddings), e), posIDs})
	sum := b.Node("Add", s+"/Add", []string{word, pos})
	if c.TypeVocabSize > 0 {
		table := p + "embeddings.token_type_embeddings.weight"
		if c.hasTokenTypes() {
			typ := b.Node("Gather", s+"/token_type_embeddings/Gather", []string{b.weight(table, int64(c.TypeVocabSize), e), "token_type_ids"})
			sum = b.Node("Add", s+"/Add_1", []string{sum, typ})
		} else if b.err == nil {
			row, err := b.read(table, []int64{1, e})
			if err != nil {
				b.fail(err)
			} else {
				sum = b.Node("Add", s+"/Add_1", []string{sum, b.Init(onnx.FloatTensor(table+".row0", []int64{e}, row))})
			}
		}
	}
	x := b.layerNorm(sum, s+"/LayerNorm", p+"embeddings.LayerNorm", e)
	if e != h { // ELECTRA's embeddings_project
		x = b.linear(x, "/embeddings_project", p+"embeddings_project", h, e)
	}

	// Extended attention mask: (1 - mask[:, None, None, :]) · maskValue.
	m := b.Node("Unsqueeze", "/Unsqueeze", []string{"attention_mask"}, onnx.Ints("axes", 1))
	m = b.Node("Unsqueeze", "/Unsqueeze_1", []string{m}, onnx.Ints("axes", 2))
	m = b.Node("Cast", "/Cast", []string{m}, onnx.Int("to", int64(onnx.Float)))
	m = b.Node("Sub", "/Sub", []string{b.Scalar(1), m})
	mask := b.Node("Mul", "/Mul", []string{m, b.Scalar(maskValue)})

	heads4 := b.Ints([]int64{4}, 0, 0, heads, dh)
	merged3 := b.Ints([]int64{3}, 0, 0, h)
	inter := int64(c.IntermediateSize)
	for l := 0; l < c.NumHiddenLayers; l++ {
		if err := ctx.Err(); err != nil {
			b.fail(err)
		}
		s := fmt.Sprintf("/encoder/layer.%d", l)
		lp := fmt.Sprintf("%sencoder.layer.%d.", p, l)
		proj := func(in, name string, perm ...int64) string {
			v := b.linear(in, s+"/attention/self/"+name, lp+"attention.self."+name, h, h)
			v = b.Node("Reshape", s+"/attention/self/"+name+"/Reshape", []string{v, heads4})
			return b.Node("Transpose", s+"/attention/self/"+name+"/Transpose", []string{v}, onnx.Ints("perm", perm...))
		}
		var q, k, v string
		if b.clsOnly && l == c.NumHiddenLayers-1 {
			// Keys and values for every token; from here on only [CLS]:
			// x becomes [N, 1, H], the attention below one query row per
			// head, and the feed-forward one row per sequence.
			k, v = proj(x, "key", 0, 2, 3, 1), proj(x, "value", 0, 2, 1, 3)
			x = b.Node("Gather", s+"/Gather_cls", []string{x, b.Ints([]int64{1}, 0)}, onnx.Int("axis", 1))
			q = proj(x, "query", 0, 2, 1, 3)
		} else {
			q, k, v = proj(x, "query", 0, 2, 1, 3), proj(x, "key", 0, 2, 3, 1), proj(x, "value", 0, 2, 1, 3)
		}
		sc := b.Node("MatMul", s+"/attention/self/MatMul", []string{q, k})
		sc = b.Node("Div", s+"/attention/self/Div", []string{sc, b.Scalar(float32(math.Sqrt(float64(dh))))})
		sc = b.Node("Add", s+"/attention/self/Add", []string{sc, mask})
		pr := b.Node("Softmax", s+"/attention/self/Softmax", []string{sc}, onnx.Int("axis", 3))
		cx := b.Node("MatMul", s+"/attention/self/MatMul_1", []string{pr, v})
		cx = b.Node("Transpose", s+"/attention/self/Transpose_3", []string{cx}, onnx.Ints("perm", 0, 2, 1, 3))
		cx = b.Node("Reshape", s+"/attention/self/Reshape_3", []string{cx, merged3})
		o := b.linear(cx, s+"/attention/output/dense", lp+"attention.output.dense", h, h)
		o = b.Node("Add", s+"/attention/output/Add", []string{o, x})
		x = b.layerNorm(o, s+"/attention/output/LayerNorm", lp+"attention.output.LayerNorm", h)

		f := b.linear(x, s+"/intermediate/dense", lp+"intermediate.dense", inter, h)
		f = b.act(f, s+"/intermediate/intermediate_act_fn", act)
		f = b.linear(f, s+"/output/dense", lp+"output.dense", h, inter)
		f = b.Node("Add", s+"/output/Add", []string{f, x})
		x = b.layerNorm(f, s+"/output/LayerNorm", lp+"output.LayerNorm", h)
	}
	return x
}

// classifierHead appends the sequence-classification head of the family
// on the last hidden state and names its output "logits" [N, num_labels].
func (b *graphBuilder) classifierHead(x string) {
	c := b.cfg
	switch c.ModelType {
	case "modernbert":
		b.modernHead(x)
		return
	case "deberta-v2":
		b.debertaHead(x)
		return
	}
	h, n := int64(c.HiddenSize), int64(c.NumLabels)
	cls := b.Node("Gather", "/Gather_cls", []string{x, b.Ints(nil, 0)}, onnx.Int("axis", 1))
	switch c.ModelType {
	case "bert": // BertPooler (dense + tanh on [CLS]), then classifier
		pooled := b.gemm(cls, "/pooler/dense", b.p+"pooler.dense", h, h)
		pooled = b.Node("Tanh", "/pooler/activation/Tanh", []string{pooled})
		b.NodeTo("Gemm", "/classifier/Gemm", "logits", []string{pooled, b.weight("classifier.weight", n, h), b.weight("classifier.bias", n)},
			onnx.FloatAttr("alpha", 1), onnx.FloatAttr("beta", 1), onnx.Int("transB", 1))
	case "electra", "xlm-roberta", "roberta":
		// ElectraClassificationHead: dense, gelu, out_proj;
		// RobertaClassificationHead: dense, tanh, out_proj.
		act := "tanh"
		if c.ModelType == "electra" {
			act = "gelu"
		}
		d := b.gemm(cls, "/classifier/dense", "classifier.dense", h, h)
		d = b.act(d, "/classifier/activation", act)
		b.NodeTo("Gemm", "/classifier/out_proj/Gemm", "logits", []string{d, b.weight("classifier.out_proj.weight", n, h), b.weight("classifier.out_proj.bias", n)},
			onnx.FloatAttr("alpha", 1), onnx.FloatAttr("beta", 1), onnx.Int("transB", 1))
	default:
		b.fail(fmt.Errorf("no classification head for model_type %q", c.ModelType))
	}
}

// hasClassifier reports whether the checkpoint holds the family's
// sequence-classification head.
func hasClassifier(st *safetensors.File, family string) bool {
	switch family {
	case "bert", "modernbert", "deberta-v2":
		return st.Info("classifier.weight") != nil
	default:
		return st.Info("classifier.out_proj.weight") != nil
	}
}

// inputs are the graph inputs the family's forward takes.
func (c *hfConfig) inputs() []*onnx.ValueInfo {
	in := []*onnx.ValueInfo{
		onnx.Input("input_ids", onnx.Int64, "batch_size", "sequence_length"),
		onnx.Input("attention_mask", onnx.Int64, "batch_size", "sequence_length"),
	}
	if c.hasTokenTypes() {
		in = append(in, onnx.Input("token_type_ids", onnx.Int64, "batch_size", "sequence_length"))
	}
	return in
}

// LastLayerCLSOnly reports whether g is a graph Build wrote with the last
// layer computed for [CLS] only (see graphBuilder.clsOnly): it looks for
// the Gather that node's name marks.
func LastLayerCLSOnly(g *onnx.Graph) bool {
	for _, n := range g.Nodes {
		if n.OpType == "Gather" && strings.HasPrefix(n.Name, "/encoder/layer.") && strings.HasSuffix(n.Name, "/Gather_cls") {
			return true
		}
	}
	return false
}
