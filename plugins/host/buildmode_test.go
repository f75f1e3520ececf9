package host_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/host"
)

// TestGoGuestWithoutCShared: a Go plugin built as a command (without
// -buildmode=c-shared) traps in runtime.notInitialized on its first call;
// the error names the build flag.
func TestGoGuestWithoutCShared(t *testing.T) {
	root := testenv.Root(t)
	out := filepath.Join(t.TempDir(), "command.wasm")
	cmd := exec.Command("go", "build", "-o", out, "./examples/plugins/go")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	h := newHost(t, host.Config{})
	_, err := h.RunStage(context.Background(), host.Step{Plugin: out}, "", nil, plugins.Input{Query: "q", Documents: docs("a")})
	if err == nil || !strings.Contains(err.Error(), "-buildmode=c-shared") {
		t.Fatalf("command-mode Go guest: %v, want a hint naming -buildmode=c-shared", err)
	}
}
