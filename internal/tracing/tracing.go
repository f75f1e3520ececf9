// Package tracing builds the OpenTelemetry tracer provider of `crossrank
// serve`: the SDK with a batching OTLP exporter, over HTTP (protobuf) or
// gRPC, configured by --otlp-endpoint and the standard OTEL_* variables. It
// is the only package besides the composition root that imports the SDK and
// the exporters; the sidecar's parts depend on the trace API alone and get
// the provider through their WithTracerProvider options.
//
// Tracing is off unless an endpoint is given (--otlp-endpoint,
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or
// OTEL_TRACES_EXPORTER=otlp asks for the default one; OTEL_SDK_DISABLED=true
// and OTEL_TRACES_EXPORTER=none turn it off. Off, New returns nil and no
// part makes a span.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Protocols of the OTLP exporter (OTEL_EXPORTER_OTLP_PROTOCOL and
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL).
const (
	ProtocolHTTP = "http/protobuf" // the default, port 4318
	ProtocolGRPC = "grpc"          // port 4317
)

// DefaultServiceName is service.name unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES set one.
const DefaultServiceName = "crossrank"

// Config is what the sidecar's own configuration says about tracing; the
// rest comes from the OTEL_* variables.
type Config struct {
	// Endpoint is --otlp-endpoint: the collector's base URL
	// (http://collector:4318 for HTTP, http://collector:4317 for gRPC; https
	// for TLS), like OTEL_EXPORTER_OTLP_ENDPOINT, which it overrides. For
	// HTTP, /v1/traces is appended to its path.
	Endpoint string
	// Version is service.version.
	Version string
	// Getenv reads the environment (default: none set). The exporters read
	// the process environment themselves (headers, timeout, compression,
	// certificates, the endpoints when Endpoint is empty), so pass os.Getenv.
	Getenv func(string) string
}

// Tracing is a running tracer provider and the propagator that reads and
// writes W3C traceparent/tracestate headers.
type Tracing struct {
	Provider   trace.TracerProvider
	Propagator propagation.TextMapPropagator
	Protocol   string // ProtocolHTTP or ProtocolGRPC
	Endpoint   string // where spans go, as configured ("" : the exporter's default or the environment's)
	sdk        *sdktrace.TracerProvider
}

// Enabled reports whether cfg turns tracing on (see the package comment).
func Enabled(cfg Config) bool {
	env := getenv(cfg)
	if strings.EqualFold(strings.TrimSpace(env("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(env("OTEL_TRACES_EXPORTER"))) {
	case "none":
		return false
	case "otlp":
		return true
	}
	return cfg.Endpoint != "" || env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

func getenv(cfg Config) func(string) string {
	if cfg.Getenv == nil {
		return func(string) string { return "" }
	}
	return cfg.Getenv
}

// New starts tracing as cfg and the environment say, or returns nil, nil
// when tracing is off. Exporting happens in the background, in batches
// (OTEL_BSP_* tune it); the sampler is OTEL_TRACES_SAMPLER's (default:
// parent-based, always on). Shutdown flushes what is left.
func New(ctx context.Context, cfg Config) (*Tracing, error) {
	if !Enabled(cfg) {
		return nil, nil
	}
	env := getenv(cfg)
	proto, err := protocol(env)
	if err != nil {
		return nil, err
	}
	exp, err := newExporter(ctx, proto, cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", DefaultServiceName)}
	if cfg.Version != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.Version))
	}
	// Later detectors win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// override the defaults.
	res, err := resource.New(ctx, resource.WithAttributes(attrs...), resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{
		Provider:   tp,
		Propagator: propagation.TraceContext{},
		Protocol:   proto,
		Endpoint:   cfg.Endpoint,
		sdk:        tp,
	}, nil
}

// protocol reads the exporter protocol from the environment.
func protocol(env func(string) string) (string, error) {
	name, v := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if v == "" {
		name, v = "OTEL_EXPORTER_OTLP_PROTOCOL", env("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch strings.TrimSpace(v) {
	case "", ProtocolHTTP:
		return ProtocolHTTP, nil
	case ProtocolGRPC:
		return ProtocolGRPC, nil
	case "http/json":
		return "", fmt.Errorf("tracing: %s=http/json: the Go OTLP exporter sends http/protobuf or grpc only", name)
	}
	return "", fmt.Errorf("tracing: %s=%q: want http/protobuf or grpc", name, v)
}

// CheckEndpoint checks an --otlp-endpoint value: an http or https URL with a
// host, and no query or fragment.
func CheckEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("otlp_endpoint %q: want http://host:port or https://host:port (4318 for OTLP/HTTP, 4317 for gRPC)", endpoint)
	}
	return nil
}

// newExporter builds the OTLP exporter; the endpoint, when given, overrides
// the environment's.
func newExporter(ctx context.Context, proto, endpoint string) (*otlptrace.Exporter, error) {
	if endpoint != "" {
		if err := CheckEndpoint(endpoint); err != nil {
			return nil, fmt.Errorf("tracing: %w", err)
		}
	}
	var (
		exp *otlptrace.Exporter
		err error
	)
	switch proto {
	case ProtocolGRPC:
		var opts []otlptracegrpc.Option
		if endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(endpoint))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	default:
		var opts []otlptracehttp.Option
		if endpoint != "" {
			u, _ := url.Parse(endpoint)
			// As OTEL_EXPORTER_OTLP_ENDPOINT: a base URL for every signal.
			if !strings.HasSuffix(u.Path, "/v1/traces") {
				u.Path = path.Join("/", u.Path, "v1", "traces")
			}
			opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: %s exporter: %w", proto, err)
	}
	return exp, nil
}

// Shutdown exports the spans still buffered and stops the exporter, until
// ctx ends. A nil Tracing is fine.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// ShutdownTimeout is how long Close waits for the last spans to go out.
const ShutdownTimeout = 5 * time.Second

// Close is Shutdown with ShutdownTimeout.
func (t *Tracing) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	return t.Shutdown(ctx)
}
