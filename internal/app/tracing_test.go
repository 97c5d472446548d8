package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestTracingFromEnvFlushedOnClose: with OTEL_EXPORTER_OTLP_ENDPOINT set,
// the App exports its spans to that collector (here an httptest server
// standing in for one), and Close flushes them: the login's request,
// transaction and password spans arrive although the batcher's delay has
// not passed.
func TestTracingFromEnvFlushedOnClose(t *testing.T) {
	var mu sync.Mutex
	var names []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(b, &req) != nil {
			t.Errorf("collector: %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					names = append(names, s.GetName())
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_TRACES_SAMPLER", "")

	cfg := testConfig(t, pgtest.SQLite)
	cfg.Addr = ""
	logs := &logBuffer{}
	a, err := Open(context.Background(), cfg, Deps{Log: slog.New(slog.NewJSONHandler(logcheck.Tee(t, logs), nil))})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(`{"username":"admin","password":"app-test-admin-password"}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	a.Server().ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"POST /login", "tx CreateSession", "password.verify"} {
		if !slices.Contains(names, want) {
			t.Errorf("the collector has no span %q: %q", want, names)
		}
	}
	if !strings.Contains(logs.String(), "tracing on") {
		t.Errorf("no log line says tracing is on:\n%s", logs)
	}
}
