package auth_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/warehouse-api/warehouse/auth"
)

func ExampleKeyring_PublicJWKS() {
	// A fixed seed only to make the output stable: use auth.GenerateKey.
	priv := ed25519.NewKeyFromSeed([]byte("an example seed, 32 bytes long!!"))
	kid, err := auth.Thumbprint(priv.Public())
	if err != nil {
		panic(err)
	}
	keys, err := auth.NewKeyring(
		auth.Key{ID: kid, Algorithm: auth.AlgEdDSA, Private: priv},
		auth.Key{ID: "legacy-hs256", Secret: auth.NewSecret()}, // never published
	)
	if err != nil {
		panic(err)
	}
	jwks, err := keys.PublicJWKS()
	if err != nil {
		panic(err)
	}
	// Serve it as /.well-known/jwks.json with a Cache-Control max-age.
	fmt.Println(string(jwks))
	// Output:
	// {"keys":[{"kty":"OKP","use":"sig","alg":"EdDSA","kid":"2gjzMT3obY4MqPreL_dnOhkJS2xVrykx-YQE6IyIgC8","crv":"Ed25519","x":"Sn2rSShUIkNd0VKR7SBwlpibaz8riHwy2mw9fdhU24k"}]}
}

func ExampleNewRemoteKeySet() {
	// The issuing service (here warehouse itself, in-process) publishes its
	// public keys.
	key, err := auth.GenerateKey(auth.AlgES256)
	if err != nil {
		panic(err)
	}
	issuer, err := auth.NewKeyring(key)
	if err != nil {
		panic(err)
	}
	jwks, _ := issuer.PublicJWKS()
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(jwks)
	}))
	defer server.Close()

	// Another Go service verifies warehouse's tokens with nothing but the
	// JWKS URL and the issuer (the "issuer" of warehouse's discovery
	// document, which its access tokens carry as iss): keys are fetched on
	// first use, cached and refreshed on an unknown kid.
	const iss = "https://warehouse.example"
	remote := auth.NewRemoteKeySet(server.URL, auth.RemoteOptions{})
	opt := auth.VerifyOptions{Leeway: 5 * time.Second, Issuer: iss}

	now := time.Now()
	claims := auth.NewClaims("joevu", auth.TypeAccess, now, 15*time.Minute)
	claims.Roles, claims.Issuer = []string{"clerk"}, iss
	token, _ := issuer.Sign(claims)

	got, err := remote.Verify(context.Background(), token, now, opt)
	fmt.Println(got.Subject, got.Roles, err)

	_, err = remote.Verify(context.Background(), token, now.Add(time.Hour), opt)
	fmt.Println(err)
	_, err = remote.Verify(context.Background(), token, now, auth.VerifyOptions{Issuer: "https://other.example"})
	fmt.Println(err)
	// Output:
	// joevu [clerk] <nil>
	// Signature has expired
	// Invalid issuer
}

func ExampleMiddleware() {
	key, err := auth.GenerateKey(auth.AlgEdDSA)
	if err != nil {
		panic(err)
	}
	keys, err := auth.NewKeyring(key)
	if err != nil {
		panic(err)
	}
	// In another service: v := auth.NewRemoteKeySet("https://warehouse.example/.well-known/jwks.json", auth.RemoteOptions{})
	var v auth.Verifier = keys

	protected := auth.Middleware(v, auth.MiddlewareOptions{
		VerifyOptions: auth.VerifyOptions{Leeway: 5 * time.Second},
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := auth.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s, roles %v", claims.Subject, claims.Roles)
	}))

	call := func(authorization string) {
		req := httptest.NewRequest(http.MethodGet, "/orders", nil)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		protected.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"), strings.TrimSpace(string(body)))
	}

	now := time.Now()
	access := auth.NewClaims("joevu", auth.TypeAccess, now, 15*time.Minute)
	access.Roles = []string{"admin"}
	accessToken, _ := keys.Sign(access)
	refreshToken, _ := keys.Sign(auth.NewClaims("joevu", auth.TypeRefresh, now, 24*time.Hour))

	call("Bearer " + accessToken)
	call("")
	call("Token " + accessToken)
	call("Bearer " + refreshToken)
	// Output:
	// 200  hello joevu, roles [admin]
	// 401 Bearer realm="api" {"title":"Unauthorized","status":401,"detail":"Missing Authorization Header","code":"missing_token"}
	// 401 Bearer error="invalid_token" {"title":"Unauthorized","status":401,"detail":"Bad Authorization header. Expected value 'Bearer <JWT>'","code":"bad_authorization_header"}
	// 401 Bearer error="invalid_token" {"title":"Unauthorized","status":401,"detail":"Only access tokens are allowed","code":"wrong_token_type"}
}

func ExampleMarshalKey() {
	key, err := auth.GenerateKey(auth.AlgRS256)
	if err != nil {
		panic(err)
	}
	stored, err := auth.MarshalKey(key) // a secret: store it as one
	if err != nil {
		panic(err)
	}
	loaded, err := auth.UnmarshalKey(stored)
	if err != nil {
		panic(err)
	}
	fmt.Println(loaded.Algorithm, loaded.ID == key.ID, loaded.Private != nil)
	// Output:
	// RS256 true true
}
