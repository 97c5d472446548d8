package httpapi

import (
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse/auth"
)

// The OpenAPI document must describe every answer the server gives, as it
// gives it: the test suite holds every response against it with an
// independent validator. Huma documents what a handler's types say; what
// the middleware and the error renderer add to every operation (401 with
// WWW-Authenticate, 503 with Retry-After, the parse and validation errors
// of a body), and the routes served outside Huma, are added here, once,
// after every route is registered.

// Security scheme names. Swagger UI lists the schemes of its Authorize
// dialog in the document's order, which is by name: the OAuth2 password
// form, what a person wants, sorts first (FastAPI's name for it).
const (
	schemeOAuth2        = "OAuth2PasswordBearer"
	schemeBearer        = "bearer"
	schemeAccessCookie  = "cookieAccessToken"
	schemeRefreshCookie = "cookieRefreshToken"
	schemeCSRF          = "csrfHeader"
)

// tagDocs are the document's tags, in the order the docs show them.
var tagDocs = []*huma.Tag{
	{Name: "tutorial", Description: "The FastAPI JWT tutorial's endpoints: log in, read the user, refresh, revoke."},
	{Name: "oauth2", Description: "The OAuth2 token endpoint (RFC 6749) used by the docs' Authorize button and by clients."},
	{Name: "sessions", Description: "Logins as sessions: list and end them, log out, change the password."},
	{Name: "keys", Description: "Public signing keys and discovery, for services that verify our tokens."},
	{Name: "items", Description: "Stock-keeping units."},
	{Name: "locations", Description: "Warehouses, zones and bins, as a tree."},
	{Name: "stock", Description: "Balances on hand, by item and location."},
	{Name: "movements", Description: "Receipts, issues, transfers, adjustments and counts: the only way stock changes."},
	{Name: "ledger", Description: "The append-only ledger of posted movement lines."},
	{Name: "orders", Description: "Outbound orders: allocation (reservations), pick lists, picks through the ledger, shipping."},
	{Name: "purchase-orders", Description: "Inbound orders: expected lines, receiving against them (partial, over-receipt within a tolerance), open quantities."},
	{Name: "imports", Description: "Bulk import of items, locations and stock from CSV files."},
	{Name: "lookup", Description: "Resolve a scanned barcode or code."},
	{Name: "reports", Description: "Derived views of stock, such as items below their reorder point."},
	{Name: "users", Description: "User administration (admin role)."},
	{Name: "audit", Description: "Who changed what, and security events."},
	{Name: "events", Description: "The integration event log as a Server-Sent Events stream, resumable with Last-Event-ID."},
	{Name: "webhooks", Description: "Outbound webhooks of the event log, signed per Standard Webhooks, with their delivery log (admin role)."},
	{Name: "operations", Description: "Health checks for load balancers and orchestrators."},
	{Name: "docs", Description: "The interactive documentation and this document."},
}

// noDatabase are the operations answered without the database, which
// therefore never answer 503 for it.
var noDatabase = []string{"welcome", "user", "healthz", "jwks", "openid-configuration", "oauth-authorization-server", "home"}

// securityFor is the requirement of an operation that takes a token of
// type want: OAuth2 or a bearer header, or the cookie mode (with the CSRF
// header on methods that change state).
func securityFor(want, method string) []map[string][]string {
	cookie := map[string][]string{schemeAccessCookie: {}}
	if want == auth.TypeRefresh {
		cookie = map[string][]string{schemeRefreshCookie: {}}
	}
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		cookie[schemeCSRF] = []string{}
	}
	return []map[string][]string{{schemeOAuth2: {}}, {schemeBearer: {}}, cookie}
}

// securitySchemes are the document's schemes; the bearer scheme lists the
// claims of an access token (claimsDoc), and the operator's extra claims
// (--claims) by name.
func securitySchemes(extraClaims map[string]any) map[string]*huma.SecurityScheme {
	claims := claimsDoc()
	if len(extraClaims) > 0 {
		claims += "\n\nAccess tokens also carry the operator's claims: " + strings.Join(slices.Sorted(maps.Keys(extraClaims)), ", ") + "."
	}
	return map[string]*huma.SecurityScheme{
		schemeOAuth2: {Type: "oauth2",
			Description: "Log in with your username and password (OAuth2 password grant, RFC 6749 section 4.3, at POST /token). No client id is needed.",
			Flows:       &huma.OAuthFlows{Password: &huma.OAuthFlow{TokenURL: "/token", RefreshURL: "/token", Scopes: map[string]string{}}}},
		schemeBearer: {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "An access token from POST /login or POST /token (a refresh token for /refresh and /refresh-revoke). " +
				"An access token's claims:" + claims},
		schemeAccessCookie: {Type: "apiKey", In: "cookie", Name: cookieAccess,
			Description: "Cookie mode (POST /login?cookies=true): the access token in its HttpOnly cookie. Methods that change state also need X-CSRF-Token."},
		schemeRefreshCookie: {Type: "apiKey", In: "cookie", Name: cookieRefresh,
			Description: "Cookie mode: the refresh token in its HttpOnly cookie, for /refresh and /refresh-revoke, with X-CSRF-Token."},
		schemeCSRF: {Type: "apiKey", In: "header", Name: "X-CSRF-Token",
			Description: "Cookie mode: the value of the csrf_access_token (or csrf_refresh_token) cookie, on POST, PUT, PATCH and DELETE."},
	}
}

// claimsDoc lists the claims of an access token (AccessTokenClaims) as
// markdown.
func claimsDoc() string {
	t := reflect.TypeFor[AccessTokenClaims]()
	var b strings.Builder
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fmt.Fprintf(&b, "\n- `%s`: %s", name, f.Tag.Get("doc"))
	}
	return b.String()
}

// completeDocument adds to every operation what Huma cannot see.
func (s *Server) completeDocument() {
	oapi := s.api.OpenAPI()
	problem := s.problemSchema()
	used := map[string]bool{}
	for path, item := range oapi.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch, item.Head, item.Options} {
			if op == nil {
				continue
			}
			for _, t := range op.Tags {
				used[t] = true
			}
			s.completeOperation(path, op, problem)
		}
	}
	for _, t := range tagDocs {
		if used[t.Name] {
			oapi.Tags = append(oapi.Tags, t)
		}
	}
	// Tags of operations added elsewhere, after ours.
	var others []string
	for t := range used {
		if !slices.ContainsFunc(tagDocs, func(d *huma.Tag) bool { return d.Name == t }) {
			others = append(others, t)
		}
	}
	slices.Sort(others)
	for _, t := range others {
		oapi.Tags = append(oapi.Tags, &huma.Tag{Name: t})
	}
}

func (s *Server) problemSchema() *huma.Schema {
	return s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[Problem](), true, "")
}

func (s *Server) completeOperation(path string, op *huma.Operation, problem *huma.Schema) {
	want, _ := op.Metadata[metaToken].(string)
	if want != "" {
		op.Security = securityFor(want, op.Method)
	} else if op.Security == nil {
		op.Security = []map[string][]string{} // public: say so
	}
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	// Huma's catch-all "default" would make every status documented; the
	// one answer not listed otherwise is the 500 of a bug.
	if d := op.Responses["default"]; d != nil {
		delete(op.Responses, "default")
		if op.Responses["500"] == nil {
			op.Responses["500"] = d
		}
	}
	add := func(status int) {
		code := strconv.Itoa(status)
		if op.Responses[code] == nil {
			op.Responses[code] = &huma.Response{Description: http.StatusText(status),
				Content: map[string]*huma.MediaType{"application/problem+json": {Schema: problem}}}
		}
	}
	hasBody := op.RequestBody != nil && op.RequestBody.Content["application/json"] != nil
	if hasBody {
		// Huma's own refusals of a body: malformed, too large, not JSON,
		// not matching its schema.
		for _, st := range []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity} {
			add(st)
		}
	}
	if len(op.Parameters) > 0 && !strings.HasPrefix(path, "/docs") {
		// A parameter that is not text (checkText), or on /api/v1 any
		// malformed parameter (paramErrors). The docs are served by the
		// mux, without either.
		add(http.StatusBadRequest)
	}
	if want != "" {
		add(http.StatusUnauthorized)
	}
	if !slices.Contains(noDatabase, op.OperationID) && !strings.HasPrefix(path, "/docs") && !strings.HasPrefix(path, "/openapi") {
		add(http.StatusServiceUnavailable)
	}
	if !slices.ContainsFunc(slices.Collect(maps.Keys(op.Responses)), func(c string) bool { return c[0] == '4' }) {
		// An operation nothing in a request can fail still has the
		// refusals of the HTTP server itself.
		op.Responses["4XX"] = &huma.Response{
			Description: "A request the HTTP server refuses before any route: malformed HTTP (400) or headers too large (431), as plain text",
			Content:     map[string]*huma.MediaType{"text/plain; charset=utf-8": {Schema: &huma.Schema{Type: "string"}}}}
	}
	for _, p := range op.Parameters {
		// The handlers refuse a request without these headers with their
		// own codes (400 idempotency_key_required, 428
		// precondition_required), so Huma's tags leave them optional; the
		// document says what a client must send.
		if p.In == "header" && (p.Name == "Idempotency-Key" || p.Name == "If-Match") {
			p.Required = true
			if p.Name == "Idempotency-Key" && p.Schema != nil {
				// A copy: Huma validates with the schema it generated, and the
				// handler's own 400 for a long key stays.
				sc := *p.Schema
				sc.MinLength, sc.MaxLength = ptr(1), ptr(255)
				p.Schema = &sc
			}
		}
	}
	if _, v1 := op.Metadata[metaRole]; v1 && op.RequestBody == nil {
		// paramErrors answers every 422 of a body-less warehouse route as
		// 400 bad_parameter: Huma's 422 for its parameters cannot be sent.
		delete(op.Responses, strconv.Itoa(http.StatusUnprocessableEntity))
	}
	for code, r := range op.Responses {
		// OpenAPI ignores a Content-Type response header (the media type
		// says it); output types that set it would declare it anyway.
		delete(r.Headers, "Content-Type")
		if len(code) == 3 && code[0] == '2' && code != "201" && r.Headers != nil {
			// Output types that carry Location for their create share it
			// with reads and changes, which never send it.
			delete(r.Headers, "Location")
		}
		switch code {
		case "401":
			if want != "" {
				// Every refusal of a token says how to authenticate (RFC 6750).
				header(r, "WWW-Authenticate", "How to authenticate, RFC 6750: e.g. Bearer error=\"invalid_token\"", true)
			}
		case "429", "503":
			header(r, "Retry-After", "Seconds to wait before trying again", true)
		}
		if len(code) == 3 && code[0] == '2' {
			for name, h := range r.Headers {
				switch {
				case name == "ETag":
					h.Required = true
				case name == "Location" && code == "201":
					h.Required = true
				}
			}
		}
	}
}

// header declares a response header.
func header(r *huma.Response, name, doc string, required bool) {
	if r.Headers == nil {
		r.Headers = map[string]*huma.Param{}
	}
	if r.Headers[name] == nil {
		r.Headers[name] = &huma.Param{Description: doc, Schema: &huma.Schema{Type: "string"}}
	}
	r.Headers[name].Required = required
}

// openAPIDoc documents one of the forms of this document, which Huma
// serves (Config.OpenAPIPath) without describing it.
func openAPIDoc(ct, summary string) func() huma.Operation {
	return func() huma.Operation {
		schema := &huma.Schema{Type: "string"}
		if strings.HasSuffix(ct, "json") {
			schema = &huma.Schema{Type: "object", Description: "An OpenAPI document"}
		}
		return huma.Operation{Tags: []string{"docs"},
			Summary: summary, Description: "The machine-readable description of this API, generated from the server's routes.",
			Responses: map[string]*huma.Response{"200": {Description: "The document", Content: mediaType(ct, schema)}}}
	}
}

// mediaType is a response body of one media type.
func mediaType(ct string, schema *huma.Schema) map[string]*huma.MediaType {
	return map[string]*huma.MediaType{ct: {Schema: schema}}
}

func ptr[T any](v T) *T { return &v }

// withMedia returns content with one more media type.
func withMedia(content map[string]*huma.MediaType, ct string, schema *huma.Schema) map[string]*huma.MediaType {
	out := maps.Clone(content)
	out[ct] = &huma.MediaType{Schema: schema}
	return out
}
