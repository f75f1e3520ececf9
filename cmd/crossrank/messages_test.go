package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/sidecar/config"
)

func repeatsPrefix(msg string) (string, bool) {
	parts := strings.Split(msg, ": ")
	for i := 1; i < len(parts); i++ {
		if parts[i] == parts[i-1] && len(parts[i]) < 40 {
			return parts[i], true
		}
	}
	return "", false
}

// TestServeBindsFirst: a port in use is the error, naming the address,
// before any model is looked at (the model folder here does not exist).
func TestServeBindsFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := config.Default()
	cfg.Addr = ln.Addr().String()
	cfg.Models = []string{filepath.Join(t.TempDir(), "no-such-model")}
	err = runServe(context.Background(), cfg, os.Stderr)
	if err == nil || !strings.Contains(err.Error(), cfg.Addr) || strings.Contains(err.Error(), "no-such-model") {
		t.Fatalf("serve on a used port: %v, want the address %s named before the model is loaded", err, cfg.Addr)
	}
}

// TestCLIMessages: each message names what the user set, gives a hint that
// exists, and says no prefix twice.
func TestCLIMessages(t *testing.T) {
	root := testenv.Root(t)
	twin := testenv.TwinDir(t)
	input := `{"query": "q", "documents": ["a b c d e f"], "max_tokens_per_doc": 2}`
	tests := []struct {
		name     string
		setup    func(t *testing.T)
		cmd      command
		args     []string
		want     []string
		mustNot  []string
		succeeds bool
	}{
		{name: "bad CROSSRANK_ORT_LIB", setup: func(t *testing.T) { t.Setenv("CROSSRANK_ORT_LIB", "/nonexistent/libonnxruntime.so.1") },
			cmd: newServeCmd, args: []string{"--model", twin, "--addr", "127.0.0.1:0"}, want: []string{"CROSSRANK_ORT_LIB", "/nonexistent/libonnxruntime.so.1"}, mustNot: []string{"--ort-lib"}},
		{name: "bad --ort-lib", cmd: newServeCmd, args: []string{"--model", twin, "--addr", "127.0.0.1:0", "--ort-lib", "/nonexistent/x.so"}, want: []string{"--ort-lib"}},
		{name: "unknown plugin", cmd: newPluginCmd, args: []string{"run", "--plugin", "nosuch", "--plugin-dir", filepath.Join(root, "plugins", "wasm")}, want: []string{`"nosuch"`, "available", "truncate"}},
		{name: "plugin run in a subfolder of the checkout", setup: func(t *testing.T) { t.Chdir(filepath.Join(root, "docs")) },
			cmd: newPluginCmd, args: []string{"run", "--plugin", "truncate"}, succeeds: true},
		{name: "plugin run outside the checkout", setup: func(t *testing.T) { t.Chdir(t.TempDir()) },
			cmd: newPluginCmd, args: []string{"run", "--plugin", "truncate"}, want: []string{"plugin folder", "--plugin-dir"}, mustNot: []string{"available"}},
		{name: "convert of a folder without config.json", cmd: newModelCmd, args: []string{"convert", "--in", t.TempDir(), "--out", filepath.Join(t.TempDir(), "out")}, want: []string{"config.json"}},
		{name: "quantize of a folder without a model", cmd: newModelCmd, args: []string{"quantize", "--in", t.TempDir(), "--out", filepath.Join(t.TempDir(), "out")}, want: []string{"quantize"}},
		{name: "--model-pull with the hub unreachable", setup: func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close() // nothing listens there now
			t.Setenv("HF_ENDPOINT", "http://"+addr)
		}, cmd: newServeCmd, args: []string{"--model-pull", "org/model", "--model-cache", t.TempDir(), "--addr", "127.0.0.1:0"}, want: []string{"--model-pull org/model", "HF_ENDPOINT"}, mustNot: []string{"--endpoint"}},
		{name: "bad pipelines file", cmd: newServeCmd, args: []string{"--model", twin, "--addr", "127.0.0.1:0", "--pipelines-file", "/nonexistent/p.yaml"}, want: []string{"pipelines file", "/nonexistent/p.yaml"}, mustNot: []string{"pipelines: pipelines"}},
		{name: "pipeline with a missing plugin", setup: func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "p.yaml")
			os.WriteFile(p, []byte("pipelines:\n  clean:\n    - plugin: nosuch\n"), 0o644)
			t.Setenv("CROSSRANK_PIPELINES_FILE", p)
		}, cmd: newServeCmd, args: []string{"--model", twin, "--addr", "127.0.0.1:0", "--plugin-dir", filepath.Join(root, "plugins", "wasm")}, want: []string{`"nosuch"`, "available"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			_, err := runCommand(t, tt.cmd, input, tt.args...)
			if tt.succeeds {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("succeeded")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not mention %q", msg, w)
				}
			}
			for _, w := range tt.mustNot {
				if strings.Contains(msg, w) {
					t.Errorf("%q mentions %q", msg, w)
				}
			}
			if p, ok := repeatsPrefix(msg); ok {
				t.Errorf("%q repeats the prefix %q", msg, p)
			}
		})
	}
}
