package httpapi

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"
)

// TestTraceOffIsNoMiddleware: with no provider or the no-op one the
// server's handler is the edge itself, so a request pays nothing for
// tracing; and route templates become span names as expected.
func TestTraceOffIsNoMiddleware(t *testing.T) {
	t.Parallel()
	next := http.NewServeMux()
	if traceRequests(nil, next) != http.Handler(next) || traceRequests(noop.NewTracerProvider(), next) != http.Handler(next) {
		t.Fatal("tracing off still wraps the handler")
	}
	for pattern, want := range map[string]string{"GET /user": "/user", "GET /api/v1/items/{id}": "/api/v1/items/{id}", "/": "", "/static/": "/static/", "": ""} {
		if got := routeOf(pattern); got != want {
			t.Errorf("routeOf(%q) = %q, want %q", pattern, got, want)
		}
	}
	if spanMethod("BREW") != "_OTHER" || spanMethod(http.MethodPatch) != http.MethodPatch {
		t.Error("spanMethod")
	}
}
