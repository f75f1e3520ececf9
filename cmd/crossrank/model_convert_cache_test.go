package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/convert"
	"github.com/crossrank/crossrank/internal/testenv"
)

// safetensorsOnly copies the twin's checkpoint files (no ONNX graph) into a
// new folder: a repository as most rerankers ship.
func safetensorsOnly(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	twin := testenv.TwinDir(t)
	dir := t.TempDir()
	files := map[string][]byte{}
	for _, f := range []string{"config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(twin, f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, files
}

// TestEnsureONNX: serve --model on a safetensors-only folder converts it once
// into the cache, logs it, and reuses the conversion on the next start; a
// folder with an ONNX file is served as is; a family convert cannot build
// is an error naming its model_type and the way out.
func TestEnsureONNX(t *testing.T) {
	dir, _ := safetensorsOnly(t)
	cache := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	first, err := ensureONNX(context.Background(), "m", dir, cache, log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, cache) || !convert.Complete(first) || !strings.Contains(logs.String(), "converted safetensors checkpoint") {
		t.Fatalf("first start: %s (complete %v), log:\n%s", first, convert.Complete(first), logs.String())
	}
	logs.Reset()
	again, err := ensureONNX(context.Background(), "m", dir, cache, log)
	if err != nil || again != first || !strings.Contains(logs.String(), "using the cached") {
		t.Fatalf("second start: %s %v, log:\n%s", again, err, logs.String())
	}
	twin := testenv.TwinDir(t)
	if got, err := ensureONNX(context.Background(), "twin", twin, cache, log); err != nil || got != twin {
		t.Errorf("folder with ONNX: %s %v", got, err)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"model_type": "gpt2", "architectures": ["GPT2ForSequenceClassification"]}`), 0o644)
	os.WriteFile(filepath.Join(bad, "model.safetensors"), []byte("{}"), 0o644)
	_, err = ensureONNX(context.Background(), "gpt", bad, cache, log)
	if err == nil || !strings.Contains(err.Error(), `"gpt2"`) || !strings.Contains(err.Error(), "optimum") {
		t.Errorf("unsupported family: %v, want model_type \"gpt2\" named and the Optimum way out", err)
	}
}

// TestModelPullConverts: `crossrank model pull` of a repository without an
// ONNX export downloads model.safetensors (from a local hub over loopback
// HTTP) and writes onnx/model.onnx beside it.
func TestModelPullConverts(t *testing.T) {
	_, files := safetensorsOnly(t)
	srv := httptest.NewServer(&hubFiles{repo: "org/reranker", commit: strings.Repeat("ab", 20), files: files})
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "m")
	stdout, err := runCommand(t, newModelCmd, "", "pull", "org/reranker", "--out", out, "--endpoint", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !isRegular(filepath.Join(out, "onnx", "model.onnx")) || !strings.Contains(stdout, "converted from model.safetensors") {
		t.Fatalf("pull of a safetensors-only repository: %s", stdout)
	}
	if got, err := ensureONNX(context.Background(), "m", out, t.TempDir(), slog.New(slog.DiscardHandler)); err != nil || got != out {
		t.Errorf("the pulled folder is served as is: %s %v", got, err)
	}
}
