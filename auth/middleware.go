package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Verifier checks a token. *Keyring (with its own keys) and *RemoteKeySet
// (with another service's JWKS) implement it. As with Keyring.Verify,
// every refusal of the token is a *TokenError, and any other error means
// the verifier itself is unusable.
type Verifier interface {
	VerifyToken(ctx context.Context, token string, now time.Time, opt VerifyOptions) (Claims, error)
}

var (
	_ Verifier = (*Keyring)(nil)
	_ Verifier = (*RemoteKeySet)(nil)
)

// VerifyToken is Verify with a context, which a Keyring does not need; it
// makes *Keyring a Verifier.
func (k *Keyring) VerifyToken(_ context.Context, token string, now time.Time, opt VerifyOptions) (Claims, error) {
	return k.Verify(token, now, opt)
}

// MiddlewareOptions configure Middleware.
type MiddlewareOptions struct {
	VerifyOptions VerifyOptions // leeway, issuer and audience
	// RequireType is the token type accepted (the "type" claim); TypeAccess
	// when empty, as fastapi-jwt-auth's jwt_required.
	RequireType string
	// Realm is sent in the challenge of a request without credentials,
	// `Bearer realm="..."`; "api" when empty.
	Realm string
	// Now is the clock used to validate tokens; time.Now when nil.
	Now func() time.Time
}

// Error codes and wordings of Middleware, the same as the warehouse server
// (and the tutorial's library) uses.
const (
	CodeMissingToken        = "missing_token"
	CodeBadHeader           = "bad_authorization_header"
	CodeWrongTokenType      = "wrong_token_type"
	CodeVerifierUnavailable = "verifier_unavailable"
	detailMissingHeader     = "Missing Authorization Header"
	detailBadHeader         = "Bad Authorization header. Expected value 'Bearer <JWT>'"
	detailVerifierFailed    = "Tokens cannot be verified right now"
)

type claimsKey struct{}

// ClaimsFromContext returns the claims Middleware verified for this request.
func ClaimsFromContext(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(Claims)
	return c, ok
}

// Middleware returns net/http middleware that lets a request through only
// with a valid token in `Authorization: Bearer <JWT>` (the scheme is
// case-insensitive) of type opts.RequireType, and puts its claims in the
// request context (see ClaimsFromContext). It does not check revocation or
// users: a handler or a further middleware can, from the claims.
//
// Refusals are 401 with an RFC 9457 problem+json body whose detail and code
// are the warehouse server's: no header gives "Missing Authorization
// Header" (code missing_token) and `WWW-Authenticate: Bearer realm="..."`;
// a header that is not a bearer token gives "Bad Authorization header.
// Expected value 'Bearer <JWT>'" (bad_authorization_header); a token the
// verifier refuses gives the *TokenError's Detail and Code; a token of
// another type "Only access tokens are allowed" (wrong_token_type). All
// but the first carry `WWW-Authenticate: Bearer error="invalid_token"`.
// When the verifier itself fails (say the JWKS server is down) the answer
// is 503 with code verifier_unavailable, since the token may well be good.
func Middleware(v Verifier, opts MiddlewareOptions) func(http.Handler) http.Handler {
	if opts.RequireType == "" {
		opts.RequireType = TypeAccess
	}
	if opts.Realm == "" {
		opts.Realm = "api"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	missing := `Bearer realm=` + quote(opts.Realm)
	const invalid = `Bearer error="invalid_token"`
	wrongType := "Only " + opts.RequireType + " tokens are allowed"
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Get("Authorization")
			if h == "" {
				writeProblem(w, http.StatusUnauthorized, missing, CodeMissingToken, detailMissingHeader)
				return
			}
			token, ok := bearerToken(h)
			if !ok {
				writeProblem(w, http.StatusUnauthorized, invalid, CodeBadHeader, detailBadHeader)
				return
			}
			c, err := v.VerifyToken(r.Context(), token, opts.Now(), opts.VerifyOptions)
			if err != nil {
				var te *TokenError
				if errors.As(err, &te) {
					writeProblem(w, http.StatusUnauthorized, invalid, te.Code, te.Detail)
				} else {
					writeProblem(w, http.StatusServiceUnavailable, "", CodeVerifierUnavailable, detailVerifierFailed)
				}
				return
			}
			if c.Type != opts.RequireType {
				writeProblem(w, http.StatusUnauthorized, invalid, CodeWrongTokenType, wrongType)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
		})
	}
}

// bearerToken extracts the token from "Bearer <JWT>".
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// quote makes an RFC 9110 quoted-string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		if c >= 0x20 && c != 0x7f {
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func writeProblem(w http.ResponseWriter, status int, challenge, code, detail string) {
	hdr := w.Header()
	if challenge != "" {
		hdr.Set("WWW-Authenticate", challenge)
	}
	hdr.Set("Content-Type", "application/problem+json")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep 'Bearer <JWT>' readable
	enc.Encode(struct {
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}{http.StatusText(status), status, detail, code})
}
