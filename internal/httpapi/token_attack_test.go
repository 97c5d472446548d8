package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/keystore"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// The token-attack suite: forged and crafted tokens as RFC 8725 (JSON Web
// Token Best Current Practices) and the OWASP JWT cheat sheet / WSTG-SESS-10
// list them, each sent to every route that takes a token (GET /user on its
// fast path and on Huma's, POST /refresh, both revoke routes and an
// /api/v1 route) through the real router, on both engines. Every one must
// be refused with 401, RFC 6750's challenge and a stable code and detail;
// control rows show the same construction with nothing wrong is accepted,
// so a refusal is the attack's doing and not the test's.

// attackTarget is a route that takes a token.
type attackTarget struct {
	name, method, path string
	accept             string // an Accept the fast path leaves to Huma
	typ                string // the token type the route wants
	// revoke: a revoke route, which accepts a revoked token or one of an
	// ended session again (revoking twice is fine), by design.
	revoke bool
	fast   bool // answered by the fast path (fast.go)
}

var attackTargets = []attackTarget{
	{name: "GET /user fast path", method: "GET", path: "/user", typ: auth.TypeAccess, fast: true},
	{name: "GET /user Huma", method: "GET", path: "/user", accept: "application/json;q=0.9", typ: auth.TypeAccess},
	{name: "POST /refresh", method: "POST", path: "/refresh", typ: auth.TypeRefresh},
	{name: "DELETE /access-revoke", method: "DELETE", path: "/access-revoke", typ: auth.TypeAccess, revoke: true},
	{name: "DELETE /refresh-revoke", method: "DELETE", path: "/refresh-revoke", typ: auth.TypeRefresh, revoke: true},
	{name: "GET /api/v1/items", method: "GET", path: "/api/v1/items", typ: auth.TypeAccess},
}

// attack is one row: a token and the refusal every target must answer.
type attack struct {
	name   string
	anchor string // the RFC 8725 section, OWASP item or RFC that names the attack
	token  string
	// only limits the row to the routes that want this token type (a
	// refresh token is an attack on an access route, not on /refresh).
	only string
	// notRevoke leaves out the revoke routes (see attackTarget.revoke);
	// revokeOnly keeps only them.
	notRevoke, revokeOnly bool
	// query sends the token in the query string under this name instead
	// of the Authorization header.
	query string
	// status is 401 unless set (a control row says 200).
	status       int
	code, detail string
	challenge    string // WWW-Authenticate; `Bearer error="invalid_token"` unless set
}

const invalidTokenChallenge = `Bearer error="invalid_token"`

// runAttacks sends every row to every target it applies to.
func runAttacks(t *testing.T, e *env, rows []attack) {
	t.Helper()
	var humaUser atomic.Int64
	httpapi.OnHumaHandler(e.srv, func(op string) {
		if op == "user" {
			humaUser.Add(1)
		}
	})
	for _, row := range rows {
		if row.token == "" {
			t.Fatalf("%s: no token built", row.name)
		}
		t.Run(row.name, func(t *testing.T) {
			for _, tg := range attackTargets {
				if row.only != "" && row.only != tg.typ || row.notRevoke && tg.revoke || row.revokeOnly && !tg.revoke {
					continue
				}
				path := tg.path
				if row.query != "" {
					path += "?" + row.query + "=" + row.token
				}
				req := httptest.NewRequest(tg.method, path, nil)
				if row.query == "" {
					req.Header.Set("Authorization", "Bearer "+row.token)
				}
				if tg.accept != "" {
					req.Header.Set("Accept", tg.accept)
				}
				before := humaUser.Load()
				w := serve(t, e.srv, req)
				if tg.fast && row.query == "" && humaUser.Load() != before {
					t.Errorf("%s: answered by Huma, not the fast path", tg.name)
				}
				status := row.status
				if status == 0 {
					status = http.StatusUnauthorized
				}
				if w.Code != status {
					t.Errorf("%s [%s]: %s: status %d, want %d: %s", row.name, row.anchor, tg.name, w.Code, status, w.Body)
					continue
				}
				if status < 400 {
					continue
				}
				var p httpapi.Problem
				if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Code != row.code || p.Detail != row.detail {
					t.Errorf("%s [%s]: %s: code %q detail %q, want %q %q (%v)", row.name, row.anchor, tg.name, p.Code, p.Detail, row.code, row.detail, err)
				}
				challenge := row.challenge
				if challenge == "" {
					challenge = invalidTokenChallenge
				}
				if got := w.Header().Get("WWW-Authenticate"); got != challenge {
					t.Errorf("%s: %s: WWW-Authenticate %q, want %q", row.name, tg.name, got, challenge)
				}
			}
		})
	}
}

// Refusals, as the auth package and the server word them.
const (
	dAlg       = "The specified alg value is not allowed"
	dSig       = "Signature verification failed"
	dKid       = "Unknown signing key"
	dHeader    = "Invalid header string"
	dPayload   = "Invalid payload string"
	dExpired   = "Signature has expired"
	dRevoked   = "Token has been revoked"
	dUnknown   = "User not found or inactive"
	dLifetime  = `Invalid payload: "exp" must be within the longest token lifetime from now`
	dOnlyAcc   = "Only access tokens are allowed"
	dOnlyRef   = "Only refresh tokens are allowed"
	dExpNumber = `Invalid payload: "exp" must be a number`
)

var b64 = base64.RawURLEncoding

// signRaw signs already-encoded header and payload segments with HS256,
// so that a non-canonical encoding carries a valid signature.
func signRaw(secret []byte, h64, p64 string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(h64 + "." + p64))
	return h64 + "." + p64 + "." + b64.EncodeToString(m.Sum(nil))
}

// segments splits a token into its three segments.
func segments(t *testing.T, tok string) (h, p, s string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

// flipBit flips one bit of a segment's decoded bytes and encodes it again
// canonically: a different value, not a different spelling.
func flipBit(t *testing.T, seg string, i int) string {
	t.Helper()
	b, err := b64.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[i%len(b)] ^= 0x01
	return b64.EncodeToString(b)
}

// trailingBits sets a padding bit of seg's last character, which a lax
// decoder ignores: the same bytes, a second spelling. ok is false when
// seg has no padding bits (its length is a multiple of 4).
func trailingBits(seg string) (string, bool) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(seg)%4 == 0 {
		return "", false
	}
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[last^1]), true
}

// payloadWith is claimsJSON's valid access payload with one raw JSON
// member appended (duplicates and nesting cannot be said with a map).
func payloadWith(t *testing.T, over map[string]any, member string) string {
	p := freshClaims(t, over)
	return strings.TrimSuffix(p, "}") + "," + member + "}"
}

// freshClaims is claimsJSON with a jti of its own unless over names one,
// so that no crafted token shares a jti another row may revoke.
func freshClaims(t *testing.T, over map[string]any) string {
	m := map[string]any{"jti": uuid.NewString()}
	for k, v := range over {
		m[k] = v
	}
	return claimsJSON(t, m)
}

// nested is n arrays inside each other.
func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// sidOf is a token's sid claim.
func sidOf(t *testing.T, tok string) string {
	t.Helper()
	var c struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(decodeSegment(t, tok, 1)), &c); err != nil || c.SID == "" {
		t.Fatalf("token without sid: %v", err)
	}
	return c.SID
}

// jtiOf is a token's jti claim.
func jtiOf(t *testing.T, tok string) string {
	t.Helper()
	var c struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal([]byte(decodeSegment(t, tok, 1)), &c); err != nil || c.JTI == "" {
		t.Fatalf("token without jti: %v", err)
	}
	return c.JTI
}

// jwksServer is an attacker's key server: a jku / x5u a server must
// never fetch. hits counts the requests it got.
func jwksServer(t *testing.T, body string) (url string, hits *atomic.Int64) {
	t.Helper()
	hits = new(atomic.Int64)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(ts.Close)
	return ts.URL + "/jwks.json", hits
}

// TestTokenAttacks: forged, crafted and misused tokens on an HS256
// server, the default.
func TestTokenAttacks(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		now := time.Now().Unix()
		hs := `{"alg":"HS256","typ":"JWT"}`
		kid := e.keys.Current().ID
		sign := func(header, payload string) string { return craft(e.secret, "HS256", header, payload) }
		claims := func(over map[string]any) string { return sign(hs, freshClaims(t, over)) }
		refreshOver := func(over map[string]any) map[string]any {
			m := map[string]any{"type": "refresh", "fresh": nil}
			for k, v := range over {
				m[k] = v
			}
			return m
		}
		access, refresh := e.login("joevu", "glinteco")
		ah, ap, as := segments(t, access)
		_, rp, rs := segments(t, refresh)
		other, _ := e.login("joevu", "glinteco")

		// An attacker's own HMAC key, and a key server it points at.
		evil := []byte("attacker-chosen-secret-of-32-bytes!!")
		evilJWK := `{"kty":"oct","kid":"evil","k":"` + b64.EncodeToString(evil) + `"}`
		jku, jkuHits := jwksServer(t, `{"keys":[`+evilJWK+`]}`)

		// A session that ended (logout), a revoked access token and a
		// revoked refresh token, each of their own login.
		endedAccess, endedRefresh := e.login("joevu", "glinteco")
		if r := e.do("POST", "/logout", "", bearer(endedAccess)); r.Code != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.Code, r.Body)
		}
		revokedAccess, revokedRefresh := e.login("joevu", "glinteco")
		if r := e.do("DELETE", "/access-revoke", "", bearer(revokedAccess)); r.Code != 200 {
			t.Fatalf("access-revoke: %d %s", r.Code, r.Body)
		}
		if r := e.do("DELETE", "/refresh-revoke", "", bearer(revokedRefresh)); r.Code != 200 {
			t.Fatalf("refresh-revoke: %d %s", r.Code, r.Body)
		}
		// A user deactivated through the API after logging in. (Users are
		// never deleted, only deactivated; an unknown sub stands for one
		// that is gone.)
		seedUser(t, e, "temp", "temp-password", "clerk")
		tempAccess, tempRefresh := e.login("temp", "temp-password")
		admin, _ := e.login("joevu", "glinteco")
		etag := e.do("GET", "/api/v1/users/temp", "", bearer(admin)).Header().Get("ETag")
		if r := e.do("DELETE", "/api/v1/users/temp", "", bearer(admin), "If-Match: "+etag); r.Code/100 != 2 {
			t.Fatalf("deactivate: %d %s", r.Code, r.Body)
		}

		// The same signature spelt with + and / (standard base64): a
		// crafted token whose signature has - or _ in it.
		var stdAlphabet string
		for i := 0; stdAlphabet == "" && i < 200; i++ {
			h, p, s := segments(t, claims(map[string]any{"jti": "5b4d7c3e-0d7a-4a53-9a43-" + strconv.Itoa(100000000000+i)}))
			if strings.ContainsAny(s, "-_") {
				stdAlphabet = h + "." + p + "." + strings.NewReplacer("-", "+", "_", "/").Replace(s)
			}
		}
		sigBits, ok := trailingBits(as)
		if !ok {
			t.Fatal("an HS256 signature has padding bits")
		}
		// Header and payload spelt non-canonically, then signed with the
		// server's key: only the spelling is wrong.
		h64 := b64.EncodeToString([]byte(hs))
		p64 := b64.EncodeToString([]byte(freshClaims(t, nil)))
		for len(p64)%4 == 0 { // make sure the payload has padding bits
			p64 = b64.EncodeToString([]byte(freshClaims(t, map[string]any{"x": strings.Repeat("y", len(p64)%7+1)})))
		}
		payloadBits, _ := trailingBits(p64)
		var stdPayload string
		for i := 0; stdPayload == "" && i < 200; i++ {
			raw := []byte(freshClaims(t, map[string]any{"x": strings.Repeat("\u00ff", i%5+1) + strconv.Itoa(i)}))
			if url, std := b64.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw); url != std {
				stdPayload = signRaw(e.secret, h64, std)
			}
		}

		rows := []attack{
			// Controls: the constructions below, with nothing wrong.
			{name: "control: the login token", anchor: "control", token: access, only: auth.TypeAccess, notRevoke: true, status: 200},
			{name: "control: crafted with the server's key", anchor: "control", token: claims(nil), only: auth.TypeAccess, notRevoke: true, status: 200},
			{name: "control: crafted with the server's key and kid", anchor: "control", token: sign(`{"alg":"HS256","kid":"`+kid+`","typ":"JWT"}`, freshClaims(t, nil)), only: auth.TypeAccess, notRevoke: true, status: 200},

			// RFC 8725 §2.1, §3.1; OWASP "None hashing algorithm".
			{name: "alg none, empty signature", anchor: "RFC 8725 §3.1; OWASP none algorithm", token: b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64.EncodeToString([]byte(freshClaims(t, nil))) + ".", code: "alg_not_allowed", detail: dAlg},
			{name: "alg None", anchor: "RFC 8725 §3.1; OWASP none algorithm", token: sign(`{"alg":"None","typ":"JWT"}`, freshClaims(t, nil)), code: "alg_not_allowed", detail: dAlg},
			{name: "alg NONE", anchor: "RFC 8725 §3.1; OWASP none algorithm", token: sign(`{"alg":"NONE","typ":"JWT"}`, freshClaims(t, nil)), code: "alg_not_allowed", detail: dAlg},
			{name: "alg nOnE with the server's kid", anchor: "RFC 8725 §3.1; OWASP none algorithm", token: sign(`{"alg":"nOnE","kid":"`+kid+`"}`, freshClaims(t, nil)), code: "alg_not_allowed", detail: dAlg},
			{name: "alg none, the login token's own signature", anchor: "RFC 8725 §3.1", token: b64.EncodeToString([]byte(`{"alg":"none","kid":"`+kid+`","typ":"JWT"}`)) + "." + ap + "." + as, code: "alg_not_allowed", detail: dAlg},
			{name: "alg HS256, empty signature", anchor: "RFC 8725 §3.1", token: ah + "." + ap + ".", code: "bad_signature", detail: dSig},
			{name: "no alg", anchor: "RFC 8725 §3.1", token: sign(`{"typ":"JWT"}`, freshClaims(t, nil)), code: "alg_not_allowed", detail: dAlg},
			{name: "alg null", anchor: "RFC 8725 §3.1", token: sign(`{"alg":null}`, freshClaims(t, nil)), code: "alg_not_allowed", detail: dAlg},
			{name: "alg a list", anchor: "RFC 8725 §3.1", token: sign(`{"alg":["HS256"]}`, freshClaims(t, nil)), code: "alg_not_allowed", detail: dAlg},

			// RFC 8725 §2.1, §3.1: the algorithm is the key's, not the header's.
			{name: "RS256 header on the HS key", anchor: "RFC 8725 §3.1; OWASP algorithm confusion", token: sign(`{"alg":"RS256","typ":"JWT"}`, freshClaims(t, nil)), code: "alg_not_allowed", detail: dAlg},
			{name: "RS256 header with the HS key's kid", anchor: "RFC 8725 §3.1", token: sign(`{"alg":"RS256","kid":"`+kid+`"}`, freshClaims(t, nil)), code: "alg_not_allowed", detail: dAlg},
			{name: "HS512 with the right secret", anchor: "RFC 8725 §3.1", token: craft(e.secret, "HS512", `{"alg":"HS512","typ":"JWT"}`, freshClaims(t, nil)), code: "alg_not_allowed", detail: dAlg},
			{name: "HS384 with the right secret and kid", anchor: "RFC 8725 §3.1", token: craft(e.secret, "HS384", `{"alg":"HS384","kid":"`+kid+`"}`, freshClaims(t, nil)), code: "alg_not_allowed", detail: dAlg},
			{name: "alg hs256 (case)", anchor: "RFC 7515 §4.1.1 (case-sensitive)", token: sign(`{"alg":"hs256"}`, freshClaims(t, nil)), code: "alg_not_allowed", detail: dAlg},

			// RFC 8725 §2.9, §3.10: kid is looked up, never used as a path or in SQL.
			{name: "kid path traversal", anchor: "RFC 8725 §3.10; OWASP/WSTG kid injection", token: sign(`{"alg":"HS256","kid":"../../../../../../etc/passwd"}`, freshClaims(t, nil)), code: "unknown_kid", detail: dKid},
			{name: "kid /dev/null", anchor: "RFC 8725 §3.10; WSTG kid injection", token: craft(nil, "HS256", `{"alg":"HS256","kid":"/dev/null"}`, freshClaims(t, nil)), code: "unknown_kid", detail: dKid},
			{name: "kid SQL drop", anchor: "RFC 8725 §2.9; WSTG kid SQL injection", token: sign(`{"alg":"HS256","kid":"'; DROP TABLE users; --"}`, freshClaims(t, nil)), code: "unknown_kid", detail: dKid},
			{name: "kid SQL or", anchor: "RFC 8725 §2.9; WSTG kid SQL injection", token: sign(`{"alg":"HS256","kid":"' OR '1'='1"}`, freshClaims(t, nil)), code: "unknown_kid", detail: dKid},
			{name: "kid unknown", anchor: "RFC 8725 §3.10", token: sign(`{"alg":"HS256","kid":"k-unknown"}`, freshClaims(t, nil)), code: "unknown_kid", detail: dKid},
			{name: "kid a number", anchor: "RFC 7515 §4.1.4", token: sign(`{"alg":"HS256","kid":1}`, freshClaims(t, nil)), code: "malformed", detail: "Key ID header parameter must be a string"},
			{name: "kid null", anchor: "RFC 7515 §4.1.4", token: sign(`{"alg":"HS256","kid":null}`, freshClaims(t, nil)), code: "malformed", detail: "Key ID header parameter must be a string"},

			// RFC 8725 §3.10: keys a token brings are not trusted, nor fetched.
			{name: "jwk header with the attacker's key", anchor: "RFC 8725 §3.10; WSTG embedded jwk", token: craft(evil, "HS256", `{"alg":"HS256","jwk":`+evilJWK+`}`, freshClaims(t, nil)), code: "bad_signature", detail: dSig},
			{name: "jwk header with the server's kid", anchor: "RFC 8725 §3.10; WSTG embedded jwk", token: craft(evil, "HS256", `{"alg":"HS256","kid":"`+kid+`","jwk":`+evilJWK+`}`, freshClaims(t, nil)), code: "bad_signature", detail: dSig},
			{name: "jku to the attacker's keys", anchor: "RFC 8725 §3.10; WSTG jku", token: craft(evil, "HS256", `{"alg":"HS256","kid":"evil","jku":"`+jku+`"}`, freshClaims(t, nil)), code: "unknown_kid", detail: dKid},
			{name: "jku without kid", anchor: "RFC 8725 §3.10; WSTG jku", token: craft(evil, "HS256", `{"alg":"HS256","jku":"`+jku+`"}`, freshClaims(t, nil)), code: "bad_signature", detail: dSig},
			{name: "x5u to the attacker", anchor: "RFC 8725 §3.10; WSTG x5u", token: craft(evil, "HS256", `{"alg":"HS256","x5u":"`+jku+`"}`, freshClaims(t, nil)), code: "bad_signature", detail: dSig},

			// RFC 7515 §4.1.11: no extension is understood, so any crit is refused.
			{name: "crit with an unknown extension", anchor: "RFC 7515 §4.1.11; RFC 8725 §3.10", token: sign(`{"alg":"HS256","crit":["x-evil"],"x-evil":true}`, freshClaims(t, nil)), code: "malformed", detail: "Unsupported critical header parameter"},
			{name: "crit b64 false", anchor: "RFC 7797 §6; RFC 7515 §4.1.11", token: sign(`{"alg":"HS256","b64":false,"crit":["b64"]}`, freshClaims(t, nil)), code: "malformed", detail: "Unsupported critical header parameter"},
			{name: "crit empty", anchor: "RFC 7515 §4.1.11", token: sign(`{"alg":"HS256","crit":[]}`, freshClaims(t, nil)), code: "malformed", detail: "Unsupported critical header parameter"},

			// RFC 8725 §2.6 (multiplicity of JSON encodings); RFC 7515 §4 / RFC 7519 §4:
			// names must be unique. Signed with the server's key.
			{name: "two sub", anchor: "RFC 8725 §2.6; RFC 7519 §4", token: sign(hs, payloadWith(t, nil, `"sub":"vera"`)), code: "malformed", detail: dPayload},
			{name: "two sub, one spelt with an escape", anchor: "RFC 8725 §2.6", token: sign(hs, payloadWith(t, nil, `"s\u0075b":"vera"`)), code: "malformed", detail: dPayload},
			{name: "two exp", anchor: "RFC 8725 §2.6", token: sign(hs, payloadWith(t, map[string]any{"exp": now - 10}, `"exp":`+strconv.FormatInt(now+600, 10))), code: "malformed", detail: dPayload},
			{name: "two type", anchor: "RFC 8725 §2.6", token: sign(hs, payloadWith(t, map[string]any{"type": "refresh", "fresh": nil}, `"type":"access"`)), code: "malformed", detail: dPayload},
			{name: "two roles", anchor: "RFC 8725 §2.6", token: sign(hs, payloadWith(t, map[string]any{"roles": []string{"viewer"}}, `"roles":["admin"]`)), code: "malformed", detail: dPayload},
			{name: "two unknown claims", anchor: "RFC 8725 §2.6", token: sign(hs, payloadWith(t, map[string]any{"x": 1}, `"x":2`)), code: "malformed", detail: dPayload},
			{name: "two alg", anchor: "RFC 8725 §2.6; RFC 7515 §4", token: sign(`{"alg":"HS256","alg":"none"}`, freshClaims(t, nil)), code: "malformed", detail: dHeader},
			{name: "two kid", anchor: "RFC 8725 §2.6; RFC 7515 §4", token: sign(`{"alg":"HS256","kid":"`+kid+`","kid":"k-unknown"}`, freshClaims(t, nil)), code: "malformed", detail: dHeader},
			{name: "two typ", anchor: "RFC 8725 §2.6; RFC 7515 §4", token: sign(`{"alg":"HS256","typ":"refresh+jwt","typ":"JWT"}`, freshClaims(t, nil)), code: "malformed", detail: dHeader},
			{name: "two crit", anchor: "RFC 8725 §2.6; RFC 7515 §4", token: sign(`{"alg":"HS256","crit":["x"],"crit":[]}`, freshClaims(t, nil)), code: "malformed", detail: dHeader},

			// RFC 7515 §2 and §3.4 of RFC 8725: one encoding per token.
			{name: "header padded", anchor: "RFC 7515 §2; RFC 8725 §3.4", token: signRaw(e.secret, h64+"=", p64), code: "malformed", detail: "Invalid header padding"},
			{name: "payload padded", anchor: "RFC 7515 §2; RFC 8725 §3.4", token: signRaw(e.secret, h64, p64+"="), code: "malformed", detail: "Invalid payload padding"},
			{name: "signature padded", anchor: "RFC 7515 §2; RFC 8725 §3.4", token: ah + "." + ap + "." + as + "=", code: "malformed", detail: "Invalid crypto padding"},
			{name: "payload with padding bits set", anchor: "RFC 7515 §2 / RFC 4648 §3.5", token: signRaw(e.secret, h64, payloadBits), code: "malformed", detail: "Invalid payload padding"},
			{name: "signature with padding bits set", anchor: "RFC 7515 §2 / RFC 4648 §3.5", token: ah + "." + ap + "." + sigBits, code: "malformed", detail: "Invalid crypto padding"},
			{name: "signature in + and /", anchor: "RFC 7515 §2 (base64url)", token: stdAlphabet, code: "malformed", detail: "Invalid crypto padding"},
			{name: "payload in + and /", anchor: "RFC 7515 §2 (base64url)", token: stdPayload, code: "malformed", detail: "Invalid payload padding"},
			{name: "JWE-shaped, five segments", anchor: "RFC 8725 §3.12", token: access + ".x.y", code: "malformed", detail: "Invalid token: wrong number of segments"},

			// Bounded work: RFC 8725 §3.4; OWASP denial of service.
			{name: "huge header", anchor: "RFC 8725 §3.4", token: sign(`{"alg":"HS256","x":"`+strings.Repeat("A", 17<<10)+`"}`, freshClaims(t, nil)), code: "malformed", detail: "Token is too large"},
			{name: "deeply nested header", anchor: "RFC 8725 §3.4", token: sign(`{"alg":"HS256","x":`+nested(2000)+`}`, freshClaims(t, nil)), code: "malformed", detail: dHeader},
			{name: "deeply nested claims", anchor: "RFC 8725 §3.4", token: sign(hs, payloadWith(t, nil, `"x":`+nested(2000))), code: "malformed", detail: dPayload},
			{name: "deeply nested roles", anchor: "RFC 8725 §3.4", token: sign(hs, freshClaims(t, map[string]any{"roles": json.RawMessage(`["admin",` + nested(2000) + `]`)})), code: "malformed", detail: dPayload},

			// RFC 7519 §4.1.4-6: time claims; RFC 8725 §3.10.
			{name: "expired", anchor: "RFC 7519 §4.1.4", token: claims(map[string]any{"iat": now - 2000, "nbf": now - 2000, "exp": now - 1000}), code: "expired", detail: dExpired},
			{name: "nbf in the future", anchor: "RFC 7519 §4.1.5", token: claims(map[string]any{"nbf": now + 600}), code: "immature", detail: "The token is not yet valid (nbf)"},
			{name: "iat in the future", anchor: "RFC 7519 §4.1.6", token: claims(map[string]any{"iat": now + 600}), code: "immature", detail: "The token is not yet valid (iat)"},
			{name: "no exp", anchor: "RFC 8725 §3.10; seed behaviour", token: claims(map[string]any{"exp": nil}), code: "missing_claim", detail: `Token is missing the "exp" claim`},
			{name: "exp a string", anchor: "RFC 7519 §2 NumericDate", token: claims(map[string]any{"exp": strconv.FormatInt(now+600, 10)}), code: "invalid_claim", detail: dExpNumber},
			{name: "exp null", anchor: "RFC 7519 §2 NumericDate", token: claims(map[string]any{"exp": json.RawMessage("null")}), code: "invalid_claim", detail: dExpNumber},
			{name: "exp true", anchor: "RFC 7519 §2 NumericDate", token: claims(map[string]any{"exp": true}), code: "invalid_claim", detail: dExpNumber},
			{name: "exp a past float", anchor: "RFC 7519 §2 NumericDate", token: claims(map[string]any{"exp": float64(now) - 60.5}), code: "expired", detail: dExpired},
			{name: "exp negative", anchor: "RFC 7519 §4.1.4", token: claims(map[string]any{"exp": -1}), code: "expired", detail: dExpired},
			{name: "exp 1e300", anchor: "RFC 8725 §3.10 (defect fixed: accepted forever)", token: claims(map[string]any{"exp": json.RawMessage("1e300")}), code: "invalid_claim", detail: dLifetime},
			{name: "exp a 20-digit integer", anchor: "RFC 8725 §3.10 (defect fixed)", token: claims(map[string]any{"exp": json.RawMessage("99999999999999999999")}), code: "invalid_claim", detail: dLifetime},
			{name: "exp past the longest TTL", anchor: "RFC 8725 §3.10 (defect fixed)", token: claims(map[string]any{"exp": now + 31*24*3600 + 60}), code: "invalid_claim", detail: dLifetime},
			{name: "control: exp a future float", anchor: "control (RFC 7519 §2 allows fractions)", token: claims(map[string]any{"exp": float64(now) + 600.5}), only: auth.TypeAccess, notRevoke: true, status: 200},

			// RFC 8725 §3.8 (issuer), §3.9 (audience) without a configured audience.
			{name: "foreign iss", anchor: "RFC 8725 §3.8", token: claims(map[string]any{"iss": "https://evil.example"}), code: "invalid_issuer", detail: "Invalid issuer"},
			{name: "aud where none is configured", anchor: "RFC 8725 §3.9", token: claims(map[string]any{"aud": "some-api"}), code: "invalid_audience", detail: "Invalid audience"},

			// RFC 8725 §2.8, §3.11, §3.12: tokens of one kind are never another.
			{name: "refresh token as access", anchor: "RFC 8725 §3.12", token: refresh, only: auth.TypeAccess, code: "wrong_token_type", detail: dOnlyAcc},
			{name: "access token as refresh", anchor: "RFC 8725 §3.12", token: access, only: auth.TypeRefresh, code: "wrong_token_type", detail: dOnlyRef},
			{name: "crafted refresh as access", anchor: "RFC 8725 §3.12", token: claims(refreshOver(nil)), only: auth.TypeAccess, code: "wrong_token_type", detail: dOnlyAcc},
			{name: "no type", anchor: "RFC 8725 §3.11", token: claims(map[string]any{"type": nil}), code: "missing_claim", detail: `Token is missing the "type" claim`},
			{name: "type empty", anchor: "RFC 8725 §3.11", token: claims(map[string]any{"type": ""}), code: "invalid_claim", detail: `Invalid payload: "type" must be a non-empty string`},
			{name: "type id (unknown) on access routes", anchor: "RFC 8725 §3.11", token: claims(map[string]any{"type": "id"}), only: auth.TypeAccess, code: "wrong_token_type", detail: dOnlyAcc},
			{name: "type id (unknown) on refresh routes", anchor: "RFC 8725 §3.11", token: claims(map[string]any{"type": "id"}), only: auth.TypeRefresh, code: "wrong_token_type", detail: dOnlyRef},
			{name: "type Access (case)", anchor: "RFC 8725 §3.11", token: claims(map[string]any{"type": "Access"}), only: auth.TypeAccess, code: "wrong_token_type", detail: dOnlyAcc},
			{name: "typ refresh+jwt on an access payload", anchor: "RFC 8725 §3.11", token: sign(`{"alg":"HS256","typ":"refresh+jwt"}`, freshClaims(t, nil)), code: "invalid_claim", detail: `Invalid payload: "type" must be "refresh" in a token of typ refresh+jwt`},
			{name: "type a list", anchor: "RFC 8725 §3.11", token: claims(map[string]any{"type": []string{"access"}}), code: "invalid_claim", detail: `Invalid payload: "type" must be a string`},

			// RFC 8725 §3.8 (subject); OWASP "no built-in token revocation".
			{name: "access token of an ended session", anchor: "OWASP token revocation", token: endedAccess, only: auth.TypeAccess, notRevoke: true, code: "session_ended", detail: dRevoked},
			{name: "refresh token of an ended session", anchor: "OWASP token revocation", token: endedRefresh, only: auth.TypeRefresh, notRevoke: true, code: "session_ended", detail: dRevoked},
			{name: "crafted with an ended session's sid", anchor: "OWASP token revocation", token: claims(map[string]any{"sid": sidOf(t, endedAccess)}), only: auth.TypeAccess, notRevoke: true, code: "session_ended", detail: dRevoked},
			{name: "revoked access token", anchor: "OWASP token revocation", token: revokedAccess, only: auth.TypeAccess, notRevoke: true, code: "token_revoked", detail: dRevoked},
			{name: "revoked refresh token", anchor: "OWASP token revocation", token: revokedRefresh, only: auth.TypeRefresh, notRevoke: true, code: "token_revoked", detail: dRevoked},
			{name: "crafted with a revoked jti", anchor: "OWASP token revocation", token: claims(map[string]any{"jti": jtiOf(t, revokedAccess)}), only: auth.TypeAccess, notRevoke: true, code: "token_revoked", detail: dRevoked},
			{name: "sub of a user that does not exist (access)", anchor: "RFC 8725 §3.8", token: claims(map[string]any{"sub": "ghost"}), only: auth.TypeAccess, code: "unknown_user", detail: dUnknown},
			{name: "sub of a user that does not exist (refresh)", anchor: "RFC 8725 §3.8", token: claims(refreshOver(map[string]any{"sub": "ghost"})), only: auth.TypeRefresh, code: "unknown_user", detail: dUnknown},
			{name: "sub of a deactivated user, crafted (access)", anchor: "RFC 8725 §3.8", token: claims(map[string]any{"sub": "temp"}), only: auth.TypeAccess, code: "unknown_user", detail: dUnknown},
			{name: "sub of a deactivated user, crafted (refresh)", anchor: "RFC 8725 §3.8", token: claims(refreshOver(map[string]any{"sub": "temp"})), only: auth.TypeRefresh, code: "unknown_user", detail: dUnknown},
			{name: "sub of a user created inactive", anchor: "RFC 8725 §3.8", token: claims(map[string]any{"sub": "gone"}), only: auth.TypeAccess, code: "unknown_user", detail: dUnknown},
			{name: "a deactivated user's login token", anchor: "RFC 8725 §3.8", token: tempAccess, only: auth.TypeAccess, notRevoke: true, code: "session_ended", detail: dRevoked},
			{name: "a deactivated user's refresh token", anchor: "RFC 8725 §3.8", token: tempRefresh, only: auth.TypeRefresh, notRevoke: true, code: "session_ended", detail: dRevoked},
			{name: "a deactivated user's token on the revoke routes", anchor: "RFC 8725 §3.8", token: tempAccess, only: auth.TypeAccess, revokeOnly: true, code: "unknown_user", detail: dUnknown},
			{name: "a deactivated user's refresh token on the revoke routes", anchor: "RFC 8725 §3.8", token: tempRefresh, only: auth.TypeRefresh, revokeOnly: true, code: "unknown_user", detail: dUnknown},
			// Revoking what is already revoked or ended grants nothing:
			// the revoke routes answer it 200, by design (idempotent).
			{name: "by design: revoking a revoked access token again", anchor: "RFC 7009 §2.2 (idempotent)", token: revokedAccess, only: auth.TypeAccess, revokeOnly: true, status: 200},
			{name: "by design: revoking an ended session's refresh token", anchor: "RFC 7009 §2.2 (idempotent)", token: endedRefresh, only: auth.TypeRefresh, revokeOnly: true, status: 200},
			{name: "sub empty", anchor: "RFC 8725 §3.8", token: claims(map[string]any{"sub": ""}), code: "invalid_claim", detail: `Invalid payload: "sub" must be a non-empty string`},

			// RFC 8725 §3.3 (validate all cryptographic operations).
			{name: "one flipped signature bit", anchor: "RFC 8725 §3.3", token: ah + "." + ap + "." + flipBit(t, as, 7), code: "bad_signature", detail: dSig},
			{name: "one flipped signature bit (refresh)", anchor: "RFC 8725 §3.3", token: strings.Split(refresh, ".")[0] + "." + rp + "." + flipBit(t, rs, 31), code: "bad_signature", detail: dSig},
			{name: "one flipped payload bit", anchor: "RFC 8725 §3.3", token: ah + "." + flipBit(t, ap, 9) + "." + as, code: "bad_signature", detail: dSig},
			{name: "another token's signature", anchor: "RFC 8725 §3.3", token: ah + "." + ap + "." + strings.Split(other, ".")[2], code: "bad_signature", detail: dSig},
			{name: "signature truncated", anchor: "RFC 8725 §3.3", token: ah + "." + ap + "." + as[:40], code: "bad_signature", detail: dSig},
			{name: "wrong key", anchor: "RFC 8725 §3.5; OWASP weak token secret", token: craft([]byte("secret"), "HS256", hs, freshClaims(t, nil)), code: "bad_signature", detail: dSig},

			// RFC 6750 §2.3, §5.3: a token in a URL is not a credential
			// (no error code: the request has none, RFC 6750 §3.1).
			{name: "access token in the query string", anchor: "RFC 6750 §5.3; OWASP token sidejacking", token: access, only: auth.TypeAccess, query: "access_token", code: "missing_token", detail: "Missing Authorization Header", challenge: `Bearer realm="warehouse"`},
			{name: "refresh token in the query string", anchor: "RFC 6750 §5.3", token: refresh, only: auth.TypeRefresh, query: "refresh_token", code: "missing_token", detail: "Missing Authorization Header", challenge: `Bearer realm="warehouse"`},
			{name: "token in the query string as jwt", anchor: "RFC 6750 §5.3", token: access, query: "jwt", code: "missing_token", detail: "Missing Authorization Header", challenge: `Bearer realm="warehouse"`},
		}
		runAttacks(t, e, rows)

		if n := jkuHits.Load(); n != 0 {
			t.Errorf("the server fetched the attacker's jku/x5u %d times", n)
		}
		// The kid rows reached no SQL: every user is still there, and the
		// login token still works.
		var users int
		if err := e.dbQueryRow("SELECT count(*) FROM users", &users); err != nil || users != 4 {
			t.Errorf("users after the kid rows: %d (%v), want 4", users, err)
		}
		if r := e.do("GET", "/user", "", bearer(access)); r.Code != 200 {
			t.Errorf("the login token after the attacks: %d %s", r.Code, r.Body)
		}
	})
}

// TestTokenAttacksRetiredKey: after a rotation and the old key's
// retirement (its grace over), nothing signed with the old key verifies,
// whether it names the key or not.
func TestTokenAttacksRetiredKey(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		e := newEnv(t, engine)
		oldAccess, oldRefresh := e.login("joevu", "glinteco")
		oldKid, oldSecret := e.keys.Current().ID, e.secret
		if _, err := keystore.Rotate(ctx, e.db, "HS256"); err != nil {
			t.Fatal(err)
		}
		if err := e.state.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if r := e.do("GET", "/user", "", bearer(oldAccess)); r.Code != 200 {
			t.Fatalf("the old key's token before its retirement: %d %s", r.Code, r.Body)
		}
		if err := keystore.Retire(ctx, e.db, "HS256", oldKid); err != nil {
			t.Fatal(err)
		}
		if err := e.state.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		newAccess, _ := e.login("joevu", "glinteco")
		runAttacks(t, e, []attack{
			{name: "control: the new key's token", anchor: "control", token: newAccess, only: auth.TypeAccess, notRevoke: true, status: 200},
			{name: "access token of the retired key", anchor: "RFC 8725 §3.10 (key lifetime)", token: oldAccess, code: "unknown_kid", detail: dKid},
			{name: "refresh token of the retired key", anchor: "RFC 8725 §3.10", token: oldRefresh, code: "unknown_kid", detail: dKid},
			{name: "crafted with the retired key and its kid", anchor: "RFC 8725 §3.10", token: craft(oldSecret, "HS256", `{"alg":"HS256","kid":"`+oldKid+`","typ":"JWT"}`, freshClaims(t, nil)), code: "unknown_kid", detail: dKid},
			{name: "crafted with the retired key, no kid", anchor: "RFC 8725 §3.10", token: craft(oldSecret, "HS256", `{"alg":"HS256","typ":"JWT"}`, freshClaims(t, nil)), code: "bad_signature", detail: dSig},
		})
	})
}

// TestTokenAttacksIssuerAudience: with --issuer and --audience set, a
// token must name both (RFC 8725 §3.8, §3.9).
func TestTokenAttacksIssuerAudience(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		const iss, aud = "https://warehouse.example", "warehouse-api"
		e := newEnv(t, engine, func(c *httpapi.Config) { c.Issuer, c.Audience = iss, aud })
		claims := func(over map[string]any) string {
			m := map[string]any{"iss": iss, "aud": aud}
			for k, v := range over {
				m[k] = v
			}
			return craft(e.secret, "HS256", `{"alg":"HS256","typ":"JWT"}`, freshClaims(t, m))
		}
		access, _ := e.login("joevu", "glinteco")
		runAttacks(t, e, []attack{
			{name: "control: the login token", anchor: "control", token: access, only: auth.TypeAccess, notRevoke: true, status: 200},
			{name: "control: crafted with iss and aud", anchor: "control", token: claims(nil), only: auth.TypeAccess, notRevoke: true, status: 200},
			{name: "control: aud a list with ours", anchor: "control (RFC 7519 §4.1.3)", token: claims(map[string]any{"aud": []string{"other", aud}}), only: auth.TypeAccess, notRevoke: true, status: 200},
			{name: "wrong iss", anchor: "RFC 8725 §3.8", token: claims(map[string]any{"iss": "https://evil.example"}), code: "invalid_issuer", detail: "Invalid issuer"},
			{name: "iss differing in case", anchor: "RFC 8725 §3.8 (StringOrURI compares exactly)", token: claims(map[string]any{"iss": "https://Warehouse.example"}), code: "invalid_issuer", detail: "Invalid issuer"},
			{name: "no iss", anchor: "RFC 8725 §3.8", token: claims(map[string]any{"iss": nil}), code: "missing_claim", detail: `Token is missing the "iss" claim`},
			{name: "iss a number", anchor: "RFC 8725 §3.8", token: claims(map[string]any{"iss": 1}), code: "invalid_claim", detail: `Invalid payload: "iss" must be a string`},
			{name: "wrong aud", anchor: "RFC 8725 §3.9; §2.7 substitution", token: claims(map[string]any{"aud": "other-api"}), code: "invalid_audience", detail: "Invalid audience"},
			{name: "aud a list without ours", anchor: "RFC 8725 §3.9", token: claims(map[string]any{"aud": []string{"a", "b"}}), code: "invalid_audience", detail: "Invalid audience"},
			{name: "aud empty list", anchor: "RFC 8725 §3.9", token: claims(map[string]any{"aud": []string{}}), code: "invalid_audience", detail: "Invalid audience"},
			{name: "no aud", anchor: "RFC 8725 §3.9", token: claims(map[string]any{"aud": nil}), code: "missing_claim", detail: `Token is missing the "aud" claim`},
		})
	})
}

// TestTokenAttacksAsymmetric: on an RS256 server, the public key (which
// anyone can fetch from the JWKS) used as an HMAC secret, other RSA
// algorithms, and keys or certificates a token brings along.
func TestTokenAttacksAsymmetric(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := &env{t: t, url: pgtest.URL(t, engine), hasher: newHasherWithMemory(64), clock: &fakeClock{}, algorithm: "RS256"}
		e.open()
		seedUser(t, e, "joevu", "glinteco", "admin")
		access, _ := e.login("joevu", "glinteco")
		cur := e.keys.Current()
		kid := cur.ID
		pub, ok := cur.Public.(*rsa.PublicKey)
		if !ok {
			t.Fatalf("RS256 key's public half is %T", cur.Public)
		}
		priv := cur.Private
		payload := freshClaims(t, nil)
		rsSign := func(m jwt.SigningMethod, key any, header, payload string) string {
			input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
			sig, err := m.Sign(input, key)
			if err != nil {
				t.Fatal(err)
			}
			return input + "." + b64.EncodeToString(sig)
		}
		// HMAC keys an attacker can make of the public key: every spelling
		// of it a confused verifier might use as the secret.
		spki, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		pkcs1 := x509.MarshalPKCS1PublicKey(pub)
		jwks := e.do("GET", "/.well-known/jwks.json", "").Body.Bytes()
		confusions := map[string][]byte{
			"PEM (PKIX)":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}),
			"PEM (PKCS1)": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
			"DER (PKIX)":  spki,
			"DER (PKCS1)": pkcs1,
			"the JWKS":    jwks,
			"the modulus": pub.N.Bytes(),
			"PEM, no \\n": []byte(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})))),
		}

		// The attacker's own RSA key and a certificate for it.
		evil, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		evilJWK := `{"kty":"RSA","kid":"evil","n":"` + b64.EncodeToString(evil.N.Bytes()) + `","e":"AQAB"}`
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "warehouse"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &evil.PublicKey, evil)
		if err != nil {
			t.Fatal(err)
		}
		x5c := base64.StdEncoding.EncodeToString(der)
		jku, hits := jwksServer(t, `{"keys":[`+evilJWK+`]}`)

		rows := []attack{
			{name: "control: the login token", anchor: "control", token: access, only: auth.TypeAccess, notRevoke: true, status: 200},
			{name: "control: crafted with the server's private key", anchor: "control", token: rsSign(jwt.SigningMethodRS256, priv, `{"alg":"RS256","kid":"`+kid+`","typ":"JWT"}`, payload), only: auth.TypeAccess, notRevoke: true, status: 200},
			{name: "PS256 with the server's private key", anchor: "RFC 8725 §3.1 (one algorithm per key)", token: rsSign(jwt.SigningMethodPS256, priv, `{"alg":"PS256","kid":"`+kid+`"}`, payload), code: "alg_not_allowed", detail: dAlg},
			{name: "RS512 with the server's private key", anchor: "RFC 8725 §3.1", token: rsSign(jwt.SigningMethodRS512, priv, `{"alg":"RS512","kid":"`+kid+`"}`, payload), code: "alg_not_allowed", detail: dAlg},
			{name: "alg none with the server's kid", anchor: "RFC 8725 §3.1; OWASP none algorithm", token: b64.EncodeToString([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "." + b64.EncodeToString([]byte(payload)) + ".", code: "alg_not_allowed", detail: dAlg},
			{name: "ES256 header on the RSA key", anchor: "RFC 8725 §3.1", token: rsSign(jwt.SigningMethodRS256, priv, `{"alg":"ES256","kid":"`+kid+`"}`, payload), code: "alg_not_allowed", detail: dAlg},
			{name: "jwk header with the attacker's key", anchor: "RFC 8725 §3.10; WSTG embedded jwk (CVE-2018-0114)", token: rsSign(jwt.SigningMethodRS256, evil, `{"alg":"RS256","jwk":`+evilJWK+`}`, payload), code: "bad_signature", detail: dSig},
			{name: "jwk header with the server's kid", anchor: "RFC 8725 §3.10; WSTG embedded jwk", token: rsSign(jwt.SigningMethodRS256, evil, `{"alg":"RS256","kid":"`+kid+`","jwk":`+evilJWK+`}`, payload), code: "bad_signature", detail: dSig},
			{name: "x5c with the attacker's certificate", anchor: "RFC 8725 §3.10; WSTG x5c", token: rsSign(jwt.SigningMethodRS256, evil, `{"alg":"RS256","kid":"`+kid+`","x5c":["`+x5c+`"]}`, payload), code: "bad_signature", detail: dSig},
			{name: "jku to the attacker's keys", anchor: "RFC 8725 §3.10; WSTG jku", token: rsSign(jwt.SigningMethodRS256, evil, `{"alg":"RS256","kid":"evil","jku":"`+jku+`"}`, payload), code: "unknown_kid", detail: dKid},
			{name: "x5u to the attacker", anchor: "RFC 8725 §3.10; WSTG x5u", token: rsSign(jwt.SigningMethodRS256, evil, `{"alg":"RS256","kid":"`+kid+`","x5u":"`+jku+`"}`, payload), code: "bad_signature", detail: dSig},
			{name: "the attacker's key, no header help", anchor: "RFC 8725 §3.3", token: rsSign(jwt.SigningMethodRS256, evil, `{"alg":"RS256","kid":"`+kid+`"}`, payload), code: "bad_signature", detail: dSig},
		}
		for name, secret := range confusions {
			rows = append(rows,
				attack{name: "HS256 keyed with the public key, " + name, anchor: "RFC 8725 §2.1, §3.1; OWASP algorithm confusion", token: craft(secret, "HS256", `{"alg":"HS256","typ":"JWT"}`, payload), code: "alg_not_allowed", detail: dAlg},
				attack{name: "HS256 keyed with the public key and its kid, " + name, anchor: "RFC 8725 §2.1, §3.1", token: craft(secret, "HS256", `{"alg":"HS256","kid":"`+kid+`"}`, payload), code: "alg_not_allowed", detail: dAlg},
			)
		}
		runAttacks(t, e, rows)
		if n := hits.Load(); n != 0 {
			t.Errorf("the server fetched the attacker's jku/x5u %d times", n)
		}
	})
}
