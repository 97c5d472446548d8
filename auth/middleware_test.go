package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// brokenVerifier fails as a RemoteKeySet does when its JWKS is unreachable.
type brokenVerifier struct{}

func (brokenVerifier) VerifyToken(context.Context, string, time.Time, VerifyOptions) (Claims, error) {
	return Claims{}, errors.New("auth: jwks: connection refused")
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	ed := testKey(t, AlgEdDSA, 0)
	kr := newTestKeyring(t, ed)
	srv := newJWKSServer(t, jwksOf(t, ed), nil)
	remote := NewRemoteKeySet(srv.URL, RemoteOptions{HTTPClient: srv.Client()})

	sign := func(typ string, mod func(*Claims)) string {
		c := NewClaims("joevu", typ, testNow, 15*time.Minute)
		c.Roles = []string{"admin"}
		if mod != nil {
			mod(&c)
		}
		tok, err := kr.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	access, refresh := sign(TypeAccess, nil), sign(TypeRefresh, nil)
	withIss := sign(TypeAccess, func(c *Claims) { c.Issuer = "https://warehouse.example" })
	now := func() time.Time { return testNow }

	const invalid = `Bearer error="invalid_token"`
	tests := []struct {
		name      string
		v         Verifier
		opts      MiddlewareOptions
		header    []string // Authorization values
		status    int
		code      string
		detail    string
		challenge string
	}{
		{"keyring ok", kr, MiddlewareOptions{}, []string{"Bearer " + access}, 200, "", "", ""},
		{"remote ok", remote, MiddlewareOptions{}, []string{"Bearer " + access}, 200, "", "", ""},
		{"scheme case-insensitive", kr, MiddlewareOptions{}, []string{"bEaReR " + access}, 200, "", "", ""},
		{"missing header", kr, MiddlewareOptions{}, nil, 401, CodeMissingToken, "Missing Authorization Header", `Bearer realm="api"`},
		{"missing header, realm", kr, MiddlewareOptions{Realm: `ware"house`}, nil, 401, CodeMissingToken, "Missing Authorization Header", `Bearer realm="ware\"house"`},
		{"empty header", kr, MiddlewareOptions{}, []string{""}, 401, CodeMissingToken, "Missing Authorization Header", `Bearer realm="api"`},
		{"basic scheme", kr, MiddlewareOptions{}, []string{"Basic am9ldnU6eA=="}, 401, CodeBadHeader, "Bad Authorization header. Expected value 'Bearer <JWT>'", invalid},
		{"bearer without token", kr, MiddlewareOptions{}, []string{"Bearer"}, 401, CodeBadHeader, "Bad Authorization header. Expected value 'Bearer <JWT>'", invalid},
		{"bearer and a space", kr, MiddlewareOptions{}, []string{"Bearer "}, 401, CodeBadHeader, "Bad Authorization header. Expected value 'Bearer <JWT>'", invalid},
		{"two tokens", kr, MiddlewareOptions{}, []string{"Bearer " + access + " " + access}, 401, CodeBadHeader, "Bad Authorization header. Expected value 'Bearer <JWT>'", invalid},
		{"token only", kr, MiddlewareOptions{}, []string{access}, 401, CodeBadHeader, "Bad Authorization header. Expected value 'Bearer <JWT>'", invalid},
		{"garbage token", kr, MiddlewareOptions{}, []string{"Bearer garbage"}, 401, CodeMalformed, "Not enough segments", invalid},
		{"expired", kr, MiddlewareOptions{Now: func() time.Time { return testNow.Add(time.Hour) }}, []string{"Bearer " + access}, 401, CodeExpired, "Signature has expired", invalid},
		{"expired, remote", remote, MiddlewareOptions{Now: func() time.Time { return testNow.Add(time.Hour) }}, []string{"Bearer " + access}, 401, CodeExpired, "Signature has expired", invalid},
		{"leeway", kr, MiddlewareOptions{VerifyOptions: VerifyOptions{Leeway: time.Minute}, Now: func() time.Time { return testNow.Add(15*time.Minute + 30*time.Second) }}, []string{"Bearer " + access}, 200, "", "", ""},
		{"foreign issuer", kr, MiddlewareOptions{}, []string{"Bearer " + withIss}, 401, CodeInvalidIssuer, "Invalid issuer", invalid},
		{"issuer configured", kr, MiddlewareOptions{VerifyOptions: VerifyOptions{Issuer: "https://warehouse.example"}}, []string{"Bearer " + withIss}, 200, "", "", ""},
		{"refresh token", kr, MiddlewareOptions{}, []string{"Bearer " + refresh}, 401, CodeWrongTokenType, "Only access tokens are allowed", invalid},
		{"refresh required", kr, MiddlewareOptions{RequireType: TypeRefresh}, []string{"Bearer " + refresh}, 200, "", "", ""},
		{"access when refresh required", kr, MiddlewareOptions{RequireType: TypeRefresh}, []string{"Bearer " + access}, 401, CodeWrongTokenType, "Only refresh tokens are allowed", invalid},
		{"verifier down", brokenVerifier{}, MiddlewareOptions{}, []string{"Bearer " + access}, 503, CodeVerifierUnavailable, "Tokens cannot be verified right now", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.opts.Now == nil {
				tt.opts.Now = now
			}
			var got Claims
			var reached bool
			h := Middleware(tt.v, tt.opts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
				var ok bool
				if got, ok = ClaimsFromContext(r.Context()); !ok {
					t.Error("no claims in the context")
				}
				w.Write([]byte("ok"))
			}))
			req := httptest.NewRequest(http.MethodGet, "/orders", nil)
			for _, v := range tt.header {
				req.Header.Add("Authorization", v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status == 200 {
				if !reached || got.Subject != "joevu" || len(got.Roles) != 1 || got.Roles[0] != "admin" {
					t.Fatalf("handler reached %v with %+v", reached, got)
				}
				return
			}
			if reached {
				t.Fatal("handler reached on a refusal")
			}
			if ch := rec.Header().Get("WWW-Authenticate"); ch != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", ch, tt.challenge)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			var body struct {
				Detail, Code string
				Status       int
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body.Detail != tt.detail || body.Code != tt.code || body.Status != tt.status {
				t.Errorf("body %s, want detail %q code %q", rec.Body, tt.detail, tt.code)
			}
			if strings.Contains(rec.Body.String(), access) {
				t.Error("the body echoes the token")
			}
		})
	}
	if _, ok := ClaimsFromContext(context.Background()); ok {
		t.Error("claims in an empty context")
	}
}
