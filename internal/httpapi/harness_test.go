package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warehouse-api/warehouse/internal/app"
	"github.com/warehouse-api/warehouse/internal/httpapi"
)

// The test harness: every HTTP test starts its server as `warehouse serve`
// does, through app.Open (the same settings, validation, keys, auth state
// and background loops), and sends every request through serve, which
// holds it and its answer against the OpenAPI document. env and domainEnv
// are thin wrappers on it; scenario tables (scenario, runScenarios) are
// the way to write new tests (after pocketbase's tests.ApiScenario).

// testSettings is the configuration the HTTP tests run with: serve's
// defaults (app.Defaults) but for what a test process needs.
func testSettings(databaseURL string) app.Config {
	c := app.Defaults()
	c.Addr = "" // the tests call the handler; nothing listens
	c.DatabaseURL = databaseURL
	c.HashWorkers = "inline" // tests pass a cheap hasher anyway
	c.DBStmtTimeout = 0      // the server's own setting, as the tests always had
	c.LoginRatePerIP = 0     // every test request comes from 192.0.2.1
	c.CookieSecure = false
	c.KeyPublishDelay = 0 // a rotated key signs at once
	c.LogFormat = "text"
	c.Version = "test"
	return c
}

// openApp opens an App for tb, closed (its loops joined, then its
// database) when tb ends.
func openApp(tb testing.TB, cfg app.Config, deps app.Deps) *app.App {
	tb.Helper()
	a, err := app.Open(context.Background(), cfg, deps)
	if err != nil {
		tb.Fatalf("open the server: %v", err)
	}
	tb.Cleanup(func() {
		if err := a.Close(); err != nil {
			tb.Errorf("close the server: %v", err)
		}
	})
	return a
}

// scenario is one request and what its answer must be.
type scenario struct {
	name string
	// engines restricts the row to these engines (nil: every engine the
	// table runs on).
	engines []string
	method  string
	path    string
	// headers are "Name: value".
	headers []string
	// body is sent as is, as application/json unless headers set a
	// Content-Type.
	body   string
	status int
	// want, if set, is the expected body: the answer is decoded into a new
	// value of want's type and compared with go-cmp, so exactly the
	// fields the type has are checked (httpapi.Problem for errors, or a
	// struct of the fields that matter).
	want any
	// cmpOpts are options for that comparison (e.g. cmpopts.IgnoreFields).
	cmpOpts []cmp.Option
	// header are response headers that must have these exact values.
	header map[string]string
	// check, if set, looks at the answer further.
	check func(t *testing.T, w *httptest.ResponseRecorder)
}

// runScenarios runs each row as a subtest against h on engine. An error
// answer must always be problem+json with a detail and a code.
func runScenarios(t *testing.T, engine string, h http.Handler, rows []scenario) {
	t.Helper()
	for _, sc := range rows {
		if sc.engines != nil && !slices.Contains(sc.engines, engine) {
			continue
		}
		t.Run(sc.name, func(t *testing.T) { sc.run(t, h) })
	}
}

// run sends the request and checks the answer, which it returns for
// tests whose next step needs something of it (a token).
func (sc scenario) run(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	w := serve(t, h, sc.request())
	if w.Code != sc.status {
		t.Fatalf("%s %s: status %d, want %d: %s", sc.method, sc.path, w.Code, sc.status, w.Body)
	}
	if sc.status >= 400 && sc.method != http.MethodHead {
		var p httpapi.Problem
		if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("Content-Type %q", ct)
		}
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Detail == "" || p.Code == "" {
			t.Errorf("error without detail or code (%v): %s", err, w.Body)
		}
	}
	for name, v := range sc.header {
		if got := w.Header().Get(name); got != v {
			t.Errorf("%s %q, want %q", name, got, v)
		}
	}
	if sc.want != nil {
		got := reflect.New(reflect.TypeOf(sc.want))
		if err := json.Unmarshal(w.Body.Bytes(), got.Interface()); err != nil {
			t.Fatalf("decode the answer as %T: %v: %s", sc.want, err, w.Body)
		}
		if diff := cmp.Diff(sc.want, got.Elem().Interface(), sc.cmpOpts...); diff != "" {
			t.Errorf("%s %s: answer (-want +got):\n%s", sc.method, sc.path, diff)
		}
	}
	if sc.check != nil {
		sc.check(t, w)
	}
	return w
}

// decodeAnswer is the answer's body decoded as a T.
func decodeAnswer[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode the answer as %T: %v: %s", v, err, w.Body)
	}
	return v
}

func (sc scenario) request() *http.Request {
	var body *bytes.Reader
	if sc.body != "" {
		body = bytes.NewReader([]byte(sc.body))
	}
	var req *http.Request
	if body != nil {
		req = httptest.NewRequest(sc.method, sc.path, body)
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(sc.method, sc.path, nil)
	}
	for _, h := range sc.headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimPrefix(v, " "))
	}
	return req
}

// jsonText is v as a JSON request body.
func jsonText(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
