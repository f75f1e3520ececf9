package twin

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

const (
	layerNormEps = 1e-12
	initStd      = 0.02 // BERT's initializer_range: embeddings, FFN, pooler, biases, LayerNorm jitter

	// With 0.02 everywhere every pair's logit is about the same: attention
	// is near uniform, so the [CLS] state barely depends on the passage, and
	// scaling only the head would scale float noise with it (measured: logit
	// std 0.02; at std 2 by head scaling alone, fused and unfused ONNX
	// Runtime differed by 2e-5). Sharper attention (query/key std 0.1) and
	// stronger value/output projections (0.05) make [CLS] depend on the
	// pair; the head scale then spreads logits to a std of about 2 over
	// varied pairs with fused-vs-unfused differences below 1e-5
	// (TestORTLogits, TestORTFusion).
	qkStd   = 0.1  // attention query and key weights
	voStd   = 0.05 // attention value and output weights
	headStd = 13.0 // classifier weight std × sqrt(hidden)
)

// tensor is one parameter in PyTorch layout (Linear weights are [out, in]).
type tensor struct {
	name  string
	shape []int64
	data  []float32
}

// weights holds the parameters under their BertForSequenceClassification
// names, in state-dict order.
type weights struct {
	list   []*tensor
	byName map[string]*tensor
}

func (w *weights) get(name string) *tensor {
	t, ok := w.byName[name]
	if !ok {
		panic("twin: no weight " + name) // programming error: names are fixed below
	}
	return t
}

// rng draws a reproducible stream: PCG-DXSM (specified by math/rand/v2) and
// a Box-Muller transform of our own, so the stream does not depend on the
// Go release's NormFloat64 algorithm.
type rng struct {
	src   *rand.PCG
	spare float64
	has   bool
}

func newRNG(seed uint64) *rng {
	return &rng{src: rand.NewPCG(seed, 0x63726f737372616e)} // "crossran"
}

func (r *rng) uniform() float64 { // (0, 1)
	return (float64(r.src.Uint64()>>11) + 0.5) / (1 << 53)
}

func (r *rng) normal() float64 {
	if r.has {
		r.has = false
		return r.spare
	}
	u1, u2 := r.uniform(), r.uniform()
	rad := math.Sqrt(-2 * math.Log(u1))
	r.spare = rad * math.Sin(2*math.Pi*u2)
	r.has = true
	return rad * math.Cos(2*math.Pi*u2)
}

// truncNormal is a normal(0, std) truncated at ±2 std, like
// torch.nn.init.trunc_normal_.
func (r *rng) truncNormal(std float64) float32 {
	for {
		z := r.normal()
		if z >= -2 && z <= 2 {
			return float32(z * std)
		}
	}
}

func newWeights(cfg Config) *weights {
	r := newRNG(cfg.Seed)
	w := &weights{byName: map[string]*tensor{}}
	add := func(name string, shape []int64, fill func() float32) {
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		t := &tensor{name: name, shape: shape, data: make([]float32, n)}
		for i := range t.data {
			t.data[i] = fill()
		}
		w.list = append(w.list, t)
		w.byName[name] = t
	}
	normal := func() float32 { return r.truncNormal(initStd) }
	one := func() float32 { return 1 + r.truncNormal(initStd) }
	h, in := int64(cfg.Hidden), int64(cfg.Intermediate)

	add("bert.embeddings.word_embeddings.weight", []int64{int64(cfg.Vocab), h}, normal)
	clear(w.get("bert.embeddings.word_embeddings.weight").data[:h]) // padding_idx 0
	add("bert.embeddings.position_embeddings.weight", []int64{int64(cfg.MaxPositions), h}, normal)
	add("bert.embeddings.token_type_embeddings.weight", []int64{int64(cfg.TypeVocab), h}, normal)
	add("bert.embeddings.LayerNorm.weight", []int64{h}, one)
	add("bert.embeddings.LayerNorm.bias", []int64{h}, normal)
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("bert.encoder.layer.%d.", l)
		for _, m := range []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"} {
			std := initStd
			if m == "attention.self.query" || m == "attention.self.key" {
				std = qkStd
			} else {
				std = voStd
			}
			add(p+m+".weight", []int64{h, h}, func() float32 { return r.truncNormal(std) })
			add(p+m+".bias", []int64{h}, normal)
		}
		add(p+"attention.output.LayerNorm.weight", []int64{h}, one)
		add(p+"attention.output.LayerNorm.bias", []int64{h}, normal)
		add(p+"intermediate.dense.weight", []int64{in, h}, normal)
		add(p+"intermediate.dense.bias", []int64{in}, normal)
		add(p+"output.dense.weight", []int64{h, in}, normal)
		add(p+"output.dense.bias", []int64{h}, normal)
		add(p+"output.LayerNorm.weight", []int64{h}, one)
		add(p+"output.LayerNorm.bias", []int64{h}, normal)
	}
	add("bert.pooler.dense.weight", []int64{h, h}, normal)
	add("bert.pooler.dense.bias", []int64{h}, normal)
	add("classifier.weight", []int64{int64(cfg.NumLabels), h}, func() float32 { return r.truncNormal(headStd / math.Sqrt(float64(h))) })
	add("classifier.bias", []int64{int64(cfg.NumLabels)}, func() float32 { return 0 })
	return w
}

// safetensors encodes the weights in the safetensors format: an 8-byte
// little-endian header length, a JSON header (keys sorted, padded with
// spaces to 8 bytes), then the little-endian data of each tensor in header
// order.
func safetensors(w *weights) ([]byte, error) {
	type entry struct {
		Dtype   string  `json:"dtype"`
		Shape   []int64 `json:"shape"`
		Offsets [2]int  `json:"data_offsets"`
	}
	names := make([]string, 0, len(w.list))
	for _, t := range w.list {
		names = append(names, t.name)
	}
	sort.Strings(names)
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	off := 0
	for _, n := range names {
		t := w.byName[n]
		header[n] = entry{Dtype: "F32", Shape: t.shape, Offsets: [2]int{off, off + 4*len(t.data)}}
		off += 4 * len(t.data)
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return nil, fmt.Errorf("twin: safetensors header: %w", err)
	}
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}
	out := make([]byte, 8, 8+len(hb)+off)
	binary.LittleEndian.PutUint64(out, uint64(len(hb)))
	out = append(out, hb...)
	for _, n := range names {
		for _, v := range w.byName[n].data {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
	}
	return out, nil
}
