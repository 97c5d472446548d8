package tracing_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/warehouse-api/warehouse/internal/tracing"
)

// The tests here set the process environment (t.Setenv), which the
// exporters read: none of them runs in parallel.

// otelVars are cleared first, so that the test's own environment (a
// developer's OTEL_* settings) cannot change what it sees.
var otelVars = []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"}

func cleanEnv(t *testing.T, set ...string) {
	t.Helper()
	for _, k := range otelVars {
		t.Setenv(k, "")
	}
	for i := 0; i+1 < len(set); i += 2 {
		t.Setenv(set[i], set[i+1])
	}
}

// exporterGoroutines counts the goroutines of the SDK's span pipeline.
func exporterGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "go.opentelemetry.io/otel/sdk/trace") || strings.Contains(g, "otlptrace") {
			n++
		}
	}
	return n
}

// TestOffByDefault: with no OTLP endpoint set the provider is the no-op
// one: no exporter, no goroutine, no recorded span.
func TestOffByDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"nothing set", nil},
		{"SDK disabled", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_SDK_DISABLED", "true"}},
		{"exporter none", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER", "none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t, tc.env...)
			before := exporterGoroutines()
			p, err := tracing.FromEnv(context.Background(), "test", nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.Enabled() {
				t.Fatal("tracing is on")
			}
			if _, ok := p.TracerProvider.(noop.TracerProvider); !ok {
				t.Fatalf("provider %T, want the no-op one", p.TracerProvider)
			}
			_, span := p.Tracer("t").Start(context.Background(), "x")
			if span.IsRecording() || span.SpanContext().IsValid() {
				t.Error("the no-op provider recorded a span")
			}
			span.End()
			if after := exporterGoroutines(); after != before {
				t.Errorf("%d exporter goroutines after FromEnv, %d before", after, before)
			}
			if err := p.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// collector is an httptest server standing in for an OTLP/HTTP collector.
type collector struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

type received struct {
	method, path, contentType string
	body                      *coltrace.ExportTraceServiceRequest
	err                       error
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		msg := &coltrace.ExportTraceServiceRequest{}
		if err == nil {
			err = proto.Unmarshal(b, msg)
		}
		c.mu.Lock()
		c.reqs = append(c.reqs, received{r.Method, r.URL.Path, r.Header.Get("Content-Type"), msg, err})
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(c.Close)
	return c
}

// TestExportsOverOTLPHTTP: OTEL_EXPORTER_OTLP_ENDPOINT starts a real
// OTLP/HTTP exporter: the span reaches the collector as POST /v1/traces
// with a protobuf body, with service.name from the environment, once the
// provider is shut down (as App.Close does), and the exporter's goroutine
// ends with it.
func TestExportsOverOTLPHTTP(t *testing.T) {
	c := newCollector(t)
	cleanEnv(t, "OTEL_EXPORTER_OTLP_ENDPOINT", c.URL, "OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
	before := exporterGoroutines()
	p, err := tracing.FromEnv(context.Background(), "v1.2.3", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Enabled() {
		t.Fatal("tracing is off with an endpoint set")
	}
	// The batcher's goroutine is started by sync.WaitGroup.Go, which hides
	// its creator until it runs: wait for it to show.
	deadline := time.Now().Add(5 * time.Second)
	for exporterGoroutines() <= before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if exporterGoroutines() <= before {
		t.Error("no exporter goroutine while tracing is on")
	}
	_, span := p.Tracer("test").Start(context.Background(), "GET /user", trace.WithSpanKind(trace.SpanKindServer))
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reqs) == 0 {
		t.Fatal("the collector received nothing")
	}
	r := c.reqs[0]
	if r.method != http.MethodPost || r.path != "/v1/traces" || r.contentType != "application/x-protobuf" || r.err != nil {
		t.Fatalf("collector got %s %s (%s), body error %v; want POST /v1/traces, application/x-protobuf", r.method, r.path, r.contentType, r.err)
	}
	rs := r.body.GetResourceSpans()
	if len(rs) != 1 {
		t.Fatalf("%d resource spans", len(rs))
	}
	res := map[string]string{}
	for _, kv := range rs[0].GetResource().GetAttributes() {
		res[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	if res["service.name"] != "warehouse" || res["service.version"] != "v1.2.3" || res["deployment.environment.name"] != "test" {
		t.Errorf("resource %v", res)
	}
	var names []string
	for _, ss := range rs[0].GetScopeSpans() {
		for _, s := range ss.GetSpans() {
			names = append(names, s.GetName())
		}
	}
	if len(names) != 1 || names[0] != "GET /user" {
		t.Errorf("spans %q", names)
	}
	// Shutdown has returned; the exporter's goroutines end just after.
	after := exporterGoroutines()
	for deadline := time.Now().Add(5 * time.Second); after > before && time.Now().Before(deadline); after = exporterGoroutines() {
		time.Sleep(10 * time.Millisecond)
	}
	if after > before {
		t.Errorf("%d exporter goroutines 5 s after Shutdown, %d before", after, before)
	}
}

// TestServiceNameFromEnv: OTEL_SERVICE_NAME overrides the default.
func TestServiceNameFromEnv(t *testing.T) {
	c := newCollector(t)
	cleanEnv(t, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", c.URL+"/v1/traces", "OTEL_SERVICE_NAME", "warehouse-eu")
	p, err := tracing.FromEnv(context.Background(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, span := p.Tracer("test").Start(context.Background(), "x")
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reqs) != 1 {
		t.Fatalf("%d exports", len(c.reqs))
	}
	for _, kv := range c.reqs[0].body.GetResourceSpans()[0].GetResource().GetAttributes() {
		if kv.GetKey() == "service.name" && kv.GetValue().GetStringValue() != "warehouse-eu" {
			t.Errorf("service.name %q", kv.GetValue().GetStringValue())
		}
	}
}

// TestBadSettings: a setting the server cannot honour stops the start
// with a message naming the variable.
func TestBadSettings(t *testing.T) {
	for _, tc := range []struct{ k, v, want string }{
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"OTEL_TRACES_SAMPLER", "sometimes", "OTEL_TRACES_SAMPLER"},
		{"OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER"},
	} {
		t.Run(tc.k, func(t *testing.T) {
			cleanEnv(t, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", tc.k, tc.v)
			_, err := tracing.FromEnv(context.Background(), "test", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one naming %s", err, tc.want)
			}
		})
	}
	t.Run("sampler ratio", func(t *testing.T) {
		cleanEnv(t, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "2")
		if _, err := tracing.FromEnv(context.Background(), "test", nil); err == nil || !strings.Contains(err.Error(), "OTEL_TRACES_SAMPLER_ARG") {
			t.Fatalf("err %v", err)
		}
	})
}

// TestExportFailureLoggedOnce: a collector that is down is one warning
// in the server's log, not one per batch, and never fails the caller.
func TestExportFailureLoggedOnce(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadRequest) // not retried by the exporter
	}))
	defer down.Close()
	cleanEnv(t, "OTEL_EXPORTER_OTLP_ENDPOINT", down.URL)
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(p) }), nil))
	p, err := tracing.FromEnv(context.Background(), "test", log)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, span := p.Tracer("test").Start(context.Background(), "x")
		span.End()
		if err := p.ForceFlush(context.Background()); err != nil {
			t.Errorf("flush: %v", err)
		}
	}
	_ = p.Shutdown(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(buf.String(), "exporting spans failed"); n != 1 {
		t.Errorf("%d failure lines, want 1:\n%s", n, buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
