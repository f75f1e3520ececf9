package tracing_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/crossrank/crossrank/internal/otlptest"
	"github.com/crossrank/crossrank/internal/tracing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestEnabled(t *testing.T) {
	for _, c := range []struct {
		name     string
		endpoint string
		env      map[string]string
		want     bool
	}{
		{"off by default", "", nil, false},
		{"flag", "http://127.0.0.1:4318", nil, true},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true},
		{"OTEL_TRACES_EXPORTER=otlp", "", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{"OTEL_TRACES_EXPORTER=none wins", "http://c:4318", map[string]string{"OTEL_TRACES_EXPORTER": "none"}, false},
		{"OTEL_SDK_DISABLED wins", "http://c:4318", map[string]string{"OTEL_SDK_DISABLED": "true"}, false},
		{"other variables alone", "", map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=b", "OTEL_SERVICE_NAME": "x"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := tracing.Config{Endpoint: c.endpoint, Getenv: envOf(c.env)}
			if got := tracing.Enabled(cfg); got != c.want {
				t.Fatalf("Enabled = %v, want %v", got, c.want)
			}
			if !c.want {
				tr, err := tracing.New(context.Background(), cfg)
				if tr != nil || err != nil {
					t.Fatalf("New = %v, %v; want nil, nil when off", tr, err)
				}
			}
		})
	}
}

func TestBadSettings(t *testing.T) {
	for _, c := range []struct {
		name, endpoint string
		env            map[string]string
		want           string
	}{
		{"http/json", "http://c:4318", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "http/protobuf or grpc only"},
		{"unknown protocol", "http://c:4318", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift"}, `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="thrift"`},
		{"no scheme", "collector:4318", nil, "want http://host:port"},
		{"ftp", "ftp://collector:4318", nil, "want http://host:port"},
		{"query", "http://collector:4318/?x=1", nil, "want http://host:port"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr, err := tracing.New(context.Background(), tracing.Config{Endpoint: c.endpoint, Getenv: envOf(c.env)})
			if err == nil {
				_ = tr.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// TestExport sends a span to a real OTLP receiver over each protocol, with
// headers, service name and resource attributes from the standard variables
// (the exporters read the process environment, so this test sets it).
func TestExport(t *testing.T) {
	rcv := otlptest.Start(t)
	for _, c := range []struct {
		protocol, endpoint string
	}{
		{"http/protobuf", rcv.HTTPURL},
		{"grpc", rcv.GRPCURL},
	} {
		for _, from := range []string{"flag", "env"} {
			t.Run(c.protocol+"/"+from, func(t *testing.T) {
				rcv.Reset()
				t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", c.protocol)
				t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme")
				t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
				cfg := tracing.Config{Version: "v9", Getenv: os.Getenv}
				if from == "flag" {
					t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1") // the flag wins
					cfg.Endpoint = c.endpoint
				} else {
					t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.endpoint)
				}
				tr, err := tracing.New(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				_, span := tr.Provider.Tracer("test").Start(context.Background(), "hello", trace.WithAttributes(attribute.Int("n", 7)))
				span.End()
				if err := tr.Close(); err != nil {
					t.Fatal(err)
				}
				spans, err := rcv.Wait(10*time.Second, func(s []otlptest.Span) bool { return len(s) > 0 })
				if err != nil {
					t.Fatal(err)
				}
				s := spans[0]
				want := map[string]any{"proto": strings.Split(c.protocol, "/")[0], "name": "hello", "n": int64(7), "service.name": "crossrank", "service.version": "v9", "deployment.environment": "test", "x-tenant": "acme"}
				got := map[string]any{"proto": s.Protocol, "name": s.Name, "n": s.Attrs["n"], "service.name": s.Resource["service.name"], "service.version": s.Resource["service.version"], "deployment.environment": s.Resource["deployment.environment"], "x-tenant": s.Headers["x-tenant"]}
				for k, v := range want {
					if got[k] != v {
						t.Errorf("%s = %v, want %v", k, got[k], v)
					}
				}
				if s.TraceID != span.SpanContext().TraceID().String() {
					t.Errorf("trace id %s, want %s", s.TraceID, span.SpanContext().TraceID())
				}
			})
		}
	}
}

// TestServiceName: OTEL_SERVICE_NAME overrides the default service.name.
func TestServiceName(t *testing.T) {
	rcv := otlptest.Start(t)
	t.Setenv("OTEL_SERVICE_NAME", "search-reranker")
	tr, err := tracing.New(context.Background(), tracing.Config{Endpoint: rcv.HTTPURL, Getenv: os.Getenv})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Provider.Tracer("test").Start(context.Background(), "x")
	span.End()
	_ = tr.Close()
	spans, err := rcv.Wait(10*time.Second, func(s []otlptest.Span) bool { return len(s) > 0 })
	if err != nil {
		t.Fatal(err)
	}
	if got := spans[0].Resource["service.name"]; got != "search-reranker" {
		t.Fatalf("service.name = %v", got)
	}
}
