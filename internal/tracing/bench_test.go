package tracing_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/crossrank/crossrank/internal/otlptest"
	"github.com/crossrank/crossrank/internal/tracing"
)

// BenchmarkRequestSpans is the tracing work of one traced request, alone:
// the span tree crossrank serve records for a /v1/rerank request without
// a pipeline (server, decode, rerank with its attributes, tokenize, queue,
// inference linked to the batch, reorder, encode, and the batch span linked
// to the request), on the real SDK and batching exporter sending OTLP/HTTP
// to an in-process receiver. Its time per op, against a request's
// end-to-end time, bounds the overhead independent of the model's cost.
func BenchmarkRequestSpans(b *testing.B) {
	rcv := otlptest.Start(b)
	tr, err := tracing.New(context.Background(), tracing.Config{Endpoint: rcv.HTTPURL, Getenv: func(string) string { return "" }})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	t := tr.Provider.Tracer("bench")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ctx, srv := t.Start(context.Background(), "POST /v1/rerank", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", "POST"), attribute.String("url.path", "/v1/rerank"), attribute.String("crossrank.request_id", "0123456789abcdef")))
		_, s := t.Start(ctx, "decode")
		s.End()
		rctx, rr := t.Start(ctx, "rerank")
		rr.SetAttributes(attribute.String("crossrank.model", "twin"), attribute.String("crossrank.pipeline", ""), attribute.Int("crossrank.documents", 16))
		_, s = t.Start(rctx, "tokenize")
		s.End()
		now := time.Now()
		_, s = t.Start(rctx, "queue", trace.WithTimestamp(now), trace.WithAttributes(attribute.Int("crossrank.pairs", 16)))
		s.End(trace.WithTimestamp(now))
		_, batch := t.Start(context.Background(), "batch", trace.WithNewRoot(), trace.WithTimestamp(now),
			trace.WithLinks(trace.Link{SpanContext: rr.SpanContext(), Attributes: []attribute.KeyValue{attribute.Int("crossrank.pairs", 16)}}),
			trace.WithAttributes(attribute.String("crossrank.model", "twin"), attribute.Int("crossrank.pairs", 16), attribute.Int("crossrank.tokens", 1200), attribute.Int("crossrank.padded_tokens", 1400), attribute.Int("crossrank.requests", 1)))
		batch.End(trace.WithTimestamp(now))
		_, s = t.Start(rctx, "inference", trace.WithTimestamp(now), trace.WithLinks(trace.Link{SpanContext: batch.SpanContext()}),
			trace.WithAttributes(attribute.Int("crossrank.batches", 1), attribute.Int("crossrank.padded_tokens", 1400)))
		s.End(trace.WithTimestamp(now))
		_, s = t.Start(rctx, "reorder")
		s.End()
		rr.SetAttributes(attribute.Int("crossrank.pairs", 16), attribute.Int("crossrank.tokens", 1200), attribute.Int("crossrank.padded_tokens", 1400), attribute.Int("crossrank.cache_hits", 0), attribute.Int("crossrank.batches", 1))
		rr.End()
		_, s = t.Start(ctx, "encode")
		s.End()
		srv.SetAttributes(attribute.Int("http.response.status_code", 200))
		srv.End()
	}
}
