package host

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation scope of the host's spans.
const TracerName = "github.com/crossrank/crossrank/plugins/host"

// stepSpan is one pipeline step's span; its zero value (no tracer) does
// nothing.
type stepSpan struct{ span trace.Span }

// startStep starts the span of step i of pipeline ("plugin NAME") when the
// host has a tracer provider.
func (h *Host) startStep(ctx context.Context, pipeline string, i int, st step) (context.Context, stepSpan) {
	if h.cfg.TracerProvider == nil {
		return ctx, stepSpan{}
	}
	ctx, span := h.cfg.TracerProvider.Tracer(TracerName).Start(ctx, "plugin "+st.pool.plugin, trace.WithAttributes(
		attribute.String("crossrank.pipeline", pipeline), attribute.Int("crossrank.step", i),
		attribute.String("crossrank.plugin", st.pool.plugin)))
	return ctx, stepSpan{span}
}

// skipped notes a step error that on_error: skip passed over.
func (s stepSpan) skipped(err error) {
	if s.span != nil {
		s.span.AddEvent("skipped", trace.WithAttributes(attribute.String("error", err.Error())))
	}
}

// end ends the span, with err as its status, and returns err.
func (s stepSpan) end(err error) error {
	if s.span == nil {
		return err
	}
	if err != nil {
		s.span.RecordError(err)
		s.span.SetStatus(codes.Error, err.Error())
	}
	s.span.End()
	return err
}
