package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
)

// metaRole is the operation metadata naming the least role a route needs.
const metaRole = "role"

const v1 = "/api/v1"

// paramErrors makes a bad query or path parameter a 400 (the contract's
// "bad query parameter") instead of Huma's 422, which stays for bodies: on
// a body-less route every 422 becomes a 400; elsewhere a 422 whose every
// error is in the path, query or headers does. Huma writes its validation error through the context, so
// the 422 is caught there and rewritten; nothing global is touched.
func paramErrors(ctx huma.Context, next func(huma.Context)) {
	pc := &paramErrCtx{humaContext: ctx}
	next(pc)
	if pc.buf == nil {
		return
	}
	var p Problem
	if err := json.Unmarshal(pc.buf.Bytes(), &p); err != nil {
		p = Problem{}
	}
	bodyless := ctx.Method() == http.MethodGet || ctx.Method() == http.MethodDelete || ctx.Method() == http.MethodHead
	if !bodyless && !paramsOnly(p.Errors) {
		// The body is at fault (too): Huma's 422, as it was written.
		pc.humaContext.SetStatus(http.StatusUnprocessableEntity)
		_, _ = pc.humaContext.BodyWriter().Write(pc.buf.Bytes())
		return
	}
	parts := make([]string, 0, len(p.Errors))
	for _, fe := range p.Errors {
		parts = append(parts, fe.Field+": "+fe.Message)
	}
	writeHumaProblem(ctx, problemFor(&warehouse.Error{Code: codeBadParameter, Message: "Bad parameter: " + strings.Join(parts, "; "), Fields: p.Errors}))
}

// paramsOnly reports whether there are errors and every one is in a
// parameter (path, query, header), none in the body. A 422 without field
// errors is the domain's (e.g. a move that would make a cycle): it stays.
func paramsOnly(errs []warehouse.FieldError) bool {
	if len(errs) == 0 {
		return false
	}
	for _, fe := range errs {
		if fe.In == "" || fe.In == "body" {
			return false
		}
	}
	return true
}

// humaContext lets paramErrCtx embed huma.Context under a name that does
// not hide its Context method.
type humaContext = huma.Context

type paramErrCtx struct {
	humaContext
	buf *bytes.Buffer
}

func (c *paramErrCtx) SetStatus(code int) {
	if code == http.StatusUnprocessableEntity {
		c.buf = &bytes.Buffer{}
		return
	}
	c.humaContext.SetStatus(code)
}

func (c *paramErrCtx) BodyWriter() io.Writer {
	if c.buf != nil {
		return c.buf
	}
	return c.humaContext.BodyWriter()
}

// v1op completes an operation of the warehouse API (its path, under
// /api/v1, is the route table's): bearer security, the role it needs (checked by requireRole and written
// in the docs), and the errors every such route may answer.
func (s *Server) v1op(role warehouse.Role, op huma.Operation) huma.Operation {
	op.Security = security
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[metaToken] = auth.TypeAccess
	op.Metadata[metaRole] = role
	if op.Description != "" {
		op.Description += "\n\n"
	}
	op.Description += "Requires role: **" + string(role) + "** (roles: viewer < clerk < manager < admin)."
	if fresh, _ := op.Metadata[metaFresh].(bool); fresh {
		op.Description += " Needs a fresh access token (from a password login, not a refresh)."
	}
	op.Errors = append([]int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusServiceUnavailable}, op.Errors...)
	op.Middlewares = append(op.Middlewares, s.requireRole(role), paramErrors)
	return op
}

// requireRole refuses callers below role with 403 naming the role needed.
// The roles are the user's current ones (auth state), so a demotion takes
// effect without waiting for the token to expire.
func (s *Server) requireRole(role warehouse.Role) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		p := principal(ctx.Context())
		if p == nil || !warehouse.HasRole(p.Roles, role) {
			writeHumaProblem(ctx, forbidden(role))
			return
		}
		next(ctx)
	}
}

func forbidden(role warehouse.Role) *Problem {
	return problemFor(warehouse.Errorf(warehouse.EFORBIDDEN, "This action requires role %s (or higher)", role))
}

// actor is who the audit fields name: the token's subject.
func actor(ctx context.Context) string {
	if p := principal(ctx); p != nil {
		return p.Claims.Subject
	}
	return ""
}

func etag(version int64) string { return `"v` + strconv.FormatInt(version, 10) + `"` }

// Shared query parameters of every list that can also be exported as CSV.
type ListParams struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size"`
	Cursor string `query:"cursor" maxLength:"1000" doc:"Opaque cursor: next_cursor of the previous page"`
	Format string `query:"format" enum:"json,csv" doc:"csv: every matching row as CSV (limit and cursor ignored); same as Accept: text/csv"`
	Accept string `header:"Accept"`
}

func (l ListParams) page() warehouse.Page { return warehouse.Page{Limit: l.Limit, After: l.Cursor} }

func (l ListParams) csv() bool { return wantsCSV(l.Format, l.Accept) }

// wantsCSV reports whether a list request asks for CSV: ?format=csv, or an
// Accept header naming text/csv unless ?format=json overrides it.
func wantsCSV(format, accept string) bool {
	return format == "csv" || (format == "" && strings.Contains(accept, "text/csv"))
}

// PageBody is the JSON shape of every list.
type PageBody[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor" doc:"Cursor of the next page; null on the last"`
}

// streamOutput writes its own response: lists answer JSON or CSV from one
// operation, and CSV is streamed row by row.
type streamOutput struct {
	Body func(huma.Context)
}

// listDoc documents a list operation that answers a JSON page or, on
// request, every matching row as CSV (the streamed body hides both from
// Huma), and the 413 of an export too large.
func (s *Server) listDoc(op *huma.Operation, sample any) {
	schema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(sample), true, "")
	op.Responses = map[string]*huma.Response{"200": {
		Description: "A page of results; or, with Accept: text/csv or ?format=csv, every matching row as CSV",
		Headers: map[string]*huma.Param{
			"Link":                {Description: `JSON: <...>; rel="next" when there is a next page`, Schema: &huma.Schema{Type: "string"}},
			"Content-Disposition": {Description: `CSV: attachment; filename="<list>.csv"`, Schema: &huma.Schema{Type: "string"}},
		},
		Content: map[string]*huma.MediaType{
			"application/json": {Schema: schema},
			"text/csv":         {Schema: &huma.Schema{Type: "string"}},
		},
	}}
	op.Errors = append(op.Errors, http.StatusRequestEntityTooLarge)
}

// jsonListDoc documents a list operation that has no CSV form: a JSON page
// only, so neither text/csv nor the export's 413 is promised.
func (s *Server) jsonListDoc(op *huma.Operation, sample any) {
	schema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(sample), true, "")
	op.Responses = map[string]*huma.Response{"200": {
		Description: "A page of results",
		Headers: map[string]*huma.Param{
			"Link": {Description: `<...>; rel="next" when there is a next page`, Schema: &huma.Schema{Type: "string"}},
		},
		Content: map[string]*huma.MediaType{"application/json": {Schema: schema}},
	}}
}

// jsonPage answers one page with next_cursor and a Link header.
func jsonPage[T any](items []T, next string) *streamOutput {
	if items == nil {
		items = []T{}
	}
	body := PageBody[T]{Items: items}
	if next != "" {
		body.NextCursor = &next
	}
	return &streamOutput{Body: func(ctx huma.Context) {
		if next != "" {
			u := ctx.URL()
			q := u.Query()
			q.Set("cursor", next)
			link := url.URL{Path: u.Path, RawQuery: q.Encode()}
			ctx.SetHeader("Link", "<"+link.String()+`>; rel="next"`)
		}
		ctx.SetHeader("Content-Type", "application/json")
		ctx.SetStatus(http.StatusOK)
		_ = jsonEncode(ctx.BodyWriter(), body)
	}}
}

// maxCSVRows bounds an export; beyond it the client must narrow filters.
const maxCSVRows = 100_000

func tooManyRows(n int) error {
	return warehouse.Errorf(codeTooManyRows,
		"The export would have %d rows, more than %d: narrow the filters (e.g. item_id, location_id, since/until)", n, maxCSVRows)
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return fmtTime(*t)
}

func fmtQtyPtr(q *warehouse.Qty) string {
	if q == nil {
		return ""
	}
	return q.String()
}

func fmtIDPtr(id *int64) string {
	if id == nil {
		return ""
	}
	return strconv.FormatInt(*id, 10)
}

// encodeOpaque makes a cursor for lists paged here rather than in the store.
func encodeOpaque(list, after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(list + "\x00" + after))
}

func decodeOpaque(c, list string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", false
	}
	l, after, ok := strings.Cut(string(b), "\x00")
	return after, ok && l == list
}
