package onnx

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers from onnx.proto.
const (
	modelIRVersion       = 1
	modelProducerName    = 2
	modelProducerVersion = 3
	modelDomain          = 4
	modelModelVersion    = 5
	modelDocString       = 6
	modelGraph           = 7
	modelOpsetImport     = 8

	opsetDomain  = 1
	opsetVersion = 2

	graphNode        = 1
	graphName        = 2
	graphInitializer = 5
	graphDocString   = 10
	graphInput       = 11
	graphOutput      = 12
	graphValueInfo   = 13

	nodeInput     = 1
	nodeOutput    = 2
	nodeName      = 3
	nodeOpType    = 4
	nodeAttribute = 5
	nodeDomain    = 7

	attrName    = 1
	attrF       = 2
	attrI       = 3
	attrS       = 4
	attrT       = 5
	attrFloats  = 7
	attrInts    = 8
	attrStrings = 9
	attrType    = 20

	tensorDims       = 1
	tensorDataType   = 2
	tensorFloatData  = 4
	tensorInt32Data  = 5
	tensorInt64Data  = 7
	tensorName       = 8
	tensorRawData    = 9
	tensorDoubleData = 10
	tensorExternal   = 13
	tensorLocation   = 14

	valueName = 1
	valueType = 2

	typeTensor    = 1
	tensorElem    = 1
	tensorShape   = 2
	shapeDim      = 1
	dimValue      = 1
	dimParam      = 2
	dimDenotation = 3
)

// --- writing ----------------------------------------------------------------

// Marshal encodes the model as ONNX protobuf bytes.
func (m *Model) Marshal() ([]byte, error) {
	if m.Graph == nil {
		return nil, errors.New("onnx: marshal: model has no graph")
	}
	var b []byte
	b = appendVarintField(b, modelIRVersion, uint64(m.IRVersion))
	b = appendStringField(b, modelProducerName, m.ProducerName)
	b = appendStringField(b, modelProducerVersion, m.ProducerVersion)
	b = appendStringField(b, modelDomain, m.Domain)
	if m.ModelVersion != 0 {
		b = appendVarintField(b, modelModelVersion, uint64(m.ModelVersion))
	}
	b = appendStringField(b, modelDocString, m.DocString)
	g, err := marshalGraph(m.Graph)
	if err != nil {
		return nil, err
	}
	b = protowire.AppendTag(b, modelGraph, protowire.BytesType)
	b = protowire.AppendBytes(b, g)
	for _, o := range m.Opsets {
		var ob []byte
		if o.Domain != "" {
			ob = appendStringField(ob, opsetDomain, o.Domain)
		}
		ob = appendVarintField(ob, opsetVersion, uint64(o.Version))
		b = protowire.AppendTag(b, modelOpsetImport, protowire.BytesType)
		b = protowire.AppendBytes(b, ob)
	}
	return b, nil
}

// WriteFile marshals the model and writes it to path (0644).
func WriteFile(path string, m *Model) error {
	b, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("onnx: write %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("onnx: write %s: %w", path, err)
	}
	return nil
}

func marshalGraph(g *Graph) ([]byte, error) {
	var b []byte
	for _, n := range g.Nodes {
		nb, err := marshalNode(n)
		if err != nil {
			return nil, err
		}
		b = appendMessage(b, graphNode, nb)
	}
	b = appendStringField(b, graphName, g.Name)
	for _, t := range g.Initializers {
		tb, err := marshalTensor(t)
		if err != nil {
			return nil, err
		}
		b = appendMessage(b, graphInitializer, tb)
	}
	b = appendStringField(b, graphDocString, g.DocString)
	for _, list := range []struct {
		field protowire.Number
		vis   []*ValueInfo
	}{{graphInput, g.Inputs}, {graphOutput, g.Outputs}, {graphValueInfo, g.ValueInfo}} {
		for _, vi := range list.vis {
			b = appendMessage(b, list.field, marshalValueInfo(vi))
		}
	}
	return b, nil
}

func marshalNode(n *Node) ([]byte, error) {
	if n.OpType == "" {
		return nil, fmt.Errorf("onnx: node %q has no op_type", n.Name)
	}
	var b []byte
	for _, s := range n.Inputs {
		b = protowire.AppendTag(b, nodeInput, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	for _, s := range n.Outputs {
		b = protowire.AppendTag(b, nodeOutput, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	b = appendStringField(b, nodeName, n.Name)
	b = appendStringField(b, nodeOpType, n.OpType)
	for _, a := range n.Attrs {
		ab, err := marshalAttr(a)
		if err != nil {
			return nil, fmt.Errorf("onnx: node %q: %w", n.Name, err)
		}
		b = appendMessage(b, nodeAttribute, ab)
	}
	b = appendStringField(b, nodeDomain, n.Domain)
	return b, nil
}

func marshalAttr(a *Attribute) ([]byte, error) {
	var b []byte
	b = appendStringField(b, attrName, a.Name)
	switch a.Type {
	case AttrFloat:
		b = protowire.AppendTag(b, attrF, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	case AttrInt:
		b = protowire.AppendTag(b, attrI, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.I))
	case AttrString:
		b = protowire.AppendTag(b, attrS, protowire.BytesType)
		b = protowire.AppendBytes(b, a.S)
	case AttrTensor:
		if a.T == nil {
			return nil, fmt.Errorf("attribute %q: tensor is nil", a.Name)
		}
		tb, err := marshalTensor(a.T)
		if err != nil {
			return nil, err
		}
		b = appendMessage(b, attrT, tb)
	case AttrFloats:
		for _, f := range a.Floats {
			b = protowire.AppendTag(b, attrFloats, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, math.Float32bits(f))
		}
	case AttrInts:
		for _, i := range a.Ints {
			b = protowire.AppendTag(b, attrInts, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(i))
		}
	case AttrStrings:
		for _, s := range a.Strings {
			b = protowire.AppendTag(b, attrStrings, protowire.BytesType)
			b = protowire.AppendBytes(b, s)
		}
	default:
		return nil, fmt.Errorf("attribute %q: unsupported type %d", a.Name, a.Type)
	}
	b = appendVarintField(b, attrType, uint64(a.Type))
	return b, nil
}

func marshalTensor(t *Tensor) ([]byte, error) {
	if t.External == nil {
		if err := t.checkLen(); err != nil {
			return nil, err
		}
	} else if want := NumElements(t.Dims) * int64(t.DataType.Size()); t.External.Length != want {
		return nil, fmt.Errorf("onnx: tensor %q: external length %d for dims %v of %v (want %d)", t.Name, t.External.Length, t.Dims, t.DataType, want)
	}
	var b []byte
	for _, d := range t.Dims {
		b = protowire.AppendTag(b, tensorDims, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, tensorDataType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.DataType))
	b = appendStringField(b, tensorName, t.Name)
	if t.External == nil {
		b = protowire.AppendTag(b, tensorRawData, protowire.BytesType)
		b = protowire.AppendBytes(b, t.Raw)
		return b, nil
	}
	for _, kv := range [][2]string{{"location", t.External.Location}, {"offset", fmt.Sprint(t.External.Offset)}, {"length", fmt.Sprint(t.External.Length)}} {
		var e []byte
		e = appendStringField(e, 1, kv[0])
		e = appendStringField(e, 2, kv[1])
		b = appendMessage(b, tensorExternal, e)
	}
	b = appendVarintField(b, tensorLocation, 1)
	return b, nil
}

// externalAlign aligns external tensors to memory pages, so that ONNX
// Runtime can map them.
const externalAlign = 4096

// WriteFileExternal writes m to path with every initializer of at least
// minBytes bytes stored in dataName, a file beside path (ONNX external data,
// what a model over protobuf's 2 GB limit needs). m itself is not changed.
func WriteFileExternal(path string, m *Model, dataName string, minBytes int) error {
	if m.Graph == nil {
		return fmt.Errorf("onnx: write %s: model has no graph", path)
	}
	if dataName == "" || filepath.Base(dataName) != dataName {
		return fmt.Errorf("onnx: write %s: external data name %q must be a plain file name", path, dataName)
	}
	dataPath := filepath.Join(filepath.Dir(path), dataName)
	f, err := os.Create(dataPath)
	if err != nil {
		return fmt.Errorf("onnx: write %s: %w", path, err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	g := *m.Graph
	g.Initializers = make([]*Tensor, len(m.Graph.Initializers))
	off := int64(0)
	var pad [externalAlign]byte
	for i, t := range m.Graph.Initializers {
		g.Initializers[i] = t
		if len(t.Raw) < minBytes || len(t.Raw) == 0 {
			continue
		}
		if err := t.checkLen(); err != nil {
			return err
		}
		if r := off % externalAlign; r != 0 {
			if _, err := w.Write(pad[:externalAlign-r]); err != nil {
				return fmt.Errorf("onnx: write %s: %w", dataPath, err)
			}
			off += externalAlign - r
		}
		if _, err := w.Write(t.Raw); err != nil {
			return fmt.Errorf("onnx: write %s: %w", dataPath, err)
		}
		c := *t
		c.Raw = nil
		c.External = &ExternalData{Location: dataName, Offset: off, Length: int64(len(t.Raw))}
		g.Initializers[i] = &c
		off += int64(len(t.Raw))
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("onnx: write %s: %w", dataPath, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("onnx: write %s: %w", dataPath, err)
	}
	mm := *m
	mm.Graph = &g
	return WriteFile(path, &mm)
}

func marshalValueInfo(vi *ValueInfo) []byte {
	var tt []byte
	tt = appendVarintField(tt, tensorElem, uint64(vi.ElemType))
	if vi.HasShape || vi.Shape != nil {
		var sh []byte
		for _, d := range vi.Shape {
			var db []byte
			if d.Param != "" {
				db = appendStringField(db, dimParam, d.Param)
			} else {
				db = protowire.AppendTag(db, dimValue, protowire.VarintType)
				db = protowire.AppendVarint(db, uint64(d.Value))
			}
			sh = appendMessage(sh, shapeDim, db)
		}
		tt = appendMessage(tt, tensorShape, sh)
	}
	var typ []byte
	typ = appendMessage(typ, typeTensor, tt)
	var b []byte
	b = appendStringField(b, valueName, vi.Name)
	b = appendMessage(b, valueType, typ)
	return b
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func appendStringField(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// --- reading ----------------------------------------------------------------

// ReadFile reads and decodes an ONNX model file.
func ReadFile(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: read %s: %w", path, err)
	}
	m, err := Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("onnx: read %s: %w", path, err)
	}
	return m, nil
}

// Unmarshal decodes ONNX protobuf bytes. Tensors stored as external data are
// rejected; unknown fields are skipped.
func Unmarshal(b []byte) (*Model, error) {
	m := &Model{}
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case modelIRVersion:
			m.IRVersion = int64(x)
		case modelProducerName:
			m.ProducerName = string(v)
		case modelProducerVersion:
			m.ProducerVersion = string(v)
		case modelDomain:
			m.Domain = string(v)
		case modelModelVersion:
			m.ModelVersion = int64(x)
		case modelDocString:
			m.DocString = string(v)
		case modelGraph:
			g, err := unmarshalGraph(v)
			if err != nil {
				return err
			}
			m.Graph = g
		case modelOpsetImport:
			var o OpsetID
			if err := walk(v, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) error {
				switch num {
				case opsetDomain:
					o.Domain = string(v)
				case opsetVersion:
					o.Version = int64(x)
				}
				return nil
			}); err != nil {
				return fmt.Errorf("opset_import: %w", err)
			}
			m.Opsets = append(m.Opsets, o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("onnx: decode model: %w", err)
	}
	if m.Graph == nil {
		return nil, errors.New("onnx: decode model: no graph (not an ONNX model?)")
	}
	return m, nil
}

func unmarshalGraph(b []byte) (*Graph, error) {
	g := &Graph{}
	err := walk(b, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
		switch num {
		case graphNode:
			n, err := unmarshalNode(v)
			if err != nil {
				return err
			}
			g.Nodes = append(g.Nodes, n)
		case graphName:
			g.Name = string(v)
		case graphInitializer:
			t, err := unmarshalTensor(v)
			if err != nil {
				return err
			}
			g.Initializers = append(g.Initializers, t)
		case graphDocString:
			g.DocString = string(v)
		case graphInput, graphOutput, graphValueInfo:
			vi, err := unmarshalValueInfo(v)
			if err != nil {
				return err
			}
			switch num {
			case graphInput:
				g.Inputs = append(g.Inputs, vi)
			case graphOutput:
				g.Outputs = append(g.Outputs, vi)
			default:
				g.ValueInfo = append(g.ValueInfo, vi)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	return g, nil
}

func unmarshalNode(b []byte) (*Node, error) {
	n := &Node{}
	err := walk(b, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
		switch num {
		case nodeInput:
			n.Inputs = append(n.Inputs, string(v))
		case nodeOutput:
			n.Outputs = append(n.Outputs, string(v))
		case nodeName:
			n.Name = string(v)
		case nodeOpType:
			n.OpType = string(v)
		case nodeDomain:
			n.Domain = string(v)
		case nodeAttribute:
			a, err := unmarshalAttr(v)
			if err != nil {
				return err
			}
			n.Attrs = append(n.Attrs, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", n.Name, err)
	}
	return n, nil
}

func unmarshalAttr(b []byte) (*Attribute, error) {
	a := &Attribute{}
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case attrName:
			a.Name = string(v)
		case attrType:
			a.Type = AttrType(x)
		case attrF:
			a.F = math.Float32frombits(uint32(x))
		case attrI:
			a.I = int64(x)
		case attrS:
			a.S = append([]byte(nil), v...)
		case attrT:
			t, err := unmarshalTensor(v)
			if err != nil {
				return err
			}
			a.T = t
		case attrFloats:
			if typ == protowire.BytesType {
				for len(v) >= 4 {
					a.Floats = append(a.Floats, math.Float32frombits(binary.LittleEndian.Uint32(v)))
					v = v[4:]
				}
			} else {
				a.Floats = append(a.Floats, math.Float32frombits(uint32(x)))
			}
		case attrInts:
			if typ == protowire.BytesType {
				vals, err := packedVarints(v)
				if err != nil {
					return err
				}
				a.Ints = append(a.Ints, vals...)
			} else {
				a.Ints = append(a.Ints, int64(x))
			}
		case attrStrings:
			a.Strings = append(a.Strings, append([]byte(nil), v...))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
	}
	if a.Type == 0 { // very old files: infer the type from what is set
		switch {
		case a.T != nil:
			a.Type = AttrTensor
		case len(a.Ints) > 0:
			a.Type = AttrInts
		case len(a.Floats) > 0:
			a.Type = AttrFloats
		case a.S != nil:
			a.Type = AttrString
		}
	}
	return a, nil
}

func unmarshalTensor(b []byte) (*Tensor, error) {
	t := &Tensor{}
	var typed []byte // typed repeated data converted to little-endian bytes
	external := false
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case tensorDims:
			if typ == protowire.BytesType {
				vals, err := packedVarints(v)
				if err != nil {
					return err
				}
				t.Dims = append(t.Dims, vals...)
			} else {
				t.Dims = append(t.Dims, int64(x))
			}
		case tensorDataType:
			t.DataType = DataType(x)
		case tensorName:
			t.Name = string(v)
		case tensorRawData:
			t.Raw = append([]byte(nil), v...)
		case tensorFloatData:
			if typ == protowire.BytesType {
				typed = append(typed, v...)
			} else {
				typed = binary.LittleEndian.AppendUint32(typed, uint32(x))
			}
		case tensorDoubleData:
			if typ == protowire.BytesType {
				typed = append(typed, v...)
			} else {
				typed = binary.LittleEndian.AppendUint64(typed, x)
			}
		case tensorInt64Data, tensorInt32Data:
			vals := []int64{int64(x)}
			if typ == protowire.BytesType {
				var err error
				if vals, err = packedVarints(v); err != nil {
					return err
				}
			}
			for _, val := range vals {
				typed = appendTypedInt(typed, t.DataType, val)
			}
		case tensorExternal:
			external = true
		case tensorLocation:
			external = external || x == 1
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if external {
		return nil, fmt.Errorf("tensor %q: external data is not supported", t.Name)
	}
	if t.Raw == nil && typed != nil {
		t.Raw = typed
	}
	if t.Raw == nil {
		t.Raw = []byte{}
	}
	return t, nil
}

// appendTypedInt stores one element of int32_data / int64_data in the
// tensor's own element width (int32_data also carries int8, uint8, bool, ...).
func appendTypedInt(b []byte, dt DataType, v int64) []byte {
	switch dt.Size() {
	case 1:
		return append(b, byte(v))
	case 2:
		return binary.LittleEndian.AppendUint16(b, uint16(v))
	case 4:
		return binary.LittleEndian.AppendUint32(b, uint32(v))
	default:
		return binary.LittleEndian.AppendUint64(b, uint64(v))
	}
}

func unmarshalValueInfo(b []byte) (*ValueInfo, error) {
	vi := &ValueInfo{}
	err := walk(b, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
		switch num {
		case valueName:
			vi.Name = string(v)
		case valueType:
			return walk(v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
				if num != typeTensor {
					return nil
				}
				return walk(v, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) error {
					switch num {
					case tensorElem:
						vi.ElemType = DataType(x)
					case tensorShape:
						vi.HasShape = true
						vi.Shape = []Dim{}
						return walk(v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) error {
							if num != shapeDim {
								return nil
							}
							var d Dim
							err := walk(v, func(num protowire.Number, _ protowire.Type, v []byte, x uint64) error {
								switch num {
								case dimValue:
									d.Value = int64(x)
								case dimParam:
									d.Param = string(v)
								}
								return nil
							})
							vi.Shape = append(vi.Shape, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("value_info %q: %w", vi.Name, err)
	}
	return vi, nil
}

// walk calls fn for each field of a message: v holds the bytes of a
// length-delimited field, x the value of a varint or fixed field.
func walk(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x32 uint32
			x32, n = protowire.ConsumeFixed32(b)
			x = uint64(x32)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

func packedVarints(b []byte) ([]int64, error) {
	var out []int64
	for len(b) > 0 {
		x, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		out = append(out, int64(x))
		b = b[n:]
	}
	return out, nil
}
