package tracing_test

import (
	"context"
	"fmt"

	"github.com/crossrank/crossrank/internal/tracing"
)

// New returns nil when neither --otlp-endpoint nor the OTEL_* variables ask
// for tracing; the sidecar's parts then get no tracer provider at all.
func ExampleNew() {
	env := map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"} // a protocol alone turns nothing on
	t, err := tracing.New(context.Background(), tracing.Config{Getenv: func(k string) string { return env[k] }})
	fmt.Println(t == nil, err)

	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4317"
	t, err = tracing.New(context.Background(), tracing.Config{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer t.Close()
	fmt.Println(t.Protocol)
	// Output:
	// true <nil>
	// grpc
}
