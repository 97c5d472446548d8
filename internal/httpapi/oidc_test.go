package httpapi_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestGoOIDC runs github.com/coreos/go-oidc/v3, as another service would,
// against a real server on a real listener without --public-url:
// NewProvider accepts the discovery document fetched from the URL the
// server is reached at (it answered "issuer":"http:" before), and the
// provider's verifier, configured as a resource server configures it,
// accepts an access token and refuses a refresh token, for each public-key
// algorithm.
//
// go-oidc requires the token's iss to equal the discovered issuer, so a
// verifier can only accept our tokens when --issuer is that URL; without
// --issuer tokens carry no iss (the tutorial's claims) and it refuses them.
func TestGoOIDC(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{auth.AlgEdDSA, auth.AlgES256, auth.AlgRS256} {
		for _, tc := range []struct {
			name     string
			issuer   bool   // --issuer is the server's URL
			audience string // --audience; "" = a resource server skips the client ID check
		}{
			{"defaults", false, ""},
			{"issuer", true, ""},
			{"issuer and audience", true, "warehouse-api"},
		} {
			t.Run(alg+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				ts := httptest.NewUnstartedServer(nil)
				base := "http://" + ts.Listener.Addr().String()
				e := newEnv(t, pgtest.SQLite, func(c *httpapi.Config) {
					c.Audience = tc.audience
					if tc.issuer {
						c.Issuer = base
					}
				})
				e.algorithm = alg
				e.restart() // now signing with alg
				ts.Config.Handler = e.srv
				ts.Start()
				t.Cleanup(ts.Close)

				ctx := oidc.ClientContext(context.Background(), ts.Client())
				provider, err := oidc.NewProvider(ctx, base)
				if err != nil {
					t.Fatalf("NewProvider(%s): %v", base, err)
				}
				cfg := &oidc.Config{ClientID: tc.audience, SkipClientIDCheck: tc.audience == ""}
				verifier := provider.Verifier(cfg)
				access, refresh := e.login("joevu", "glinteco")

				tok, err := verifier.Verify(ctx, access)
				switch {
				case !tc.issuer:
					if err == nil || !strings.Contains(err.Error(), "issued by a different provider") {
						t.Errorf("access token without iss: %v", err)
					}
				case err != nil:
					t.Errorf("access token refused: %v", err)
				case tok.Subject != "joevu" || tok.Issuer != base:
					t.Errorf("access token: sub %q iss %q", tok.Subject, tok.Issuer)
				}
				if _, err := verifier.Verify(ctx, refresh); err == nil {
					t.Errorf("go-oidc accepted a refresh token as an access token")
				}
				// Our own server still takes the refresh token.
				if r := e.do("POST", "/refresh", "", bearer(refresh)); r.Code != 200 {
					t.Errorf("/refresh: %d %s", r.Code, r.Body)
				}
			})
		}
	}
}

// TestJWXRefusesRefreshToken: github.com/lestrrat-go/jwx/v3, configured as
// the README tells other services (our JWKS, issuer and audience), accepts
// an access token and refuses a refresh token (it accepted both before).
func TestJWXRefusesRefreshToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgtest.SQLite, func(c *httpapi.Config) { c.Issuer, c.Audience = "https://wh.example", "warehouse-api" })
	e.algorithm = auth.AlgES256
	e.restart()
	set, err := jwk.Parse(e.do("GET", "/.well-known/jwks.json", "").Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	access, refresh := e.login("joevu", "glinteco")
	parse := func(tok string) error {
		_, err := jwt.ParseString(tok, jwt.WithKeySet(set), jwt.WithIssuer("https://wh.example"), jwt.WithAudience("warehouse-api"), jwt.WithValidate(true))
		return err
	}
	if err := parse(access); err != nil {
		t.Errorf("access token refused: %v", err)
	}
	if err := parse(refresh); err == nil {
		t.Errorf("jwx accepted a refresh token as an access token")
	}
}
