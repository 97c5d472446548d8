// Package tracing is the server's OpenTelemetry tracing: a tracer provider
// with an OTLP exporter configured by the standard OTEL_* environment
// variables when an OTLP endpoint is set, a no-op provider otherwise, and a
// log handler that puts the trace and span ids of a record's context on
// every line. Nothing here sets an otel global: the App passes the provider
// to the HTTP layer, and the layers below (the store's transactions, the
// password hasher) start their spans with the provider of the span in
// their context, so they need no configuration and cost nothing outside a
// traced request.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// DefaultServiceName is service.name unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES name another.
const DefaultServiceName = "warehouse"

// Provider is the server's tracer provider: the SDK's with an OTLP
// exporter, or a no-op one that costs nothing (no exporter, no goroutine).
type Provider struct {
	trace.TracerProvider
	sdk *sdktrace.TracerProvider // nil: tracing is off
}

// Off is the no-op provider.
func Off() *Provider { return &Provider{TracerProvider: noop.NewTracerProvider()} }

// Enabled says whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p != nil && p.sdk != nil }

// Shutdown flushes the spans not yet exported and stops the exporter; ctx
// bounds how long that may take. It is a no-op when tracing is off.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	if err := p.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shut down: %w", err)
	}
	return nil
}

// ForceFlush exports the spans ended so far (tests, and before a planned
// stop).
func (p *Provider) ForceFlush(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	return p.sdk.ForceFlush(ctx)
}

// FromEnv builds the provider from the process environment, which the
// OTLP exporters read too (so it is the environment, not .env): tracing is
// on when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// is set, unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. The
// protocol is OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL, http/protobuf by
// default, or grpc; the sampler OTEL_TRACES_SAMPLER(_ARG) (default
// parentbased_always_on); the resource OTEL_SERVICE_NAME (default
// "warehouse") and OTEL_RESOURCE_ATTRIBUTES, plus service.version. Export
// failures are logged to log once per outage, not per batch.
func FromEnv(ctx context.Context, version string, log *slog.Logger) (*Provider, error) {
	return fromEnv(ctx, os.Getenv, version, log)
}

func fromEnv(ctx context.Context, getenv func(string) string, version string, log *slog.Logger) (*Provider, error) {
	if !configured(getenv) {
		return Off(), nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := checkSampler(getenv); err != nil {
		return nil, err
	}
	exp, err := exporter(ctx, getenv)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		// Ours first: detectors that come later win, so the environment's
		// service.name and attributes override these defaults.
		resource.WithAttributes(semconv.ServiceName(DefaultServiceName), semconv.ServiceVersion(version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
		// No process detector: process.command_args could carry a secret
		// given on the command line.
	)
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("tracing: resource (OTEL_RESOURCE_ATTRIBUTES): %w", err)
	}
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(&loggedExporter{SpanExporter: exp, log: log}),
		sdktrace.WithResource(res),
	)
	log.Info("tracing on: exporting spans over OTLP", "protocol", protocol(getenv), "service", serviceName(res))
	return &Provider{TracerProvider: sdk, sdk: sdk}, nil
}

// configured says whether the environment asks for spans to be exported.
func configured(getenv func(string) string) bool {
	if v, err := strconv.ParseBool(strings.TrimSpace(getenv("OTEL_SDK_DISABLED"))); err == nil && v {
		return false
	}
	if strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")) == "none" {
		return false
	}
	return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) != "" || strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) != ""
}

func protocol(getenv func(string) string) string {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
	}
	return "http/protobuf"
}

// exporter is the OTLP exporter the environment names; the exporters read
// the endpoint, headers, timeout, compression and certificates themselves.
func exporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	if e := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); e != "" && e != "otlp" {
		return nil, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%q is not supported: use otlp (or none)", e)
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch p := protocol(getenv); p {
	case "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("tracing: OTEL_EXPORTER_OTLP_PROTOCOL=%q is not supported: use http/protobuf (the default) or grpc", p)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	return exp, nil
}

// checkSampler refuses a sampler the SDK would only complain about on
// stderr, falling back to its default: a typo should stop the start.
func checkSampler(getenv func(string) string) error {
	name := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER"))
	switch name {
	case "", "always_on", "always_off", "parentbased_always_on", "parentbased_always_off":
		return nil
	case "traceidratio", "parentbased_traceidratio":
		arg := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER_ARG"))
		if arg == "" {
			return nil // the SDK's default ratio, 1.0
		}
		if r, err := strconv.ParseFloat(arg, 64); err != nil || r < 0 || r > 1 {
			return fmt.Errorf("tracing: OTEL_TRACES_SAMPLER_ARG=%q: want a ratio from 0 to 1", arg)
		}
		return nil
	}
	return fmt.Errorf("tracing: OTEL_TRACES_SAMPLER=%q is not supported: use always_on, always_off, traceidratio or their parentbased_ forms", name)
}

func serviceName(res *resource.Resource) string {
	if v, ok := res.Set().Value(semconv.ServiceNameKey); ok {
		return v.AsString()
	}
	return DefaultServiceName
}

// loggedExporter logs export failures through the server's logger, once
// when exports start failing and once when they work again, and keeps them
// from the SDK's global error handler (which would print each one to
// stderr, unstructured). Spans of a failed batch are dropped: tracing must
// never hold up or fail a request.
type loggedExporter struct {
	sdktrace.SpanExporter
	log *slog.Logger

	mu      sync.Mutex
	failing bool
	since   time.Time
}

func (e *loggedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case err != nil && !e.failing:
		e.failing, e.since = true, time.Now()
		e.log.Warn("tracing: exporting spans failed; dropping spans until the collector answers", "err", err, "spans", len(spans))
	case err == nil && e.failing:
		e.failing = false
		e.log.Info("tracing: exporting spans again", "failed_for", time.Since(e.since).Round(time.Second).String())
	}
	if err != nil && errors.Is(err, context.Canceled) {
		return err // shutting down: let Shutdown report it
	}
	return nil
}
