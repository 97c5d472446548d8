package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse/auth"
)

// Operation metadata keys that drive authMiddleware.
const (
	metaToken        = "token"        // auth.TypeAccess or auth.TypeRefresh
	metaAllowRevoked = "allowRevoked" // revoke endpoints: revoking twice is fine
)

// Principal is the verified caller of a request.
type Principal struct {
	Claims auth.Claims
	Token  string
	Roles  []string // current roles of the user (from auth state, not the token)
}

// The tutorial's (fastapi-jwt-auth's) wording, kept because clients match it.
const (
	detailMissingHeader = "Missing Authorization Header"
	detailBadHeader     = "Bad Authorization header. Expected value 'Bearer <JWT>'"
	detailRevoked       = "Token has been revoked"
	detailOnlyAccess    = "Only access tokens are allowed"
	detailOnlyRefresh   = "Only refresh tokens are allowed"
	detailUnknownUser   = "User not found or inactive"
)

// unauthorized is a 401 with the RFC 6750 challenge.
func unauthorized(code, detail string) *Problem {
	return newProblem(http.StatusUnauthorized, code, detail).
		withHeader("WWW-Authenticate", `Bearer error="invalid_token"`)
}

// authMiddleware verifies the bearer token for operations that need one and
// puts the Principal in the context. It makes no database call: revocations
// and users come from the in-memory auth state.
func (s *Server) authMiddleware(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	want, _ := op.Metadata[metaToken].(string)
	if want == "" {
		next(ctx)
		return
	}
	allowRevoked, _ := op.Metadata[metaAllowRevoked].(bool)
	p, prob := s.authenticate(ctx.Header("Authorization"), want, allowRevoked)
	if prob != nil {
		writeHumaProblem(ctx, prob)
		return
	}
	next(huma.WithValue(ctx, claimsKey, p))
}

// authenticate checks an Authorization header value for a token of type want.
func (s *Server) authenticate(header, want string, allowRevoked bool) (*Principal, *Problem) {
	if header == "" {
		return nil, newProblem(http.StatusUnauthorized, "missing_token", detailMissingHeader).
			withHeader("WWW-Authenticate", `Bearer realm="warehouse"`)
	}
	token, ok := bearerToken(header)
	if !ok {
		return nil, unauthorized("bad_authorization_header", detailBadHeader)
	}
	claims, err := s.keys.Verify(token, s.now(), auth.VerifyOptions{Leeway: s.cfg.Leeway, Issuer: s.cfg.Issuer, Audience: s.cfg.Audience})
	if err != nil {
		var te *auth.TokenError
		if errors.As(err, &te) {
			return nil, unauthorized(te.Code, te.Detail)
		}
		return nil, unauthorized("invalid_token", "Invalid token")
	}
	if !allowRevoked && s.state.IsRevoked(claims.ID) {
		return nil, unauthorized("token_revoked", detailRevoked)
	}
	if claims.Type != want {
		if want == auth.TypeRefresh {
			return nil, unauthorized("wrong_token_type", detailOnlyRefresh)
		}
		return nil, unauthorized("wrong_token_type", detailOnlyAccess)
	}
	u, ok := s.state.User(claims.Subject)
	if !ok || !u.Active {
		return nil, unauthorized("unknown_user", detailUnknownUser)
	}
	return &Principal{Claims: claims, Token: token, Roles: u.Roles}, nil
}

// bearerToken extracts the token from "Bearer <JWT>". The scheme is
// case-insensitive (RFC 7235); anything else is a bad header.
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// principal returns the verified caller put in the context by authMiddleware.
func principal(ctx interface{ Value(any) any }) *Principal {
	p, _ := ctx.Value(claimsKey).(*Principal)
	return p
}

// writeHumaProblem writes p from inside Huma middleware.
func writeHumaProblem(ctx huma.Context, p *Problem) {
	for k, vs := range p.headers {
		for _, v := range vs {
			ctx.AppendHeader(k, v)
		}
	}
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(p.Status)
	_ = jsonEncode(ctx.BodyWriter(), p)
}
