package onnx_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/onnx"
)

func TestWriteFileExternal(t *testing.T) {
	m := sample()
	dir := t.TempDir()
	p := filepath.Join(dir, "m.onnx")
	if err := onnx.WriteFileExternal(p, m, "m.onnx_data", 8); err != nil {
		t.Fatal(err)
	}
	// Only W (24 bytes) reaches the 8-byte threshold; q and u stay inline.
	data, err := os.ReadFile(filepath.Join(dir, "m.onnx_data"))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != string(m.Graph.Initializers[0].Raw) {
		t.Errorf("external data %v, want W's bytes %v", data, m.Graph.Initializers[0].Raw)
	}
	if m.Graph.Initializers[0].External != nil || m.Graph.Initializers[0].Raw == nil {
		t.Error("WriteFileExternal changed the caller's model")
	}
	// The reader refuses external data rather than returning empty weights.
	if _, err := onnx.ReadFile(p); err == nil || !strings.Contains(err.Error(), "external data is not supported") {
		t.Errorf("reading external data: err = %v", err)
	}
	for _, bad := range []string{"", "../x", "sub/x"} {
		if err := onnx.WriteFileExternal(p, m, bad, 8); err == nil {
			t.Errorf("data name %q accepted", bad)
		}
	}
	wrong := &onnx.Tensor{Name: "w", Dims: []int64{4}, DataType: onnx.Float, External: &onnx.ExternalData{Location: "x", Length: 8}}
	g := &onnx.Graph{Name: "g", Initializers: []*onnx.Tensor{wrong}}
	if _, err := (&onnx.Model{Graph: g}).Marshal(); err == nil || !strings.Contains(err.Error(), "external length 8") {
		t.Errorf("wrong external length: err = %v", err)
	}
}
