// Package onnx is a minimal reader and writer for ONNX model files
// (onnx.proto: ModelProto, GraphProto, NodeProto, TensorProto,
// ValueInfoProto, AttributeProto, OperatorSetIdProto), written directly with
// google.golang.org/protobuf/encoding/protowire, without generated code.
//
// It covers what the shape twin, the int8 quantiser and the safetensors
// converter need: dense tensors (raw_data, or the typed repeated fields on
// read; external data on write, WriteFileExternal), scalar and list
// attributes, tensor-typed graph inputs and outputs with fixed or symbolic
// dimensions, and a Builder that appends nodes the way torch.onnx.export
// names them. Fields it does not model are skipped on read and never written.
// Output is deterministic: the same Model always marshals to the same bytes.
package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DataType is TensorProto.DataType.
type DataType int32

// Tensor element types (TensorProto.DataType values).
const (
	Undefined DataType = 0
	Float     DataType = 1
	Uint8     DataType = 2
	Int8      DataType = 3
	Uint16    DataType = 4
	Int16     DataType = 5
	Int32     DataType = 6
	Int64     DataType = 7
	String    DataType = 8
	Bool      DataType = 9
	Float16   DataType = 10
	Double    DataType = 11
)

// Size is the element size in bytes (0 for strings and unknown types).
func (d DataType) Size() int {
	switch d {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16, Float16:
		return 2
	case Float, Int32:
		return 4
	case Int64, Double:
		return 8
	}
	return 0
}

func (d DataType) String() string {
	names := map[DataType]string{Float: "float", Uint8: "uint8", Int8: "int8", Uint16: "uint16", Int16: "int16",
		Int32: "int32", Int64: "int64", String: "string", Bool: "bool", Float16: "float16", Double: "double"}
	if n, ok := names[d]; ok {
		return n
	}
	return fmt.Sprintf("DataType(%d)", int32(d))
}

// AttrType is AttributeProto.AttributeType.
type AttrType int32

// Attribute types.
const (
	AttrFloat   AttrType = 1
	AttrInt     AttrType = 2
	AttrString  AttrType = 3
	AttrTensor  AttrType = 4
	AttrFloats  AttrType = 6
	AttrInts    AttrType = 7
	AttrStrings AttrType = 8
)

// Model is a ModelProto.
type Model struct {
	IRVersion       int64
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	Opsets          []OpsetID
	Graph           *Graph
}

// OpsetID is an OperatorSetIdProto; Domain "" is the default ONNX domain.
type OpsetID struct {
	Domain  string
	Version int64
}

// Graph is a GraphProto.
type Graph struct {
	Name         string
	Nodes        []*Node
	Initializers []*Tensor
	Inputs       []*ValueInfo
	Outputs      []*ValueInfo
	ValueInfo    []*ValueInfo
	DocString    string
}

// OpCounts returns how many nodes of each op type the graph holds.
func (g *Graph) OpCounts() map[string]int {
	ops := make(map[string]int)
	for _, n := range g.Nodes {
		ops[n.OpType]++
	}
	return ops
}

// Node is a NodeProto.
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Inputs  []string
	Outputs []string
	Attrs   []*Attribute
}

// Attr returns the node's attribute called name, or nil.
func (n *Node) Attr(name string) *Attribute {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Attribute is an AttributeProto (the scalar, string, tensor and list kinds).
type Attribute struct {
	Name    string
	Type    AttrType
	F       float32
	I       int64
	S       []byte
	T       *Tensor
	Floats  []float32
	Ints    []int64
	Strings [][]byte
}

// Tensor is a dense TensorProto. Raw holds the little-endian element bytes
// (what raw_data holds); typed repeated fields are converted to Raw on read.
type Tensor struct {
	Name     string
	Dims     []int64
	DataType DataType
	Raw      []byte
	// External, when set, places the data in a separate file (ONNX external
	// data) instead of Raw; WriteFileExternal sets it on the copies it
	// writes. Reading external data is not supported.
	External *ExternalData
}

// ExternalData locates a tensor's bytes in a file beside the model
// (TensorProto.external_data with data_location EXTERNAL).
type ExternalData struct {
	Location string // file name, relative to the model file
	Offset   int64
	Length   int64
}

// ValueInfo is a ValueInfoProto of tensor type.
type ValueInfo struct {
	Name     string
	ElemType DataType
	Shape    []Dim // nil: shape unknown
	HasShape bool
}

// Dim is one dimension: a fixed Value, or a symbolic Param ("batch_size").
type Dim struct {
	Value int64
	Param string
}

// --- constructors -----------------------------------------------------------

// NumElements is the product of the dims (1 for a scalar).
func NumElements(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n
}

// FloatTensor makes a float32 tensor; len(data) must equal the dims' product.
func FloatTensor(name string, dims []int64, data []float32) *Tensor {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return &Tensor{Name: name, Dims: append([]int64(nil), dims...), DataType: Float, Raw: raw}
}

// Int64Tensor makes an int64 tensor.
func Int64Tensor(name string, dims []int64, data []int64) *Tensor {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return &Tensor{Name: name, Dims: append([]int64(nil), dims...), DataType: Int64, Raw: raw}
}

// Int8Tensor makes an int8 tensor.
func Int8Tensor(name string, dims []int64, data []int8) *Tensor {
	raw := make([]byte, len(data))
	for i, v := range data {
		raw[i] = byte(v)
	}
	return &Tensor{Name: name, Dims: append([]int64(nil), dims...), DataType: Int8, Raw: raw}
}

// Uint8Tensor makes a uint8 tensor.
func Uint8Tensor(name string, dims []int64, data []uint8) *Tensor {
	return &Tensor{Name: name, Dims: append([]int64(nil), dims...), DataType: Uint8, Raw: append([]byte(nil), data...)}
}

// Floats decodes a float32 tensor.
func (t *Tensor) Floats() ([]float32, error) {
	if t.DataType != Float {
		return nil, fmt.Errorf("onnx: tensor %q is %v, not float", t.Name, t.DataType)
	}
	if err := t.checkLen(); err != nil {
		return nil, err
	}
	out := make([]float32, len(t.Raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Raw[4*i:]))
	}
	return out, nil
}

// Int64s decodes an int64 tensor.
func (t *Tensor) Int64s() ([]int64, error) {
	if t.DataType != Int64 {
		return nil, fmt.Errorf("onnx: tensor %q is %v, not int64", t.Name, t.DataType)
	}
	if err := t.checkLen(); err != nil {
		return nil, err
	}
	out := make([]int64, len(t.Raw)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(t.Raw[8*i:]))
	}
	return out, nil
}

func (t *Tensor) checkLen() error {
	want := NumElements(t.Dims) * int64(t.DataType.Size())
	if int64(len(t.Raw)) != want {
		return fmt.Errorf("onnx: tensor %q: %d data bytes for dims %v of %v (want %d)", t.Name, len(t.Raw), t.Dims, t.DataType, want)
	}
	return nil
}

// Input makes a graph input or output description with the given dims; an
// int dim is fixed, a string dim is symbolic.
func Input(name string, elem DataType, dims ...any) *ValueInfo {
	vi := &ValueInfo{Name: name, ElemType: elem, HasShape: true, Shape: []Dim{}}
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			vi.Shape = append(vi.Shape, Dim{Value: int64(d)})
		case int64:
			vi.Shape = append(vi.Shape, Dim{Value: d})
		case string:
			vi.Shape = append(vi.Shape, Dim{Param: d})
		default:
			panic(fmt.Sprintf("onnx.Input: dim %v of type %T", d, d))
		}
	}
	return vi
}

// Int makes an INT attribute.
func Int(name string, v int64) *Attribute { return &Attribute{Name: name, Type: AttrInt, I: v} }

// Ints makes an INTS attribute.
func Ints(name string, v ...int64) *Attribute {
	return &Attribute{Name: name, Type: AttrInts, Ints: append([]int64{}, v...)}
}

// FloatAttr makes a FLOAT attribute.
func FloatAttr(name string, v float32) *Attribute {
	return &Attribute{Name: name, Type: AttrFloat, F: v}
}

// Str makes a STRING attribute.
func Str(name, v string) *Attribute { return &Attribute{Name: name, Type: AttrString, S: []byte(v)} }

// TensorAttr makes a TENSOR attribute.
func TensorAttr(name string, t *Tensor) *Attribute {
	return &Attribute{Name: name, Type: AttrTensor, T: t}
}
