// Package testenv holds helpers for tests: the repository root, the ONNX
// Runtime library, and the cached shape-twin model folders (generated on
// first use, under a lock so parallel test binaries do not race).
//
// Tests only: nothing outside _test.go files may import it.
package testenv

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/crossrank/crossrank/internal/quantize"
	"github.com/crossrank/crossrank/internal/twin"
)

// EnvORTLib names the ONNX Runtime library, overriding the cached one.
const EnvORTLib = "CROSSRANK_ORT_LIB"

// Root returns the repository root: the nearest folder at or above the
// working directory that holds go.mod.
func Root(t testing.TB) string {
	t.Helper()
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func findRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testenv: working directory: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("testenv: no go.mod at or above %s", wd)
		}
	}
}

// ORTLib returns the ONNX Runtime shared library: $CROSSRANK_ORT_LIB when
// set, else .cache/ort/libonnxruntime.so.1 (libonnxruntime.dylib on macOS)
// under the root. It fails the test, saying to run make setup-ort, when the
// library is missing.
func ORTLib(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvORTLib); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("testenv: $%s=%s: %v (run make setup-ort, or unset it)", EnvORTLib, p, err)
		}
		return p
	}
	name := "libonnxruntime.so.1"
	if runtime.GOOS == "darwin" {
		name = "libonnxruntime.dylib"
	}
	p := filepath.Join(Root(t), ".cache", "ort", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testenv: ONNX Runtime library %s is missing: run make setup-ort", p)
	}
	return p
}

// TwinDir returns .cache/models/twin under the root: the default shape twin
// (twin.Default(), seed 42). It is generated when missing or when it was
// written by another twin.Version.
func TwinDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(Root(t), ".cache", "models", "twin")
	if err := ensure(dir, twinFresh, func(tmp string) error { return twin.Write(tmp, twin.Default()) }); err != nil {
		t.Fatalf("testenv: twin: %v (try make setup-twin)", err)
	}
	return dir
}

// TwinAllTokensDir returns .cache/models/twin-all-tokens under the root: the
// default twin with twin.Config.AllTokens (every token kept through the
// last layer, where TwinDir's graph computes [CLS] alone), for
// comparisons. Generated when missing or stale.
func TwinAllTokensDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(Root(t), ".cache", "models", "twin-all-tokens")
	cfg := twin.Default()
	cfg.AllTokens = true
	if err := ensure(dir, twinFresh, func(tmp string) error { return twin.Write(tmp, cfg) }); err != nil {
		t.Fatalf("testenv: twin-all-tokens: %v", err)
	}
	return dir
}

// TwinInt8Dir returns .cache/models/twin-int8 under the root: the default
// twin dynamically quantised to int8 (quantize.Dynamic), generated when
// missing or stale. Its onnx/model.onnx is the quantised graph.
func TwinInt8Dir(t testing.TB) string {
	t.Helper()
	src := TwinDir(t)
	dir := filepath.Join(Root(t), ".cache", "models", "twin-int8")
	fresh := func(d string) bool {
		return twinFresh(d) && quantize.Fresh(d)
	}
	if err := ensure(dir, fresh, func(tmp string) error { return quantize.Dynamic(src, tmp) }); err != nil {
		t.Fatalf("testenv: twin-int8: %v (try make setup-twin-int8)", err)
	}
	return dir
}

// twinFresh reports whether dir holds a complete twin of the current version.
func twinFresh(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return false
	}
	var c struct {
		Twin    bool `json:"crossrank_twin"`
		Version int  `json:"crossrank_twin_version"`
	}
	if json.Unmarshal(b, &c) != nil || !c.Twin || c.Version != twin.Version {
		return false
	}
	for _, f := range []string{"tokenizer.json", "onnx/model.onnx"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// ensure builds dir with build (into a temporary sibling, then renamed)
// unless fresh(dir), holding an exclusive lock on dir+".lock" meanwhile.
func ensure(dir string, fresh func(string) bool, build func(tmp string) error) error {
	if fresh(dir) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if fresh(dir) {                                      // built by another process while we waited
		return nil
	}
	tmp := fmt.Sprintf("%s.tmp-%d", dir, os.Getpid())
	os.RemoveAll(tmp)
	if err := build(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	if !fresh(dir) {
		return fmt.Errorf("%s is incomplete after generation", dir)
	}
	return nil
}

// MiniLMDir returns .cache/models/all-MiniLM-L6-v2 under the root: the
// trained bi-encoder `make setup-minilm` installs and converts (the default
// served model). It fails the test, saying to run make setup-minilm, when
// its ONNX graph is missing.
func MiniLMDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(Root(t), ".cache", "models", "all-MiniLM-L6-v2")
	if _, err := os.Stat(filepath.Join(dir, "onnx", "model.onnx")); err != nil {
		t.Fatalf("testenv: all-MiniLM-L6-v2: %v (run make setup-minilm)", err)
	}
	return dir
}

// MiniLMGoldens is the path of the committed sentence-transformers goldens
// of all-MiniLM-L6-v2 (internal/convert/testdata/minilm_goldens.json, written
// by make goldens-minilm).
func MiniLMGoldens(t testing.TB) string {
	t.Helper()
	return filepath.Join(Root(t), "internal", "convert", "testdata", "minilm_goldens.json")
}
