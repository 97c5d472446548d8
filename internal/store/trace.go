package store

import (
	"context"
	"runtime"
	"strings"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/warehouse-api/warehouse"
)

// tracerName is the instrumentation scope of the transaction spans.
const tracerName = "github.com/warehouse-api/warehouse/internal/store"

// traceTx starts the span of one write transaction, a child of parent
// (the request's span) made by parent's own provider: the store needs no
// tracing configuration, and outside a traced request a transaction costs
// nothing more than the context lookup. The span is named after the
// exported method that opened the transaction ("tx CreateSession"), found
// from the call stack so that every db.tx call site is named without
// passing a name; it covers the wait for the SQLite writer's batch or
// PostgreSQL's retries, and the commit. Its attributes are the engine and
// the operation: never a statement's arguments.
func (db *DB) traceTx(ctx context.Context, parent trace.Span) (context.Context, trace.Span) {
	op := txOperation(3) // runtime.Callers, txOperation, traceTx, tx: the method is next
	system := semconv.DBSystemNameSQLite
	if db.pg {
		system = semconv.DBSystemNamePostgreSQL
	}
	return parent.TracerProvider().Tracer(tracerName).Start(ctx, "tx "+op,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(system, semconv.DBOperationName(op)))
}

// endTx ends a transaction's span with err's outcome: its domain code, not
// its text (which may quote a value).
func endTx(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, warehouse.ErrorCode(err))
	}
	span.End()
}

// txOperation is the name of the function skip frames above its caller,
// without package, receiver or closure suffixes:
// "github.com/.../store.(*DB).CreateSession.func1" is "CreateSession".
func txOperation(skip int) string {
	var pcs [1]uintptr
	if runtime.Callers(skip+1, pcs[:]) == 0 {
		return "unknown"
	}
	f, _ := runtime.CallersFrames(pcs[:]).Next()
	return operationName(f.Function)
}

func operationName(fn string) string {
	if i := strings.LastIndexByte(fn, '/'); i >= 0 {
		fn = fn[i+1:] // store.(*DB).CreateSession.func1
	}
	parts := strings.Split(strings.ReplaceAll(fn, "[...]", ""), ".")
	for i := len(parts) - 1; i > 0; i-- {
		p := parts[i]
		if isClosure(p) {
			continue
		}
		return p
	}
	return "unknown"
}

// isClosure says whether p is a closure's part of a function name: func1,
// or gowrap1 for a go statement's, or a bare number for a nested one.
func isClosure(p string) bool {
	for _, prefix := range []string{"func", "gowrap", ""} {
		if rest, ok := strings.CutPrefix(p, prefix); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			return true
		}
	}
	return false
}
