package httpapi_test

import (
	"context"
	"encoding/json"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/warehouse-api/warehouse/internal/keystore"
)

func kidOf(t *testing.T, token string) string {
	t.Helper()
	var h map[string]string
	if err := json.Unmarshal([]byte(decodeSegment(t, token, 0)), &h); err != nil {
		t.Fatal(err)
	}
	return h["kid"]
}

// TestKeyRotation: after a rotation new tokens carry the new kid, old
// tokens keep verifying, on this instance and on another one on the same
// database, until the old key is retired.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		a := newEnv(t, engine)
		b := &env{t: t, url: a.url, hasher: a.hasher, clock: a.clock}
		b.open()
		oldToken, _ := a.login("joevu", "glinteco")
		oldKid := kidOf(t, oldToken)

		newKey, err := keystore.Rotate(ctx, a.db, "HS256")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []*env{a, b} {
			if err := e.state.Poll(ctx); err != nil {
				t.Fatal(err)
			}
		}
		newToken, _ := b.login("joevu", "glinteco")
		if kid := kidOf(t, newToken); kid != newKey.ID || kid == oldKid {
			t.Fatalf("token after rotation has kid %q, want %q", kid, newKey.ID)
		}
		for name, e := range map[string]*env{"A": a, "B": b} {
			for tname, tok := range map[string]string{"old": oldToken, "new": newToken} {
				if r := e.do("GET", "/user", "", bearer(tok)); r.Code != 200 {
					t.Errorf("instance %s, %s token: %d %s", name, tname, r.Code, r.Body)
				}
			}
		}
		if err := keystore.Retire(ctx, a.db, "HS256", newKey.ID); err == nil {
			t.Fatal("retired the signing key")
		}
		if err := keystore.Retire(ctx, a.db, "HS256", oldKid); err != nil {
			t.Fatal(err)
		}
		if err := b.state.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if r := b.do("GET", "/user", "", bearer(oldToken)); r.Code != 401 || r.str("code") != "unknown_kid" {
			t.Errorf("token of a retired key: %d %s", r.Code, r.Body)
		}
		if r := b.do("GET", "/user", "", bearer(newToken)); r.Code != 200 {
			t.Errorf("new token after retiring the old key: %d", r.Code)
		}
	})
}

// TestHMACKidWithRS256: a token naming the HMAC key's kid but claiming
// RS256 is refused (the algorithm is tied to the key).
func TestHMACKidWithRS256(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		kid := e.keys.Current().ID
		tok := craft(e.secret, "HS256", `{"alg":"RS256","kid":"`+kid+`","typ":"JWT"}`, claimsJSON(t, nil))
		if r := e.do("GET", "/user", "", bearer(tok)); r.Code != 401 || r.str("detail") != "The specified alg value is not allowed" {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		// And the same kid with its own algorithm works.
		if r := e.do("GET", "/user", "", bearer(craft(e.secret, "HS256", `{"alg":"HS256","kid":"`+kid+`","typ":"JWT"}`, claimsJSON(t, nil)))); r.Code != 200 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
}

// TestJWKSInterop: tokens warehouse issues verify with an independent JOSE
// library through warehouse's published JWKS.
func TestJWKSInterop(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		for _, alg := range []string{"EdDSA", "ES256", "RS256", "PS256"} {
			t.Run(alg, func(t *testing.T) {
				t.Parallel()
				e := &env{t: t, url: pgtest.URL(t, engine), hasher: newHasherWithMemory(64), clock: &fakeClock{}, algorithm: alg}
				e.open()
				seedUser(t, e, "joevu", "glinteco", "admin")
				access, _ := e.login("joevu", "glinteco")
				r := e.do("GET", "/.well-known/jwks.json", "")
				if r.Code != 200 || !strings.Contains(r.Header().Get("Cache-Control"), "max-age") {
					t.Fatalf("jwks: %d %q", r.Code, r.Header().Get("Cache-Control"))
				}
				set, err := jwk.Parse(r.Body.Bytes())
				if err != nil {
					t.Fatalf("jwx cannot parse our JWKS: %v\n%s", err, r.Body)
				}
				tok, err := jwt.Parse([]byte(access), jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithAcceptableSkew(5*time.Second))
				if err != nil {
					t.Fatalf("jwx refuses our %s token: %v", alg, err)
				}
				if sub, _ := tok.Subject(); sub != "joevu" {
					t.Fatalf("sub %q", sub)
				}
				if kidOf(t, access) != e.keys.Current().ID {
					t.Fatal("token kid is not the current key")
				}
				if u := e.do("GET", "/user", "", bearer(access)); u.Code != 200 {
					t.Fatalf("/user: %d", u.Code)
				}
			})
		}
		t.Run("HS256 publishes nothing", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine)
			r := e.do("GET", "/.well-known/jwks.json", "")
			if r.Code != 200 || strings.TrimSpace(r.Body.String()) != `{"keys":[]}` {
				t.Fatalf("jwks of an HMAC server: %d %s", r.Code, r.Body)
			}
		})
	})
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		// The Host is the request's, as a server sees it (r.Host: Go moves
		// it out of the header map, which the old handler read).
		w := e.send(request{path: "/.well-known/openid-configuration", host: "wh.example:8000"})
		var r struct {
			JWKS   string `json:"jwks_uri"`
			Token  string `json:"token_endpoint"`
			Issuer string `json:"issuer"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &r)
		if w.Code != 200 || r.JWKS != "http://wh.example:8000/.well-known/jwks.json" ||
			r.Token != "http://wh.example:8000/token" || r.Issuer != "http://wh.example:8000" {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
}
