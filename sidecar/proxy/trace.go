package proxy

import (
	"context"
	"net/http"
	"strconv"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation scope of the proxy's spans.
const TracerName = "github.com/crossrank/crossrank/sidecar/proxy"

// SpanUpstream names the client span of an upstream exchange ("upstream
// METHOD").
const SpanUpstream = "upstream"

// searchRoute is the http.route of a search, set on the server span.
const searchRoute = "/{index}/_search"

// headerCarrier lets a propagator write trace headers into a fasthttp
// request.
type headerCarrier struct{ h *fasthttp.RequestHeader }

func (c headerCarrier) Get(key string) string { return string(c.h.Peek(key)) }
func (c headerCarrier) Set(key, value string) { c.h.Set(key, value) }
func (c headerCarrier) Keys() []string {
	var keys []string
	for k := range c.h.All() {
		keys = append(keys, string(k))
	}
	return keys
}

// upstreamSpan is the client span of one upstream exchange; its zero value
// (no tracing) does nothing.
type upstreamSpan struct{ span trace.Span }

// startUpstream starts the client span of req under ctx's span and writes
// its W3C trace context into req, in place of what the client sent, so the
// engine's spans join the trace.
func (p *Proxy) startUpstream(ctx context.Context, method string, req *fasthttp.Request) upstreamSpan {
	if p.tracer == nil {
		return upstreamSpan{}
	}
	_, span := p.tracer.Start(ctx, SpanUpstream+" "+method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		semconv.HTTPRequestMethodKey.String(method), semconv.URLFull(string(req.URI().FullURI())),
		semconv.ServerAddress(string(req.URI().Host()))))
	for _, h := range []string{"Traceparent", "Tracestate", "traceparent", "tracestate"} {
		req.Header.Del(h)
	}
	p.prop.Inject(trace.ContextWithSpan(ctx, span), headerCarrier{&req.Header})
	return upstreamSpan{span}
}

// end ends the span with the upstream's status, or err.
func (s upstreamSpan) end(status int, err error) {
	if s.span == nil {
		return
	}
	if err != nil {
		s.span.RecordError(err)
		s.span.SetStatus(codes.Error, err.Error())
	} else {
		s.span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= 500 {
			s.span.SetStatus(codes.Error, "upstream answered "+strconv.Itoa(status))
		}
	}
	s.span.End()
}

// nameSearch renames the request's server span for a search.
func (p *Proxy) nameSearch(r *http.Request) {
	if p.tracer == nil {
		return
	}
	span := trace.SpanFromContext(r.Context())
	span.SetName(spanMethodOf(r.Method) + " " + searchRoute)
	span.SetAttributes(semconv.HTTPRoute(searchRoute))
}

func spanMethodOf(m string) string {
	if m == http.MethodGet || m == http.MethodPost {
		return m
	}
	return "_OTHER"
}

// tracing reads the tracing settings of cfg.
func (p *Proxy) tracing(cfg Config) {
	if cfg.TracerProvider == nil {
		return
	}
	p.tracer = cfg.TracerProvider.Tracer(TracerName)
	p.prop = cfg.Propagator
	if p.prop == nil {
		p.prop = propagation.TraceContext{}
	}
}
