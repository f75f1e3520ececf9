package server

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation scope of the server's spans.
const TracerName = "github.com/crossrank/crossrank/sidecar/server"

// Span names of the server's stages, children of the request's server span.
const (
	SpanDecode = "decode" // reading and decoding the request body
	SpanEncode = "encode" // writing the response
)

// AttrRequestID is the request id (X-Request-Id) on the server span.
const AttrRequestID = attribute.Key("crossrank.request_id")

// WithTracerProvider traces every request with tp: one server span per
// request, named "METHOD /route", child of the client's trace when the
// request carries W3C traceparent/tracestate (read with prop; nil:
// propagation.TraceContext), with decode and encode child spans on the
// rerank routes; the engine's spans hang below. Without it (or with nil tp)
// the server makes no span and reads no trace header.
func WithTracerProvider(tp trace.TracerProvider, prop propagation.TextMapPropagator) Option {
	return func(s *Server) {
		if tp == nil {
			return
		}
		if prop == nil {
			prop = propagation.TraceContext{}
		}
		s.tracer, s.prop = tp.Tracer(TracerName), prop
	}
}

// traced starts the request's server span. It sits inside accessLog, so
// the request id is known and the log line gets the trace id.
func (s *Server) traced(next http.Handler) http.Handler {
	if s.tracer == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && untraced(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		ctx := s.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		method := spanMethod(r.Method)
		route := s.routeName(r)
		name := method
		attrs := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(method), semconv.URLPath(r.URL.Path), AttrRequestID.String(RequestID(ctx))}
		if _, ok := s.routes[r.URL.Path]; ok {
			name += " " + route
			attrs = append(attrs, semconv.HTTPRoute(route))
		}
		ctx, span := s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		info := infoOf(ctx)
		if info != nil {
			info.traceID = span.SpanContext().TraceID().String()
		}
		sw := asStatusWriter(w)
		next.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(semconv.HTTPResponseStatusCode(sw.status))
		if sw.status >= 500 {
			msg := http.StatusText(sw.status)
			if info != nil && info.err != nil {
				msg = info.err.Error()
				span.RecordError(info.err)
			}
			span.SetStatus(codes.Error, msg)
		}
		span.End()
	})
}

// untraced are the polled routes (probes, scrapes, the dashboard's
// once-a-second stats), whose spans would drown the requests'.
func untraced(path string) bool {
	switch path {
	case "/health", "/ready", "/metrics", "/v1/stats":
		return true
	}
	return false
}

// spanMethod is a request's method for span names and attributes: the
// standard ones as they are, anything else "_OTHER" (bounded cardinality).
func spanMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// stage starts a child span of the request's span; the returned function
// ends it. Without tracing both do nothing.
func (s *Server) stage(ctx context.Context, name string) func() {
	if s.tracer == nil {
		return func() {}
	}
	_, span := s.tracer.Start(ctx, name)
	return func() { span.End() }
}
