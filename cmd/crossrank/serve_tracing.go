package main

import (
	"context"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/crossrank/crossrank/internal/tracing"
	"github.com/crossrank/crossrank/plugins/host"
	"github.com/crossrank/crossrank/sidecar/proxy"
	"github.com/crossrank/crossrank/sidecar/rerank"
	"github.com/crossrank/crossrank/sidecar/server"
)

// newTracing starts OpenTelemetry tracing when --otlp-endpoint or the
// OTEL_* variables ask for it (internal/tracing); sc.tracing stays nil
// otherwise, and no part makes a span.
func (sc *sidecar) newTracing(ctx context.Context) error {
	t, err := tracing.New(ctx, tracing.Config{Endpoint: sc.cfg.OTLPEndpoint, Getenv: os.Getenv})
	if err != nil || t == nil {
		return err
	}
	// The SDK reports export failures (a collector that is down) through
	// otel's one error handler; send them to the sidecar's log.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { sc.log.Warn("tracing", "err", err) }))
	sc.tracing = t
	sc.closers = append(sc.closers, t.Close)
	where := t.Endpoint
	if where == "" {
		where = "from OTEL_EXPORTER_OTLP_*"
	}
	sc.log.Info("tracing", "protocol", t.Protocol, "endpoint", where)
	return nil
}

// tracerProvider is the tracer provider, nil when tracing is off.
func (sc *sidecar) tracerProvider() trace.TracerProvider {
	if sc.tracing == nil {
		return nil
	}
	return sc.tracing.Provider
}

// traceEngine, traceServer, traceProxy and traceHost hand the tracer
// provider to the engine (and through it the batchers), the server, the
// proxy and the plugin host; when tracing is off they hand nothing, and
// those parts make no span.
func (sc *sidecar) traceEngine() []rerank.Option {
	if sc.tracing == nil {
		return nil
	}
	return []rerank.Option{rerank.WithTracerProvider(sc.tracing.Provider)}
}

func (sc *sidecar) traceServer() []server.Option {
	if sc.tracing == nil {
		return nil
	}
	return []server.Option{server.WithTracerProvider(sc.tracing.Provider, sc.tracing.Propagator)}
}

func (sc *sidecar) traceProxy(c *proxy.Config) {
	if sc.tracing != nil {
		c.TracerProvider, c.Propagator = sc.tracing.Provider, sc.tracing.Propagator
	}
}

func (sc *sidecar) traceHost(c *host.Config) { c.TracerProvider = sc.tracerProvider() }
