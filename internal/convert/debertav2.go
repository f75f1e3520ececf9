package convert

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/crossrank/crossrank/internal/onnx"
)

// debertaEncoder appends DeBERTa-v2/v3's encoder (transformers'
// DebertaV2Model): embeddings (absolute positions only when
// position_biased_input), masked; then layers whose attention adds the
// disentangled relative-position terms (c2p: query × relative-position key,
// p2c: key × relative-position query) over log-bucketed relative
// positions, with the relative embeddings LayerNorm-ed (norm_rel_ebd) and
// projected by each layer's own query/key projections (share_att_key) or
// pos_key_proj/pos_query_proj. Returns [N, L, H].
func (b *graphBuilder) debertaEncoder(ctx context.Context) string {
	c := b.cfg
	h, e := int64(c.HiddenSize), int64(c.EmbeddingSize)
	heads := int64(c.NumAttentionHeads)
	dh := h / heads
	inter := int64(c.IntermediateSize)
	act, _ := activation(c.HiddenAct)
	p := b.p

	s := "/embeddings"
	x := b.Node("Gather", s+"/word_embeddings/Gather", []string{b.weight(p+"embeddings.word_embeddings.weight", int64(c.VocabSize), e), "input_ids"})
	shape := b.Node("Shape", s+"/Shape", []string{"input_ids"})
	seqLen := b.Node("Gather", s+"/Gather", []string{shape, b.Ints(nil, 1)}, onnx.Int("axis", 0))
	rows := b.Node("Range", s+"/Range", []string{b.Ints(nil, 0), seqLen, b.Ints(nil, 1)})
	if *c.PositionBiasedInput {
		pos := b.Node("Gather", s+"/position_embeddings/Gather", []string{b.weight(p+"embeddings.position_embeddings.weight", int64(c.MaxPositionEmbeddings), e), rows})
		x = b.Node("Add", s+"/Add", []string{x, pos})
	}
	if c.TypeVocabSize > 0 {
		table := p + "embeddings.token_type_embeddings.weight"
		if c.hasTokenTypes() {
			typ := b.Node("Gather", s+"/token_type_embeddings/Gather", []string{b.weight(table, int64(c.TypeVocabSize), e), "token_type_ids"})
			x = b.Node("Add", s+"/Add_1", []string{x, typ})
		} else if b.err == nil {
			row, err := b.read(table, []int64{1, e})
			if err != nil {
				b.fail(err)
			} else {
				x = b.Node("Add", s+"/Add_1", []string{x, b.Init(onnx.FloatTensor(table+".row0", []int64{e}, row))})
			}
		}
	}
	if e != h {
		x = b.dense(x, s+"/embed_proj", p+"embeddings.embed_proj", h, e, false)
	}
	x = b.layerNorm(x, s+"/LayerNorm", p+"embeddings.LayerNorm", h)
	mf := b.Node("Cast", s+"/Cast", []string{"attention_mask"}, onnx.Int("to", int64(onnx.Float)))
	x = b.Node("Mul", s+"/Mul", []string{x, b.Node("Unsqueeze", s+"/Unsqueeze", []string{mf}, onnx.Ints("axes", 2))})

	// Padded keys: (1 - mask[:, None, None, :]) · maskValue. (transformers
	// also masks padded query rows; their outputs reach nothing.)
	m := b.Node("Unsqueeze", "/Unsqueeze", []string{mf}, onnx.Ints("axes", 1, 2))
	m = b.Node("Sub", "/Sub", []string{b.Scalar(1), m})
	mask := b.Node("Mul", "/Mul", []string{m, b.Scalar(maskValue)})

	types := map[string]bool{}
	for _, t := range c.posAttType {
		types[t] = true
	}
	scaleFactor := 1 + len(types)
	scale := float32(math.Sqrt(float64(float32(dh) * float32(scaleFactor))))

	// Relative positions: c2p and p2c gather indices [L, L] from tables
	// over every query − key distance the model can see.
	var relEmb, c2pIdx, p2cIdx string
	span := int64(0)
	if c.RelativeAttention {
		buckets, maxRel := -1, -1
		if c.PositionBuckets != nil {
			buckets = *c.PositionBuckets
		}
		if c.MaxRelativePositions != nil {
			maxRel = *c.MaxRelativePositions
		}
		if maxRel < 1 {
			maxRel = c.MaxPositionEmbeddings
		}
		span = int64(maxRel)
		if buckets > 0 {
			span = int64(buckets)
		}
		maxLen := int64(c.MaxPositionEmbeddings)
		c2p, p2c := relativeTables(maxLen, buckets, maxRel, span)
		ri := b.Node("Unsqueeze", "/rel/Unsqueeze", []string{rows}, onnx.Ints("axes", 1))
		rj := b.Node("Unsqueeze", "/rel/Unsqueeze_1", []string{rows}, onnx.Ints("axes", 0))
		d := b.Node("Sub", "/rel/Sub", []string{ri, rj})
		d = b.Node("Add", "/rel/Add", []string{d, b.Ints(nil, maxLen-1)}) // index of distance i − j
		c2pIdx = b.Node("Gather", "/rel/c2p/Gather", []string{b.Init(onnx.Int64Tensor("/rel/c2p_index", []int64{2*maxLen - 1}, c2p)), d})
		p2cIdx = b.Node("Gather", "/rel/p2c/Gather", []string{b.Init(onnx.Int64Tensor("/rel/p2c_index", []int64{2*maxLen - 1}, p2c)), d})
		relEmb = b.weight(p+"encoder.rel_embeddings.weight", 2*span, h)
		if strings.Contains(strings.ToLower(c.NormRelEbd), "layer_norm") {
			relEmb = b.layerNorm(relEmb, "/encoder/LayerNorm", p+"encoder.LayerNorm", h)
		}
		relEmb = b.Node("Unsqueeze", "/rel/Unsqueeze_emb", []string{relEmb}, onnx.Ints("axes", 0)) // [1, 2span, H]
	}

	heads4 := b.Ints([]int64{4}, 0, 0, heads, dh)
	merged3 := b.Ints([]int64{3}, 0, 0, h)
	for l := 0; l < c.NumHiddenLayers; l++ {
		if err := ctx.Err(); err != nil {
			b.fail(err)
		}
		s := fmt.Sprintf("/encoder/layer.%d/attention/self", l)
		lp := fmt.Sprintf("%sencoder.layer.%d.", p, l)
		proj := func(in, name, module string) string { // [N, heads, L, dh]
			v := b.linear(in, s+"/"+name, module, h, h)
			v = b.Node("Reshape", s+"/"+name+"/Reshape", []string{v, heads4})
			return b.Node("Transpose", s+"/"+name+"/Transpose", []string{v}, onnx.Ints("perm", 0, 2, 1, 3))
		}
		q := proj(x, "query_proj", lp+"attention.self.query_proj")
		k := proj(x, "key_proj", lp+"attention.self.key_proj")
		v := proj(x, "value_proj", lp+"attention.self.value_proj")
		kt := b.Node("Transpose", s+"/key_proj/Transpose_1", []string{k}, onnx.Ints("perm", 0, 1, 3, 2))
		sc := b.Node("MatMul", s+"/MatMul", []string{q, kt})
		sc = b.Node("Div", s+"/Div", []string{sc, b.Scalar(scale)})
		if c.RelativeAttention && len(types) > 0 {
			full := b.Node("Shape", s+"/Shape", []string{sc}) // [N, heads, L, L]
			if types["c2p"] {
				module := lp + "attention.self.key_proj"
				if !c.ShareAttKey {
					module = lp + "attention.self.pos_key_proj"
				}
				pk := proj(relEmb, "pos_key", module) // [1, heads, 2span, dh]
				pkt := b.Node("Transpose", s+"/pos_key/Transpose_1", []string{pk}, onnx.Ints("perm", 0, 1, 3, 2))
				att := b.Node("MatMul", s+"/c2p/MatMul", []string{q, pkt}) // [N, heads, L, 2span]
				idx := b.Node("Expand", s+"/c2p/Expand", []string{c2pIdx, full})
				att = b.Node("GatherElements", s+"/c2p/GatherElements", []string{att, idx}, onnx.Int("axis", 3))
				sc = b.Node("Add", s+"/c2p/Add", []string{sc, b.Node("Div", s+"/c2p/Div", []string{att, b.Scalar(scale)})})
			}
			if types["p2c"] {
				module := lp + "attention.self.query_proj"
				if !c.ShareAttKey {
					module = lp + "attention.self.pos_query_proj"
				}
				pq := proj(relEmb, "pos_query", module)
				pqt := b.Node("Transpose", s+"/pos_query/Transpose_1", []string{pq}, onnx.Ints("perm", 0, 1, 3, 2))
				att := b.Node("MatMul", s+"/p2c/MatMul", []string{k, pqt}) // [N, heads, Lk, 2span]
				idx := b.Node("Expand", s+"/p2c/Expand", []string{p2cIdx, full})
				att = b.Node("GatherElements", s+"/p2c/GatherElements", []string{att, idx}, onnx.Int("axis", 3))
				att = b.Node("Transpose", s+"/p2c/Transpose", []string{att}, onnx.Ints("perm", 0, 1, 3, 2))
				sc = b.Node("Add", s+"/p2c/Add", []string{sc, b.Node("Div", s+"/p2c/Div", []string{att, b.Scalar(scale)})})
			}
		}
		sc = b.Node("Add", s+"/Add", []string{sc, mask})
		pr := b.Node("Softmax", s+"/Softmax", []string{sc}, onnx.Int("axis", 3))
		cx := b.Node("MatMul", s+"/MatMul_1", []string{pr, v})
		cx = b.Node("Transpose", s+"/Transpose", []string{cx}, onnx.Ints("perm", 0, 2, 1, 3))
		cx = b.Node("Reshape", s+"/Reshape", []string{cx, merged3})
		ls := fmt.Sprintf("/encoder/layer.%d", l)
		o := b.linear(cx, ls+"/attention/output/dense", lp+"attention.output.dense", h, h)
		o = b.Node("Add", ls+"/attention/output/Add", []string{o, x})
		x = b.layerNorm(o, ls+"/attention/output/LayerNorm", lp+"attention.output.LayerNorm", h)
		f := b.linear(x, ls+"/intermediate/dense", lp+"intermediate.dense", inter, h)
		f = b.act(f, ls+"/intermediate/act", act)
		f = b.linear(f, ls+"/output/dense", lp+"output.dense", h, inter)
		f = b.Node("Add", ls+"/output/Add", []string{f, x})
		x = b.layerNorm(f, ls+"/output/LayerNorm", lp+"output.LayerNorm", h)
	}
	return x
}

// debertaHead is DebertaV2ForSequenceClassification's head: ContextPooler
// (dense on [CLS], pooler_hidden_act) and the classifier.
func (b *graphBuilder) debertaHead(x string) {
	c := b.cfg
	h, n := int64(c.HiddenSize), int64(c.NumLabels)
	cls := b.Node("Gather", "/pooler/Gather", []string{x, b.Ints(nil, 0)}, onnx.Int("axis", 1))
	pooled := b.gemm(cls, "/pooler/dense", "pooler.dense", h, h)
	act, _ := activation(c.PoolerHiddenAct)
	pooled = b.act(pooled, "/pooler/act", act)
	b.NodeTo("Gemm", "/classifier/Gemm", "logits", []string{pooled, b.weight("classifier.weight", n, h), b.weight("classifier.bias", n)},
		onnx.FloatAttr("alpha", 1), onnx.FloatAttr("beta", 1), onnx.Int("transB", 1))
}

// relativeTables returns, for every query − key distance d in
// [-(maxLen-1), maxLen-1] (index d + maxLen − 1), the c2p and p2c gather
// indices: clamp(±bucket(d) + span, 0, 2·span − 1).
func relativeTables(maxLen int64, buckets, maxRel int, span int64) (c2p, p2c []int64) {
	c2p = make([]int64, 2*maxLen-1)
	p2c = make([]int64, 2*maxLen-1)
	clamp := func(v int64) int64 { return min(max(v, 0), 2*span-1) }
	for i := range c2p {
		d := int64(i) - (maxLen - 1)
		r := d
		if buckets > 0 && maxRel > 0 {
			r = logBucket(d, buckets, maxRel)
		}
		c2p[i] = clamp(r + span)
		p2c[i] = clamp(-r + span)
	}
	return c2p, p2c
}

// logBucket is transformers' make_log_bucket_position for one distance,
// in the same float32 arithmetic: distances within ±bucket/2 keep their
// value, farther ones are log-spaced up to max_position.
func logBucket(d int64, bucketSize, maxPosition int) int64 {
	mid := int64(bucketSize / 2)
	sign := int64(1)
	if d < 0 {
		sign = -1
	} else if d == 0 {
		sign = 0
	}
	abs := d * sign
	if d < mid && d > -mid {
		abs = mid - 1
	}
	if abs <= mid {
		return d
	}
	ratio := float32(abs) / float32(mid)
	denom := float32(math.Log(float64(float32(float64(maxPosition-1) / float64(mid)))))
	lp := float32(math.Log(float64(ratio))) / denom * float32(mid-1)
	return (int64(math.Ceil(float64(lp))) + mid) * sign
}
