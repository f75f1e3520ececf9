package rerank

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation scope of the engine's spans.
const TracerName = "github.com/crossrank/crossrank/sidecar/rerank"

// Span names of the engine (see docs/observability.md for the whole tree).
const (
	SpanRerank   = "rerank"   // Engine.Score, parent of the stages below
	SpanPlugins  = "plugins"  // the named pipeline (the plugin host adds one span per step)
	SpanTokenize = "tokenize" // pair encoding of the cache misses
	SpanReorder  = "reorder"  // sigmoid and the ranking
)

// Attribute keys the engine sets on its rerank span.
const (
	AttrModel        = attribute.Key("crossrank.model")
	AttrPipeline     = attribute.Key("crossrank.pipeline")
	AttrDocuments    = attribute.Key("crossrank.documents")
	AttrPairs        = attribute.Key("crossrank.pairs")
	AttrTokens       = attribute.Key("crossrank.tokens")
	AttrPaddedTokens = attribute.Key("crossrank.padded_tokens")
	AttrCacheHits    = attribute.Key("crossrank.cache_hits")
	AttrBatches      = attribute.Key("crossrank.batches")
	AttrErrorKind    = attribute.Key("crossrank.error.kind")
)

// WithTracerProvider traces every Score call with tp: a rerank span (model,
// pipeline, pairs, tokens, padded tokens, cache hits) with child spans for
// the plugins, tokenize and reorder stages, and, from the batcher, queue and
// inference spans and one span per batch linked to every request it
// carried. Without it (or with nil) the engine makes no span at all.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(e *Engine) {
		if tp != nil {
			e.tp, e.tracer = tp, tp.Tracer(TracerName)
		}
	}
}

// start starts a child span of ctx's span; without a tracer it returns ctx
// and a nil span, and end does nothing.
func (e *Engine) start(ctx context.Context, name string) (context.Context, trace.Span) {
	if e.tracer == nil {
		return ctx, nil
	}
	return e.tracer.Start(ctx, name)
}

// end ends span, recording err as its status.
func end(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		if re, ok := err.(*Error); ok {
			span.SetAttributes(AttrErrorKind.String(re.Kind.String()))
		}
	}
	span.End()
}

// describe sets what a request did on its rerank span.
func describe(span trace.Span, m Meta) {
	if span == nil || !span.IsRecording() {
		return
	}
	span.SetAttributes(
		AttrPairs.Int(m.Pairs), AttrTokens.Int(m.Tokens), AttrPaddedTokens.Int(m.PaddedTokens),
		AttrCacheHits.Int(m.CacheHits), AttrBatches.Int(m.Batches),
	)
}
