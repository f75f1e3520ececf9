package convert_test

import (
	"fmt"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/crossrank/crossrank/internal/testenv"
)

// graphRunner is a bare ONNX Runtime session over a converted graph with
// any subset of input_ids, attention_mask and token_type_ids and one float
// output, the real runtime the server uses (full graph optimisation).
type graphRunner struct {
	s      *ort.DynamicAdvancedSession
	inputs []string
}

func newRunner(t testing.TB, model string, inputs []string, output string) *graphRunner {
	t.Helper()
	testenv.InitORT(t)
	so, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatalf("session options: %v", err)
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(1); err != nil {
		t.Fatal(err)
	}
	if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll); err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewDynamicAdvancedSession(model, inputs, []string{output}, so)
	if err != nil {
		t.Fatalf("open %s: %v", model, err)
	}
	t.Cleanup(func() { s.Destroy() })
	return &graphRunner{s: s, inputs: inputs}
}

// rows pads the sequences to the longest (pad id pad) and returns the
// row-major ids, mask and type ids and the padded length.
func rows(seqs, types [][]int64, pad int64) (ids, mask, tt []int64, l int) {
	for _, s := range seqs {
		l = max(l, len(s))
	}
	n := len(seqs)
	ids, mask, tt = make([]int64, n*l), make([]int64, n*l), make([]int64, n*l)
	for i, s := range seqs {
		for j := 0; j < l; j++ {
			ids[i*l+j] = pad
			if j < len(s) {
				ids[i*l+j], mask[i*l+j] = s[j], 1
				if types != nil {
					tt[i*l+j] = types[i][j]
				}
			}
		}
	}
	return ids, mask, tt, l
}

// run feeds a padded batch and returns the output, n × width.
func (r *graphRunner) run(n, l int, ids, mask, types []int64) ([]float32, error) {
	shape := ort.NewShape(int64(n), int64(l))
	var ins []ort.Value
	defer func() {
		for _, v := range ins {
			v.Destroy()
		}
	}()
	for _, name := range r.inputs {
		d := map[string][]int64{"input_ids": ids, "attention_mask": mask, "token_type_ids": types}[name]
		if len(d) != n*l {
			return nil, fmt.Errorf("input %s: %d values for %d×%d", name, len(d), n, l)
		}
		tn, err := ort.NewTensor(shape, d)
		if err != nil {
			return nil, err
		}
		ins = append(ins, tn)
	}
	outs := []ort.Value{nil}
	if err := r.s.Run(ins, outs); err != nil {
		return nil, err
	}
	defer outs[0].Destroy()
	tn, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("output is %T, not float32", outs[0])
	}
	return append([]float32(nil), tn.GetData()...), nil
}
