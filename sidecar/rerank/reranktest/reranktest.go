// Package reranktest holds helpers for tests that need a real rerank model:
// the default shape twin on the real ONNX Runtime.
package reranktest

import (
	"context"
	"testing"

	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models/ort"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// Twin loads the default shape twin with the given intra-op threads; the
// session is closed when the test ends.
func Twin(t testing.TB, threads int) rerank.Model {
	t.Helper()
	m, err := rerank.LoadModel(context.Background(), "twin", testenv.TwinDir(t), ort.WithLibrary(testenv.ORTLib(t)), ort.WithThreads(threads, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Scorer.Close() })
	return m
}
