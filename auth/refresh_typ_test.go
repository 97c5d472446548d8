package auth

import (
	"crypto/sha256"
	"testing"
)

// TestVerifyRefreshTyp: a refresh+jwt token carries no iss or aud and is
// still accepted by our verifier configured with both; refresh tokens from
// before typ was set (typ JWT, with iss and aud) keep verifying; typ
// refresh+jwt can never make an access token or skip a foreign iss/aud.
func TestVerifyRefreshTyp(t *testing.T) {
	t.Parallel()
	kr := newTestKeyring(t)
	opt := VerifyOptions{Issuer: "https://wh.example", Audience: "api"}
	const hdrRefresh = `{"alg":"HS256","typ":"refresh+jwt"}`
	refresh := func(extra string) string {
		return `{"sub":"joevu","iat":1700000000,"nbf":1700000000,"jti":"` + testJTI + `","exp":1700000900,"type":"refresh"` + extra + `}`
	}
	tests := []struct {
		name     string
		header   string
		payload  string
		wantCode string // "" = accepted
	}{
		{"new refresh token: no iss, no aud", hdrRefresh, refresh(""), ""},
		{"typ is case-insensitive", `{"alg":"HS256","typ":"Refresh+JWT"}`, refresh(""), ""},
		{"new refresh token with matching iss and aud", hdrRefresh, refresh(`,"iss":"https://wh.example","aud":"api"`), ""},
		{"old refresh token (typ JWT) with iss and aud", hdrHS256, refresh(`,"iss":"https://wh.example","aud":"api"`), ""},
		{"old refresh token (typ JWT) without iss", hdrHS256, refresh(`,"aud":"api"`), CodeMissingClaim},
		{"old refresh token (typ JWT) without aud", hdrHS256, refresh(`,"iss":"https://wh.example"`), CodeMissingClaim},
		{"refresh+jwt with a foreign iss", hdrRefresh, refresh(`,"iss":"https://other.example"`), CodeInvalidIssuer},
		{"refresh+jwt with a foreign aud", hdrRefresh, refresh(`,"aud":"other"`), CodeInvalidAudience},
		{"refresh+jwt claiming to be an access token", hdrRefresh, payloadAt(1700000000, ""), CodeInvalidClaim},
		{"access token without iss is still refused", hdrHS256, payloadAt(1700000000, `,"aud":"api"`), CodeMissingClaim},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := craft(tt.header, tt.payload, testSecret, sha256.New)
			_, err := kr.Verify(tok, testNow, opt)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			te, ok := err.(*TokenError)
			if !ok || te.Code != tt.wantCode {
				t.Fatalf("err = %v, want code %s", err, tt.wantCode)
			}
		})
	}
}

// TestSignRefreshTyp: Sign gives refresh tokens typ refresh+jwt and access
// tokens the tutorial's typ JWT, and both verify.
func TestSignRefreshTyp(t *testing.T) {
	t.Parallel()
	kr := newTestKeyring(t, Key{ID: "k1", Secret: testSecret})
	for _, tt := range []struct{ typ, header string }{
		{TypeAccess, `{"alg":"HS256","kid":"k1","typ":"JWT"}`},
		{TypeRefresh, `{"alg":"HS256","kid":"k1","typ":"refresh+jwt"}`},
	} {
		tok, err := kr.Sign(NewClaims("joevu", tt.typ, testNow, 15*60e9))
		if err != nil {
			t.Fatal(err)
		}
		if got := segment(t, tok, 0); got != tt.header {
			t.Errorf("%s header = %s, want %s", tt.typ, got, tt.header)
		}
		if c, err := kr.Verify(tok, testNow, VerifyOptions{}); err != nil || c.Type != tt.typ {
			t.Errorf("%s: verify %v, type %q", tt.typ, err, c.Type)
		}
	}
}
