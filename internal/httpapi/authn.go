package httpapi

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/warehouse-api/warehouse/auth"
)

// Operation metadata keys that drive authMiddleware.
const (
	metaToken        = "token"        // auth.TypeAccess or auth.TypeRefresh
	metaAllowRevoked = "allowRevoked" // revoke and logout: doing it twice is fine
	metaFresh        = "fresh"        // sensitive: needs a token from a password login
)

// Cookie names, as fastapi-jwt-auth's cookie mode has them.
const (
	cookieAccess      = "access_token_cookie"
	cookieRefresh     = "refresh_token_cookie"
	cookieCSRFAccess  = "csrf_access_token"
	cookieCSRFRefresh = "csrf_refresh_token"
	headerCSRF        = "X-CSRF-Token"
)

// Principal is the verified caller of a request.
type Principal struct {
	Claims auth.Claims
	Token  string
	Roles  []string // current roles of the user (from auth state, not the token)
	// FromCookie: the token came from its cookie (cookie mode).
	FromCookie bool
}

// The tutorial's (fastapi-jwt-auth's) wording, kept because clients match it.
const (
	detailMissingHeader = "Missing Authorization Header"
	detailBadHeader     = "Bad Authorization header. Expected value 'Bearer <JWT>'"
	detailRevoked       = "Token has been revoked"
	detailOnlyAccess    = "Only access tokens are allowed"
	detailOnlyRefresh   = "Only refresh tokens are allowed"
	detailFresh         = "Fresh token required"
	detailMissingCSRF   = "Missing CSRF Token"
	detailCSRFMismatch  = "CSRF double submit tokens do not match"
	detailUnknownUser   = "User not found or inactive"
	detailCookieToken   = "This token was issued into cookies; send it in its cookie with the X-CSRF-Token header"
)

// unauthorized is a 401 with the RFC 6750 challenge.
func unauthorized(code, detail string) *Problem {
	return newProblem(http.StatusUnauthorized, code, detail).
		withHeader("WWW-Authenticate", `Bearer error="invalid_token"`)
}

// credentials is what a request offers to authenticate with.
type credentials struct {
	authorization string
	method        string
	// cookie reads a request cookie by name ("" if absent).
	cookie func(name string) string
	csrf   string // the X-CSRF-Token header
}

func noCookies(string) string { return "" }

// authMiddleware verifies the token for operations that need one and puts
// the Principal in the context. It makes no database call: revocations,
// ended sessions and users come from the in-memory auth state.
func (s *Server) authMiddleware(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	want, _ := op.Metadata[metaToken].(string)
	if want == "" {
		next(ctx)
		return
	}
	allowRevoked, _ := op.Metadata[metaAllowRevoked].(bool)
	creds := credentials{
		authorization: ctx.Header("Authorization"),
		method:        ctx.Method(),
		csrf:          ctx.Header(headerCSRF),
		cookie: func(name string) string {
			if c, err := huma.ReadCookie(ctx, name); err == nil {
				return c.Value
			}
			return ""
		},
	}
	p, prob := s.authenticate(creds, want, allowRevoked)
	if prob == nil {
		if fresh, _ := op.Metadata[metaFresh].(bool); fresh && !p.Claims.Fresh {
			prob = unauthorized("fresh_token_required", detailFresh)
		}
	}
	if prob != nil {
		writeHumaProblem(ctx, prob)
		return
	}
	next(huma.WithValue(ctx, claimsKey, p))
}

// authenticate checks the credentials for a token of type want. A token is
// bound to how it was issued: one issued into cookies (it has a csrf claim)
// is accepted only from its cookie, with the double-submit header on
// state-changing methods; one issued in a body only from the header.
func (s *Server) authenticate(c credentials, want string, allowRevoked bool) (*Principal, *Problem) {
	if c.authorization != "" {
		token, ok := bearerToken(c.authorization)
		if !ok {
			return nil, unauthorized("bad_authorization_header", detailBadHeader)
		}
		p, prob := s.verify(token, want, allowRevoked)
		if prob != nil {
			return nil, prob
		}
		if p.Claims.CSRF != "" {
			return nil, unauthorized("cookie_token_in_header", detailCookieToken)
		}
		return p, nil
	}
	name := cookieAccess
	if want == auth.TypeRefresh {
		name = cookieRefresh
	}
	token := c.cookie(name)
	if token == "" {
		return nil, newProblem(http.StatusUnauthorized, "missing_token", detailMissingHeader).
			withHeader("WWW-Authenticate", `Bearer realm="warehouse"`)
	}
	p, prob := s.verify(token, want, allowRevoked)
	if prob != nil {
		return nil, prob
	}
	if p.Claims.CSRF == "" {
		// A header token placed in a cookie: as the tutorial, not a credential.
		return nil, newProblem(http.StatusUnauthorized, "missing_token", detailMissingHeader).
			withHeader("WWW-Authenticate", `Bearer realm="warehouse"`)
	}
	switch c.method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		if c.csrf == "" {
			return nil, unauthorized("missing_csrf_token", detailMissingCSRF)
		}
		if subtle.ConstantTimeCompare([]byte(c.csrf), []byte(p.Claims.CSRF)) != 1 {
			return nil, unauthorized("csrf_mismatch", detailCSRFMismatch)
		}
	}
	p.FromCookie = true
	return p, nil
}

// verify checks one token: signature and claims, revocation, session,
// type, user. The order follows fastapi-jwt-auth: decode, revoked, type.
func (s *Server) verify(token, want string, allowRevoked bool) (*Principal, *Problem) {
	claims, err := s.keys.Verify(token, s.now(), auth.VerifyOptions{Leeway: s.cfg.Leeway, Issuer: s.cfg.Issuer, Audience: s.cfg.Audience})
	if err != nil {
		var te *auth.TokenError
		if errors.As(err, &te) {
			return nil, unauthorized(te.Code, te.Detail)
		}
		return nil, unauthorized("invalid_token", "Invalid token")
	}
	if !allowRevoked {
		if s.state.IsRevoked(claims.ID) {
			return nil, unauthorized("token_revoked", detailRevoked)
		}
		if claims.SessionID != "" && s.state.IsSessionEnded(claims.SessionID) {
			return nil, unauthorized("session_ended", detailRevoked)
		}
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
