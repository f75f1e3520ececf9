package onnx

import (
	"fmt"
	"math"
)

// Builder appends nodes and initializers to a Graph, naming node outputs
// the way torch.onnx.export does ("<node name>_output_0") and sharing
// constant initializers. The zero Builder is not usable; call NewBuilder.
type Builder struct {
	G      *Graph
	consts map[string]string // constant key -> initializer name
}

// NewBuilder returns a Builder writing into a new graph called name.
func NewBuilder(name string) *Builder {
	return &Builder{G: &Graph{Name: name}, consts: map[string]string{}}
}

// Node appends a single-output node called name and returns its output
// name (name + "_output_0").
func (b *Builder) Node(op, name string, inputs []string, attrs ...*Attribute) string {
	out := name + "_output_0"
	b.G.Nodes = append(b.G.Nodes, &Node{Name: name, OpType: op, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

// NodeTo appends a node whose single output is named out (a graph output).
func (b *Builder) NodeTo(op, name, out string, inputs []string, attrs ...*Attribute) string {
	b.G.Nodes = append(b.G.Nodes, &Node{Name: name, OpType: op, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

// Init adds an initializer and returns its name.
func (b *Builder) Init(t *Tensor) string {
	b.G.Initializers = append(b.G.Initializers, t)
	return t.Name
}

// Scalar returns a shared float32 scalar initializer.
func (b *Builder) Scalar(v float32) string {
	key := fmt.Sprintf("f%08x", math.Float32bits(v))
	if n, ok := b.consts[key]; ok {
		return n
	}
	n := fmt.Sprintf("/Constant_f32_%d", len(b.consts))
	b.consts[key] = b.Init(FloatTensor(n, nil, []float32{v}))
	return n
}

// Ints returns a shared int64 initializer (dims nil: a scalar).
func (b *Builder) Ints(dims []int64, v ...int64) string {
	key := fmt.Sprintf("i%v%v", dims, v)
	if n, ok := b.consts[key]; ok {
		return n
	}
	n := fmt.Sprintf("/Constant_i64_%d", len(b.consts))
	b.consts[key] = b.Init(Int64Tensor(n, dims, v))
	return n
}
