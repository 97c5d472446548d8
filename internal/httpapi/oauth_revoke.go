package httpapi

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse/auth"
)

type revokeInput struct {
	RawBody     []byte `contentType:"application/x-www-form-urlencoded"`
	contentType string
}

// Resolve reads Content-Type, which OpenAPI does not let an operation
// declare as a parameter.
func (in *revokeInput) Resolve(ctx huma.Context) []error {
	in.contentType = ctx.Header("Content-Type")
	return nil
}

type revokeOutput struct {
	CacheControl string `header:"Cache-Control"`
	Pragma       string `header:"Pragma"`
}

// POST /revoke is RFC 7009 token revocation: form-encoded token and
// token_type_hint. Clients are public (no client authentication), as at
// /token: whoever holds a token may revoke it.

func opRevoke() huma.Operation {
	oauthErr := &huma.Schema{Type: "object", Required: []string{"error"}, Properties: map[string]*huma.Schema{
		"error":             {Type: "string", Enum: []any{"invalid_request", "unsupported_token_type", "temporarily_unavailable"}},
		"error_description": {Type: "string"},
		"detail":            {Type: "string"},
	}}
	errResponse := func(desc string, headers map[string]*huma.Param) *huma.Response {
		return &huma.Response{Description: desc, Headers: headers,
			Content: map[string]*huma.MediaType{"application/json": {Schema: oauthErr}}}
	}
	return huma.Operation{Tags: []string{"oauth2"},
		Summary: "OAuth2 token revocation (RFC 7009)",
		Description: "Form-encoded `token` and optional `token_type_hint` (`access_token` or `refresh_token`). " +
			"A refresh token is revoked as by DELETE /refresh-revoke, an access token as by DELETE /access-revoke. " +
			"As RFC 7009 section 2.2 requires, an invalid, unknown, expired or already revoked token also answers 200: " +
			"the client's goal, that the token be unusable, holds. Errors are RFC 6749 section 5.2 objects.",
		DefaultStatus: http.StatusOK,
		MaxBodyBytes:  64 << 10,
		Errors:        []int{http.StatusRequestEntityTooLarge},
		Responses: map[string]*huma.Response{
			"400": errResponse("invalid_request (no token, not a form) or unsupported_token_type (an unknown token_type_hint)", nil),
			"503": errResponse("temporarily_unavailable: the revocation could not be stored; retry", map[string]*huma.Param{
				"Retry-After": {Description: "Seconds to wait", Schema: &huma.Schema{Type: "string"}}}),
		},
	}
}

// documentRevokeForm corrects what Huma generated for POST /revoke's raw
// body.
func documentRevokeForm(op *huma.Operation) {
	delete(op.Responses, "422") // a raw body is not validated: never sent
	// Huma documents a raw body as binary and requires it; describe the
	// form, and leave an empty body to the handler (invalid_request).
	op.RequestBody.Required = false
	op.RequestBody.Content["application/x-www-form-urlencoded"].Schema = &huma.Schema{
		Type: "object", Required: []string{"token"},
		Properties: map[string]*huma.Schema{
			"token":           {Type: "string", Description: "The access or refresh token to revoke"},
			"token_type_hint": {Type: "string", Enum: []any{"access_token", "refresh_token"}, Description: "What the token is; a wrong hint is not an error"},
		},
	}
}

func (s *Server) revoke(ctx context.Context, in *revokeInput) (*revokeOutput, error) {
	if err := s.revokeToken(ctx, in.contentType, in.RawBody); err != nil {
		return nil, err
	}
	return &revokeOutput{CacheControl: "no-store", Pragma: "no-cache"}, nil
}

// revokeToken revokes the token in the form body (see POST /revoke).
func (s *Server) revokeToken(ctx context.Context, contentType string, body []byte) error {
	if ct, _, _ := mime.ParseMediaType(contentType); ct != "application/x-www-form-urlencoded" {
		return newOAuthError(http.StatusBadRequest, "invalid_request", "The body must be application/x-www-form-urlencoded")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return newOAuthError(http.StatusBadRequest, "invalid_request", "The body is not a valid form")
	}
	switch form.Get("token_type_hint") {
	case "", "access_token", "refresh_token":
	default:
		return newOAuthError(http.StatusBadRequest, "unsupported_token_type", "token_type_hint must be access_token or refresh_token")
	}
	token := form.Get("token")
	if token == "" {
		return newOAuthError(http.StatusBadRequest, "invalid_request", "token is required")
	}
	// The hint only says where to look first (RFC 7009 section 2.1); both
	// kinds are JWTs of ours, so the token itself says what it is.
	// Whichever of our URLs the token was minted at, it is ours: whoever
	// holds it may revoke it, so a request-derived iss is not compared.
	claims, err := s.tokens.Verify(token, s.now(), s.verifyOpt)
	if err != nil {
		var te *auth.TokenError
		if errors.As(err, &te) {
			return nil // not a token of ours, or expired: nothing to revoke
		}
		return s.revokeUnavailable(err)
	}
	switch claims.Type {
	case auth.TypeAccess, auth.TypeRefresh:
		// The same call as DELETE /access-revoke and /refresh-revoke.
		if err := s.sessions.Revoke(ctx, claims); err != nil {
			return s.revokeUnavailable(err)
		}
	}
	return nil
}

func (s *Server) revokeUnavailable(err error) *oauthError {
	p := s.problem(err)
	e := newOAuthError(http.StatusServiceUnavailable, "temporarily_unavailable", "The token could not be revoked; try again shortly")
	if ra := p.headers.Get("Retry-After"); ra != "" {
		e.retryAfter = ra
	} else {
		e.retryAfter = "1"
	}
	return e
}
