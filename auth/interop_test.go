package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/warehouse-api/warehouse/auth"
)

// The interoperability tests check our JOSE against an independent
// implementation, github.com/lestrrat-go/jwx/v3, in both directions.

var interopAlgs = []struct {
	ours string
	jwx  jwa.SignatureAlgorithm
}{
	{auth.AlgEdDSA, jwa.EdDSA()},
	{auth.AlgES256, jwa.ES256()},
	{auth.AlgRS256, jwa.RS256()},
	{auth.AlgPS256, jwa.PS256()},
	{auth.AlgES384, jwa.ES384()},
}

// TestInteropJWXVerifiesOurTokens: a token signed by our Keyring is
// verified by jwx with nothing but our published JWKS.
func TestInteropJWXVerifiesOurTokens(t *testing.T) {
	t.Parallel()
	for _, tt := range interopAlgs {
		t.Run(tt.ours, func(t *testing.T) {
			t.Parallel()
			key, err := auth.GenerateKey(tt.ours)
			if err != nil {
				t.Fatal(err)
			}
			old, err := auth.GenerateKey(auth.AlgEdDSA)
			if err != nil {
				t.Fatal(err)
			}
			hs, _ := auth.GenerateKey(auth.AlgHS256)
			kr, err := auth.NewKeyring(key, hs, auth.Key{ID: old.ID, Algorithm: old.Algorithm, Public: old.Public})
			if err != nil {
				t.Fatal(err)
			}
			doc, err := kr.PublicJWKS()
			if err != nil {
				t.Fatal(err)
			}
			set, err := jwk.Parse(doc)
			if err != nil {
				t.Fatalf("jwk.Parse(%s): %v", doc, err)
			}
			if set.Len() != 2 {
				t.Fatalf("jwx sees %d keys, want 2", set.Len())
			}
			// jwx computes the same RFC 7638 thumbprint we use as kid.
			pk, ok := set.LookupKeyID(key.ID)
			if !ok {
				t.Fatalf("kid %s not in %s", key.ID, doc)
			}
			tp, err := pk.Thumbprint(crypto.SHA256)
			if err != nil || base64.RawURLEncoding.EncodeToString(tp) != key.ID {
				t.Fatalf("jwx thumbprint %x, our kid %s (%v)", tp, key.ID, err)
			}

			now := time.Now()
			c := auth.NewClaims("joevu", auth.TypeAccess, now, 15*time.Minute)
			c.Roles = []string{"admin", "clerk"}
			token, err := kr.Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			// jws with the key set: the kid picks the key, whose alg must match.
			payload, err := jws.Verify([]byte(token), jws.WithKeySet(set))
			if err != nil {
				t.Fatalf("jws.Verify: %v", err)
			}
			var claims map[string]any
			if err := json.Unmarshal(payload, &claims); err != nil || claims["sub"] != "joevu" || claims["type"] != "access" {
				t.Fatalf("payload %s (%v)", payload, err)
			}
			// jwt: signature and exp/iat/nbf.
			tok, err := jwt.Parse([]byte(token), jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithAcceptableSkew(5*time.Second))
			if err != nil {
				t.Fatalf("jwt.Parse: %v", err)
			}
			if sub, _ := tok.Subject(); sub != "joevu" {
				t.Fatalf("sub %q", sub)
			}
			if jti, _ := tok.JwtID(); jti != c.ID {
				t.Fatalf("jti %q", jti)
			}
			// And jwx refuses it once tampered with.
			bad := token[:len(token)-6] + "AAAAAA"
			if bad != token {
				if _, err := jws.Verify([]byte(bad), jws.WithKeySet(set)); err == nil {
					t.Fatal("jwx accepted a tampered token")
				}
			}
		})
	}
}

// TestInteropRemoteVerifiesJWXTokens: a token signed by jwx with a key it
// publishes as JWKS is verified by our RemoteKeySet.
func TestInteropRemoteVerifiesJWXTokens(t *testing.T) {
	t.Parallel()
	for _, tt := range interopAlgs {
		t.Run(tt.ours, func(t *testing.T) {
			t.Parallel()
			var raw any
			var err error
			switch tt.ours {
			case auth.AlgEdDSA:
				_, raw, err = ed25519.GenerateKey(rand.Reader)
			case auth.AlgES256:
				raw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			case auth.AlgES384:
				raw, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			default:
				raw, err = rsa.GenerateKey(rand.Reader, 2048)
			}
			if err != nil {
				t.Fatal(err)
			}
			priv, err := jwk.Import(raw)
			if err != nil {
				t.Fatal(err)
			}
			if err := jwk.AssignKeyID(priv); err != nil { // RFC 7638 thumbprint
				t.Fatal(err)
			}
			if err := priv.Set(jwk.AlgorithmKey, tt.jwx); err != nil {
				t.Fatal(err)
			}
			if err := priv.Set(jwk.KeyUsageKey, "sig"); err != nil {
				t.Fatal(err)
			}
			privSet := jwk.NewSet()
			privSet.AddKey(priv)
			pubSet, err := jwk.PublicSetOf(privSet)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := json.Marshal(pubSet)
			if err != nil {
				t.Fatal(err)
			}
			var fetches atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fetches.Add(1)
				w.Header().Set("Cache-Control", "public, max-age=300")
				w.Write(doc)
			}))
			defer srv.Close()

			now := time.Now().Truncate(time.Second)
			jti := uuid.NewString()
			tok, err := jwt.NewBuilder().
				Subject("joevu").
				IssuedAt(now).
				NotBefore(now).
				JwtID(jti).
				Expiration(now.Add(15*time.Minute)).
				Claim("type", "access").
				Claim("fresh", true).
				Claim("roles", []string{"admin"}).
				Build()
			if err != nil {
				t.Fatal(err)
			}
			signed, err := jwt.Sign(tok, jwt.WithKey(tt.jwx, priv))
			if err != nil {
				t.Fatal(err)
			}

			r := auth.NewRemoteKeySet(srv.URL, auth.RemoteOptions{HTTPClient: srv.Client()})
			c, err := r.Verify(context.Background(), string(signed), now, auth.VerifyOptions{})
			if err != nil {
				t.Fatalf("RemoteKeySet.Verify: %v (JWKS %s)", err, doc)
			}
			if c.Subject != "joevu" || c.ID != jti || c.Type != auth.TypeAccess || !c.Fresh || len(c.Roles) != 1 || !c.Expiry.Equal(now.Add(15*time.Minute)) {
				t.Fatalf("claims %+v", c)
			}
			// Our kid is jwx's: the thumbprint agrees.
			pub, _ := priv.PublicKey()
			var rawPub any
			if err := jwk.Export(pub, &rawPub); err != nil {
				t.Fatal(err)
			}
			tp, err := auth.Thumbprint(rawPub)
			kid, _ := priv.KeyID()
			if err != nil || tp != kid {
				t.Fatalf("Thumbprint %q, jwx kid %q (%v)", tp, kid, err)
			}
			if n := fetches.Load(); n != 1 {
				t.Fatalf("%d fetches", n)
			}
		})
	}
}
