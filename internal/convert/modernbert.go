package convert

import (
	"context"
	"fmt"
	"math"

	"github.com/crossrank/crossrank/internal/onnx"
)

// modernEncoder appends ModernBERT's encoder (transformers'
// ModernBertModel, padded attention path): token embeddings and LayerNorm
// (no positions), then per layer pre-norm attention with rotary position
// embeddings — global layers (every global_attn_every_n_layers-th, from
// layer 0) see every token with RoPE θ = global_rope_theta, the others only
// tokens within local_attention/2 positions with θ = local_rope_theta — and
// a GeGLU feed-forward, then the final LayerNorm. Returns [N, L, H].
func (b *graphBuilder) modernEncoder(ctx context.Context) string {
	c := b.cfg
	h, heads := int64(c.HiddenSize), int64(c.NumAttentionHeads)
	dh := h / heads
	inter := int64(c.IntermediateSize)
	act, _ := activation(c.HiddenActivation)
	p := b.p

	x := b.Node("Gather", "/embeddings/tok_embeddings/Gather", []string{b.weight(p+"embeddings.tok_embeddings.weight", int64(c.VocabSize), h), "input_ids"})
	x = b.layerNorm(x, "/embeddings/norm", p+"embeddings.norm", h)

	// Global mask (1 - mask[:, None, None, :]) · maskValue, [N, 1, 1, L].
	m := b.Node("Unsqueeze", "/Unsqueeze", []string{"attention_mask"}, onnx.Ints("axes", 1, 2))
	m = b.Node("Cast", "/Cast", []string{m}, onnx.Int("to", int64(onnx.Float)))
	m = b.Node("Sub", "/Sub", []string{b.Scalar(1), m})
	global := b.Node("Mul", "/Mul", []string{m, b.Scalar(maskValue)})

	// Positions 0..L-1 and the sliding window: |i - j| > local_attention/2
	// adds maskValue, [N, 1, L, L].
	shape := b.Node("Shape", "/Shape", []string{"input_ids"})
	seqLen := b.Node("Gather", "/Gather_len", []string{shape, b.Ints(nil, 1)}, onnx.Int("axis", 0))
	rows := b.Node("Range", "/Range", []string{b.Ints(nil, 0), seqLen, b.Ints(nil, 1)})
	ri := b.Node("Unsqueeze", "/window/Unsqueeze", []string{rows}, onnx.Ints("axes", 1))
	rj := b.Node("Unsqueeze", "/window/Unsqueeze_1", []string{rows}, onnx.Ints("axes", 0))
	dist := b.Node("Abs", "/window/Abs", []string{b.Node("Sub", "/window/Sub", []string{ri, rj})})
	far := b.Node("Greater", "/window/Greater", []string{dist, b.Ints(nil, int64(c.LocalAttention/2))})
	band := b.Node("Where", "/window/Where", []string{far, b.Scalar(maskValue), b.Scalar(0)})
	local := b.Node("Add", "/window/Add", []string{global, band})

	posF := b.Node("Cast", "/rotary/Cast", []string{rows}, onnx.Int("to", int64(onnx.Float)))
	posF = b.Node("Unsqueeze", "/rotary/Unsqueeze", []string{posF}, onnx.Ints("axes", 1)) // [L, 1]
	type rope struct{ cos, sin string }
	ropes := map[float64]rope{}
	ropeFor := func(theta float64) rope {
		if r, ok := ropes[theta]; ok {
			return r
		}
		s := fmt.Sprintf("/rotary/theta_%g", theta)
		inv := b.Init(onnx.FloatTensor(s+"/inv_freq", []int64{1, dh / 2}, invFreq(theta, dh)))
		f := b.Node("Mul", s+"/Mul", []string{posF, inv})                         // [L, dh/2]
		emb := b.Node("Concat", s+"/Concat", []string{f, f}, onnx.Int("axis", 1)) // [L, dh]
		r := rope{b.Node("Cos", s+"/Cos", []string{emb}), b.Node("Sin", s+"/Sin", []string{emb})}
		ropes[theta] = r
		return r
	}
	localTheta := c.GlobalRopeTheta
	if c.LocalRopeTheta != nil {
		localTheta = *c.LocalRopeTheta
	}

	qkv5 := b.Ints([]int64{5}, 0, 0, 3, heads, dh)
	merged3 := b.Ints([]int64{3}, 0, 0, h)
	half := dh / 2
	for l := 0; l < c.NumHiddenLayers; l++ {
		if err := ctx.Err(); err != nil {
			b.fail(err)
		}
		s := fmt.Sprintf("/layers.%d", l)
		lp := fmt.Sprintf("%slayers.%d.", p, l)
		isGlobal := l%c.GlobalAttnEveryNLayers == 0
		mask, r := global, ropeFor(c.GlobalRopeTheta)
		if !isGlobal {
			mask, r = local, ropeFor(localTheta)
		}
		a := x
		if l > 0 { // layer 0's attn_norm is the identity
			a = b.layerNorm(x, s+"/attn_norm", lp+"attn_norm", h)
		}
		qkv := b.dense(a, s+"/attn/Wqkv", lp+"attn.Wqkv", 3*h, h, c.AttentionBias)
		qkv = b.Node("Reshape", s+"/attn/Reshape", []string{qkv, qkv5}) // [N, L, 3, heads, dh]
		part := func(i int64, name string) string {
			v := b.Node("Gather", s+"/attn/"+name+"/Gather", []string{qkv, b.Ints(nil, i)}, onnx.Int("axis", 2))
			return b.Node("Transpose", s+"/attn/"+name+"/Transpose", []string{v}, onnx.Ints("perm", 0, 2, 1, 3)) // [N, heads, L, dh]
		}
		rot := func(v, name string) string { // v·cos + rotate_half(v)·sin
			x1 := b.Node("Slice", s+"/attn/"+name+"/Slice", []string{v, b.Ints([]int64{1}, 0), b.Ints([]int64{1}, half), b.Ints([]int64{1}, 3)})
			x2 := b.Node("Slice", s+"/attn/"+name+"/Slice_1", []string{v, b.Ints([]int64{1}, half), b.Ints([]int64{1}, dh), b.Ints([]int64{1}, 3)})
			rh := b.Node("Concat", s+"/attn/"+name+"/Concat", []string{b.Node("Neg", s+"/attn/"+name+"/Neg", []string{x2}), x1}, onnx.Int("axis", 3))
			vc := b.Node("Mul", s+"/attn/"+name+"/Mul", []string{v, r.cos})
			rs := b.Node("Mul", s+"/attn/"+name+"/Mul_1", []string{rh, r.sin})
			return b.Node("Add", s+"/attn/"+name+"/Add", []string{vc, rs})
		}
		q := rot(part(0, "query"), "query")
		k := rot(part(1, "key"), "key")
		v := part(2, "value")
		kt := b.Node("Transpose", s+"/attn/key/Transpose_1", []string{k}, onnx.Ints("perm", 0, 1, 3, 2))
		sc := b.Node("MatMul", s+"/attn/MatMul", []string{q, kt})
		sc = b.Node("Mul", s+"/attn/Mul", []string{sc, b.Scalar(float32(1 / math.Sqrt(float64(dh))))})
		sc = b.Node("Add", s+"/attn/Add", []string{sc, mask})
		pr := b.Node("Softmax", s+"/attn/Softmax", []string{sc}, onnx.Int("axis", 3))
		o := b.Node("MatMul", s+"/attn/MatMul_1", []string{pr, v})
		o = b.Node("Transpose", s+"/attn/Transpose", []string{o}, onnx.Ints("perm", 0, 2, 1, 3))
		o = b.Node("Reshape", s+"/attn/Reshape_1", []string{o, merged3})
		o = b.dense(o, s+"/attn/Wo", lp+"attn.Wo", h, h, c.AttentionBias)
		x = b.Node("Add", s+"/Add", []string{x, o})

		f := b.layerNorm(x, s+"/mlp_norm", lp+"mlp_norm", h)
		f = b.dense(f, s+"/mlp/Wi", lp+"mlp.Wi", 2*inter, h, c.MLPBias) // input ‖ gate
		in := b.Node("Slice", s+"/mlp/Slice", []string{f, b.Ints([]int64{1}, 0), b.Ints([]int64{1}, inter), b.Ints([]int64{1}, 2)})
		gate := b.Node("Slice", s+"/mlp/Slice_1", []string{f, b.Ints([]int64{1}, inter), b.Ints([]int64{1}, 2*inter), b.Ints([]int64{1}, 2)})
		f = b.Node("Mul", s+"/mlp/Mul_gate", []string{b.act(in, s+"/mlp/act", act), gate})
		f = b.dense(f, s+"/mlp/Wo", lp+"mlp.Wo", h, inter, c.MLPBias)
		x = b.Node("Add", s+"/Add_1", []string{x, f})
	}
	return b.layerNorm(x, "/final_norm", p+"final_norm", h)
}

// modernHead is ModernBertForSequenceClassification's head: [CLS] or the
// masked mean over tokens (classifier_pooling), then head.dense, the
// classifier activation, head.norm, and the classifier.
func (b *graphBuilder) modernHead(x string) {
	c := b.cfg
	h, n := int64(c.HiddenSize), int64(c.NumLabels)
	var pooled string
	if c.ClassifierPooling == "cls" {
		pooled = b.Node("Gather", "/head/Gather_cls", []string{x, b.Ints(nil, 0)}, onnx.Int("axis", 1))
	} else { // sum(h · mask) / sum(mask), as transformers computes it
		mf := b.Node("Cast", "/head/Cast", []string{"attention_mask"}, onnx.Int("to", int64(onnx.Float)))
		m3 := b.Node("Unsqueeze", "/head/Unsqueeze", []string{mf}, onnx.Ints("axes", 2))
		sum := b.Node("ReduceSum", "/head/ReduceSum", []string{b.Node("Mul", "/head/Mul", []string{x, m3})}, onnx.Ints("axes", 1), onnx.Int("keepdims", 0))
		cnt := b.Node("ReduceSum", "/head/ReduceSum_1", []string{mf}, onnx.Ints("axes", 1), onnx.Int("keepdims", 1))
		pooled = b.Node("Div", "/head/Div", []string{sum, cnt})
	}
	inputs := []string{pooled, b.weight("head.dense.weight", h, h)}
	if c.ClassifierBias {
		inputs = append(inputs, b.weight("head.dense.bias", h))
	}
	d := b.Node("Gemm", "/head/dense/Gemm", inputs, onnx.FloatAttr("alpha", 1), onnx.FloatAttr("beta", 1), onnx.Int("transB", 1))
	act, _ := activation(c.ClassifierActivation)
	d = b.act(d, "/head/act", act)
	d = b.layerNorm(d, "/head/norm", "head.norm", h)
	b.NodeTo("Gemm", "/classifier/Gemm", "logits", []string{d, b.weight("classifier.weight", n, h), b.weight("classifier.bias", n)},
		onnx.FloatAttr("alpha", 1), onnx.FloatAttr("beta", 1), onnx.Int("transB", 1))
}

// invFreq is RoPE's inverse frequencies 1 / θ^(2i/d), i < d/2, in float32
// arithmetic as transformers computes them.
func invFreq(theta float64, d int64) []float32 {
	out := make([]float32, d/2)
	for i := range out {
		e := float32(2*i) / float32(d)
		out[i] = 1 / float32(math.Pow(theta, float64(e)))
	}
	return out
}
