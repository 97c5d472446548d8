package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// The contract check: every request the HTTP tests send through the real
// router, and every answer, is held against the OpenAPI document the
// server serves, by a validator nobody here wrote
// (github.com/pb33f/libopenapi-validator). The document is loaded once per
// test binary from the first server a test builds.
//
// The rules:
//   - every answer must be documented: its status for that operation, its
//     content type, its body's schema, its required headers; and a header
//     the server sends beyond the transport and security headers every
//     answer carries must be declared on that response;
//   - a request the document calls invalid must be refused (4xx): tests
//     send malformed JSON, crafted tokens and wrong content types on
//     purpose, and those answers are still checked; but a request the
//     server accepts must be one the document allows;
//   - a route the document does not describe may only answer the JSON 404
//     or 405 of the fallback.
type contract struct {
	doc *v3.Document
	v   validator.Validator
	// opts match paths as the validator does.
	opts *config.ValidationOptions
}

var (
	contractOnce sync.Once
	theContract  *contract
	contractErr  error
)

// loadContract returns the validator for the document srv serves at
// /openapi.json, built on the first call.
func loadContract(t testing.TB, srv http.Handler) *contract {
	t.Helper()
	contractOnce.Do(func() { theContract, contractErr = newContract(srv) })
	if contractErr != nil {
		t.Fatalf("OpenAPI contract: %v", contractErr)
	}
	return theContract
}

func newContract(srv http.Handler) (*contract, error) {
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if w.Code != http.StatusOK {
		return nil, fmt.Errorf("GET /openapi.json: %d %s", w.Code, w.Body)
	}
	doc, err := libopenapi.NewDocument(w.Body.Bytes())
	if err != nil {
		return nil, fmt.Errorf("parse /openapi.json: %w", err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build /openapi.json model: %w", err)
	}
	opts := []config.Option{config.WithFormatAssertions(), config.WithURLEncodedBodyValidation(), config.WithAuthenticationFunc(presented)}
	v, errs := validator.NewValidator(doc, opts...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("validator: %v", errs)
	}
	return &contract{doc: &model.Model, v: v, opts: config.NewValidationOptions(opts...)}, nil
}

// serve sends req through srv, as the test helpers do, and checks the
// exchange against the document.
func serve(t testing.TB, srv http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			t.Fatal(err)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	// The server may change the request's headers (Go moves Host); keep
	// what was sent.
	sent := req.Clone(req.Context())
	if req.URL.Path == "/api/v1/events" && req.Method == http.MethodGet {
		// An event stream never ends by itself: the client goes.
		ctx, cancel := context.WithTimeout(req.Context(), 200*time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	checkContract(t, srv, sent, body, w)
	return w
}

// checkContract reports (t.Errorf) every way the exchange breaks the
// document.
func checkContract(t testing.TB, srv http.Handler, req *http.Request, body []byte, w *httptest.ResponseRecorder) {
	t.Helper()
	c := loadContract(t, srv)
	if msgs := c.check(req, body, w.Result()); len(msgs) > 0 {
		t.Errorf("OpenAPI contract: %s %s -> %d:\n  %s\n  body: %.300s", req.Method, req.URL.RequestURI(), w.Code,
			strings.Join(msgs, "\n  "), w.Body.String())
	}
}

// check returns the contract violations of one exchange.
func (c *contract) check(req *http.Request, body []byte, res *http.Response) []string {
	fresh := func(method string) *http.Request {
		r := req.Clone(req.Context())
		r.Method = method
		r.Body = io.NopCloser(bytes.NewReader(body))
		return r
	}
	method := req.Method
	if corsPreflight(req, res) {
		// A CORS preflight (cors.go) is the transport's, not an
		// operation: a 204 with no body granting an origin.
		return nil
	}
	if method == http.MethodHead {
		// HEAD is answered as GET without the body (net/http's mux).
		method = http.MethodGet
	}
	pathItem, errs, template := paths.FindPath(fresh(method), c.doc, c.opts)
	if len(errs) > 0 || pathItem == nil {
		// Not a documented operation: only the fallback's 404/405 may answer.
		if (res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed) &&
			res.Header.Get("Content-Type") == "application/problem+json" {
			return nil
		}
		return append([]string{fmt.Sprintf("undocumented operation: the server answers %s %s but /openapi.json has no such operation "+
			"(describe it: huma.Register, or OpenAPI().AddOperation for a handler on the mux)", method, req.URL.Path)}, messages(errs)...)
	}
	var out []string
	if _, rerrs := c.v.ValidateHttpRequestSync(fresh(method)); len(rerrs) > 0 && res.StatusCode < 400 {
		out = append(out, "the server accepted a request the document refuses:")
		out = append(out, messages(rerrs)...)
	}
	_, resErrs := c.v.ValidateHttpResponse(fresh(method), res)
	for _, e := range resErrs {
		if req.Method == http.MethodHead && e.ValidationType == helpers.ResponseBodyValidation && e.ValidationSubType == helpers.Schema {
			continue // a HEAD answer has no body to check
		}
		out = append(out, messages([]*verrors.ValidationError{e})...)
	}
	out = append(out, c.undeclaredHeaders(pathItem, method, template, res)...)
	return out
}

// corsPreflight reports whether the exchange is a CORS preflight granted
// by the edge: OPTIONS with Origin and Access-Control-Request-Method,
// answered 204, no body, the origin allowed.
func corsPreflight(req *http.Request, res *http.Response) bool {
	if req.Method != http.MethodOptions || req.Header.Get("Origin") == "" || req.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != req.Header.Get("Origin") {
		return false
	}
	b, _ := io.ReadAll(res.Body)
	return len(b) == 0
}

// everyAnswer are the headers any answer may carry without a declaration:
// transport, caching and the security headers set by the edge, and the
// CORS headers it sets for an allowed origin (cors.go).
var everyAnswer = []string{
	"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers",
	"Content-Type", "Content-Length", "Date", "X-Request-Id", "X-Content-Type-Options", "Cache-Control", "Pragma", "Vary",
	"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy", "Strict-Transport-Security", "Cross-Origin-Opener-Policy",
	"Cross-Origin-Resource-Policy", "Permissions-Policy", "Accept-Ranges", "Last-Modified", "Allow",
	// Hop-by-hop (RFC 9110 7.6.1): about the connection, not the operation.
	"Connection",
}

// undeclaredHeaders lists headers sent that the operation's response for
// the status does not declare.
func (c *contract) undeclaredHeaders(item *v3.PathItem, method, template string, res *http.Response) []string {
	op := item.GetOperations().GetOrZero(strings.ToLower(method))
	if op == nil || op.Responses == nil {
		return nil
	}
	code := strconv.Itoa(res.StatusCode)
	resp := op.Responses.Codes.GetOrZero(code)
	if resp == nil {
		resp = op.Responses.Codes.GetOrZero(code[:1] + "XX")
	}
	if resp == nil {
		resp = op.Responses.Default
	}
	if resp == nil {
		return nil // reported by the validator
	}
	var out []string
	for name := range res.Header {
		if slices.Contains(everyAnswer, name) {
			continue
		}
		declared := false
		for h := range resp.Headers.KeysFromOldest() {
			if http.CanonicalHeaderKey(h) == name {
				declared = true
				break
			}
		}
		if !declared {
			out = append(out, fmt.Sprintf("header %s is sent but not declared on %s %s response %s", name, method, template, code))
		}
	}
	slices.Sort(out)
	return out
}

// presented checks that the request carries the credential a security
// scheme names (not that it is valid: the server decides that, and its
// 401 is checked as an answer). The validator's own check passes any
// request for an oauth2 scheme, which would hide a missing scheme.
func presented(_ context.Context, in *config.AuthenticationInput) error {
	s, r := in.SecurityScheme, in.Request
	switch strings.ToLower(s.Type) {
	case "oauth2", "http":
		if r.Header.Get("Authorization") == "" {
			return errors.New("no Authorization header")
		}
	case "apikey":
		switch s.In {
		case "cookie":
			if _, err := r.Cookie(s.Name); err != nil {
				return fmt.Errorf("no %s cookie", s.Name)
			}
		case "header":
			if r.Header.Get(s.Name) == "" {
				return fmt.Errorf("no %s header", s.Name)
			}
		default:
			return fmt.Errorf("api key in %q", s.In)
		}
	default:
		return fmt.Errorf("unknown security scheme type %q", s.Type)
	}
	return nil
}

func messages(errs []*verrors.ValidationError) []string {
	var out []string
	for _, e := range errs {
		m := e.Message
		if e.Reason != "" {
			m += ": " + e.Reason
		}
		for _, s := range e.SchemaValidationErrors {
			loc := s.FieldPath
			if loc == "" {
				loc = s.KeywordLocation
			}
			m += fmt.Sprintf(" [%s: %s]", loc, s.Reason)
		}
		out = append(out, m)
	}
	return out
}

// TestOpenAPIDocumentIsValid: the served document is valid OpenAPI 3.1
// for the validator's own schema of the specification.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	c := loadContract(t, e.srv)
	if ok, errs := c.v.ValidateDocument(); !ok {
		t.Fatalf("the document is not valid OpenAPI:\n%s", strings.Join(messages(errs), "\n"))
	}
}

// TestContractKnownGaps sends, through the contract check, one request for
// each answer that independent tools found undocumented or mis-typed: an
// item without a reorder point, a decimal shortage and count, 429 from
// /login and /token, the cookie mode, and the headers WWW-Authenticate,
// Retry-After, ETag, Link, Idempotent-Replayed and Content-Disposition.
// The check itself is the assertion; the statuses only make sure each
// case reached the answer it is about.
func TestContractKnownGaps(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		d := newDomainTestServer(t, engine)
		f := d.fixture()
		m, c := d.tokens["manager"], d.tokens["clerk"]
		item := d.do("POST", "/api/v1/items", m, map[string]any{"sku": "SUGAR", "name": "Sugar", "uom": "kg", "qty_precision": 2}).must(201)
		if item.header.Get("ETag") == "" {
			t.Fatal("no ETag on create")
		}
		sugar := item.id()
		d.do("GET", fmt.Sprintf("/api/v1/items/%d", sugar), m, nil).must(200)
		key := newKey()
		receipt := map[string]any{"type": "receipt", "lines": []any{map[string]any{"item_id": sugar, "to_location_id": f.a, "qty": 100.5}}}
		d.do("POST", "/api/v1/movements", c, receipt, "Idempotency-Key", key).must(201)
		if r := d.do("POST", "/api/v1/movements", c, receipt, "Idempotency-Key", key).must(201); r.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %v", r.header)
		}
		short := d.move(map[string]any{"type": "issue", "lines": []any{map[string]any{"item_id": sugar, "from_location_id": f.a, "qty": 112.75}}}).must(409)
		if !strings.Contains(string(short.body), "112.75") {
			t.Fatalf("shortage: %s", short.body)
		}
		count := d.move(map[string]any{"type": "count", "lines": []any{map[string]any{"item_id": sugar, "location_id": f.a, "counted_qty": 12.75, "expected_qty": 1.5}}})
		if count.status != http.StatusConflict {
			t.Fatalf("outdated count: %d %s", count.status, count.body)
		}
		for _, path := range []string{"/api/v1/items?limit=1", "/api/v1/items?format=csv"} {
			d.do("GET", path, m, nil).must(200)
		}
		if r := d.do("GET", "/api/v1/items?limit=1", m, nil); r.header.Get("Link") == "" {
			t.Fatal("no Link on a first page")
		}
		if r := d.do("GET", "/api/v1/items", "", nil).must(401); r.header.Get("WWW-Authenticate") == "" {
			t.Fatal("no WWW-Authenticate")
		}

		e := newEnv(t, engine, func(c *httpapi.Config) { c.LoginRatePerIP, c.LoginBurstPerIP = 0.001, 1 })
		e.login("joevu", "glinteco")
		if r := e.do("POST", "/login", `{"username":"joevu","password":"glinteco"}`); r.Code != http.StatusTooManyRequests {
			t.Fatalf("/login: %d", r.Code)
		}
		if r := e.form(url.Values{"grant_type": {"password"}, "username": {"joevu"}, "password": {"glinteco"}}, "application/x-www-form-urlencoded"); r.Code != http.StatusTooManyRequests {
			t.Fatalf("/token: %d", r.Code)
		}

		e = newEnv(t, engine)
		jar := cookieJar{}
		r := e.do("POST", "/login?cookies=true", `{"username":"joevu","password":"glinteco"}`)
		jar.take(r.ResponseRecorder)
		e.do("GET", "/user", "", jar.header("access_token_cookie"))
		if r := e.do("POST", "/refresh", "", jar.header("refresh_token_cookie"), "X-CSRF-Token: "+jar["csrf_refresh_token"].Value); r.Code != http.StatusOK {
			t.Fatalf("cookie refresh: %d %s", r.Code, r.Body)
		}
	})
}

// TestContractEveryOperation sends every operation of the served document
// the requests that fail: no credentials, a caller without the role, an id
// that does not exist, a path parameter of the wrong type, a malformed
// body, a body of the wrong type, an empty object. Each answer is held
// against the document (by serve) and none may be a 500.
func TestContractEveryOperation(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		d := newDomainTestServer(t, engine)
		c := loadContract(t, d.srv)
		sent := 0
		defer func() { t.Logf("%d requests", sent) }()
		for path, item := range c.doc.Paths.PathItems.FromOldest() {
			for method, op := range item.GetOperations().FromOldest() {
				method = strings.ToUpper(method)
				target, bad := path, path
				for _, p := range op.Parameters {
					if p.In != "path" {
						continue
					}
					value := "nope"
					if s := p.Schema.Schema(); s != nil && slices.Contains(s.Type, "integer") {
						value, bad = "999999", strings.ReplaceAll(bad, "{"+p.Name+"}", "abc")
					}
					target = strings.ReplaceAll(target, "{"+p.Name+"}", value)
					if !strings.Contains(bad, "abc") {
						bad = strings.ReplaceAll(bad, "{"+p.Name+"}", value)
					}
				}
				hasBody := op.RequestBody != nil
				type try struct {
					name, path, token, ctype string
					body                     any
				}
				tries := []try{{name: "no credentials", path: target}}
				if op.Security == nil || len(op.Security) > 0 {
					tries = append(tries, try{name: "viewer", path: target, token: d.login("viewer")})
				}
				tries = append(tries, try{name: "admin", path: target, token: d.login("admin")})
				if bad != target {
					tries = append(tries, try{name: "path parameter not an integer", path: bad, token: d.login("admin")})
				}
				if hasBody {
					tries = append(tries,
						try{name: "empty object", path: target, token: d.login("admin"), body: "{}"},
						try{name: "malformed JSON", path: target, token: d.login("admin"), body: `{"a":`},
						try{name: "not JSON", path: target, token: d.login("admin"), body: "a=b", ctype: "text/plain"},
					)
				}
				for _, tr := range tries {
					sent++
					hdr := []string{"Idempotency-Key", newKey()}
					if tr.ctype != "" {
						hdr = append(hdr, "Content-Type", tr.ctype)
					}
					r := d.do(method, tr.path, tr.token, tr.body, hdr...)
					if r.status >= 500 && r.status != http.StatusServiceUnavailable {
						t.Errorf("%s %s (%s): %d %s", method, tr.path, tr.name, r.status, r.body)
					}
				}
			}
		}
	})
}
