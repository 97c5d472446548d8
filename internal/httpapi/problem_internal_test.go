package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/logcheck"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"github.com/warehouse-api/warehouse/internal/store"
)

// renderers is one error answered the three ways the server answers
// errors: returned by a Huma handler, written by a plain route, and as the
// OAuth2 error of a token endpoint.
type renderers struct {
	s   *Server
	api http.Handler
	// next is what the Huma handler returns.
	next error
}

func newRenderers(t *testing.T) *renderers {
	t.Helper()
	useProblems()
	r := &renderers{s: &Server{log: logcheck.New(t)}}
	mux := http.NewServeMux()
	hc := huma.DefaultConfig("errors", "1")
	hc.Transformers = append(hc.Transformers, r.s.logProblems)
	api := huma.NewAPI(hc, humago.NewAdapter(mux, ""))
	huma.Register(api, huma.Operation{OperationID: "fail", Method: http.MethodGet, Path: "/fail"},
		func(ctx context.Context, _ *struct{}) (*struct{}, error) { return nil, r.next })
	mux.HandleFunc("GET /raw", func(w http.ResponseWriter, _ *http.Request) { r.s.writeError(w, r.next) })
	r.api = mux
	return r
}

type rendered struct {
	status int
	header http.Header
	body   Problem
}

func (r *renderers) serve(t *testing.T, path string, err error) rendered {
	t.Helper()
	r.next = err
	w := httptest.NewRecorder()
	r.api.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: Content-Type %q, want application/problem+json", path, ct)
	}
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("%s: %v: %s", path, err, w.Body)
	}
	return rendered{status: w.Code, header: w.Header(), body: p}
}

// wrapTwice is err as it reaches a handler from deep down: wrapped by the
// store method and again by whatever called it.
func wrapTwice(err error) error {
	return fmt.Errorf("post movement: %w", fmt.Errorf("UpdateItem(7): %w", err))
}

// TestErrorTable walks every code of the table through every renderer:
// the status, code, title, detail and Retry-After a client gets, and the
// RFC 6749 error of the token endpoints. The error is wrapped twice, as it
// is on its way up from the store. A domain code with no line in the table
// fails here rather than answer 500.
func TestErrorTable(t *testing.T) {
	r := newRenderers(t)
	cases := []struct {
		code        string
		status      int
		title       string
		retryAfter  string
		oauthStatus int
		oauth       string
	}{
		{warehouse.ENOTFOUND, 404, "Not Found", "", 400, "invalid_request"},
		{warehouse.ECONFLICT, 409, "Conflict", "", 400, "invalid_request"},
		{warehouse.EINVALID, 422, "Unprocessable Entity", "", 400, "invalid_request"},
		{warehouse.EUNAUTHORIZED, 401, "Unauthorized", "", 400, "invalid_grant"},
		{warehouse.EFORBIDDEN, 403, "Forbidden", "", 400, "invalid_request"},
		{warehouse.EUNAVAILABLE, 503, "Service Unavailable", "2", 503, "temporarily_unavailable"},
		{warehouse.EINTERNAL, 500, "Internal Server Error", "", 500, "server_error"},
		{warehouse.EBADCURSOR, 400, "Bad Request", "", 400, "invalid_request"},
		{warehouse.EPRECONDITION, 412, "Precondition Failed", "", 400, "invalid_request"},
		{warehouse.EINSUFFICIENT, 409, "Insufficient stock", "", 400, "invalid_request"},
		{warehouse.ECOUNTOUTDATED, 409, "Count outdated", "", 400, "invalid_request"},
		{warehouse.EORDERSTATE, 409, "Order state", "", 400, "invalid_request"},
		{warehouse.EOVERRECEIPT, 409, "Over-receipt", "", 400, "invalid_request"},
		{warehouse.EBADCREDENTIALS, 401, "Unauthorized", "", 400, "invalid_grant"},
		{warehouse.ELOGINTHROTTLED, 429, "Too Many Requests", "", 429, "temporarily_unavailable"},
		{warehouse.ETOOMANYSTREAMS, 429, "Too Many Requests", "", 429, "temporarily_unavailable"},
		{warehouse.ETOKENREVOKED, 401, "Unauthorized", "", 400, "invalid_grant"},
		{warehouse.ESESSIONEXPIRED, 401, "Unauthorized", "", 400, "invalid_grant"},
		{warehouse.EREFRESHREUSE, 401, "Unauthorized", "", 400, "invalid_grant"},
		{warehouse.EWRONGPASSWORD, 403, "Forbidden", "", 400, "invalid_request"},
		{codeBadParameter, 400, "Bad Request", "", 400, "invalid_request"},
		{codeValidationFailed, 422, "Unprocessable Entity", "", 400, "invalid_request"},
		{codePreconditionRequired, 428, "Precondition Required", "", 400, "invalid_request"},
		{codeNotAcceptable, 406, "Not Acceptable", "", 400, "invalid_request"},
		{codeMethodNotAllowed, 405, "Method Not Allowed", "", 400, "invalid_request"},
		{codeTooManyRows, 413, "Request Entity Too Large", "", 400, "invalid_request"},
		{codeTooManyRequests, 429, "Too Many Requests", "", 429, "temporarily_unavailable"},
		{codeBadRequest, 400, "Bad Request", "", 400, "invalid_request"},
		{codeBadFraming, 400, "Bad request framing", "", 400, "invalid_request"},
		{codeBodyTooLarge, 413, "Request Entity Too Large", "", 400, "invalid_request"},
		{codeUnsupportedMedia, 415, "Unsupported Media Type", "", 400, "invalid_request"},
		{codeIdempotencyKeyRequired, 400, "Bad Request", "", 400, "invalid_request"},
		{codeIdempotencyKeyInUse, 409, "Conflict", "", 400, "invalid_request"},
		{codeMissingToken, 401, "Unauthorized", "", 400, "invalid_grant"},
		{codeBadHeader, 401, "Unauthorized", "", 400, "invalid_grant"},
		{codeWrongTokenType, 401, "Unauthorized", "", 400, "invalid_grant"},
		{codeInvalidToken, 401, "Unauthorized", "", 400, "invalid_grant"},
		{codeCookieTokenInHeader, 401, "Unauthorized", "", 400, "invalid_grant"},
		{codeMissingCSRF, 401, "Unauthorized", "", 400, "invalid_grant"},
		{codeCSRFMismatch, 401, "Unauthorized", "", 400, "invalid_grant"},
		{codeSessionEnded, 401, "Unauthorized", "", 400, "invalid_grant"},
		{codeUnknownUser, 401, "Unauthorized", "", 400, "invalid_grant"},
		{codeFreshRequired, 401, "Unauthorized", "", 400, "invalid_grant"},
		{auth.CodeMalformed, 401, "Unauthorized", "", 400, "invalid_grant"},
		{auth.CodeBadSignature, 401, "Unauthorized", "", 400, "invalid_grant"},
		{auth.CodeAlgNotAllowed, 401, "Unauthorized", "", 400, "invalid_grant"},
		{auth.CodeUnknownKID, 401, "Unauthorized", "", 400, "invalid_grant"},
		{auth.CodeExpired, 401, "Unauthorized", "", 400, "invalid_grant"},
		{auth.CodeImmature, 401, "Unauthorized", "", 400, "invalid_grant"},
		{auth.CodeMissingClaim, 401, "Unauthorized", "", 400, "invalid_grant"},
		{auth.CodeInvalidClaim, 401, "Unauthorized", "", 400, "invalid_grant"},
		{auth.CodeInvalidIssuer, 401, "Unauthorized", "", 400, "invalid_grant"},
		{auth.CodeInvalidAudience, 401, "Unauthorized", "", 400, "invalid_grant"},
	}
	var tested []string
	for _, tc := range cases {
		tested = append(tested, tc.code)
		t.Run(tc.code, func(t *testing.T) {
			msg := "what went wrong with " + tc.code
			err := wrapTwice(&warehouse.Error{Code: tc.code, Message: msg, Fields: []warehouse.FieldError{{Field: "f", Message: "m"}}})
			for _, path := range []string{"/fail", "/raw"} {
				got := r.serve(t, path, err)
				if got.status != tc.status || got.body.Status != tc.status || got.body.Code != tc.code ||
					got.body.Title != tc.title || got.body.Detail != msg {
					t.Errorf("%s: %d %+v, want %d code %q title %q detail %q", path, got.status, got.body, tc.status, tc.code, tc.title, msg)
				}
				if len(got.body.Errors) != 1 || got.body.Errors[0].Field != "f" {
					t.Errorf("%s: errors %+v, want the error's fields", path, got.body.Errors)
				}
				if ra := got.header.Get("Retry-After"); ra != tc.retryAfter {
					t.Errorf("%s: Retry-After %q, want %q", path, ra, tc.retryAfter)
				}
			}
			o := r.s.oauthErrorFor(err)
			if o.status != tc.oauthStatus || o.Err != tc.oauth || o.Desc != msg || o.Detail != msg || o.retryAfter != tc.retryAfter {
				t.Errorf("oauth: %+v, want %d %q %q Retry-After %q", o, tc.oauthStatus, tc.oauth, msg, tc.retryAfter)
			}
		})
	}
	for code := range kinds {
		if !slices.Contains(tested, code) {
			t.Errorf("code %q is in the table but not in this test", code)
		}
	}
	for _, code := range domainCodes(t) {
		if _, ok := kinds[code]; !ok {
			t.Errorf("domain code %q has no line in the error table (it would answer 500)", code)
		}
	}
}

// domainCodes reads the domain package's error codes (string constants
// named EXXX) from its source, so that a new one cannot be forgotten.
func domainCodes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("domain sources: %v %v", files, err)
	}
	var codes []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !isCodeName(name.Name) || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, err := strconv.Unquote(lit.Value)
						if err != nil {
							t.Fatal(err)
						}
						codes = append(codes, v)
					}
				}
			}
		}
	}
	if len(codes) < 10 {
		t.Fatalf("found only %d domain codes: %q", len(codes), codes)
	}
	return codes
}

// TestTokenRefusalChallenges: every refusal of a token says how to
// authenticate (RFC 6750 section 3), through every renderer; a request
// without a token gets the challenge without an error code.
func TestTokenRefusalChallenges(t *testing.T) {
	r := newRenderers(t)
	codes := append(authTokenCodes(t), codeBadHeader, codeWrongTokenType, codeInvalidToken, codeCookieTokenInHeader,
		codeMissingCSRF, codeCSRFMismatch, codeSessionEnded, codeUnknownUser, codeFreshRequired, warehouse.ETOKENREVOKED)
	for _, code := range append(codes, codeMissingToken) {
		want := `Bearer error="invalid_token"`
		if code == codeMissingToken {
			want = `Bearer realm="warehouse"`
		}
		for _, path := range []string{"/fail", "/raw"} {
			got := r.serve(t, path, &warehouse.Error{Code: code, Message: "no"})
			if got.status != http.StatusUnauthorized || got.body.Code != code || got.header.Get("WWW-Authenticate") != want {
				t.Errorf("%s %s: %d %q WWW-Authenticate %q, want 401 %q", code, path, got.status, got.body.Code, got.header.Get("WWW-Authenticate"), want)
			}
		}
	}
}

// codeProblem is the table's answer without an error chain: for every
// code, the same status, body and headers as problemFor.
func TestCodeProblemAnswersAsProblemFor(t *testing.T) {
	for code := range kinds {
		want := problemFor(&warehouse.Error{Code: code, Message: "detail of " + code})
		got := codeProblem(code, "detail of "+code)
		wb, _ := json.Marshal(want)
		gb, _ := json.Marshal(got)
		if string(gb) != string(wb) || !reflect.DeepEqual(got.headers, want.headers) {
			t.Errorf("%s: %s %v, want %s %v", code, gb, got.headers, wb, want.headers)
		}
	}
}

// authTokenCodes reads the codes of auth.TokenError (the Code constants of
// auth/verify.go) from the source, so that a new one cannot answer 500.
func authTokenCodes(t *testing.T) []string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "../../auth/verify.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, d := range file.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Code") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					codes = append(codes, v)
				}
			}
		}
	}
	if len(codes) < 5 {
		t.Fatalf("found only %d token codes: %q", len(codes), codes)
	}
	return codes
}

// isCodeName reports whether a constant is named as the error codes are:
// E and capitals only (EINVALID), not EventLogout.
func isCodeName(name string) bool {
	return len(name) > 1 && name[0] == 'E' && strings.ToUpper(name) == name
}

// TestErrorExtensions: the errors that carry more than a message answer
// it, by code, through every renderer.
func TestErrorExtensions(t *testing.T) {
	r := newRenderers(t)
	cases := []struct {
		name   string
		err    error
		status int
		code   string
		check  func(Problem) bool
	}{
		{"shortage", &warehouse.StockError{Shortages: []warehouse.Shortage{{SKU: "S", LocationCode: "L", Requested: 2_000, Available: 1_000}}},
			409, warehouse.EINSUFFICIENT, func(p Problem) bool {
				return p.Type == "/problems/insufficient-stock" && len(p.Shortages) == 1 && p.Shortages[0].SKU == "S" && p.Detail == "S at L: requested 2, available 1"
			}},
		{"count outdated", &warehouse.CountOutdatedError{SKU: "S", LocationCode: "L", Expected: 3_000, OnHand: 2_000},
			409, warehouse.ECOUNTOUTDATED, func(p Problem) bool { return p.OnHand != nil && *p.OnHand == 2_000 }},
		{"stale", &warehouse.StaleError{Current: 4},
			412, warehouse.EPRECONDITION, func(p Problem) bool {
				return p.Version != nil && *p.Version == 4 && p.Detail == "the resource has changed: current version is 4; fetch it again and retry"
			}},
		{"no code", errors.New("sql: something broke with secret s3cr3t"),
			500, warehouse.EINTERNAL, func(p Problem) bool { return p.Detail == "Internal server error" && p.Errors == nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/fail", "/raw"} {
				got := r.serve(t, path, wrapTwice(tc.err))
				if got.status != tc.status || got.body.Code != tc.code || !tc.check(got.body) {
					t.Errorf("%s: %d %+v, want %d %q with its extension", path, got.status, got.body, tc.status, tc.code)
				}
			}
		})
	}
}

// TestRetryAfterFromError: an error that says how long to wait sets
// Retry-After (whole seconds, rounded up), over the table's default.
func TestRetryAfterFromError(t *testing.T) {
	r := newRenderers(t)
	for _, tc := range []struct {
		wait time.Duration
		want string
	}{{1500 * time.Millisecond, "2"}, {0, "1"}, {90 * time.Second, "90"}} {
		err := wrapTwice(retryAfter(warehouse.Errorf(warehouse.EUNAVAILABLE, "busy"), tc.wait))
		for _, path := range []string{"/fail", "/raw"} {
			if got := r.serve(t, path, err); got.status != 503 || got.header.Get("Retry-After") != tc.want {
				t.Errorf("%v %s: %d Retry-After %q, want 503 %q", tc.wait, path, got.status, got.header.Get("Retry-After"), tc.want)
			}
		}
		if o := r.s.oauthErrorFor(err); o.retryAfter != tc.want {
			t.Errorf("%v oauth: Retry-After %q, want %q", tc.wait, o.retryAfter, tc.want)
		}
	}
}

// TestStoreOutageWrappedTwice: a real store's outage (its database
// closed), wrapped twice more on its way up, still answers 503 with
// Retry-After on every renderer, on both engines.
func TestStoreOutageWrappedTwice(t *testing.T) {
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		r := newRenderers(t) // one per engine: the subtests run in parallel
		ctx := context.Background()
		db, err := store.Open(ctx, pgtest.URL(t, engine), "", store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		calls := map[string]func() error{
			"Item": func() error { _, err := db.Item(ctx, 1); return err },
			"ListItems": func() error {
				_, _, err := db.ListItems(ctx, warehouse.ItemFilter{}, warehouse.Page{Limit: 10})
				return err
			},
			"UpdateItem": func() error { _, err := db.UpdateItem(ctx, 1, 1, warehouse.ItemPatch{}, "t"); return err },
			"UserByName": func() error { _, err := db.UserByName(ctx, "joevu"); return err },
			"CountStock": func() error { _, err := db.CountStock(ctx, warehouse.StockFilter{}); return err },
			"ListAuditEvs": func() error {
				_, _, err := db.ListAuditEvents(ctx, warehouse.AuditFilter{}, warehouse.Page{Limit: 10})
				return err
			},
		}
		for name, call := range calls {
			err := call()
			if err == nil {
				t.Fatalf("%s on a closed database: no error", name)
			}
			err = wrapTwice(err)
			for _, path := range []string{"/fail", "/raw"} {
				got := r.serve(t, path, err)
				if got.status != 503 || got.body.Code != warehouse.EUNAVAILABLE || got.header.Get("Retry-After") == "" {
					t.Errorf("%s %s: %d %q Retry-After %q, want 503 unavailable with Retry-After", name, path, got.status, got.body.Code, got.header.Get("Retry-After"))
				}
				if strings.Contains(got.body.Detail, "closed") || strings.Contains(got.body.Detail, name) {
					t.Errorf("%s %s: detail %q shows internals", name, path, got.body.Detail)
				}
			}
			if o := r.s.oauthErrorFor(err); o.status != 503 || o.Err != "temporarily_unavailable" || o.retryAfter == "" {
				t.Errorf("%s oauth: %+v, want 503 temporarily_unavailable with Retry-After", name, o)
			}
		}
	})
}
