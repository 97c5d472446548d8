package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
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
		return append([]string{"undocumented operation"}, messages(errs)...)
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

// everyAnswer are the headers any answer may carry without a declaration:
// transport, caching and the security headers set by the edge.
var everyAnswer = []string{
	"Content-Type", "Content-Length", "Date", "X-Request-Id", "X-Content-Type-Options", "Cache-Control", "Pragma", "Vary",
	"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy", "Strict-Transport-Security", "Cross-Origin-Opener-Policy",
	"Cross-Origin-Resource-Policy", "Permissions-Policy", "Accept-Ranges", "Last-Modified", "Allow",
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
