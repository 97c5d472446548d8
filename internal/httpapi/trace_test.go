package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/app"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/store"
)

// syncBuffer is a log sink the server's goroutines may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines are the JSON log lines written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, l)
		}
		out = append(out, m)
	}
	return out
}

// tracedServer is a server on SQLite with the user joevu whose spans go
// to the returned in-memory exporter (tp nil: the App's own choice, from
// the environment) and whose JSON logs, down to debug, to the buffer.
func tracedServer(t testing.TB, tp trace.TracerProvider) (http.Handler, *syncBuffer) {
	logs := &syncBuffer{}
	a := tracedApp(t, tp, slog.New(slog.NewJSONHandler(logcheck.Tee(t, logs), &slog.HandlerOptions{Level: slog.LevelDebug})))
	return a.Server(), logs
}

func tracedApp(t testing.TB, tp trace.TracerProvider, log *slog.Logger) *app.App {
	t.Helper()
	hasher := auth.NewHasher(auth.TestParams(), 0)
	a := openApp(t, testSettings("sqlite:"+filepath.Join(t.TempDir(), "warehouse.db")), app.Deps{
		Log: log, Hasher: hasher, Tracer: tp,
		Seed: func(ctx context.Context, db *store.DB) error {
			h, err := hasher.Hash(ctx, "glinteco")
			if err != nil {
				return err
			}
			return db.CreateUser(ctx, &warehouse.User{Username: "joevu", PasswordHash: h, Roles: []string{"admin"}, Active: true})
		},
	})
	return a
}

func newRecorder() (*tracetest.InMemoryExporter, *sdktrace.TracerProvider) {
	exp := tracetest.NewInMemoryExporter()
	return exp, sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
}

func attr(s tracetest.SpanStub, k attribute.Key) attribute.Value {
	for _, kv := range s.Attributes {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func spanNamed(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	t.Fatalf("no span %q among %q", name, names)
	return tracetest.SpanStub{}
}

// TestTraceLogin: POST /login through the real router makes one trace: the
// server span named by the route template, and under it the password
// verification and the transaction that creates the session. No span
// carries the password, the username or a token.
func TestTraceLogin(t *testing.T) {
	t.Parallel()
	exp, tp := newRecorder()
	srv, _ := tracedServer(t, tp)
	req := httptest.NewRequest(http.MethodPost, "/login?x=secret-query", strings.NewReader(`{"username":"joevu","password":"glinteco"}`))
	req.Header.Set("Content-Type", "application/json")
	if w := serve(t, srv, req); w.Code != http.StatusOK {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	spans := exp.GetSpans()
	root := spanNamed(t, spans, "POST /login")
	if root.SpanKind != trace.SpanKindServer || root.Parent.IsValid() {
		t.Errorf("request span: kind %v, parent %v; want a server root span", root.SpanKind, root.Parent)
	}
	if got := attr(root, "http.route").AsString(); got != "/login" {
		t.Errorf("http.route %q", got)
	}
	if got := attr(root, "http.response.status_code").AsInt64(); got != 200 {
		t.Errorf("http.response.status_code %d", got)
	}
	verify := spanNamed(t, spans, "password.verify")
	tx := spanNamed(t, spans, "tx CreateSession")
	for _, s := range []tracetest.SpanStub{verify, tx} {
		if s.SpanContext.TraceID() != root.SpanContext.TraceID() {
			t.Errorf("%s is in trace %s, the request in %s", s.Name, s.SpanContext.TraceID(), root.SpanContext.TraceID())
		}
		if s.Parent.SpanID() != root.SpanContext.SpanID() {
			t.Errorf("%s's parent is %s, not the request span %s", s.Name, s.Parent.SpanID(), root.SpanContext.SpanID())
		}
	}
	if got := attr(tx, "db.system.name").AsString(); got != "sqlite" {
		t.Errorf("db.system.name %q", got)
	}
	if got := attr(tx, "db.operation.name").AsString(); got != "CreateSession" {
		t.Errorf("db.operation.name %q", got)
	}
	// Nothing secret, nor the query string, in any span.
	for _, s := range spans {
		for _, kv := range s.Attributes {
			if v := kv.Value.String(); strings.Contains(v, "glinteco") || strings.Contains(v, "joevu") || strings.Contains(v, "secret-query") || strings.Contains(v, "eyJ") {
				t.Errorf("span %s attribute %s=%q", s.Name, kv.Key, v)
			}
		}
	}
}

// TestTraceContinuesTraceparent: a request with a W3C traceparent joins
// that trace (its span is the caller's child), and the request's log
// line carries that trace id.
func TestTraceContinuesTraceparent(t *testing.T) {
	t.Parallel()
	exp, tp := newRecorder()
	srv, logs := tracedServer(t, tp)
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req := httptest.NewRequest(http.MethodGet, "/api/v1/items/42", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	w := serve(t, srv, req)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("GET without a token: %d", w.Code)
	}
	s := spanNamed(t, exp.GetSpans(), "GET /api/v1/items/{id}")
	if got := s.SpanContext.TraceID().String(); got != traceID {
		t.Errorf("trace id %s, want the caller's %s", got, traceID)
	}
	if got := s.Parent.SpanID().String(); got != parentID || !s.Parent.IsRemote() {
		t.Errorf("parent %s (remote %v), want the caller's span %s", got, s.Parent.IsRemote(), parentID)
	}
	if got := attr(s, "http.response.status_code").AsInt64(); got != 401 {
		t.Errorf("status attribute %d", got)
	}
	var found bool
	for _, l := range logs.lines(t) {
		if l["msg"] != "request" || l["route"] != "/api/v1/items/{id}" {
			continue
		}
		found = true
		if l["trace_id"] != traceID || l["span_id"] != s.SpanContext.SpanID().String() {
			t.Errorf("access log line: trace_id %v span_id %v, want %s %s", l["trace_id"], l["span_id"], traceID, s.SpanContext.SpanID())
		}
		if l["request_id"] == nil {
			t.Error("access log line without request_id")
		}
	}
	if !found {
		t.Fatal("no access log line for the request")
	}
}

// TestTraceOff: without OTEL_EXPORTER_OTLP_ENDPOINT the App traces
// nothing: a request's log line carries no trace id and a traceparent
// is ignored. (internal/tracing's tests show the provider is the no-op one
// with no exporter goroutine.)
func TestTraceOff(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	srv, logs := tracedServer(t, nil)
	req := httptest.NewRequest(http.MethodGet, "/welcome", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if w := serve(t, srv, req); w.Code != http.StatusOK {
		t.Fatalf("welcome: %d", w.Code)
	}
	var found bool
	for _, l := range logs.lines(t) {
		if _, ok := l["trace_id"]; ok {
			t.Errorf("log line with a trace id while tracing is off: %v", l)
		}
		found = found || l["msg"] == "request"
	}
	if !found {
		t.Fatal("no access log line for the request")
	}
}

// BenchmarkGetUserTraced is BenchmarkGetUser with tracing on (every
// request sampled, spans batched to an exporter that drops them): what a
// request span costs. With tracing off the server is BenchmarkGetUser's.
func BenchmarkGetUserTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	a := tracedApp(b, tp, slog.New(slog.DiscardHandler))
	c := auth.NewClaims("joevu", auth.TypeAccess, time.Now(), 15*time.Minute)
	c.Roles, c.SessionID = []string{"admin"}, "bench-session"
	tok, err := a.Keys().Sign(c)
	if err != nil {
		b.Fatal(err)
	}
	benchRoute(b, a.Server(), "/user", "Bearer "+tok, http.StatusOK)
}
