package auth

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"
)

// TestVerifyHardening: tokens signed with the right key that another
// parser could read differently, or that would never expire, are refused
// (RFC 7515 section 4: unique header parameter names; RFC 8725 section
// 3.10: do not trust received claims), and what stays accepted still is.
func TestVerifyHardening(t *testing.T) {
	t.Parallel()
	iat := testNow.Unix() - 60
	exp := func(v string) string {
		return `{"sub":"joevu","iat":` + itoa(iat) + `,"jti":"` + testJTI + `","exp":` + v + `,"type":"access"}`
	}
	sign := func(header, payload string) string { return craft(header, payload, testSecret, sha256.New) }
	day := VerifyOptions{MaxLifetime: 24 * time.Hour}
	for _, tt := range []struct {
		name         string
		token        string
		opt          VerifyOptions
		code, detail string // "" for a token that verifies
	}{
		{name: "duplicate typ", token: sign(`{"alg":"HS256","typ":"refresh+jwt","typ":"JWT"}`, payloadAt(iat, "")), code: CodeMalformed, detail: "Invalid header string"},
		{name: "duplicate unknown parameter", token: sign(`{"alg":"HS256","typ":"JWT","x":1,"x":2}`, payloadAt(iat, "")), code: CodeMalformed, detail: "Invalid header string"},
		{name: "duplicate alg spelt with an escape", token: sign(`{"alg":"HS256","a\u006cg":"none"}`, payloadAt(iat, "")), code: CodeMalformed, detail: "Invalid header string"},
		{name: "duplicate kid", token: sign(`{"alg":"HS256","kid":"a","kid":"b"}`, payloadAt(iat, "")), code: CodeMalformed, detail: "Invalid header string"},
		{name: "duplicate sub spelt with an escape", token: sign(hdrHS256, payloadAt(iat, `,"s\u0075b":"admin"`)), code: CodeMalformed, detail: "Invalid payload string"},
		{name: "nine distinct header parameters", token: sign(`{"alg":"HS256","typ":"JWT","a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7}`, payloadAt(iat, ""))},
		{name: "exp 1e300, no bound", token: sign(hdrHS256, exp("1e300"))},
		{name: "exp 1e300", token: sign(hdrHS256, exp("1e300")), opt: day, code: CodeInvalidClaim, detail: `Invalid payload: "exp" must be within the longest token lifetime from now`},
		{name: "exp a 20-digit integer", token: sign(hdrHS256, exp("99999999999999999999")), opt: day, code: CodeInvalidClaim, detail: `Invalid payload: "exp" must be within the longest token lifetime from now`},
		{name: "exp a day and a minute away", token: sign(hdrHS256, exp(itoa(testNow.Unix()+86460))), opt: day, code: CodeInvalidClaim, detail: `Invalid payload: "exp" must be within the longest token lifetime from now`},
		{name: "exp a day away", token: sign(hdrHS256, exp(itoa(testNow.Unix()+86400))), opt: day},
		{name: "exp a day and the leeway away", token: sign(hdrHS256, exp(itoa(testNow.Unix()+86405))), opt: VerifyOptions{MaxLifetime: 24 * time.Hour, Leeway: 5 * time.Second}},
		{name: "exp fractional", token: sign(hdrHS256, exp(itoa(testNow.Unix()+600)+".5")), opt: day},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newTestKeyring(t).Verify(tt.token, testNow, tt.opt)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Verify() = %v, want the token accepted", err)
				}
				return
			}
			var te *TokenError
			if !errors.As(err, &te) || te.Code != tt.code || te.Detail != tt.detail {
				t.Fatalf("Verify() = %v, want {%s %q}", err, tt.code, tt.detail)
			}
		})
	}
}
