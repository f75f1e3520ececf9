package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/twin"
)

func TestModelConvert(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "hf")
	cfg := twin.Config{Layers: 1, Hidden: 32, Heads: 4, Intermediate: 64, Vocab: 30522, MaxPositions: 128, TypeVocab: 2, NumLabels: 1, Seed: 3}
	if err := twin.Write(src, cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(src, "onnx")); err != nil { // safetensors only
		t.Fatal(err)
	}
	out, err := runCommand(t, newModelConvertCmd, "", "--in", src, "--out", filepath.Join(tmp, "int8"), "--int8")
	if err != nil {
		t.Fatalf("model convert: %v\n%s", err, out)
	}
	if !strings.Contains(out, "bert cross-encoder graph") || !strings.Contains(out, "output logits [N, 1]") || !strings.Contains(out, "last layer [CLS] only") || !strings.Contains(out, "int8 true") {
		t.Errorf("model convert said %q", out)
	}
	for _, f := range []string{"config.json", "tokenizer.json", "crossrank.json", "quantize_config.json", "onnx/model.onnx", "onnx/model_quantized.onnx"} {
		if _, err := os.Stat(filepath.Join(tmp, "int8", f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}

	bad := filepath.Join(tmp, "bad")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"model_type":"funnel"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no flags", nil, "--in DIR and --out DIR are required"},
		{"unsupported family", []string{"--in", bad, "--out", filepath.Join(tmp, "o")}, `model_type "funnel"`},
		{"missing folder", []string{"--in", filepath.Join(tmp, "nope"), "--out", filepath.Join(tmp, "o")}, "config.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runCommand(t, newModelConvertCmd, "", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
