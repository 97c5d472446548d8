package store

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestTxSpans: inside a traced operation every write transaction is a
// child span named after the store method, with the engine; a failed
// one is marked an error without its text (which quotes the username);
// outside a trace a transaction makes no span.
func TestTxSpans(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		db := openTestDB(t, engine)
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		u := &warehouse.User{Username: "span-user", PasswordHash: "x", Roles: []string{"viewer"}, Active: true}
		if err := db.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		if n := len(exp.GetSpans()); n != 0 {
			t.Fatalf("%d spans outside a trace", n)
		}
		ctx, root := tp.Tracer("test").Start(context.Background(), "request")
		err := db.CreateUser(ctx, &warehouse.User{Username: "span-user", PasswordHash: "x", Roles: []string{"viewer"}, Active: true})
		if warehouse.ErrorCode(err) != warehouse.ECONFLICT {
			t.Fatalf("second CreateUser: %v", err)
		}
		if err := db.CreateUser(ctx, &warehouse.User{Username: "span-user-2", PasswordHash: "x", Roles: []string{"viewer"}, Active: true}); err != nil {
			t.Fatal(err)
		}
		root.End()
		spans := exp.GetSpans()
		if len(spans) != 3 {
			t.Fatalf("%d spans, want the two transactions and the root", len(spans))
		}
		want := map[string]string{"sqlite": "sqlite", "postgres": "postgresql"}[engine]
		for i, s := range spans[:2] {
			if s.Name != "tx CreateUser" || s.Parent.SpanID() != root.SpanContext().SpanID() {
				t.Errorf("span %d: %q, parent %s", i, s.Name, s.Parent.SpanID())
			}
			var system string
			for _, kv := range s.Attributes {
				if kv.Key == "db.system.name" {
					system = kv.Value.AsString()
				}
				if strings.Contains(kv.Value.String(), "span-user") {
					t.Errorf("span attribute %s carries the username", kv.Key)
				}
			}
			if system != want {
				t.Errorf("db.system.name %q, want %q", system, want)
			}
		}
		if st := spans[0].Status; st.Code != codes.Error || strings.Contains(st.Description, "span-user") {
			t.Errorf("failed transaction's status %+v", st)
		}
		if st := spans[1].Status; st.Code != codes.Unset {
			t.Errorf("committed transaction's status %+v", st)
		}
	})
}

func TestOperationName(t *testing.T) {
	t.Parallel()
	for fn, want := range map[string]string{
		"github.com/warehouse-api/warehouse/internal/store.(*DB).CreateSession":       "CreateSession",
		"github.com/warehouse-api/warehouse/internal/store.(*DB).PostMovement.func1":  "PostMovement",
		"github.com/warehouse-api/warehouse/internal/store.(*DB).ImportItems.func2.1": "ImportItems",
		"github.com/warehouse-api/warehouse/internal/store.(*DB).RotateKey.gowrap1":   "RotateKey",
		"github.com/warehouse-api/warehouse/internal/store.applyAll[...]":             "applyAll",
		"github.com/warehouse-api/warehouse/internal/store.TestTxSpans.func1":         "TestTxSpans",
	} {
		if got := operationName(fn); got != want {
			t.Errorf("operationName(%s) = %q, want %q", fn, got, want)
		}
	}
}
