package auth

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestHashSpans: within a traced operation Hash and Verify are child spans
// password.hash and password.verify without attributes; a wrong password
// is no error; outside a trace there is no span.
func TestHashSpans(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	h := NewHasher(TestParams(), 1)
	phc, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans outside a trace", n)
	}
	ctx, root := tp.Tracer("test").Start(context.Background(), "login")
	if _, err := h.Hash(ctx, "pw"); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(ctx, "wrong", phc); ok || err != nil {
		t.Fatalf("Verify: %v %v", ok, err)
	}
	root.End()
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans", len(spans))
	}
	for i, want := range []string{"password.hash", "password.verify"} {
		s := spans[i]
		if s.Name != want || s.Parent.SpanID() != root.SpanContext().SpanID() || len(s.Attributes) != 0 || s.Status.Code != codes.Unset {
			t.Errorf("span %d: %q parent %s attributes %v status %+v", i, s.Name, s.Parent.SpanID(), s.Attributes, s.Status)
		}
	}
}
