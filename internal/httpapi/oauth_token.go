package httpapi

import (
	"mime"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse/auth"
)

// POST /token is the OAuth2 token endpoint (RFC 6749): the docs' Authorize
// button logs in here with the password grant, and clients may refresh
// here. It is form-encoded, which Huma does not decode, so it is a plain
// handler on the mux with its OpenAPI operation described by hand.

func (s *Server) opToken() huma.Operation {
	formSchema := &huma.Schema{
		Type:     "object",
		Required: []string{"grant_type"},
		Properties: map[string]*huma.Schema{
			"grant_type":    {Type: "string", Enum: []any{"password", "refresh_token"}},
			"username":      {Type: "string", Description: "For grant_type=password"},
			"password":      {Type: "string", Format: "password", Description: "For grant_type=password"},
			"refresh_token": {Type: "string", Description: "For grant_type=refresh_token"},
			"scope":         {Type: "string", Description: "Ignored"},
		},
	}
	oauthErr := &huma.Schema{Type: "object", Properties: map[string]*huma.Schema{
		"error": {Type: "string"}, "error_description": {Type: "string"}, "detail": {Type: "string"},
	}}
	tokenSchema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[TokenPair](), true, "")
	return huma.Operation{Tags: []string{"oauth2"},
		Summary:     "OAuth2 token endpoint (password and refresh_token grants)",
		Description: "Form-encoded, as RFC 6749 sections 4.3 and 6 define. Errors are RFC 6749 section 5.2 objects.",
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/x-www-form-urlencoded": {Schema: formSchema},
		}},
		Responses: map[string]*huma.Response{
			"200": {Description: "Tokens", Content: map[string]*huma.MediaType{"application/json": {Schema: tokenSchema}}},
			"400": {Description: "RFC 6749 error", Content: map[string]*huma.MediaType{"application/json": {Schema: oauthErr}}},
			"429": {Description: "Too many password attempts (this username, or this address): temporarily_unavailable",
				Content: map[string]*huma.MediaType{"application/json": {Schema: oauthErr}}},
			"503": {Description: "Server busy or the database unavailable: temporarily_unavailable",
				Content: map[string]*huma.MediaType{"application/json": {Schema: oauthErr}}},
			"500": {Description: "A bug: server_error",
				Content: map[string]*huma.MediaType{"application/json": {Schema: oauthErr}}},
		},
	}
}

// tokenEndpoint is POST /token.
func (s *Server) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	pair, oerr := s.token(withState(w, r)) // sessions record the caller's IP and user agent
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Content-Type", "application/json")
	if oerr != nil {
		if oerr.retryAfter != "" {
			w.Header().Set("Retry-After", oerr.retryAfter)
		}
		w.WriteHeader(oerr.status)
		_ = jsonEncode(w, oerr)
		return
	}
	_ = jsonEncode(w, pair)
}

// oauthError is an RFC 6749 section 5.2 error, with our `detail` as well.
type oauthError struct {
	status     int
	retryAfter string
	Err        string `json:"error"`
	Desc       string `json:"error_description"`
	Detail     string `json:"detail"`
}

// Error and GetStatus make an oauthError something a Huma handler can
// return: it is written as is, as RFC 6749 section 5.2 JSON (the shape POST
// /token answers), not as a problem.
func (e *oauthError) Error() string  { return e.Desc }
func (e *oauthError) GetStatus() int { return e.status }

// GetHeaders sends Retry-After with temporarily_unavailable.
func (e *oauthError) GetHeaders() http.Header {
	if e.retryAfter == "" {
		return nil
	}
	return http.Header{"Retry-After": {e.retryAfter}}
}

func newOAuthError(status int, code, desc string) *oauthError {
	return &oauthError{status: status, Err: code, Desc: desc, Detail: desc}
}

func (s *Server) token(r *http.Request) (*TokenPair, *oauthError) {
	ctx := r.Context()
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "The body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "The body is not a valid form")
	}
	form := r.PostForm
	for _, name := range []string{"grant_type", "username", "password", "refresh_token", "scope"} {
		for _, v := range form[name] {
			if badText(v) {
				return nil, newOAuthError(http.StatusBadRequest, "invalid_request", name+" "+msgBadText)
			}
		}
	}
	switch form.Get("grant_type") {
	case "password":
		if form.Get("username") == "" {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "username is required")
		}
		if p := s.ipLimited(ctx, form.Get("username")); p != nil {
			return nil, s.oauthErrorFor(p)
		}
		pair, err := s.sessions.Login(ctx, form.Get("username"), form.Get("password"), s.client(ctx, false))
		if err != nil {
			return nil, s.oauthErrorFor(err)
		}
		body := s.body(pair, false)
		return &body, nil
	case "refresh_token":
		token := form.Get("refresh_token")
		if token == "" {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "refresh_token is required")
		}
		p, prob := s.verify(r, token, auth.TypeRefresh, false)
		if prob != nil {
			// Every verification failure: the grant is invalid.
			return nil, newOAuthError(http.StatusBadRequest, "invalid_grant", prob.Detail)
		}
		if p.Claims.CSRF != "" {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_grant", detailCookieToken)
		}
		pair, err := s.sessions.Refresh(ctx, presented(p), s.client(ctx, false))
		if err != nil {
			return nil, s.oauthErrorFor(err)
		}
		body := s.body(pair, false)
		return &body, nil
	case "":
		return nil, newOAuthError(http.StatusBadRequest, "invalid_request", "grant_type is required")
	default:
		return nil, newOAuthError(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be password or refresh_token")
	}
}
