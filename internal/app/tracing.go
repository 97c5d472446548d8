package app

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/warehouse-api/warehouse/internal/tracing"
)

// tracingShutdownTimeout bounds how long Close waits to flush the last
// spans to the collector.
const tracingShutdownTimeout = 5 * time.Second

// openTracing chooses the tracer provider, the given one or the one the
// OTEL_* environment asks for, and, when tracing is on, makes every log
// line carry the trace and span ids of its context. Off, nothing changes:
// no exporter, no goroutine, no wrapper around the logger or the server.
func (a *App) openTracing(ctx context.Context, given trace.TracerProvider) error {
	tp := given
	if tp == nil {
		p, err := tracing.FromEnv(ctx, a.cfg.Version, a.log)
		if err != nil {
			return err
		}
		a.tracing = p
		if p.Enabled() {
			tp = p
		}
	}
	if _, off := tp.(noop.TracerProvider); tp == nil || off {
		return nil
	}
	a.tracer = tp
	a.log = slog.New(tracing.LogHandler(a.log.Handler()))
	return nil
}

// closeTracing flushes the spans not yet exported and stops the exporter:
// last, after the database, so the spans of the final transactions go
// too. A collector that does not answer is logged, not an error of Close.
func (a *App) closeTracing() {
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
	defer cancel()
	if err := a.tracing.Shutdown(ctx); err != nil {
		a.log.Warn("tracing: the last spans were not exported", "err", err)
	}
}
