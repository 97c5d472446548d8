package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

var (
	testSecret  = []byte("k1-0123456789abcdef0123456789abcdef")
	otherSecret = []byte("k2-fedcba9876543210fedcba9876543210")
	testNow     = time.Unix(1_700_000_000, 0).UTC()
)

const testJTI = "6f1c2b1e-3f4a-4b5c-9d6e-7f8091a2b3c4"

func newTestKeyring(t testing.TB, keys ...Key) *Keyring {
	t.Helper()
	if len(keys) == 0 {
		keys = []Key{{Secret: testSecret}}
	}
	kr, err := NewKeyring(keys[0], keys[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// craft builds a token by hand: header and payload JSON as given, signed
// with HMAC over secret using newHash (nil means an empty signature).
func craft(header, payload string, secret []byte, newHash func() hash.Hash) string {
	input := enc(header) + "." + enc(payload)
	if newHash == nil {
		return input + "."
	}
	m := hmac.New(newHash, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

const hdrHS256 = `{"alg":"HS256","typ":"JWT"}`

// payloadAt returns the tutorial's access token payload issued at iat.
func payloadAt(iat int64, extra string) string {
	p := `{"sub":"joevu","iat":` + itoa(iat) + `,"nbf":` + itoa(iat) + `,"jti":"` + testJTI + `","exp":` + itoa(iat+900) + `,"type":"access","fresh":false`
	return p + extra + "}"
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func good(payload string) string { return craft(hdrHS256, payload, testSecret, sha256.New) }

func TestVerifyRefusals(t *testing.T) {
	t.Parallel()
	iat := testNow.Unix() - 60
	valid := good(payloadAt(iat, ""))
	parts := strings.Split(valid, ".")
	// Flip the first signature character to change the signature.
	flipped := []byte(parts[2])
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	// Last char of a 43-char HS256 signature carries 2 zero padding bits;
	// 'B' (000001) sets one of them.
	nonCanonical := parts[0] + "." + parts[1] + "." + parts[2][:42] + "B"
	if parts[2][42] == 'B' {
		nonCanonical = parts[0] + "." + parts[1] + "." + parts[2][:42] + "C"
	}

	base := `"sub":"joevu","iat":` + itoa(iat) + `,"nbf":` + itoa(iat) + `,"jti":"` + testJTI + `","exp":` + itoa(iat+900) + `,"type":"access"`
	with := func(extra string) string { return good("{" + base + extra + "}") }

	tests := []struct {
		name   string
		token  string
		opt    VerifyOptions
		code   string
		detail string
	}{
		{"empty", "", VerifyOptions{}, CodeMalformed, "Not enough segments"},
		{"garbage", "garbage", VerifyOptions{}, CodeMalformed, "Not enough segments"},
		{"two segments", "abc.def", VerifyOptions{}, CodeMalformed, "Not enough segments"},
		{"four segments", valid + ".x", VerifyOptions{}, CodeMalformed, "Invalid token: wrong number of segments"},
		{"abc.def.ghi", "abc.def.ghi", VerifyOptions{}, CodeMalformed, "Invalid header string"},
		{"header not base64", "!!!." + parts[1] + "." + parts[2], VerifyOptions{}, CodeMalformed, "Invalid header padding"},
		{"header with newline", enc(hdrHS256)[:4] + "\n" + enc(hdrHS256)[4:] + "." + parts[1] + "." + parts[2], VerifyOptions{}, CodeMalformed, "Invalid header padding"},
		{"header array", enc(`["HS256"]`) + "." + parts[1] + "." + parts[2], VerifyOptions{}, CodeMalformed, "Invalid header string"},
		{"header trailing junk", enc(hdrHS256+"x") + "." + parts[1] + "." + parts[2], VerifyOptions{}, CodeMalformed, "Invalid header string"},
		{"header duplicate alg", craft(`{"alg":"HS256","alg":"none"}`, payloadAt(iat, ""), testSecret, sha256.New), VerifyOptions{}, CodeMalformed, "Invalid header string"},
		{"payload not base64", parts[0] + ".%%%." + parts[2], VerifyOptions{}, CodeMalformed, "Invalid payload padding"},
		{"signature not base64", parts[0] + "." + parts[1] + ".***", VerifyOptions{}, CodeMalformed, "Invalid crypto padding"},
		{"signature non-canonical base64", nonCanonical, VerifyOptions{}, CodeMalformed, "Invalid crypto padding"},
		{"alg none", craft(`{"alg":"none","typ":"JWT"}`, payloadAt(iat, ""), nil, nil), VerifyOptions{}, CodeAlgNotAllowed, "The specified alg value is not allowed"},
		{"alg None", craft(`{"alg":"None","typ":"JWT"}`, payloadAt(iat, ""), nil, nil), VerifyOptions{}, CodeAlgNotAllowed, "The specified alg value is not allowed"},
		{"no alg", craft(`{"typ":"JWT"}`, payloadAt(iat, ""), testSecret, sha256.New), VerifyOptions{}, CodeAlgNotAllowed, "The specified alg value is not allowed"},
		{"alg not a string", craft(`{"alg":256,"typ":"JWT"}`, payloadAt(iat, ""), testSecret, sha256.New), VerifyOptions{}, CodeAlgNotAllowed, "The specified alg value is not allowed"},
		{"RS256 header on HS key", craft(`{"alg":"RS256","typ":"JWT"}`, payloadAt(iat, ""), testSecret, sha256.New), VerifyOptions{}, CodeAlgNotAllowed, "The specified alg value is not allowed"},
		{"HS512 signed with the right key", craft(`{"alg":"HS512","typ":"JWT"}`, payloadAt(iat, ""), testSecret, sha512.New), VerifyOptions{}, CodeAlgNotAllowed, "The specified alg value is not allowed"},
		{"unknown kid", craft(`{"alg":"HS256","kid":"nope","typ":"JWT"}`, payloadAt(iat, ""), testSecret, sha256.New), VerifyOptions{}, CodeUnknownKID, "Unknown signing key"},
		{"kid not a string", craft(`{"alg":"HS256","kid":7,"typ":"JWT"}`, payloadAt(iat, ""), testSecret, sha256.New), VerifyOptions{}, CodeMalformed, "Key ID header parameter must be a string"},
		{"crit header", craft(`{"alg":"HS256","crit":["b64"],"b64":false}`, payloadAt(iat, ""), testSecret, sha256.New), VerifyOptions{}, CodeMalformed, "Unsupported critical header parameter"},
		{"changed signature", parts[0] + "." + parts[1] + "." + string(flipped), VerifyOptions{}, CodeBadSignature, "Signature verification failed"},
		{"changed payload", parts[0] + "." + enc(strings.Replace(payloadAt(iat, ""), "joevu", "admin", 1)) + "." + parts[2], VerifyOptions{}, CodeBadSignature, "Signature verification failed"},
		{"wrong key", craft(hdrHS256, payloadAt(iat, ""), otherSecret, sha256.New), VerifyOptions{}, CodeBadSignature, "Signature verification failed"},
		{"short signature", parts[0] + "." + parts[1] + "." + parts[2][:20], VerifyOptions{}, CodeBadSignature, "Signature verification failed"},
		{"empty signature", parts[0] + "." + parts[1] + ".", VerifyOptions{}, CodeBadSignature, "Signature verification failed"},
		{"payload not JSON", good(`{"sub":`), VerifyOptions{}, CodeMalformed, "Invalid payload string"},
		{"payload array", good(`["joevu"]`), VerifyOptions{}, CodeMalformed, "Invalid payload string"},
		{"payload trailing junk", good(payloadAt(iat, "") + "x"), VerifyOptions{}, CodeMalformed, "Invalid payload string"},
		{"duplicate claim", with(`,"sub":"admin"`), VerifyOptions{}, CodeMalformed, "Invalid payload string"},
		{"syntax error wins over type error", good(`{"sub":1,`), VerifyOptions{}, CodeMalformed, "Invalid payload string"},
		{"no exp", good(`{"sub":"joevu","iat":` + itoa(iat) + `,"jti":"x","type":"access"}`), VerifyOptions{}, CodeMissingClaim, `Token is missing the "exp" claim`},
		{"no jti", good(`{"sub":"joevu","exp":` + itoa(iat+900) + `,"type":"access"}`), VerifyOptions{}, CodeMissingClaim, `Token is missing the "jti" claim`},
		{"no type", good(`{"sub":"joevu","exp":` + itoa(iat+900) + `,"jti":"x"}`), VerifyOptions{}, CodeMissingClaim, `Token is missing the "type" claim`},
		{"no sub", good(`{"exp":` + itoa(iat+900) + `,"jti":"x","type":"access"}`), VerifyOptions{}, CodeMissingClaim, `Token is missing the "sub" claim`},
		{"integer sub", good(`{"sub":42,"exp":` + itoa(iat+900) + `,"jti":"x","type":"access"}`), VerifyOptions{}, CodeInvalidClaim, `Invalid payload: "sub" must be a string`},
		{"empty sub", good(`{"sub":"","exp":` + itoa(iat+900) + `,"jti":"x","type":"access"}`), VerifyOptions{}, CodeInvalidClaim, `Invalid payload: "sub" must be a non-empty string`},
		{"null sub", good(`{"sub":null,"exp":` + itoa(iat+900) + `,"jti":"x","type":"access"}`), VerifyOptions{}, CodeInvalidClaim, `Invalid payload: "sub" must be a string`},
		{"exp string", good(`{"sub":"a","exp":"tomorrow","jti":"x","type":"access"}`), VerifyOptions{}, CodeInvalidClaim, `Invalid payload: "exp" must be a number`},
		{"iat bool", good(`{"sub":"a","iat":true,"exp":1,"jti":"x","type":"access"}`), VerifyOptions{}, CodeInvalidClaim, `Invalid payload: "iat" must be a number`},
		{"type not a string", good(`{"sub":"a","exp":1,"jti":"x","type":["access"]}`), VerifyOptions{}, CodeInvalidClaim, `Invalid payload: "type" must be a string`},
		{"jti not a string", good(`{"sub":"a","exp":1,"jti":5,"type":"access"}`), VerifyOptions{}, CodeInvalidClaim, `Invalid payload: "jti" must be a string`},
		{"fresh not a bool", with(`,"fresh":"yes"`), VerifyOptions{}, CodeInvalidClaim, `Invalid payload: "fresh" must be a boolean`},
		{"roles not an array", with(`,"roles":"admin"`), VerifyOptions{}, CodeInvalidClaim, `Invalid payload: "roles" must be an array of strings`},
		{"roles with a number", with(`,"roles":["admin",1]`), VerifyOptions{}, CodeInvalidClaim, `Invalid payload: "roles" must be an array of strings`},
		{"aud object", with(`,"aud":{}`), VerifyOptions{}, CodeInvalidClaim, `Invalid payload: "aud" must be a string or an array of strings`},
		{"expired", good(payloadAt(testNow.Unix()-901, "")), VerifyOptions{}, CodeExpired, "Signature has expired"},
		{"expired exactly at exp", good(payloadAt(testNow.Unix()-900, "")), VerifyOptions{}, CodeExpired, "Signature has expired"},
		{"expired beyond leeway", good(payloadAt(testNow.Unix()-920, "")), VerifyOptions{Leeway: 10 * time.Second}, CodeExpired, "Signature has expired"},
		{"future nbf", good(`{"sub":"a","nbf":` + itoa(testNow.Unix()+60) + `,"exp":` + itoa(testNow.Unix()+900) + `,"jti":"x","type":"access"}`), VerifyOptions{}, CodeImmature, "The token is not yet valid (nbf)"},
		{"future iat", good(`{"sub":"a","iat":` + itoa(testNow.Unix()+60) + `,"exp":` + itoa(testNow.Unix()+900) + `,"jti":"x","type":"access"}`), VerifyOptions{}, CodeImmature, "The token is not yet valid (iat)"},
		{"future iat beyond leeway", good(payloadAt(testNow.Unix()+30, "")), VerifyOptions{Leeway: 10 * time.Second}, CodeImmature, "The token is not yet valid (iat)"},
		{"foreign iss, none expected", with(`,"iss":"evil.example"`), VerifyOptions{}, CodeInvalidIssuer, "Invalid issuer"},
		{"foreign iss", with(`,"iss":"evil.example"`), VerifyOptions{Issuer: "warehouse"}, CodeInvalidIssuer, "Invalid issuer"},
		{"iss not a string", with(`,"iss":1`), VerifyOptions{Issuer: "warehouse"}, CodeInvalidClaim, `Invalid payload: "iss" must be a string`},
		{"missing iss", with(``), VerifyOptions{Issuer: "warehouse"}, CodeMissingClaim, `Token is missing the "iss" claim`},
		{"wrong aud", with(`,"aud":"other"`), VerifyOptions{Audience: "warehouse"}, CodeInvalidAudience, "Invalid audience"},
		{"wrong aud list", with(`,"aud":["a","b"]`), VerifyOptions{Audience: "warehouse"}, CodeInvalidAudience, "Invalid audience"},
		{"aud, none expected", with(`,"aud":"other"`), VerifyOptions{}, CodeInvalidAudience, "Invalid audience"},
		{"missing aud", with(``), VerifyOptions{Audience: "warehouse"}, CodeMissingClaim, `Token is missing the "aud" claim`},
		{"too large", strings.Repeat("a", maxTokenLen+1), VerifyOptions{}, CodeMalformed, "Token is too large"},
	}
	kr := newTestKeyring(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := kr.Verify(tt.token, testNow, tt.opt)
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("Verify() error = %v (%T), want *TokenError", err, err)
			}
			if te.Code != tt.code || te.Detail != tt.detail {
				t.Errorf("Verify() = {%s %q}, want {%s %q}", te.Code, te.Detail, tt.code, tt.detail)
			}
			if te.Error() != tt.detail {
				t.Errorf("Error() = %q, want %q", te.Error(), tt.detail)
			}
			if len(tt.token) > 10 && strings.Contains(te.Error(), tt.token) {
				t.Error("error text contains the token")
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	iat := testNow.Unix() - 60
	base := `"sub":"joevu","iat":` + itoa(iat) + `,"nbf":` + itoa(iat) + `,"jti":"` + testJTI + `","exp":` + itoa(iat+900) + `,"type":"access"`
	tests := []struct {
		name  string
		token string
		opt   VerifyOptions
		check func(t *testing.T, c Claims)
	}{
		{"tutorial token (no kid)", good(payloadAt(iat, "")), VerifyOptions{}, func(t *testing.T, c Claims) {
			want := Claims{Subject: "joevu", IssuedAt: time.Unix(iat, 0).UTC(), NotBefore: time.Unix(iat, 0).UTC(),
				ID: testJTI, Expiry: time.Unix(iat+900, 0).UTC(), Type: TypeAccess}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("claims = %+v, want %+v", c, want)
			}
		}},
		{"whitespace and escapes", good("{ " + strings.ReplaceAll(base, ",", " ,\n ") + `, "sid" : "s\u0031", "roles": [ "a\"b" ] }`), VerifyOptions{}, func(t *testing.T, c Claims) {
			if c.SessionID != "s1" || !reflect.DeepEqual(c.Roles, []string{`a"b`}) {
				t.Errorf("claims = %+v", c)
			}
		}},
		{"expired within leeway", good(payloadAt(testNow.Unix()-905, "")), VerifyOptions{Leeway: 10 * time.Second}, nil},
		{"future iat within leeway", good(payloadAt(testNow.Unix()+5, "")), VerifyOptions{Leeway: 10 * time.Second}, nil},
		{"fractional exp", good(`{"sub":"a","exp":` + itoa(testNow.Unix()) + `.5,"jti":"x","type":"refresh"}`), VerifyOptions{}, func(t *testing.T, c Claims) {
			if want := testNow.Add(500 * time.Millisecond); !c.Expiry.Equal(want) {
				t.Errorf("exp = %v, want %v", c.Expiry, want)
			}
		}},
		{"huge exp is clamped", good(`{"sub":"a","exp":1e300,"jti":"x","type":"refresh"}`), VerifyOptions{}, func(t *testing.T, c Claims) {
			if c.Expiry.Year() != 9999 {
				t.Errorf("exp = %v", c.Expiry)
			}
		}},
		{"expected iss", good("{" + base + `,"iss":"warehouse"}`), VerifyOptions{Issuer: "warehouse"}, func(t *testing.T, c Claims) {
			if c.Issuer != "warehouse" {
				t.Errorf("iss = %q", c.Issuer)
			}
		}},
		{"aud list", good("{" + base + `,"aud":["x","warehouse"]}`), VerifyOptions{Audience: "warehouse"}, func(t *testing.T, c Claims) {
			if c.Audience != "warehouse" {
				t.Errorf("aud = %q", c.Audience)
			}
		}},
		{"empty aud list, none expected", good("{" + base + `,"aud":[]}`), VerifyOptions{}, nil},
		{"unknown claims go to Extra", good("{" + base + `,"tenant":"t1","perm":["read"],"n":1}`), VerifyOptions{}, func(t *testing.T, c Claims) {
			want := map[string]any{"tenant": "t1", "perm": []any{"read"}, "n": 1.0}
			if !reflect.DeepEqual(c.Extra, want) {
				t.Errorf("Extra = %#v, want %#v", c.Extra, want)
			}
		}},
		{"unknown header fields ignored", craft(`{"alg":"HS256","typ":"JWT","jku":"https://evil.example/jwks","x":{"y":[1,null]}}`, payloadAt(iat, ""), testSecret, sha256.New), VerifyOptions{}, nil},
	}
	kr := newTestKeyring(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := kr.Verify(tt.token, testNow, tt.opt)
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func segment(t *testing.T, token string, i int) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSignRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		key     Key
		claims  func() Claims
		header  string
		payload string
	}{
		{
			name: "access with roles",
			key:  Key{ID: "k1", Secret: testSecret},
			claims: func() Claims {
				c := NewClaims("joevu", TypeAccess, testNow.Add(-time.Minute+300*time.Millisecond), 15*time.Minute)
				c.ID = testJTI
				c.Roles = []string{"admin"}
				return c
			},
			header:  `{"alg":"HS256","kid":"k1","typ":"JWT"}`,
			payload: `{"sub":"joevu","iat":1699999940,"nbf":1699999940,"jti":"` + testJTI + `","exp":1700000840,"type":"access","fresh":false,"roles":["admin"]}`,
		},
		{
			name: "refresh without kid, like the tutorial",
			key:  Key{Secret: testSecret},
			claims: func() Claims {
				c := NewClaims("joevu", TypeRefresh, testNow, 30*24*time.Hour)
				c.ID = testJTI
				c.Fresh = true // never written on refresh tokens
				return c
			},
			// The tutorial's claims; typ refresh+jwt so that generic
			// verifiers never take it for an access token.
			header:  `{"alg":"HS256","typ":"refresh+jwt"}`,
			payload: `{"sub":"joevu","iat":1700000000,"nbf":1700000000,"jti":"` + testJTI + `","exp":1702592000,"type":"refresh"}`,
		},
		{
			name: "every field",
			key:  Key{ID: "k9", Algorithm: AlgHS512, Secret: testSecret},
			claims: func() Claims {
				c := NewClaims("jo\"e", TypeAccess, testNow, time.Minute)
				c.ID = testJTI
				c.Fresh = true
				c.Roles = []string{}
				c.SessionID = "s1"
				c.CSRF = "c1"
				c.Issuer = "warehouse"
				c.Audience = "api"
				c.Extra = map[string]any{"zeta": 1, "alpha": []string{"x"}}
				return c
			},
			header:  `{"alg":"HS512","kid":"k9","typ":"JWT"}`,
			payload: `{"sub":"jo\"e","iat":1700000000,"nbf":1700000000,"jti":"` + testJTI + `","exp":1700000060,"type":"access","fresh":true,"roles":[],"sid":"s1","csrf":"c1","iss":"warehouse","aud":"api","alpha":["x"],"zeta":1}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kr := newTestKeyring(t, tt.key)
			c := tt.claims()
			tok, err := kr.Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			if got := segment(t, tok, 0); got != tt.header {
				t.Errorf("header = %s\nwant     %s", got, tt.header)
			}
			if got := segment(t, tok, 1); got != tt.payload {
				t.Errorf("payload = %s\nwant      %s", got, tt.payload)
			}
			got, err := kr.Verify(tok, testNow, VerifyOptions{Issuer: c.Issuer, Audience: c.Audience})
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			want := c
			if c.Type != TypeAccess {
				want.Fresh = false
			}
			if want.Extra != nil { // JSON numbers and arrays come back as float64 and []any
				want.Extra = map[string]any{"zeta": 1.0, "alpha": []any{"x"}}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Verify() = %+v\nwant       %+v", got, want)
			}
		})
	}
}

func TestNewClaims(t *testing.T) {
	t.Parallel()
	c := NewClaims("joevu", TypeAccess, testNow.Add(700*time.Millisecond), 15*time.Minute)
	if !c.IssuedAt.Equal(testNow) || !c.NotBefore.Equal(testNow) || !c.Expiry.Equal(testNow.Add(15*time.Minute)) {
		t.Errorf("times = %v %v %v", c.IssuedAt, c.NotBefore, c.Expiry)
	}
	if len(c.ID) != 36 || c.ID[14] != '4' {
		t.Errorf("jti %q is not a UUID4", c.ID)
	}
	if d := NewClaims("joevu", TypeAccess, testNow, time.Minute); d.ID == c.ID {
		t.Error("two claims share a jti")
	}
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	kr := newTestKeyring(t)
	ok := NewClaims("joevu", TypeAccess, testNow, time.Minute)
	tests := []struct {
		name   string
		change func(*Claims)
	}{
		{"no sub", func(c *Claims) { c.Subject = "" }},
		{"no jti", func(c *Claims) { c.ID = "" }},
		{"no type", func(c *Claims) { c.Type = "" }},
		{"no exp", func(c *Claims) { c.Expiry = time.Time{} }},
		{"no iat", func(c *Claims) { c.IssuedAt = time.Time{} }},
		{"extra overrides sub", func(c *Claims) { c.Extra = map[string]any{"sub": "admin"} }},
		{"extra overrides roles", func(c *Claims) { c.Extra = map[string]any{"roles": []string{"admin"}} }},
		{"extra not JSON", func(c *Claims) { c.Extra = map[string]any{"f": func() {}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ok
			tt.change(&c)
			if tok, err := kr.Sign(c); err == nil {
				t.Errorf("Sign() = %q, want an error", tok)
			}
		})
	}
	var empty Keyring
	if _, err := empty.Sign(ok); err == nil {
		t.Error("Sign on an empty keyring succeeded")
	}
	if _, err := empty.Verify("a.b.c", testNow, VerifyOptions{}); err == nil {
		t.Error("Verify on an empty keyring succeeded")
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	k1 := Key{ID: "k1", Secret: testSecret}
	k2 := Key{ID: "k2", Secret: otherSecret}
	kr := newTestKeyring(t, k1)
	claims := NewClaims("joevu", TypeAccess, testNow, time.Minute)
	old, err := kr.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}

	if err := kr.SetKeys(k2, k1); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Verify(old, testNow, VerifyOptions{}); err != nil {
		t.Errorf("old token after rotation: %v", err)
	}
	fresh, err := kr.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	if h := segment(t, fresh, 0); !strings.Contains(h, `"kid":"k2"`) {
		t.Errorf("new token header %s, want kid k2", h)
	}
	if _, err := kr.Verify(fresh, testNow, VerifyOptions{}); err != nil {
		t.Errorf("new token: %v", err)
	}
	if got := kr.Current(); got.ID != "k2" || string(got.Secret) != string(otherSecret) || got.Algorithm != AlgHS256 {
		t.Errorf("Current() = %+v", got)
	}

	// Dropping k1 retires its tokens.
	if err := kr.SetKeys(k2); err != nil {
		t.Fatal(err)
	}
	var te *TokenError
	if _, err := kr.Verify(old, testNow, VerifyOptions{}); !errors.As(err, &te) || te.Code != CodeUnknownKID {
		t.Errorf("old token after retirement: %v, want unknown_kid", err)
	}

	// Tokens without kid are only checked against the current key.
	noKid := good(payloadAt(testNow.Unix(), ""))
	if _, err := kr.Verify(noKid, testNow, VerifyOptions{}); !errors.As(err, &te) || te.Code != CodeBadSignature {
		t.Errorf("kid-less token signed by a verify-only key: %v, want bad_signature", err)
	}
}

func TestKeyringCopiesSecret(t *testing.T) {
	t.Parallel()
	secret := append([]byte(nil), testSecret...)
	kr := newTestKeyring(t, Key{Secret: secret})
	tok, err := kr.Sign(NewClaims("a", TypeAccess, testNow, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	secret[0] ^= 0xff
	kr.Current().Secret[1] ^= 0xff
	if _, err := kr.Verify(tok, testNow, VerifyOptions{}); err != nil {
		t.Errorf("changing the caller's slices changed the keyring: %v", err)
	}
}

func TestKeyringConcurrentRotation(t *testing.T) {
	t.Parallel()
	k1 := Key{ID: "k1", Secret: testSecret}
	k2 := Key{ID: "k2", Secret: otherSecret}
	kr := newTestKeyring(t, k1, k2)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 200 {
				tok, err := kr.Sign(NewClaims("a", TypeAccess, testNow, time.Minute))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := kr.Verify(tok, testNow, VerifyOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			for j := range 200 {
				cur, other := k1, k2
				if (i+j)%2 == 1 {
					cur, other = k2, k1
				}
				if err := kr.SetKeys(cur, other); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNewKeyringRefuses(t *testing.T) {
	t.Parallel()
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edPriv2, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		current Key
		others  []Key
	}{
		{"empty secret", Key{}, nil},
		{"unknown algorithm", Key{Algorithm: "HS1024", Secret: testSecret}, nil},
		{"none", Key{Algorithm: "none", Secret: testSecret}, nil},
		{"HMAC with a private key", Key{Secret: testSecret, Private: edPriv}, nil},
		{"EdDSA with a secret", Key{Algorithm: AlgEdDSA, Secret: testSecret, Private: edPriv}, nil},
		{"verify-only current key", Key{Algorithm: AlgEdDSA, Public: edPub}, nil},
		{"mismatched key pair", Key{Private: edPriv2, Public: edPub}, nil},
		{"wrong curve", Key{Algorithm: AlgES256, Private: ecPriv}, nil},
		{"RS256 with an Ed25519 key", Key{Algorithm: AlgRS256, Private: edPriv}, nil},
		{"other without ID", Key{Secret: testSecret}, []Key{{Secret: otherSecret}}},
		{"duplicate ID", Key{ID: "a", Secret: testSecret}, []Key{{ID: "a", Secret: otherSecret}}},
		{"bad other", Key{Secret: testSecret}, []Key{{ID: "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewKeyring(tt.current, tt.others...); err == nil {
				t.Error("NewKeyring() succeeded, want an error")
			} else if strings.Contains(err.Error(), string(testSecret)) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

// asymmetricKeys returns one key per asymmetric algorithm family.
func asymmetricKeys(t testing.TB) map[string]crypto.Signer {
	t.Helper()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]crypto.Signer{AlgEdDSA: ed, AlgES256: ec, AlgRS256: rs, AlgPS256: rs}
}

func TestAsymmetric(t *testing.T) {
	t.Parallel()
	keys := asymmetricKeys(t)
	for alg, priv := range keys {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			signer := newTestKeyring(t, Key{ID: "a1", Algorithm: alg, Private: priv})
			tok, err := signer.Sign(NewClaims("joevu", TypeAccess, testNow, time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if h := segment(t, tok, 0); h != `{"alg":"`+alg+`","kid":"a1","typ":"JWT"}` {
				t.Errorf("header = %s", h)
			}
			// Another service that only holds the public key.
			verifier := newTestKeyring(t, Key{Secret: testSecret}, Key{ID: "a1", Algorithm: alg, Public: priv.Public()})
			if _, err := verifier.Verify(tok, testNow, VerifyOptions{}); err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			parts := strings.Split(tok, ".")
			tampered := parts[0] + "." + enc(`{"sub":"admin","exp":1800000000,"jti":"x","type":"access"}`) + "." + parts[2]
			var te *TokenError
			if _, err := verifier.Verify(tampered, testNow, VerifyOptions{}); !errors.As(err, &te) || te.Code != CodeBadSignature {
				t.Errorf("tampered token: %v, want bad_signature", err)
			}

			// Key confusion: an HMAC token keyed with the public key bytes.
			der, err := x509.MarshalPKIXPublicKey(priv.Public())
			if err != nil {
				t.Fatal(err)
			}
			forged := craft(`{"alg":"HS256","kid":"a1","typ":"JWT"}`, payloadAt(testNow.Unix(), ""), der, sha256.New)
			if _, err := verifier.Verify(forged, testNow, VerifyOptions{}); !errors.As(err, &te) || te.Code != CodeAlgNotAllowed {
				t.Errorf("HS256 token under an %s kid: %v, want alg_not_allowed", alg, err)
			}
		})
	}
}

func TestDefaultAlgorithm(t *testing.T) {
	t.Parallel()
	keys := asymmetricKeys(t)
	for alg, want := range map[string]string{AlgEdDSA: AlgEdDSA, AlgES256: AlgES256, AlgRS256: AlgRS256} {
		kr := newTestKeyring(t, Key{Private: keys[alg]})
		if got := kr.Current().Algorithm; got != want {
			t.Errorf("default algorithm for %T = %s, want %s", keys[alg], got, want)
		}
	}
}

func FuzzVerify(f *testing.F) {
	iat := testNow.Unix() - 60
	valid := good(payloadAt(iat, `,"roles":["admin"],"x":{"y":[1,2.5e3,null,true]}`))
	for _, seed := range []string{
		"", ".", "..", "...", "abc.def.ghi", "garbage", valid, valid + "x", valid[:len(valid)-1],
		craft(`{"alg":"none"}`, payloadAt(iat, ""), nil, nil),
		craft(`{"alg":"HS512"}`, payloadAt(iat, ""), testSecret, sha512.New),
		craft(`{"alg":"HS256","kid":"k1"}`, payloadAt(iat, ""), testSecret, sha256.New),
		good(`{"sub":1}`), good(`{"sub":"a","exp":"1","jti":[],"type":{}}`), good(`[[[[[[[[[[`),
		good(`{"sub":"\ud800","exp":1e999,"jti":"\u0000","type":"access","aud":[1]}`),
	} {
		f.Add(seed)
	}
	kr := newTestKeyring(f)
	f.Fuzz(func(t *testing.T, token string) {
		for _, opt := range []VerifyOptions{{}, {Issuer: "i", Audience: "a", Leeway: time.Second}} {
			c, err := kr.Verify(token, testNow, opt)
			if err != nil {
				var te *TokenError
				if !errors.As(err, &te) || te.Code == "" || te.Detail == "" {
					t.Fatalf("error %v (%T) is not a complete *TokenError", err, err)
				}
				continue
			}
			if c.Subject == "" || c.ID == "" || c.Type == "" || c.Expiry.IsZero() {
				t.Fatalf("accepted claims miss a required claim: %+v", c)
			}
		}
	})
}

// FuzzJSONReader checks the hand-written reader against encoding/json: it
// must never accept what json.Valid refuses, and must accept valid UTF-8
// JSON within its nesting limit.
func FuzzJSONReader(f *testing.F) {
	for _, seed := range []string{`{}`, `{"a":[1,-0.5e+3,"x\u00e9",true,false,null,{"b":{}}]}`, `"\"`, `[1,]`, `01`, `1.`, `-`, `"\ud800"`, " \t\n{\r}"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := jsonReader{s: s}
		mine := r.skip(0) == nil && r.end()
		valid := json.Valid([]byte(s))
		if mine && !valid {
			t.Fatalf("reader accepts invalid JSON %q", s)
		}
		deep := strings.Count(s, "[")+strings.Count(s, "{") > maxDepth
		if valid && !mine && !deep && utf8.ValidString(s) {
			t.Fatalf("reader refuses valid JSON %q", s)
		}
	})
}

func benchKeyring(b *testing.B, alg string) *Keyring {
	switch alg {
	case AlgHS256, AlgHS384, AlgHS512:
		return newTestKeyring(b, Key{ID: "k1", Algorithm: alg, Secret: testSecret})
	}
	keys := asymmetricKeys(b)
	priv := keys[alg]
	switch alg {
	case AlgRS384, AlgRS512, AlgPS384, AlgPS512:
		priv = keys[AlgRS256] // the same RSA key serves every RSA algorithm
	case AlgES384, AlgES512:
		curve := elliptic.P384()
		if alg == AlgES512 {
			curve = elliptic.P521()
		}
		ec, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		priv = ec
	}
	return newTestKeyring(b, Key{ID: "k1", Algorithm: alg, Private: priv})
}

func benchClaims() Claims {
	c := NewClaims("joevu", TypeAccess, testNow, 15*time.Minute)
	c.Roles = []string{"admin"}
	return c
}

func benchSign(b *testing.B, alg string) {
	kr := benchKeyring(b, alg)
	c := benchClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Sign(c); err != nil {
			b.Fatal(err)
		}
	}
}

func benchVerify(b *testing.B, alg string) {
	kr := benchKeyring(b, alg)
	tok, err := kr.Sign(benchClaims())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Verify(tok, testNow, VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignHS256(b *testing.B)   { benchSign(b, AlgHS256) }
func BenchmarkVerifyHS256(b *testing.B) { benchVerify(b, AlgHS256) }
func BenchmarkSignHS384(b *testing.B)   { benchSign(b, AlgHS384) }
func BenchmarkVerifyHS384(b *testing.B) { benchVerify(b, AlgHS384) }
func BenchmarkSignHS512(b *testing.B)   { benchSign(b, AlgHS512) }
func BenchmarkVerifyHS512(b *testing.B) { benchVerify(b, AlgHS512) }
func BenchmarkSignEdDSA(b *testing.B)   { benchSign(b, AlgEdDSA) }
func BenchmarkVerifyEdDSA(b *testing.B) { benchVerify(b, AlgEdDSA) }
func BenchmarkSignES256(b *testing.B)   { benchSign(b, AlgES256) }
func BenchmarkVerifyES256(b *testing.B) { benchVerify(b, AlgES256) }
func BenchmarkSignES384(b *testing.B)   { benchSign(b, AlgES384) }
func BenchmarkVerifyES384(b *testing.B) { benchVerify(b, AlgES384) }
func BenchmarkSignES512(b *testing.B)   { benchSign(b, AlgES512) }
func BenchmarkVerifyES512(b *testing.B) { benchVerify(b, AlgES512) }
func BenchmarkSignRS256(b *testing.B)   { benchSign(b, AlgRS256) }
func BenchmarkVerifyRS256(b *testing.B) { benchVerify(b, AlgRS256) }
func BenchmarkSignPS256(b *testing.B)   { benchSign(b, AlgPS256) }
func BenchmarkVerifyPS256(b *testing.B) { benchVerify(b, AlgPS256) }
func BenchmarkSignRS512(b *testing.B)   { benchSign(b, AlgRS512) }
func BenchmarkVerifyRS512(b *testing.B) { benchVerify(b, AlgRS512) }
func BenchmarkSignPS512(b *testing.B)   { benchSign(b, AlgPS512) }
func BenchmarkVerifyPS512(b *testing.B) { benchVerify(b, AlgPS512) }

// BenchmarkVerifyHS256Refused measures the cost of a bad signature, the
// path an attacker controls.
func BenchmarkVerifyHS256Refused(b *testing.B) {
	kr := benchKeyring(b, AlgHS256)
	tok := craft(hdrHS256, payloadAt(testNow.Unix(), ""), otherSecret, sha256.New)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Verify(tok, testNow, VerifyOptions{}); err == nil {
			b.Fatal("accepted")
		}
	}
}
