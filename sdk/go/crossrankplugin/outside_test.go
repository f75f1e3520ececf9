//go:build !wasip1

package crossrankplugin_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBuildOutsideRepository builds the example plugin as a user would: in
// a module of its own outside this repository, which requires crossrank
// through a replace directive (the module is not published on a proxy; see
// sdk/go/README.md). The result must be a WebAssembly module.
func TestBuildOutsideRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	_, file, _, _ := runtime.Caller(0)
	root, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "examples", "plugins", "go", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/myplugin\n\ngo 1.26\n\nrequire github.com/crossrank/crossrank v0.0.0\n\nreplace github.com/crossrank/crossrank => " + root + "\n"
	for name, body := range map[string][]byte{"go.mod": []byte(gomod), "main.go": src} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := func(env []string, args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run([]string{"GOFLAGS=-mod=mod"}, "mod", "tidy")
	run([]string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false"}, "build", "-buildmode=c-shared", "-o", "snippet.wasm", ".")
	wasm, err := os.ReadFile(filepath.Join(dir, "snippet.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		t.Fatalf("snippet.wasm does not start with the WebAssembly magic: % x", wasm[:min(8, len(wasm))])
	}
}
