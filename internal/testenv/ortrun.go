package testenv

import (
	"fmt"
	"math"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

// InitORT initialises the process-wide ONNX Runtime environment with
// ORTLib(t), once per test binary (later calls find it initialised). Call
// it from a test's goroutine before any parallel subtests start.
func InitORT(t testing.TB) {
	t.Helper()
	if ort.IsInitialized() {
		return
	}
	ort.SetSharedLibraryPath(ORTLib(t))
	if err := ort.InitializeEnvironment(); err != nil {
		t.Fatalf("testenv: initialise ONNX Runtime: %v", err)
	}
}

// ORTSession is a bare ONNX Runtime session over a BERT-style model with
// inputs input_ids, attention_mask, token_type_ids and output logits, for
// tests that must not depend on the models/ort backend.
type ORTSession struct {
	s *ort.DynamicAdvancedSession
}

// ORTOptions configures NewORTSession.
type ORTOptions struct {
	Threads        int    // intra-op threads (0: 1)
	OptimizedModel string // when set, ORT writes its optimised graph here
	NoOptimization bool   // graph optimisation off (default: all)
}

// NewORTSession opens model (an .onnx path) on the CPU provider; the session
// is destroyed when the test ends.
func NewORTSession(t testing.TB, model string, o ORTOptions) *ORTSession {
	t.Helper()
	InitORT(t)
	so, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatalf("testenv: session options: %v", err)
	}
	defer so.Destroy()
	threads := max(o.Threads, 1)
	check := func(what string, err error) {
		if err != nil {
			t.Fatalf("testenv: %s: %v", what, err)
		}
	}
	check("intra-op threads", so.SetIntraOpNumThreads(threads))
	check("inter-op threads", so.SetInterOpNumThreads(1))
	level := ort.GraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll)
	if o.NoOptimization {
		level = ort.GraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll)
	}
	check("optimisation level", so.SetGraphOptimizationLevel(level))
	if o.OptimizedModel != "" {
		check("optimised model path", so.SetOptimizedModelFilePath(o.OptimizedModel))
	}
	s, err := ort.NewDynamicAdvancedSession(model, []string{"input_ids", "attention_mask", "token_type_ids"}, []string{"logits"}, so)
	if err != nil {
		t.Fatalf("testenv: open %s: %v", model, err)
	}
	t.Cleanup(func() { s.Destroy() })
	return &ORTSession{s: s}
}

// Score runs one padded batch: n rows of length l (row-major ids, mask and
// type ids) and returns the logits, n×labels.
func (s *ORTSession) Score(n, l int, ids, mask, types []int64) ([]float32, error) {
	shape := ort.NewShape(int64(n), int64(l))
	var ins []ort.Value
	defer func() {
		for _, v := range ins {
			v.Destroy()
		}
	}()
	for _, d := range [][]int64{ids, mask, types} {
		if len(d) != n*l {
			return nil, fmt.Errorf("testenv: score: %d values for %d×%d", len(d), n, l)
		}
		tn, err := ort.NewTensor(shape, d)
		if err != nil {
			return nil, fmt.Errorf("testenv: score: %w", err)
		}
		ins = append(ins, tn)
	}
	outs := []ort.Value{nil}
	if err := s.s.Run(ins, outs); err != nil {
		return nil, fmt.Errorf("testenv: score: %w", err)
	}
	defer outs[0].Destroy()
	tn, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("testenv: score: logits are %T, not float32", outs[0])
	}
	return append([]float32(nil), tn.GetData()...), nil
}

// AloneVsBatch scores p as one padded batch and each pair alone (unpadded)
// on s, and returns |alone - batched| per pair; any Score error fails t.
func AloneVsBatch(t testing.TB, s *ORTSession, p *Pairs) []float64 {
	t.Helper()
	batch, err := s.Score(p.N, p.L, p.IDs, p.Mask, p.Types)
	if err != nil {
		t.Fatal(err)
	}
	diffs := make([]float64, p.N)
	for i := range p.N {
		ids, mask, types := p.Row(i)
		n := p.Lens[i]
		alone, err := s.Score(1, n, ids[:n], mask[:n], types[:n])
		if err != nil {
			t.Fatal(err)
		}
		diffs[i] = math.Abs(float64(alone[0] - batch[i]))
	}
	return diffs
}

// Pairs is a padded batch of (query, passage) token sequences.
type Pairs struct {
	N, L             int
	IDs, Mask, Types []int64
	Lens             []int
}

// Row returns row i's ids, mask and type ids (views into the batch).
func (p *Pairs) Row(i int) (ids, mask, types []int64) {
	o := i * p.L
	return p.IDs[o : o+p.L], p.Mask[o : o+p.L], p.Types[o : o+p.L]
}

// SyntheticPairs builds n varied pairs [CLS] q [SEP] p [SEP] of random
// word-piece ids (1996..30521, the bert-base-uncased non-special range) with
// query lengths 2..12 and passage lengths so that each row has at most l
// tokens (at least 8), padded to l. It is deterministic in seed.
func SyntheticPairs(n, l int, seed uint64) *Pairs {
	r := newPCG(seed)
	p := &Pairs{N: n, L: l, IDs: make([]int64, n*l), Mask: make([]int64, n*l), Types: make([]int64, n*l), Lens: make([]int, n)}
	for i := 0; i < n; i++ {
		ids, mask, types := p.Row(i)
		q := min(2+int(r.next()%11), (l-3)/2)
		pl := 1 + int(r.next()%uint64(l-3-q))
		k := 0
		put := func(id int64, typ int64) { ids[k], mask[k], types[k] = id, 1, typ; k++ }
		put(101, 0)
		for j := 0; j < q; j++ {
			put(1996+int64(r.next()%(30522-1996)), 0)
		}
		put(102, 0)
		for j := 0; j < pl; j++ {
			put(1996+int64(r.next()%(30522-1996)), 1)
		}
		put(102, 1)
		p.Lens[i] = k
	}
	return p
}

// pcg is a tiny deterministic generator (SplitMix64) for test data.
type pcg struct{ s uint64 }

func newPCG(seed uint64) *pcg { return &pcg{s: seed} }

func (p *pcg) next() uint64 {
	p.s += 0x9e3779b97f4a7c15
	z := p.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
