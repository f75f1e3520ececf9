package onnx_test

import (
	"testing"

	"github.com/crossrank/crossrank/internal/onnx"
)

func TestBuilder(t *testing.T) {
	b := onnx.NewBuilder("g")
	two := b.Scalar(2)
	if again := b.Scalar(2); again != two {
		t.Errorf("Scalar(2) twice gave %q and %q, want one shared initializer", two, again)
	}
	if b.Scalar(3) == two {
		t.Error("Scalar(3) shares Scalar(2)'s initializer")
	}
	shape := b.Ints([]int64{2}, 0, -1)
	if b.Ints([]int64{2}, 0, -1) != shape || b.Ints(nil, 0) == shape {
		t.Error("Ints sharing is wrong")
	}
	y := b.Node("Mul", "/mul", []string{"x", two})
	if y != "/mul_output_0" {
		t.Errorf("Node output %q", y)
	}
	b.NodeTo("Reshape", "/out", "out", []string{y, shape})
	if len(b.G.Initializers) != 4 || len(b.G.Nodes) != 2 || b.G.Nodes[1].Outputs[0] != "out" || b.G.Name != "g" {
		t.Errorf("graph %+v", b.G)
	}
	b.G.Inputs = []*onnx.ValueInfo{onnx.Input("x", onnx.Float, "n")}
	b.G.Outputs = []*onnx.ValueInfo{onnx.Input("out", onnx.Float, "n")}
	m := &onnx.Model{IRVersion: 6, Opsets: []onnx.OpsetID{{Version: 11}}, Graph: b.G}
	raw, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := onnx.Unmarshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	if ops := back.Graph.OpCounts(); ops["Mul"] != 1 || ops["Reshape"] != 1 {
		t.Errorf("op counts %v", ops)
	}
}
