package twin_test

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/internal/testenv"
)

// reference is BertForSequenceClassification's forward pass written from
// the model's definition, in float64, over the PyTorch-layout weights of
// model.safetensors: an oracle for the ONNX graph that shares no code with
// the graph writer.
type reference struct {
	st               *st
	layers, h, heads int
	cache            map[string][]float64
}

func (r *reference) w(name string) []float64 {
	if w, ok := r.cache[name]; ok {
		return w
	}
	f := r.st.floats(name)
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	r.cache[name] = out
	return out
}

// linear is y = W·x + b for a PyTorch Linear (W is [out, in]).
func (r *reference) linear(x []float64, module string) []float64 {
	w, b := r.w(module+".weight"), r.w(module+".bias")
	in := len(x)
	y := make([]float64, len(b))
	for j := range y {
		s := b[j]
		row := w[j*in : (j+1)*in]
		for i, v := range x {
			s += row[i] * v
		}
		y[j] = s
	}
	return y
}

func (r *reference) layerNorm(x []float64, module string) []float64 {
	g, b := r.w(module+".weight"), r.w(module+".bias")
	var mean, v float64
	for _, a := range x {
		mean += a
	}
	mean /= float64(len(x))
	for _, a := range x {
		v += (a - mean) * (a - mean)
	}
	v /= float64(len(x))
	y := make([]float64, len(x))
	for i, a := range x {
		y[i] = (a-mean)/math.Sqrt(v+1e-12)*g[i] + b[i]
	}
	return y
}

func (r *reference) logit(ids, types []int64) float64 {
	h := r.h
	word, pos, typ := r.w("bert.embeddings.word_embeddings.weight"), r.w("bert.embeddings.position_embeddings.weight"), r.w("bert.embeddings.token_type_embeddings.weight")
	x := make([][]float64, len(ids))
	for t := range ids {
		e := make([]float64, h)
		for i := range e {
			e[i] = word[int(ids[t])*h+i] + pos[t*h+i] + typ[int(types[t])*h+i]
		}
		x[t] = r.layerNorm(e, "bert.embeddings.LayerNorm")
	}
	dh := h / r.heads
	for l := 0; l < r.layers; l++ {
		p := fmt.Sprintf("bert.encoder.layer.%d.", l)
		q, k, v := make([][]float64, len(x)), make([][]float64, len(x)), make([][]float64, len(x))
		for t := range x {
			q[t] = r.linear(x[t], p+"attention.self.query")
			k[t] = r.linear(x[t], p+"attention.self.key")
			v[t] = r.linear(x[t], p+"attention.self.value")
		}
		next := make([][]float64, len(x))
		for t := range x {
			ctx := make([]float64, h)
			for hd := 0; hd < r.heads; hd++ {
				o := hd * dh
				scores := make([]float64, len(x))
				top := math.Inf(-1)
				for u := range x {
					var s float64
					for i := 0; i < dh; i++ {
						s += q[t][o+i] * k[u][o+i]
					}
					scores[u] = s / math.Sqrt(float64(dh))
					top = math.Max(top, scores[u])
				}
				var z float64
				for u := range scores {
					scores[u] = math.Exp(scores[u] - top)
					z += scores[u]
				}
				for u := range scores {
					for i := 0; i < dh; i++ {
						ctx[o+i] += scores[u] / z * v[u][o+i]
					}
				}
			}
			a := r.linear(ctx, p+"attention.output.dense")
			for i := range a {
				a[i] += x[t][i]
			}
			a = r.layerNorm(a, p+"attention.output.LayerNorm")
			f := r.linear(a, p+"intermediate.dense")
			for i, u := range f {
				f[i] = 0.5 * u * (1 + math.Erf(u/math.Sqrt2))
			}
			f = r.linear(f, p+"output.dense")
			for i := range f {
				f[i] += a[i]
			}
			next[t] = r.layerNorm(f, p+"output.LayerNorm")
		}
		x = next
	}
	pooled := r.linear(x[0], "bert.pooler.dense")
	for i, u := range pooled {
		pooled[i] = math.Tanh(u)
	}
	return r.linear(pooled, "classifier")[0]
}

// TestReferenceForward checks that the ONNX graph, run by ONNX Runtime
// (fused and unfused), computes BertForSequenceClassification over the
// weights of model.safetensors: the same logits as a float64 forward pass
// written here from the model definition.
func TestReferenceForward(t *testing.T) {
	dir := testenv.TwinDir(t)
	ref := &reference{st: readSafetensors(t, filepath.Join(dir, "model.safetensors")), layers: 6, h: 384, heads: 12, cache: map[string][]float64{}}
	model := filepath.Join(dir, "onnx", "model.onnx")
	sessions := map[string]*testenv.ORTSession{
		"fused":   testenv.NewORTSession(t, model, testenv.ORTOptions{Threads: 2}),
		"unfused": testenv.NewORTSession(t, model, testenv.ORTOptions{Threads: 2, NoOptimization: true}),
	}
	p := testenv.SyntheticPairs(4, 24, 99)
	want := make([]float64, p.N)
	for i := range want {
		ids, _, types := p.Row(i)
		want[i] = ref.logit(ids[:p.Lens[i]], types[:p.Lens[i]])
	}
	for name, s := range sessions {
		got, err := s.Score(p.N, p.L, p.IDs, p.Mask, p.Types)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i := range want {
			d := math.Abs(float64(got[i]) - want[i])
			worst = max(worst, d)
			if d > 1e-4 {
				t.Errorf("%s: pair %d (%d tokens): ORT %v, reference %v (|Δ| %.2g > 1e-4)", name, i, p.Lens[i], got[i], want[i], d)
			}
		}
		t.Logf("%s ORT vs float64 reference: max |Δlogit| %.2g over %d pairs (logits %v)", name, worst, p.N, got)
	}
}
