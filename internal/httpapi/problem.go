package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse"
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

// domainProblem renders a domain error as a Problem: the one place where
// domain codes become HTTP statuses.
func domainProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var de *warehouse.Error
	code := warehouse.ErrorCode(err)
	status := http.StatusInternalServerError
	challenge := false // a token problem: RFC 6750's WWW-Authenticate
	switch code {
	case warehouse.ENOTFOUND:
		status = http.StatusNotFound
	case warehouse.ECONFLICT:
		status = http.StatusConflict
	case warehouse.EINVALID:
		status = http.StatusUnprocessableEntity
	case warehouse.EUNAUTHORIZED:
		status = http.StatusUnauthorized
	case warehouse.EFORBIDDEN:
		status = http.StatusForbidden
	case warehouse.EUNAVAILABLE:
		status = http.StatusServiceUnavailable
	case warehouse.EBADCREDENTIALS:
		status = http.StatusUnauthorized
	case warehouse.ELOGINTHROTTLED:
		status = http.StatusTooManyRequests
	case warehouse.ETOKENREVOKED, warehouse.ESESSIONEXPIRED, warehouse.EREFRESHREUSE:
		status, challenge = http.StatusUnauthorized, true
	case warehouse.EWRONGPASSWORD:
		status = http.StatusForbidden
	}
	p = newProblem(status, code, warehouse.ErrorMessage(err))
	if challenge {
		p.withHeader("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	if errors.As(err, &de) {
		p.Errors = de.Fields
	}
	switch {
	case de != nil && de.RetryAfter > 0:
		p.withHeader("Retry-After", strconv.Itoa(int((de.RetryAfter+time.Second-1)/time.Second)))
	case status == http.StatusServiceUnavailable:
		p.withHeader("Retry-After", "2")
	}
	return p
}

// problem is domainProblem that also logs what the client is not told:
// the cause of a 500 or a 503.
func (s *Server) problem(err error) *Problem {
	p := domainProblem(err)
	switch {
	case p.Status >= 500 && p.Status != http.StatusServiceUnavailable:
		s.log.Error("request failed", "err", err)
	case p.Status == http.StatusServiceUnavailable:
		s.log.Warn("dependency unavailable", "err", err)
	}
	return p
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
