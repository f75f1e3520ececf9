package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runModel runs `crossrank model ARGS...` in-process.
func runModel(t *testing.T, args ...string) (string, error) {
	t.Helper()
	c := newModelCmd()
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetErr(&out)
	c.SetArgs(args)
	err := c.Execute()
	return out.String(), err
}

func TestModelTwinAndQuantize(t *testing.T) {
	tmp := t.TempDir()
	fp32, int8 := filepath.Join(tmp, "fp32"), filepath.Join(tmp, "int8")
	out, err := runModel(t, "twin", "--out", fp32, "--layers", "1", "--hidden", "32", "--heads", "4", "--intermediate", "64", "--seed", "7")
	if err != nil {
		t.Fatalf("model twin: %v\n%s", err, out)
	}
	if !strings.Contains(out, "1 layers, hidden 32, 4 heads") || !strings.Contains(out, "seed 7") {
		t.Errorf("model twin said %q", out)
	}
	out, err = runModel(t, "quantize", "--in", fp32, "--out", int8)
	if err != nil {
		t.Fatalf("model quantize: %v\n%s", err, out)
	}
	for _, f := range []string{"fp32/config.json", "fp32/tokenizer.json", "fp32/onnx/model.onnx", "fp32/model.safetensors",
		"int8/config.json", "int8/tokenizer.json", "int8/onnx/model.onnx", "int8/onnx/model_quantized.onnx", "int8/quantize_config.json"} {
		if _, err := os.Stat(filepath.Join(tmp, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
}

func TestModelErrors(t *testing.T) {
	tmp := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"twin without --out", []string{"twin"}, "--out DIR is required"},
		{"twin heads", []string{"twin", "--out", tmp, "--heads", "5"}, "not a multiple of heads"},
		{"quantize without --in", []string{"quantize", "--out", tmp}, "--in DIR and --out DIR are required"},
		{"quantize in place", []string{"quantize", "--in", tmp, "--out", tmp + "/"}, "must differ"},
		{"quantize empty folder", []string{"quantize", "--in", tmp, "--out", filepath.Join(tmp, "o")}, "neither onnx/model.onnx nor model.onnx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runModel(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("model %v = %v (%s), want an error containing %q", tc.args, err, out, tc.want)
			}
		})
	}
}

func TestModelSubcommands(t *testing.T) {
	c := newModelCmd()
	var names []string
	for _, s := range c.Commands() {
		names = append(names, s.Name())
	}
	for _, want := range []string{"twin", "quantize"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("model subcommands %v lack %s", names, want)
		}
	}
}
