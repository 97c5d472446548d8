package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/auth"
)

// Problem is every error body: RFC 9457 problem details, whose `detail`
// is the tutorial's field, plus a stable machine `code` and per-field errors.
type Problem struct {
	Type   string                 `json:"type,omitempty" doc:"A URI reference for the problem type"`
	Title  string                 `json:"title" doc:"Short summary of the problem type"`
	Status int                    `json:"status" doc:"HTTP status code"`
	Detail string                 `json:"detail" doc:"Human-readable explanation of this occurrence"`
	Code   string                 `json:"code" doc:"Stable machine-readable error code"`
	Errors []warehouse.FieldError `json:"errors,omitempty" doc:"Problems with individual input fields"`
	// Extensions of the warehouse API (omitted when not relevant).
	Shortages []warehouse.Shortage `json:"shortages,omitempty" doc:"insufficient_stock: every (item, location, lot) that would go below zero"`
	OnHand    *warehouse.Qty       `json:"on_hand,omitempty" doc:"count_outdated: the quantity on hand now"`
	Version   *int64               `json:"version,omitempty" doc:"precondition_failed: the resource's current version"`

	headers http.Header
	// cause is the error behind a 5xx, for the log only (see logCause).
	cause error
}

func (p *Problem) Error() string  { return p.Detail }
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes Huma send problems as application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

// GetHeaders lets Huma send headers such as WWW-Authenticate with the problem.
func (p *Problem) GetHeaders() http.Header { return p.headers }

func newProblem(status int, code, detail string) *Problem {
	return &Problem{Title: http.StatusText(status), Status: status, Detail: detail, Code: code}
}

// withHeader returns p with a response header added.
func (p *Problem) withHeader(k, v string) *Problem {
	if p.headers == nil {
		p.headers = http.Header{}
	}
	p.headers.Set(k, v)
	return p
}

// codeForStatus names the code of errors Huma raises itself (validation,
// parsing) by their status.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "body_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusUnprocessableEntity:
		return "validation_failed"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusNotAcceptable:
		return "not_acceptable"
	}
	if status >= 500 {
		return "internal"
	}
	return "error"
}

var installErrors sync.Once

// useProblems makes Huma build its own errors (validation, parsing) as
// Problems. Huma exposes this hook only as a package variable; every API
// in this process wants the same shape, so it is set once.
func useProblems() {
	installErrors.Do(func() {
		// A handler's error that is no Problem reaches Huma as a 500 with
		// the error; the table says what it is. Huma took the headers of
		// the error the handler returned, which had none: the problem's
		// (Retry-After) are set here.
		huma.NewErrorWithContext = func(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
			if status != http.StatusInternalServerError || len(errs) != 1 || errs[0] == nil {
				return huma.NewError(status, msg, errs...)
			}
			p := problemFor(errs[0])
			if ctx != nil {
				for k, vs := range p.headers {
					for _, v := range vs {
						ctx.AppendHeader(k, v)
					}
				}
			}
			return p
		}
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			p := newProblem(status, codeForStatus(status), msg)
			var parts []string
			for _, e := range errs {
				if e == nil {
					continue
				}
				fe := warehouse.FieldError{Message: e.Error()}
				var d *huma.ErrorDetail
				if errors.As(e, &d) {
					fe = warehouse.FieldError{Field: fieldName(d.Location), Message: d.Message, In: fieldIn(d.Location)}
					// Huma reports a missing property at its parent; name it.
					if name, ok := strings.CutPrefix(d.Message, "expected required property "); ok {
						if name, ok = strings.CutSuffix(name, " to be present"); ok {
							fe = warehouse.FieldError{Field: joinField(fe.Field, name), Message: "field required"}
						}
					}
				}
				p.Errors = append(p.Errors, fe)
				if fe.Field != "" {
					parts = append(parts, fe.Field+": "+fe.Message)
				} else {
					parts = append(parts, fe.Message)
				}
			}
			switch {
			case status == http.StatusBadRequest && msg == "request body is required":
				// FastAPI answers a missing body as a validation error; so do we.
				p = newProblem(http.StatusUnprocessableEntity, codeForStatus(http.StatusUnprocessableEntity),
					"Request validation failed: body: field required")
				p.Errors = []warehouse.FieldError{{Field: "body", Message: "field required"}}
			case status == http.StatusUnprocessableEntity && len(parts) > 0:
				p.Detail = "Request validation failed: " + strings.Join(parts, "; ")
			case status == http.StatusBadRequest && len(parts) > 0:
				p.Detail = "Malformed request body: " + strings.Join(parts, "; ")
			case status == http.StatusUnsupportedMediaType:
				p.Detail = "Unsupported Content-Type: send the body as application/json"
				p.Errors = nil
			}
			if status >= 500 {
				// Never show internals (Huma would pass e.g. a marshal error).
				p.Detail, p.Errors = "Internal server error", nil
			}
			return p
		}
	})
}

func joinField(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// fieldName turns Huma's location ("body.username", "query.limit") into a
// field name ("username", "limit").
// fieldIn is where Huma's location loc ("path.id", "body.lines[0].qty")
// points: path, query, header, cookie or body.
func fieldIn(loc string) string {
	in, _, _ := strings.Cut(loc, ".")
	switch in {
	case "path", "query", "header", "cookie":
		return in
	}
	return "body"
}

func fieldName(loc string) string {
	for _, prefix := range []string{"body.", "query.", "path.", "header.", "cookie."} {
		if strings.HasPrefix(loc, prefix) {
			return loc[len(prefix):]
		}
	}
	if loc == "body" {
		return ""
	}
	return loc
}

// Codes the HTTP edge answers itself (a malformed header, a format not
// offered, a route that does not exist): they go through the same table as
// the domain's codes, as *warehouse.Error values made here.
const (
	codeBadParameter         = "bad_parameter"
	codeValidationFailed     = "validation_failed"
	codePreconditionRequired = "precondition_required"
	codeNotAcceptable        = "not_acceptable"
	codeMethodNotAllowed     = "method_not_allowed"
	codeTooManyRows          = "too_many_rows"
	codeTooManyRequests      = "too_many_requests"
	codeBadRequest           = "bad_request"
	codeBadFraming           = "bad_framing" // framing.go
	codeBodyTooLarge         = "body_too_large"
	codeUnsupportedMedia     = "unsupported_media_type"

	// POST /api/v1/movements and its reversal without a usable
	// Idempotency-Key (inventory.ErrKey*).
	codeIdempotencyKeyRequired = "idempotency_key_required"
	codeIdempotencyKeyInUse    = "idempotency_key_in_use"
)

// A kind is how the errors of one code are answered.
type kind struct {
	status int
	title  string // "": the status text
	typ    string // the problem type URI, if it has one
	// retryAfter is the Retry-After of every answer of this code (an
	// error in the chain with a RetryAfter method says it instead).
	retryAfter string
	// extend adds what the error carries besides its message.
	extend func(p *Problem, err error)
}

// kinds is the one mapping from error codes to answers, read by every
// renderer: Huma routes (useProblems), plain routes (writeError) and the
// OAuth2 endpoints (oauthErrorFor). One line per code; a code missing here
// answers 500 (TestErrorTable finds a domain code without a line).
var kinds = map[string]kind{
	warehouse.ENOTFOUND:      {status: http.StatusNotFound},
	warehouse.ECONFLICT:      {status: http.StatusConflict},
	warehouse.EINVALID:       {status: http.StatusUnprocessableEntity},
	warehouse.EUNAUTHORIZED:  {status: http.StatusUnauthorized},
	warehouse.EFORBIDDEN:     {status: http.StatusForbidden},
	warehouse.EUNAVAILABLE:   {status: http.StatusServiceUnavailable, retryAfter: "2"},
	warehouse.EINTERNAL:      {status: http.StatusInternalServerError},
	warehouse.EBADCURSOR:     {status: http.StatusBadRequest},
	warehouse.EPRECONDITION:  {status: http.StatusPreconditionFailed, extend: withVersion},
	warehouse.EINSUFFICIENT:  {status: http.StatusConflict, title: "Insufficient stock", typ: "/problems/insufficient-stock", extend: withShortages},
	warehouse.ECOUNTOUTDATED: {status: http.StatusConflict, title: "Count outdated", extend: withOnHand},
	warehouse.EORDERSTATE:    {status: http.StatusConflict, title: "Order state"},
	warehouse.EOVERRECEIPT:   {status: http.StatusConflict, title: "Over-receipt"},
	// Event streams beyond a user's share (internal/events).
	warehouse.ETOOMANYSTREAMS: {status: http.StatusTooManyRequests},

	// The token lifecycle's outcomes (internal/session). A token problem
	// carries RFC 6750's challenge.
	warehouse.EBADCREDENTIALS: {status: http.StatusUnauthorized},
	warehouse.ELOGINTHROTTLED: {status: http.StatusTooManyRequests},
	warehouse.ETOKENREVOKED:   {status: http.StatusUnauthorized, extend: withChallenge},
	warehouse.ESESSIONEXPIRED: {status: http.StatusUnauthorized, extend: withChallenge},
	warehouse.EREFRESHREUSE:   {status: http.StatusUnauthorized, extend: withChallenge},
	warehouse.EWRONGPASSWORD:  {status: http.StatusForbidden},

	codeBadParameter:         {status: http.StatusBadRequest},
	codeValidationFailed:     {status: http.StatusUnprocessableEntity},
	codePreconditionRequired: {status: http.StatusPreconditionRequired},
	codeNotAcceptable:        {status: http.StatusNotAcceptable},
	codeMethodNotAllowed:     {status: http.StatusMethodNotAllowed},
	codeTooManyRows:          {status: http.StatusRequestEntityTooLarge},
	codeTooManyRequests:      {status: http.StatusTooManyRequests},
	codeBadRequest:           {status: http.StatusBadRequest},
	codeBadFraming:           {status: http.StatusBadRequest, title: "Bad request framing"},
	codeBodyTooLarge:         {status: http.StatusRequestEntityTooLarge},
	codeUnsupportedMedia:     {status: http.StatusUnsupportedMediaType},

	codeIdempotencyKeyRequired: {status: http.StatusBadRequest},
	codeIdempotencyKeyInUse:    {status: http.StatusConflict},

	// A refused token (authn.go): the HTTP edge's codes and auth's
	// verification codes. A request with no token is challenged without
	// an error code (RFC 6750 section 3.1).
	codeMissingToken:         {status: http.StatusUnauthorized, extend: withRealmChallenge},
	codeBadHeader:            {status: http.StatusUnauthorized, extend: withChallenge},
	codeWrongTokenType:       {status: http.StatusUnauthorized, extend: withChallenge},
	codeInvalidToken:         {status: http.StatusUnauthorized, extend: withChallenge},
	codeCookieTokenInHeader:  {status: http.StatusUnauthorized, extend: withChallenge},
	codeMissingCSRF:          {status: http.StatusUnauthorized, extend: withChallenge},
	codeCSRFMismatch:         {status: http.StatusUnauthorized, extend: withChallenge},
	codeSessionEnded:         {status: http.StatusUnauthorized, extend: withChallenge},
	codeUnknownUser:          {status: http.StatusUnauthorized, extend: withChallenge},
	codeFreshRequired:        {status: http.StatusUnauthorized, extend: withChallenge},
	auth.CodeMalformed:       {status: http.StatusUnauthorized, extend: withChallenge},
	auth.CodeBadSignature:    {status: http.StatusUnauthorized, extend: withChallenge},
	auth.CodeAlgNotAllowed:   {status: http.StatusUnauthorized, extend: withChallenge},
	auth.CodeUnknownKID:      {status: http.StatusUnauthorized, extend: withChallenge},
	auth.CodeExpired:         {status: http.StatusUnauthorized, extend: withChallenge},
	auth.CodeImmature:        {status: http.StatusUnauthorized, extend: withChallenge},
	auth.CodeMissingClaim:    {status: http.StatusUnauthorized, extend: withChallenge},
	auth.CodeInvalidClaim:    {status: http.StatusUnauthorized, extend: withChallenge},
	auth.CodeInvalidIssuer:   {status: http.StatusUnauthorized, extend: withChallenge},
	auth.CodeInvalidAudience: {status: http.StatusUnauthorized, extend: withChallenge},
}

func withChallenge(p *Problem, _ error) {
	p.withHeader("WWW-Authenticate", `Bearer error="invalid_token"`)
}

func withRealmChallenge(p *Problem, _ error) {
	p.withHeader("WWW-Authenticate", `Bearer realm="warehouse"`)
}

// retrySeconds is a Retry-After value: whole seconds, rounded up, at least 1.
func retrySeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

func withVersion(p *Problem, err error) {
	var st *warehouse.StaleError
	if errors.As(err, &st) {
		p.Version = &st.Current
	}
}

func withShortages(p *Problem, err error) {
	var se *warehouse.StockError
	if errors.As(err, &se) {
		p.Shortages = se.Shortages
	}
}

func withOnHand(p *Problem, err error) {
	var co *warehouse.CountOutdatedError
	if errors.As(err, &co) {
		p.OnHand = &co.OnHand
	}
}

// waitError is an error whose answer tells the client when to retry.
type waitError struct {
	err  error
	wait time.Duration
}

func (e *waitError) Error() string             { return e.err.Error() }
func (e *waitError) Unwrap() error             { return e.err }
func (e *waitError) RetryAfter() time.Duration { return e.wait }

// retryAfter returns err answered with Retry-After: wait (in whole seconds,
// rounded up, at least 1).
func retryAfter(err error, wait time.Duration) error { return &waitError{err: err, wait: wait} }

// problemFor renders any error as a Problem by its code: the one place
// where codes become statuses. The code is found anywhere in err's chain,
// so however many times an error was wrapped on its way up, a store outage
// still answers 503 and a domain refusal its 4xx. An error with no code is
// a 500 that tells the client nothing; its cause is kept for the log.
func problemFor(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	code := warehouse.ErrorCode(err)
	k, ok := kinds[code]
	if !ok {
		code, k = warehouse.EINTERNAL, kinds[warehouse.EINTERNAL]
	}
	detail := warehouse.ErrorMessage(err)
	if !ok {
		detail = "Internal server error"
	}
	p = k.answer(code, detail)
	var de *warehouse.Error
	if errors.As(err, &de) {
		p.Errors = de.Fields
	}
	if k.extend != nil {
		k.extend(p, err)
	}
	var w interface{ RetryAfter() time.Duration }
	switch {
	case errors.As(err, &w):
		p.withHeader("Retry-After", retrySeconds(w.RetryAfter()))
	case de != nil && de.RetryAfter > 0:
		p.withHeader("Retry-After", retrySeconds(de.RetryAfter))
	case k.retryAfter != "":
		p.withHeader("Retry-After", k.retryAfter)
	}
	if p.Status >= 500 {
		p.cause = err
	}
	return p
}

// answer is the Problem of kind k for code and detail, before what the
// error itself carries (fields, extensions, its own Retry-After).
func (k kind) answer(code, detail string) *Problem {
	p := newProblem(k.status, code, detail)
	if k.title != "" {
		p.Title = k.title
	}
	p.Type = k.typ
	return p
}

// codeProblem is the answer the table gives code with detail, for callers
// that hold a code rather than an error: the token checks, on the path of
// every request, which need not search an error chain. It answers exactly
// as problemFor(&warehouse.Error{Code: code, Message: detail}).
func codeProblem(code, detail string) *Problem {
	k, ok := kinds[code]
	if !ok {
		return problemFor(&warehouse.Error{Code: code, Message: detail})
	}
	p := k.answer(code, detail)
	if k.extend != nil {
		k.extend(p, nil)
	}
	if k.retryAfter != "" {
		p.withHeader("Retry-After", k.retryAfter)
	}
	return p
}

// domainProblem is problemFor, under the name the auth routes call.
func domainProblem(err error) *Problem { return problemFor(err) }

// apiError is problemFor, under the name the warehouse routes called;
// handlers now return their errors as they are.
func apiError(err error) *Problem { return problemFor(err) }

// problem is problemFor, logged at once: for callers that write the answer
// themselves rather than through Huma or writeError.
func (s *Server) problem(err error) *Problem {
	p := problemFor(err)
	s.logCause(context.Background(), p) // no request context here: no trace id
	return p
}

// logCause logs what the client of a 5xx is not told, once.
func (s *Server) logCause(ctx context.Context, p *Problem) {
	if p.cause == nil {
		return
	}
	switch {
	case p.Status == http.StatusServiceUnavailable:
		s.log.WarnContext(ctx, "dependency unavailable", "err", p.cause)
	case p.Status >= 500:
		s.log.ErrorContext(ctx, "request failed", "err", p.cause)
	}
	p.cause = nil
}

// logProblems is the Huma transformer that logs the cause of every 5xx
// problem a Huma route answers.
func (s *Server) logProblems(hctx huma.Context, _ string, v any) (any, error) {
	if p, ok := v.(*Problem); ok {
		s.logCause(hctx.Context(), p)
	}
	return v, nil
}

// writeError answers err on a plain route, as a Huma route would.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	p := problemFor(err)
	s.logCause(context.Background(), p)
	writeProblem(w, p)
}

// oauthErrorFor is err as an RFC 6749 section 5.2 error, for the token
// endpoints, read from the same table: a refused credential (401) is
// invalid_grant, a wait (429, 503) temporarily_unavailable with its
// Retry-After, any other 5xx server_error, and any other refusal
// invalid_request. The detail is the problem's.
func (s *Server) oauthErrorFor(err error) *oauthError {
	p := s.problem(err)
	var e *oauthError
	switch {
	case p.Status == http.StatusUnauthorized:
		e = newOAuthError(http.StatusBadRequest, "invalid_grant", p.Detail)
	case p.Status == http.StatusTooManyRequests || p.Status == http.StatusServiceUnavailable:
		e = newOAuthError(p.Status, "temporarily_unavailable", p.Detail)
		e.retryAfter = p.headers.Get("Retry-After")
	case p.Status >= 500:
		e = newOAuthError(p.Status, "server_error", p.Detail) // a bug: nothing to retry after
	default:
		e = newOAuthError(http.StatusBadRequest, "invalid_request", p.Detail)
	}
	return e
}

// writeProblem writes p on a plain ResponseWriter (outside Huma handlers).
func writeProblem(w http.ResponseWriter, p *Problem) {
	for k, vs := range p.headers {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
