package auth

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the password spans.
const tracerName = "github.com/warehouse-api/warehouse/auth"

// startHashSpan starts a span for one password hash ("password.hash",
// "password.verify") as a child of the span in ctx, made by that span's
// own provider, so that a Hasher needs no tracing configuration and costs
// nothing more outside a traced request (span is nil then). The span
// covers the wait for a slot and the hash; it carries no attributes: not
// the user, and certainly not the password or the hash.
func startHashSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsValid() {
		return ctx, nil
	}
	return parent.TracerProvider().Tracer(tracerName).Start(ctx, name)
}

// endHashSpan ends span with err's outcome. A wrong password is not an
// error (Verify returns ok false); an unavailable hasher or a cancelled
// wait is.
func endHashSpan(span trace.Span, err error) {
	switch {
	case err == nil:
	case errors.Is(err, ErrHashUnavailable):
		span.SetStatus(codes.Error, "hash unavailable")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		span.SetStatus(codes.Error, "cancelled")
	default:
		span.SetStatus(codes.Error, "invalid hash")
	}
	span.End()
}
