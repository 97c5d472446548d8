package httpapi

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/warehouse-api/warehouse"
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
	headerCSRF        = "X-Csrf-Token" // X-CSRF-Token, in canonical form so reading it allocates nothing
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

// Codes of a refused token, besides auth's TokenError codes (auth.Code*)
// and the session ends (warehouse.ETOKENREVOKED): each has its line in the
// error table (kinds), a 401 with RFC 6750's challenge.
const (
	codeMissingToken        = auth.CodeMissingToken // no token at all: a challenge without an error
	codeBadHeader           = auth.CodeBadHeader
	codeWrongTokenType      = auth.CodeWrongTokenType
	codeInvalidToken        = "invalid_token"
	codeCookieTokenInHeader = "cookie_token_in_header"
	codeMissingCSRF         = "missing_csrf_token"
	codeCSRFMismatch        = "csrf_mismatch"
	codeSessionEnded        = "session_ended"
	codeUnknownUser         = "unknown_user"
	codeFreshRequired       = "fresh_token_required"
)

// unauthorized is the refusal of a token with code, answered by the error
// table (401 with the RFC 6750 challenge).
func unauthorized(code, detail string) *Problem {
	return codeProblem(code, detail)
}

// credentials is what a request offers to authenticate with.
type credentials struct {
	authorization string
	method        string
	// r is the request presenting the token: a token's iss must name
	// its origin when the issuer comes from the request (see issuerOK).
	r *http.Request
	// req reads the CSRF header and cookies, which only cookie-mode tokens
	// need, so the common bearer request never looks them up. nil for
	// the console's plain requests, which read r.
	req huma.Context
	// form: the CSRF value is formCSRF, a form field (the console), not
	// the X-CSRF-Token header.
	form     bool
	formCSRF string
}

// csrf is the X-CSRF-Token header.
func (c credentials) csrf() string {
	if c.form {
		return c.formCSRF
	}
	if c.req == nil {
		return ""
	}
	return c.req.Header(headerCSRF)
}

// cookie reads a request cookie by name ("" if absent).
func (c credentials) cookie(name string) string {
	if c.req == nil {
		if c.form && c.r != nil {
			return cookieValue(c.r, name)
		}
		return ""
	}
	if ck, err := huma.ReadCookie(c.req, name); err == nil {
		return ck.Value
	}
	return ""
}

// authMiddleware verifies the token for operations that need one and makes
// the Principal available to the handler. It makes no database call:
// revocations, ended sessions and users come from the in-memory auth state.
func (s *Server) authMiddleware(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	want, _ := op.Metadata[metaToken].(string)
	if want == "" {
		next(ctx)
		return
	}
	allowRevoked, _ := op.Metadata[metaAllowRevoked].(bool)
	st, _ := ctx.Context().Value(requestKey).(*reqState)
	p := new(Principal)
	creds := credentials{authorization: ctx.Header("Authorization"), method: ctx.Method(), req: ctx}
	if st != nil {
		creds.r = st.req
	} else {
		creds.r, _ = humago.Unwrap(ctx)
	}
	prob := s.authenticate(p, creds, want, allowRevoked)
	if prob == nil {
		if fresh, _ := op.Metadata[metaFresh].(bool); fresh && !p.Claims.Fresh {
			prob = unauthorized(codeFreshRequired, detailFresh)
		}
	}
	if prob != nil {
		writeHumaProblem(ctx, prob)
		return
	}
	if st != nil {
		st.auth = p
		next(ctx)
		return
	}
	next(huma.WithValue(ctx, claimsKey, p))
}

// authenticate checks the credentials for a token of type want and fills
// p. A token is bound to how it was issued: one issued into cookies (it has
// a csrf claim) is accepted only from its cookie, with the double-submit
// header on state-changing methods; one issued in a body only from the
// header.
func (s *Server) authenticate(p *Principal, c credentials, want string, allowRevoked bool) *Problem {
	if c.authorization != "" {
		token, ok := bearerToken(c.authorization)
		if !ok {
			return unauthorized(codeBadHeader, detailBadHeader)
		}
		if prob := s.verifyInto(p, c.r, token, want, allowRevoked); prob != nil {
			return prob
		}
		if p.Claims.CSRF != "" {
			return unauthorized(codeCookieTokenInHeader, detailCookieToken)
		}
		return nil
	}
	name := cookieAccess
	if want == auth.TypeRefresh {
		name = cookieRefresh
	}
	token := c.cookie(name)
	if token == "" {
		return unauthorized(codeMissingToken, detailMissingHeader)
	}
	if prob := s.verifyInto(p, c.r, token, want, allowRevoked); prob != nil {
		return prob
	}
	if p.Claims.CSRF == "" {
		// A header token placed in a cookie: as the tutorial, not a credential.
		return unauthorized(codeMissingToken, detailMissingHeader)
	}
	switch c.method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		csrf := c.csrf()
		if csrf == "" {
			return unauthorized(codeMissingCSRF, detailMissingCSRF)
		}
		if subtle.ConstantTimeCompare([]byte(csrf), []byte(p.Claims.CSRF)) != 1 {
			return unauthorized(codeCSRFMismatch, detailCSRFMismatch)
		}
	}
	p.FromCookie = true
	return nil
}

// verify checks one token presented in r (see verifyInto) and returns its
// Principal.
func (s *Server) verify(r *http.Request, token, want string, allowRevoked bool) (*Principal, *Problem) {
	p := new(Principal)
	if prob := s.verifyInto(p, r, token, want, allowRevoked); prob != nil {
		return nil, prob
	}
	return p, nil
}

// verifyInto checks one token presented in r: signature and claims
// (answered from the verified-token cache for a token seen before, with
// exp checked again) and the issuer, then revocation, session, type and
// user, which are checked on every request from memory. The order follows
// fastapi-jwt-auth: decode, revoked, type.
func (s *Server) verifyInto(p *Principal, r *http.Request, token, want string, allowRevoked bool) *Problem {
	claims, err := s.tokens.Verify(token, s.now(), s.verifyOpt)
	if err != nil {
		var te *auth.TokenError
		if errors.As(err, &te) {
			return unauthorized(te.Code, te.Detail)
		}
		return unauthorized(codeInvalidToken, "Invalid token")
	}
	if !s.issuerOK(r, claims.Issuer) {
		return unauthorized(auth.CodeInvalidIssuer, "Invalid issuer")
	}
	if !allowRevoked {
		if s.state.IsRevoked(claims.ID) {
			return unauthorized(warehouse.ETOKENREVOKED, detailRevoked)
		}
		if claims.SessionID != "" && s.state.IsSessionEnded(claims.SessionID) {
			return unauthorized(codeSessionEnded, detailRevoked)
		}
	}
	if claims.Type != want {
		if want == auth.TypeRefresh {
			return unauthorized(codeWrongTokenType, detailOnlyRefresh)
		}
		return unauthorized(codeWrongTokenType, detailOnlyAccess)
	}
	u, ok := s.state.User(claims.Subject)
	if !ok || !u.Active {
		return unauthorized(codeUnknownUser, detailUnknownUser)
	}
	*p = Principal{Claims: claims, Token: token, Roles: u.Roles}
	return nil
}

// bearerToken extracts the token from "Bearer <JWT>". The scheme is
// case-insensitive (RFC 7235); anything else is a bad header.
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	// IndexByte, unlike ContainsAny, scans a long token without building a
	// set per call.
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.IndexByte(token, ' ') >= 0 || strings.IndexByte(token, '\t') >= 0 {
		return "", false
	}
	return token, true
}

// principal returns the verified caller recorded by authMiddleware (nil on
// routes without auth).
func principal(ctx interface{ Value(any) any }) *Principal {
	if st, _ := ctx.Value(requestKey).(*reqState); st != nil && st.auth != nil {
		return st.auth
	}
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
