package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestSeedBehaviour walks the rows of shared/seed-behaviour.md: what the
// tutorial answered, and what warehouse answers instead.
func TestSeedBehaviour(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		access, refresh := e.login("joevu", "glinteco")
		now := time.Now().Unix()
		hs := `{"alg":"HS256","typ":"JWT"}`
		sign := func(payload string) string { return craft(e.secret, "HS256", hs, payload) }
		claims := func(over map[string]any) string { return sign(claimsJSON(t, over)) }
		tamper := func(tok string, part int) string {
			p := strings.Split(tok, ".")
			b := []byte(p[part])
			if b[3] == 'A' {
				b[3] = 'B'
			} else {
				b[3] = 'A'
			}
			p[part] = string(b)
			return strings.Join(p, ".")
		}

		const badHeader = "Bad Authorization header. Expected value 'Bearer <JWT>'"
		const invalidToken = `Bearer error="invalid_token"`
		// problem is the part of an error answer the table pins.
		problem := func(status int, code, detail string) seedProblem {
			return seedProblem{Status: status, Code: code, Detail: detail}
		}
		runScenarios(t, engine, e.srv, []scenario{
			{name: "user without Authorization", method: "GET", path: "/user", status: 401, want: problem(401, "missing_token", "Missing Authorization Header")},
			{name: "user with login token", method: "GET", path: "/user", headers: []string{bearer(access)}, status: 200, want: userAnswer{User: "joevu"}},
			{name: "article token signed with 'secret', expired", method: "GET", path: "/user",
				headers: []string{bearer(craft([]byte("secret"), "HS256", hs, claimsJSON(t, map[string]any{"iat": 1700000000, "nbf": 1700000000, "exp": 1700000900})))},
				status:  401, want: problem(401, "bad_signature", "Signature verification failed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "welcome", method: "GET", path: "/welcome", status: 200, want: seedWelcome{Message: "Welcome to the Warehouse Management API"}},
			{name: "welcome HEAD", method: "HEAD", path: "/welcome", status: 200},
			{name: "unknown path", method: "GET", path: "/nope", status: 404, want: problem(404, "not_found", "Not Found")},
			{name: "wrong method", method: "POST", path: "/welcome", status: 405, want: problem(405, "method_not_allowed", "Method Not Allowed"), header: map[string]string{"Allow": "GET, HEAD"}},
			{name: "wrong method on user", method: "PUT", path: "/user", status: 405, want: problem(405, "method_not_allowed", "Method Not Allowed"), header: map[string]string{"Allow": "GET, HEAD"}},
			{name: "login wrong password", method: "POST", path: "/login", body: `{"username":"joevu","password":"nope"}`, status: 401, want: problem(401, "bad_credentials", "Bad username or password")},
			{name: "login unknown user", method: "POST", path: "/login", body: `{"username":"nobody","password":"glinteco"}`, status: 401, want: problem(401, "bad_credentials", "Bad username or password")},
			{name: "login inactive user", method: "POST", path: "/login", body: `{"username":"gone","password":"gone-pass"}`, status: 401, want: problem(401, "bad_credentials", "Bad username or password")},
			{name: "login malformed JSON", method: "POST", path: "/login", body: `{"username":"joevu"`, status: 400, want: problem(400, "bad_request", "Malformed request body: unexpected end of JSON input")},
			{name: "login missing field", method: "POST", path: "/login", body: `{"username":"joevu"}`, status: 422, want: problem(422, "validation_failed", "Request validation failed: password: field required")},
			{name: "login null", method: "POST", path: "/login", body: `null`, status: 422, want: problem(422, "validation_failed", "Request validation failed: expected object")},
			{name: "login empty body", method: "POST", path: "/login", headers: []string{"Content-Type: application/json"}, status: 422, want: problem(422, "validation_failed", "Request validation failed: body: field required")},
			{name: "login extra field", method: "POST", path: "/login", body: `{"username":"joevu","password":"glinteco","remember":true}`, status: 200, want: seedLogin{TokenType: "bearer", ExpiresIn: 900}},
			{name: "login username a number", method: "POST", path: "/login", body: `{"username":42,"password":"glinteco"}`, status: 422, want: problem(422, "validation_failed", "Request validation failed: username: expected string")},
			{name: "login with Basic header", method: "POST", path: "/login", body: `{"username":"joevu","password":"glinteco"}`, headers: []string{"Authorization: Basic x"}, status: 200, want: seedLogin{TokenType: "bearer", ExpiresIn: 900}},
			{name: "login as a form", method: "POST", path: "/login", body: `username=joevu`, headers: []string{"Content-Type: application/x-www-form-urlencoded"}, status: 415, want: problem(415, "unsupported_media_type", "Unsupported Content-Type: send the body as application/json")},
			{name: "Basic scheme", method: "GET", path: "/user", headers: []string{"Authorization: Basic x"}, status: 401, want: problem(401, "bad_authorization_header", badHeader), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "Bearer alone", method: "GET", path: "/user", headers: []string{"Authorization: Bearer"}, status: 401, want: problem(401, "bad_authorization_header", badHeader), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "Token scheme", method: "GET", path: "/user", headers: []string{"Authorization: Token x"}, status: 401, want: problem(401, "bad_authorization_header", badHeader), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "no scheme", method: "GET", path: "/user", headers: []string{"Authorization: " + access}, status: 401, want: problem(401, "bad_authorization_header", badHeader), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "Bearer a b", method: "GET", path: "/user", headers: []string{"Authorization: Bearer a b"}, status: 401, want: problem(401, "bad_authorization_header", badHeader), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "lower-case bearer", method: "GET", path: "/user", headers: []string{"Authorization: bearer " + access}, status: 200, want: userAnswer{User: "joevu"}},
			{name: "empty Authorization", method: "GET", path: "/user", headers: []string{"Authorization:"}, status: 401, want: problem(401, "missing_token", "Missing Authorization Header")},
			{name: "token in query", method: "GET", path: "/user?token=" + access, status: 401, want: problem(401, "missing_token", "Missing Authorization Header")},
			{name: "header token in a cookie", method: "GET", path: "/user", headers: []string{"Cookie: access_token_cookie=" + access}, status: 401, want: problem(401, "missing_token", "Missing Authorization Header")},
			{name: "garbage", method: "GET", path: "/user", headers: []string{bearer("garbage")}, status: 401, want: problem(401, "malformed", "Not enough segments"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "abc.def.ghi", method: "GET", path: "/user", headers: []string{bearer("abc.def.ghi")}, status: 401, want: problem(401, "malformed", "Invalid header string"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "changed signature", method: "GET", path: "/user", headers: []string{bearer(tamper(access, 2))}, status: 401, want: problem(401, "bad_signature", "Signature verification failed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "changed payload", method: "GET", path: "/user", headers: []string{bearer(tamper(access, 1))}, status: 401, want: problem(401, "bad_signature", "Signature verification failed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "wrong key", method: "GET", path: "/user", headers: []string{bearer(craft([]byte("another-key-of-32-bytes-or-more!!"), "HS256", hs, claimsJSON(t, nil)))}, status: 401, want: problem(401, "bad_signature", "Signature verification failed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "expired", method: "GET", path: "/user", headers: []string{bearer(claims(map[string]any{"iat": now - 2000, "nbf": now - 2000, "exp": now - 1000}))}, status: 401, want: problem(401, "expired", "Signature has expired"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "nbf in the future", method: "GET", path: "/user", headers: []string{bearer(claims(map[string]any{"nbf": now + 600}))}, status: 401, want: problem(401, "immature", "The token is not yet valid (nbf)"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "iat in the future", method: "GET", path: "/user", headers: []string{bearer(claims(map[string]any{"iat": now + 600}))}, status: 401, want: problem(401, "immature", "The token is not yet valid (iat)"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "nbf within leeway", method: "GET", path: "/user", headers: []string{bearer(claims(map[string]any{"nbf": now + 3, "iat": now + 3}))}, status: 200, want: userAnswer{User: "joevu"}},
			{name: "alg none", method: "GET", path: "/user", headers: []string{bearer(craft(nil, "", `{"alg":"none","typ":"JWT"}`, claimsJSON(t, nil)))}, status: 401, want: problem(401, "alg_not_allowed", "The specified alg value is not allowed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "alg None", method: "GET", path: "/user", headers: []string{bearer(craft(e.secret, "", `{"alg":"None","typ":"JWT"}`, claimsJSON(t, nil)))}, status: 401, want: problem(401, "alg_not_allowed", "The specified alg value is not allowed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "unsigned alg none", method: "GET", path: "/user", headers: []string{bearer(strings.TrimSuffix(craft(nil, "", `{"alg":"none"}`, claimsJSON(t, nil)), "x") + "")}, status: 401, want: problem(401, "alg_not_allowed", "The specified alg value is not allowed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "RS256 header on HS key", method: "GET", path: "/user", headers: []string{bearer(craft(e.secret, "", `{"alg":"RS256","typ":"JWT"}`, claimsJSON(t, nil)))}, status: 401, want: problem(401, "alg_not_allowed", "The specified alg value is not allowed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "no alg", method: "GET", path: "/user", headers: []string{bearer(craft(e.secret, "", `{"typ":"JWT"}`, claimsJSON(t, nil)))}, status: 401, want: problem(401, "alg_not_allowed", "The specified alg value is not allowed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "HS512 with the right key", method: "GET", path: "/user", headers: []string{bearer(craft(e.secret, "HS512", `{"alg":"HS512","typ":"JWT"}`, claimsJSON(t, nil)))}, status: 401, want: problem(401, "alg_not_allowed", "The specified alg value is not allowed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "no type", method: "GET", path: "/user", headers: []string{bearer(claims(map[string]any{"type": nil}))}, status: 401, want: problem(401, "missing_claim", `Token is missing the "type" claim`), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "no jti", method: "GET", path: "/user", headers: []string{bearer(claims(map[string]any{"jti": nil}))}, status: 401, want: problem(401, "missing_claim", `Token is missing the "jti" claim`), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "no exp", method: "GET", path: "/user", headers: []string{bearer(claims(map[string]any{"exp": nil}))}, status: 401, want: problem(401, "missing_claim", `Token is missing the "exp" claim`), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "integer sub", method: "GET", path: "/user", headers: []string{bearer(claims(map[string]any{"sub": 42}))}, status: 401, want: problem(401, "invalid_claim", `Invalid payload: "sub" must be a string`), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "foreign iss", method: "GET", path: "/user", headers: []string{bearer(claims(map[string]any{"iss": "https://evil.example"}))}, status: 401, want: problem(401, "invalid_issuer", "Invalid issuer"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "unknown user", method: "GET", path: "/user", headers: []string{bearer(claims(map[string]any{"sub": "nobody"}))}, status: 401, want: problem(401, "unknown_user", "User not found or inactive"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "inactive user", method: "GET", path: "/user", headers: []string{bearer(claims(map[string]any{"sub": "gone"}))}, status: 401, want: problem(401, "unknown_user", "User not found or inactive"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "crafted valid token", method: "GET", path: "/user", headers: []string{bearer(claims(nil))}, status: 200, want: userAnswer{User: "joevu"}},
			{name: "type foo", method: "GET", path: "/user", headers: []string{bearer(claims(map[string]any{"type": "foo"}))}, status: 401, want: problem(401, "wrong_token_type", "Only access tokens are allowed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "refresh token on /user", method: "GET", path: "/user", headers: []string{bearer(refresh)}, status: 401, want: problem(401, "wrong_token_type", "Only access tokens are allowed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "refresh with access token", method: "POST", path: "/refresh", headers: []string{bearer(access)}, status: 401, want: problem(401, "wrong_token_type", "Only refresh tokens are allowed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "refresh-revoke with access token", method: "DELETE", path: "/refresh-revoke", headers: []string{bearer(access)}, status: 401, want: problem(401, "wrong_token_type", "Only refresh tokens are allowed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "access-revoke with refresh token", method: "DELETE", path: "/access-revoke", headers: []string{bearer(refresh)}, status: 401, want: problem(401, "wrong_token_type", "Only access tokens are allowed"), header: map[string]string{"WWW-Authenticate": invalidToken}},
			{name: "oversized token", method: "GET", path: "/user", headers: []string{bearer(strings.Repeat("a", 20000) + ".b.c")}, status: 401, want: problem(401, "malformed", "Token is too large"), header: map[string]string{"WWW-Authenticate": invalidToken}},
		})
	})
}

// userAnswer, seedWelcome and seedLogin are what the table pins of /user,
// /welcome and /login answers.
type userAnswer struct {
	User string `json:"user"`
}

type seedWelcome struct {
	Message string `json:"message"`
}

type seedLogin struct {
	TokenType string `json:"token_type"`
	ExpiresIn int    `json:"expires_in"`
}

// seedProblem is what a seed-behaviour row pins of a problem+json answer.
type seedProblem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// TestTokenShape checks the tokens look as the tutorial's library makes them.
func TestTokenShape(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		r := e.do("POST", "/login", `{"username":"joevu","password":"glinteco"}`)
		if r.Code != 200 {
			t.Fatal(r.Code, r.Body)
		}
		if r.str("token_type") != "bearer" || r.body["expires_in"] != float64(900) {
			t.Errorf("login body %s", r.Body)
		}
		if r.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("token response is cacheable: %q", r.Header().Get("Cache-Control"))
		}
		uuid4 := `"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"`
		// The access token keeps the tutorial's typ JWT and claims, plus iss:
		// the issuer discovery publishes, here the URL the login came to. The
		// refresh token has typ refresh+jwt and no iss, so generic verifiers
		// refuse it as an access token.
		tests := []struct {
			name, tok, pattern, typ string
			life                    int64
		}{
			{"access", r.str("access_token"), `^\{"sub":"joevu","iat":(\d+),"nbf":(\d+),"jti":` + uuid4 + `,"exp":(\d+),"type":"access","fresh":true,"roles":\["admin"\],"sid":` + uuid4 + `,"iss":"http://example\.com"\}$`, "JWT", 900},
			{"refresh", r.str("refresh_token"), `^\{"sub":"joevu","iat":(\d+),"nbf":(\d+),"jti":` + uuid4 + `,"exp":(\d+),"type":"refresh","sid":` + uuid4 + `\}$`, "refresh+jwt", 2592000},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				hdr := decodeSegment(t, tc.tok, 0)
				var h map[string]string
				if err := json.Unmarshal([]byte(hdr), &h); err != nil {
					t.Fatal(err)
				}
				if h["alg"] != "HS256" || h["typ"] != tc.typ || h["kid"] == "" || len(h) != 3 {
					t.Errorf("header %s", hdr)
				}
				payload := decodeSegment(t, tc.tok, 1)
				m := regexp.MustCompile(tc.pattern).FindStringSubmatch(payload)
				if m == nil {
					t.Fatalf("payload %s does not match %s", payload, tc.pattern)
				}
				var iat, nbf, exp int64
				json.Unmarshal([]byte(m[1]), &iat)
				json.Unmarshal([]byte(m[2]), &nbf)
				json.Unmarshal([]byte(m[3]), &exp)
				if iat != nbf || exp-iat != tc.life {
					t.Errorf("iat %d nbf %d exp %d", iat, nbf, exp)
				}
			})
		}
	})
}

// TestTutorialSession is the tutorial's curl session, then our additions:
// refresh rotation, revocation, idempotent revocation, and revocations that
// survive a restart. Each step is a scenario; later steps use the tokens
// earlier ones returned.
func TestTutorialSession(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		revoked := detailAnswer{Detail: "Token has been revoked"}
		step := func(sc scenario) *httptest.ResponseRecorder {
			t.Helper()
			return sc.run(t, e.srv)
		}
		step(scenario{method: "GET", path: "/welcome", status: 200, want: seedWelcome{Message: "Welcome to the Warehouse Management API"}})
		login := decodeAnswer[tokenAnswer](t, step(scenario{method: "POST", path: "/login", body: `{"username":"joevu","password":"glinteco"}`, status: 200}))
		access, refresh := login.AccessToken, login.RefreshToken
		step(scenario{method: "GET", path: "/user", headers: []string{bearer(access)}, status: 200, want: userAnswer{User: "joevu"}})

		// Refresh rotates: a new pair, and the old refresh token is spent.
		rotated := decodeAnswer[tokenAnswer](t, step(scenario{method: "POST", path: "/refresh", headers: []string{bearer(refresh)}, status: 200}))
		if rotated.AccessToken == "" || rotated.RefreshToken == "" || rotated.RefreshToken == refresh {
			t.Fatalf("refresh: %+v", rotated)
		}
		access2, refresh2 := rotated.AccessToken, rotated.RefreshToken
		if p := decodeSegment(t, access2, 1); !strings.Contains(p, `"fresh":false`) {
			t.Errorf("refreshed access token %s", p)
		}
		step(scenario{name: "user with refreshed token", method: "GET", path: "/user", headers: []string{bearer(access2)}, status: 200})
		// Presented again at once (a second tab), the old token gets the same pair.
		step(scenario{name: "old refresh token reused within the grace", method: "POST", path: "/refresh", headers: []string{bearer(refresh)},
			status: 200, want: tokenAnswer{AccessToken: access2, RefreshToken: refresh2}})

		// Revoke the access token; revoking again is fine; the token is refused.
		for i := 0; i < 2; i++ {
			step(scenario{name: fmt.Sprintf("access-revoke #%d", i+1), method: "DELETE", path: "/access-revoke", headers: []string{bearer(access)},
				status: 200, want: detailAnswer{Detail: "Access token has been revoked"}})
		}
		step(scenario{name: "revoked access token", method: "GET", path: "/user", headers: []string{bearer(access)}, status: 401, want: revoked})
		step(scenario{method: "DELETE", path: "/refresh-revoke", headers: []string{bearer(refresh2)}, status: 200, want: detailAnswer{Detail: "Refresh token has been revoked"}})
		step(scenario{name: "revoked refresh token", method: "POST", path: "/refresh", headers: []string{bearer(refresh2)}, status: 401, want: revoked})

		// After a restart: revocations hold, the signing key is the same, so
		// the unrevoked access token still works.
		e.restart()
		step(scenario{name: "revoked token after restart", method: "GET", path: "/user", headers: []string{bearer(access)}, status: 401, want: revoked})
		step(scenario{name: "revoked refresh token after restart", method: "POST", path: "/refresh", headers: []string{bearer(refresh2)}, status: 401, want: revoked})
		step(scenario{name: "valid token after restart", method: "GET", path: "/user", headers: []string{bearer(access2)}, status: 200})
	})
}

// tokenAnswer is what the session steps read of /login and /refresh.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// detailAnswer pins the detail of an answer (the revocation routes answer
// 200 with one, as the tutorial's do).
type detailAnswer struct {
	Detail string `json:"detail"`
}
