package httpapi

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// tracerName is the instrumentation scope of the request spans.
const tracerName = "github.com/warehouse-api/warehouse/internal/httpapi"

// traceRequests starts one server span per request, continuing the trace
// of an incoming W3C traceparent, and names it by the route template once
// the mux has chosen the route ("GET /api/v1/items/{id}"), as the
// semantic conventions ask. Its attributes are the method, the route and
// the status: never a header, a query string or a path with its ids, which
// could carry what is nobody's business in a trace store. It sits outside
// the edge middleware, so the access log and every log line after it get
// the span's context. Without a provider (tracing off) it is next itself:
// a request pays nothing.
func traceRequests(tp trace.TracerProvider, next http.Handler) http.Handler {
	if tp == nil {
		return next
	}
	if _, off := tp.(noop.TracerProvider); off {
		return next
	}
	tracer := tp.Tracer(tracerName)
	var prop propagation.TraceContext // traceparent and tracestate, no baggage
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		method := spanMethod(r.Method)
		ctx, span := tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(method)))
		defer span.End()
		r = r.WithContext(ctx)
		tw := &traceWriter{ResponseWriter: w}
		defer func() {
			// Also after a panic the edge let through (ErrAbortHandler).
			if route := routeOf(r.Pattern); route != "" {
				span.SetName(method + " " + route)
				span.SetAttributes(semconv.HTTPRoute(route))
			}
			status := tw.status
			if status == 0 {
				status = http.StatusOK
			}
			span.SetAttributes(semconv.HTTPResponseStatusCode(status))
			if status >= 500 {
				// Client errors are the client's: not a server span error.
				span.SetStatus(codes.Error, http.StatusText(status))
			}
		}()
		next.ServeHTTP(tw, r)
	})
}

// routeOf is the path template of a mux pattern ("GET /user" -> "/user"),
// or "" for the catch-all "/" (no route matched: the span keeps the
// method alone, so unknown paths do not each make a span name).
func routeOf(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = pattern[i+1:]
	}
	if pattern == "/" {
		return ""
	}
	return pattern
}

// spanMethod is the method as the semantic conventions name it: a known
// one, or _OTHER, so that made-up methods make no new span names.
func spanMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// traceWriter remembers the status for the span.
type traceWriter struct {
	http.ResponseWriter
	status int
}

func (w *traceWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *traceWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *traceWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
