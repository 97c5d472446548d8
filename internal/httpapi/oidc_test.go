package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
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
// against a real server on a real listener: NewProvider accepts the
// discovery document fetched from the URL the server is reached at (it
// answered "issuer":"http:" before), and the provider's verifier,
// configured as a resource server configures it, accepts an access token
// and refuses a refresh token, for each public-key algorithm. With default
// settings too: access tokens carry the issuer discovery publishes (the
// URL the login came to), which go-oidc requires (it refused them when
// they carried no iss without --issuer).
func TestGoOIDC(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{auth.AlgEdDSA, auth.AlgES256, auth.AlgRS256} {
		for _, tc := range []struct {
			name      string
			issuer    bool   // --issuer is the server's URL
			publicURL bool   // --public-url is the server's URL
			audience  string // --audience; "" = a resource server skips the client ID check
		}{
			{name: "defaults"},
			{name: "public URL", publicURL: true},
			{name: "issuer", issuer: true},
			{name: "issuer and audience", issuer: true, audience: "warehouse-api"},
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
					if tc.publicURL {
						c.PublicURL = base
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
				// Over the listener, as a client would: the tokens are
				// minted for the URL the login came to.
				access, refresh := listenerLogin(t, ts, base)

				tok, err := verifier.Verify(ctx, access)
				switch {
				case err != nil:
					t.Errorf("access token refused: %v", err)
				case tok.Subject != "joevu" || tok.Issuer != base:
					t.Errorf("access token: sub %q iss %q", tok.Subject, tok.Issuer)
				}
				if _, err := verifier.Verify(ctx, refresh); err == nil {
					t.Errorf("go-oidc accepted a refresh token as an access token")
				}
				// Our own server still takes both, at the same URL.
				for _, rq := range []struct{ method, path, token string }{
					{"GET", "/user", access}, {"POST", "/refresh", refresh},
				} {
					req, err := http.NewRequestWithContext(ctx, rq.method, base+rq.path, nil)
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("Authorization", "Bearer "+rq.token)
					res, err := ts.Client().Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						t.Errorf("%s %s: %d %s", rq.method, rq.path, res.StatusCode, body)
					}
				}
			})
		}
	}
}

// listenerLogin logs joevu in through the real listener at base.
func listenerLogin(t *testing.T, ts *httptest.Server, base string) (access, refresh string) {
	t.Helper()
	res, err := ts.Client().Post(base+"/login", "application/json", strings.NewReader(`{"username":"joevu","password":"glinteco"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %v", res.StatusCode, err)
	}
	return body.Access, body.Refresh
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
