package rerank_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEngineTracesThroughTheAPIOnly: with tracing, the engine and its
// batcher still depend on no HTTP, no cgo and no OpenTelemetry SDK or
// exporter, transitively: only the trace API.
func TestEngineTracesThroughTheAPIOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".", "../batcher").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	api := false
	for _, d := range deps {
		switch {
		case d == "net/http", d == "runtime/cgo", d == "C",
			strings.HasPrefix(d, "go.opentelemetry.io/otel/sdk"),
			strings.HasPrefix(d, "go.opentelemetry.io/otel/exporters"),
			strings.HasPrefix(d, "google.golang.org/grpc"):
			t.Errorf("the engine depends on %s", d)
		case d == "go.opentelemetry.io/otel/trace":
			api = true
		}
	}
	if !api {
		t.Error("the engine does not use the OpenTelemetry trace API at all")
	}
}
