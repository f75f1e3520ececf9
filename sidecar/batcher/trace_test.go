package batcher_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/sidecar/batcher"
)

// TestTraceBatchLinks holds the one worker on a first request while two
// more queue, so the next batch carries both: that batch's span is a root
// span linked to both requests' spans (with their pair counts), and each
// request's queue and inference spans are children of its own span, the
// inference span linked back to the batch.
func TestTraceBatchLinks(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tracer := tp.Tracer("test")
	g := newGated(loadTwin(t))
	sig := &signalling{Scorer: g, entered: make(chan struct{}, 8)}
	b := batcher.New("twin", sig, batcher.Config{MaxBatchPairs: 16, MaxWait: time.Millisecond, Workers: 1}, batcher.WithTracerProvider(tp))
	t.Cleanup(func() { b.Close(context.Background()) })
	t.Cleanup(g.open)
	rng := rand.New(rand.NewPCG(7, 7))

	submit := func(name string, n int, wg *sync.WaitGroup) trace.SpanContext {
		ctx, span := tracer.Start(context.Background(), name)
		wg.Go(func() {
			defer span.End()
			if _, err := b.Submit(ctx, uniform(rng, n, 10)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
		return span.SpanContext()
	}
	var wg sync.WaitGroup
	first := submit("first", 16, &wg)
	<-sig.entered // the worker holds the first batch at the gate
	second := submit("second", 3, &wg)
	waitQueued(t, b, 3)
	third := submit("third", 4, &wg)
	waitQueued(t, b, 7)
	g.open()
	wg.Wait()

	spans := rec.Ended()
	byReq := map[trace.SpanID][]string{}
	var batches []sdktrace.ReadOnlySpan
	for _, s := range spans {
		switch s.Name() {
		case batcher.SpanBatch:
			batches = append(batches, s)
		case batcher.SpanQueue, batcher.SpanInference:
			byReq[s.Parent().SpanID()] = append(byReq[s.Parent().SpanID()], s.Name())
		}
	}
	if len(batches) != 2 {
		t.Fatalf("%d batch spans, want 2", len(batches))
	}
	wantLinks := []map[trace.SpanID]int64{{first.SpanID(): 16}, {second.SpanID(): 3, third.SpanID(): 4}}
	for i, bs := range batches {
		if bs.Parent().IsValid() {
			t.Errorf("batch %d has a parent", i)
		}
		got := map[trace.SpanID]int64{}
		for _, l := range bs.Links() {
			for _, a := range l.Attributes {
				if a.Key == "crossrank.pairs" {
					got[l.SpanContext.SpanID()] = a.Value.AsInt64()
				}
			}
		}
		if len(got) != len(wantLinks[i]) {
			t.Errorf("batch %d links %v, want %v", i, got, wantLinks[i])
		}
		for id, n := range wantLinks[i] {
			if got[id] != n {
				t.Errorf("batch %d: link to %s carries %d pairs, want %d", i, id, got[id], n)
			}
		}
	}
	for name, sc := range map[string]trace.SpanContext{"first": first, "second": second, "third": third} {
		if got := byReq[sc.SpanID()]; len(got) != 2 {
			t.Errorf("%s: child spans %v, want queue and inference", name, got)
		}
	}
	for _, s := range spans {
		if s.Name() == batcher.SpanInference && s.Parent().SpanID() == second.SpanID() {
			if len(s.Links()) != 1 || s.Links()[0].SpanContext.SpanID() != batches[1].SpanContext().SpanID() {
				t.Errorf("second's inference span links %v, want the second batch", s.Links())
			}
		}
	}
}

// signalling says when a batch reaches the scorer.
type signalling struct {
	models.Scorer
	entered chan struct{}
}

func (s *signalling) Score(ctx context.Context, b *models.Batch) ([]float32, error) {
	s.entered <- struct{}{}
	return s.Scorer.Score(ctx, b)
}

// TestTraceUntracedRequests: a request whose context carries no span (not
// part of a trace) makes no span of the batcher's.
func TestTraceUntracedRequests(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	s := loadTwin(t)
	b := batcher.New("twin", s, batcher.Config{Workers: 1}, batcher.WithTracerProvider(tp))
	defer b.Close(context.Background())
	if _, err := b.Submit(context.Background(), uniform(rand.New(rand.NewPCG(1, 1)), 2, 5)); err != nil {
		t.Fatal(err)
	}
	if spans := rec.Ended(); len(spans) != 0 {
		t.Errorf("an untraced request made %d spans", len(spans))
	}
}
