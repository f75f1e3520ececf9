package onnx_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/crossrank/crossrank/internal/onnx"
)

func sample() *onnx.Model {
	g := &onnx.Graph{
		Name: "g",
		Nodes: []*onnx.Node{
			{Name: "mm", OpType: "MatMul", Inputs: []string{"x", "W"}, Outputs: []string{"y"}},
			{Name: "sm", OpType: "Softmax", Inputs: []string{"y"}, Outputs: []string{"z"}, Attrs: []*onnx.Attribute{onnx.Int("axis", -1)}},
			{Name: "c", OpType: "Constant", Outputs: []string{"k"}, Attrs: []*onnx.Attribute{onnx.TensorAttr("value", onnx.Int64Tensor("", []int64{2}, []int64{-1, 7}))}},
			{Name: "a", OpType: "Attention", Domain: "com.microsoft", Inputs: []string{"z", "", "k"}, Outputs: []string{"o"},
				Attrs: []*onnx.Attribute{onnx.Ints("perm", 0, 2, -1), onnx.FloatAttr("eps", 1e-12), onnx.Str("mode", "x"),
					{Name: "fs", Type: onnx.AttrFloats, Floats: []float32{0.5, -2}}}},
		},
		Initializers: []*onnx.Tensor{
			onnx.FloatTensor("W", []int64{2, 3}, []float32{1, 2, 3, 4, 5, -6.5}),
			onnx.Int8Tensor("q", []int64{3}, []int8{-127, 0, 127}),
			onnx.Uint8Tensor("u", nil, []uint8{255}),
		},
		Inputs:    []*onnx.ValueInfo{onnx.Input("x", onnx.Float, "batch", 2)},
		Outputs:   []*onnx.ValueInfo{onnx.Input("o", onnx.Float, "batch", int64(3))},
		ValueInfo: []*onnx.ValueInfo{{Name: "y", ElemType: onnx.Float}},
	}
	return &onnx.Model{IRVersion: 6, ProducerName: "test", ProducerVersion: "1", Opsets: []onnx.OpsetID{{Version: 11}, {Domain: "com.microsoft", Version: 1}}, Graph: g}
}

func TestRoundTrip(t *testing.T) {
	m := sample()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := onnx.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip changed the model:\n got %+v\nwant %+v", got.Graph, m.Graph)
	}
	again, err := got.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b) {
		t.Error("re-marshalling a decoded model gave different bytes")
	}
	p := filepath.Join(t.TempDir(), "m.onnx")
	if err := onnx.WriteFile(p, m); err != nil {
		t.Fatal(err)
	}
	if f, err := onnx.ReadFile(p); err != nil || !reflect.DeepEqual(f, m) {
		t.Errorf("ReadFile = %v, %v", f, err)
	}
}

func TestOpCounts(t *testing.T) {
	g := sample().Graph
	g.Nodes = append(g.Nodes, &onnx.Node{Name: "mm2", OpType: "MatMul"})
	want := map[string]int{"MatMul": 2, "Softmax": 1, "Constant": 1, "Attention": 1}
	if got := g.OpCounts(); !reflect.DeepEqual(got, want) {
		t.Errorf("OpCounts = %v, want %v", got, want)
	}
}

// TestTypedFields decodes tensors and attributes written the ways other
// exporters write them: typed (non-raw) data, packed and unpacked repeated
// fields.
func TestTypedFields(t *testing.T) {
	tensor := func(dt onnx.DataType, field protowire.Number, packed bool, vals ...uint64) []byte {
		var b []byte
		b = protowire.AppendTag(b, 1, protowire.VarintType) // dims
		b = protowire.AppendVarint(b, uint64(len(vals)))
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(dt))
		b = protowire.AppendTag(b, 8, protowire.BytesType)
		b = protowire.AppendString(b, "t")
		if field == 4 { // float_data, packed fixed32
			var p []byte
			for _, v := range vals {
				p = protowire.AppendFixed32(p, uint32(v))
			}
			b = protowire.AppendTag(b, field, protowire.BytesType)
			return protowire.AppendBytes(b, p)
		}
		if packed {
			var p []byte
			for _, v := range vals {
				p = protowire.AppendVarint(p, v)
			}
			b = protowire.AppendTag(b, field, protowire.BytesType)
			return protowire.AppendBytes(b, p)
		}
		for _, v := range vals {
			b = protowire.AppendTag(b, field, protowire.VarintType)
			b = protowire.AppendVarint(b, v)
		}
		return b
	}
	model := func(tb []byte) []byte {
		var g []byte
		g = protowire.AppendTag(g, 5, protowire.BytesType)
		g = protowire.AppendBytes(g, tb)
		var m []byte
		m = protowire.AppendTag(m, 7, protowire.BytesType)
		return protowire.AppendBytes(m, g)
	}
	neg := uint64(1<<64 - 3) // -3 as a varint
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"int64 unpacked", tensor(onnx.Int64, 7, false, 5, neg), "[5 -3]"},
		{"int64 packed", tensor(onnx.Int64, 7, true, 5, neg, 9), "[5 -3 9]"},
		{"float packed", tensor(onnx.Float, 4, true, 0x3f800000, 0xc0000000), "[1 -2]"},
		{"int8 in int32_data", tensor(onnx.Int8, 5, true, neg, 4), "[253 4]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := onnx.Unmarshal(model(tc.b))
			if err != nil {
				t.Fatal(err)
			}
			x := m.Graph.Initializers[0]
			var got any = x.Raw
			switch x.DataType {
			case onnx.Int64:
				got, err = x.Int64s()
			case onnx.Float:
				got, err = x.Floats()
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != tc.want {
				t.Errorf("decoded %v, want %s", got, tc.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"garbage", []byte("not a model at all"), "decode model"},
		{"truncated", func() []byte { b, _ := sample().Marshal(); return b[:len(b)/2] }(), "decode model"},
		{"no graph", protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 7), "no graph"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := onnx.Unmarshal(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Unmarshal = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	bad := sample()
	bad.Graph.Initializers[0].Dims = []int64{4, 4}
	if _, err := bad.Marshal(); err == nil || !strings.Contains(err.Error(), "data bytes") {
		t.Errorf("Marshal with a short tensor = %v", err)
	}
	if _, err := (&onnx.Model{}).Marshal(); err == nil {
		t.Error("Marshal without a graph succeeded")
	}
	if _, err := onnx.FloatTensor("x", []int64{1}, []float32{1}).Int64s(); err == nil {
		t.Error("Int64s on a float tensor succeeded")
	}
}

func Example() {
	g := &onnx.Graph{
		Name:         "double",
		Nodes:        []*onnx.Node{{Name: "mul", OpType: "Mul", Inputs: []string{"x", "two"}, Outputs: []string{"y"}}},
		Initializers: []*onnx.Tensor{onnx.FloatTensor("two", nil, []float32{2})},
		Inputs:       []*onnx.ValueInfo{onnx.Input("x", onnx.Float, "n")},
		Outputs:      []*onnx.ValueInfo{onnx.Input("y", onnx.Float, "n")},
	}
	m := &onnx.Model{IRVersion: 7, ProducerName: "example", Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}
	b, err := m.Marshal()
	if err != nil {
		fmt.Println(err)
		return
	}
	back, err := onnx.Unmarshal(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	two, _ := back.Graph.Initializers[0].Floats()
	fmt.Println(back.Graph.Nodes[0].OpType, back.Graph.Inputs[0].Shape[0].Param, two)
	// Output: Mul n [2]
}
