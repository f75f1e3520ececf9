package batcher

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation scope of the batcher's spans.
const TracerName = "github.com/crossrank/crossrank/sidecar/batcher"

// Span names of the batcher.
const (
	// SpanQueue is a request's wait, from Submit to the start of the first
	// batch that carried one of its pairs (child of the Submit context's
	// span).
	SpanQueue = "queue"
	// SpanInference is a request's inference, from the start of its first
	// batch to the end of its last (child of the Submit context's span,
	// linked to every batch span it rode in).
	SpanInference = "inference"
	// SpanBatch is one batch sent to the model: a root span linked to the
	// span of every request whose pairs it carried.
	SpanBatch = "batch"
)

// Attribute keys of the batcher's spans.
const (
	attrModel        = attribute.Key("crossrank.model")
	attrPairs        = attribute.Key("crossrank.pairs")
	attrTokens       = attribute.Key("crossrank.tokens")
	attrPaddedTokens = attribute.Key("crossrank.padded_tokens")
	attrRequests     = attribute.Key("crossrank.requests")
	attrBatches      = attribute.Key("crossrank.batches")
)

// WithTracerProvider records queue, inference and batch spans with tp (see
// SpanQueue, SpanInference, SpanBatch). Without it the batcher makes no
// span.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(b *Batcher) {
		if tp != nil {
			b.tracer = tp.Tracer(TracerName)
		}
	}
}

// traceBatch records one batch that ran from start for d: a root span
// linked to each traced request of order (with the number of its pairs in
// the batch), and, for each request, its queue span when this was its first
// batch. It returns the batch span's context for the requests' inference
// spans (invalid when no request of the batch is traced).
func (b *Batcher) traceBatch(order []*request, groups map[*request][]int, start time.Time, d time.Duration, real, padded int, err error) trace.SpanContext {
	var links []trace.Link
	for _, r := range order {
		sc := trace.SpanContextFromContext(r.ctx)
		if !sc.IsSampled() {
			continue
		}
		links = append(links, trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{attrPairs.Int(len(groups[r]))}})
	}
	if len(links) == 0 {
		return trace.SpanContext{}
	}
	pairs := 0
	for _, r := range order {
		pairs += len(groups[r])
	}
	_, span := b.tracer.Start(b.ctx, SpanBatch, trace.WithNewRoot(), trace.WithTimestamp(start), trace.WithLinks(links...),
		trace.WithAttributes(attrModel.String(b.name), attrPairs.Int(pairs), attrTokens.Int(real), attrPaddedTokens.Int(padded), attrRequests.Int(len(order))))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End(trace.WithTimestamp(start.Add(d)))
	return span.SpanContext()
}

// traceRequest records, under r.mu, r's queue span on its first batch and
// its inference span once its last batch is done.
func (b *Batcher) traceRequest(r *request, batch trace.SpanContext, start, now time.Time, first, done bool) {
	if !trace.SpanContextFromContext(r.ctx).IsValid() {
		return // not part of a trace
	}
	if first {
		_, span := b.tracer.Start(r.ctx, SpanQueue, trace.WithTimestamp(r.enq), trace.WithAttributes(attrPairs.Int(len(r.seqs))))
		span.End(trace.WithTimestamp(start))
		r.firstStart = start
	}
	if batch.IsValid() {
		r.batches = append(r.batches, trace.Link{SpanContext: batch})
	}
	if done {
		_, span := b.tracer.Start(r.ctx, SpanInference, trace.WithTimestamp(r.firstStart), trace.WithLinks(r.batches...),
			trace.WithAttributes(attrBatches.Int(r.res.Batches), attrPaddedTokens.Int(r.res.PaddedTokens)))
		if r.err != nil {
			span.RecordError(r.err)
			span.SetStatus(codes.Error, r.err.Error())
		}
		span.End(trace.WithTimestamp(now))
	}
}
