package rerank_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEngineKnowsNoHTTPOrCgo keeps the engine's contract: it imports no HTTP,
// no cgo backend, no concrete tokenizer and no API layer; those sit behind
// the models contracts or above the engine.
func TestEngineKnowsNoHTTPOrCgo(t *testing.T) {
	forbidden := []string{
		"C", "net/http", "github.com/valyala/fasthttp",
		"github.com/crossrank/crossrank/models/ort", "github.com/crossrank/crossrank/models/tokenizer",
		"github.com/crossrank/crossrank/models/loader", "github.com/crossrank/crossrank/sidecar/api",
		"github.com/crossrank/crossrank/sidecar/server", "github.com/crossrank/crossrank/plugins/host",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad {
					t.Errorf("%s imports %s", name, path)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no engine source files found")
	}
}
