package httpapi_test

import (
	"context"
	"encoding/json"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/httpapi"
)

// form posts an application/x-www-form-urlencoded body to /token.
func (e *env) form(vals url.Values, contentType string) resp {
	e.t.Helper()
	req := httptest.NewRequest("POST", "/token", strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", contentType)
	w := serve(e.t, e.srv, req)
	r := resp{ResponseRecorder: w}
	if err := json.Unmarshal(w.Body.Bytes(), &r.body); err != nil {
		e.t.Fatalf("/token body: %v: %s", err, w.Body)
	}
	return r
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		// No reuse grace: a second use of a refresh token is refused at once.
		e := newEnv(t, engine, func(c *httpapi.Config) { c.RefreshReuseInterval = 0 })
		access, refresh := e.login("joevu", "glinteco")
		const formCT = "application/x-www-form-urlencoded"
		cases := []struct {
			name   string
			vals   url.Values
			ct     string
			status int
			err    string // RFC 6749 error code; "" for success
		}{
			{"password grant", url.Values{"grant_type": {"password"}, "username": {"joevu"}, "password": {"glinteco"}, "scope": {""}}, formCT, 200, ""},
			{"password grant with charset", url.Values{"grant_type": {"password"}, "username": {"joevu"}, "password": {"glinteco"}}, formCT + "; charset=utf-8", 200, ""},
			{"wrong password", url.Values{"grant_type": {"password"}, "username": {"joevu"}, "password": {"x"}}, formCT, 400, "invalid_grant"},
			{"unknown user", url.Values{"grant_type": {"password"}, "username": {"nobody"}, "password": {"x"}}, formCT, 400, "invalid_grant"},
			{"no username", url.Values{"grant_type": {"password"}}, formCT, 400, "invalid_request"},
			{"no grant type", url.Values{"username": {"joevu"}}, formCT, 400, "invalid_request"},
			{"unsupported grant", url.Values{"grant_type": {"client_credentials"}}, formCT, 400, "unsupported_grant_type"},
			{"JSON body", url.Values{"grant_type": {"password"}}, "application/json", 400, "invalid_request"},
			{"refresh grant", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, formCT, 200, ""},
			{"refresh grant reused", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, formCT, 400, "invalid_grant"},
			{"refresh grant with access token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {access}}, formCT, 400, "invalid_grant"},
			{"refresh grant without token", url.Values{"grant_type": {"refresh_token"}}, formCT, 400, "invalid_request"},
		}
		for _, tc := range cases { // sequential: the reuse case depends on the one before
			r := e.form(tc.vals, tc.ct)
			if r.Code != tc.status {
				t.Fatalf("%s: status %d, want %d: %s", tc.name, r.Code, tc.status, r.Body)
			}
			if r.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("%s: Cache-Control %q", tc.name, r.Header().Get("Cache-Control"))
			}
			if tc.err != "" {
				if r.str("error") != tc.err || r.str("error_description") == "" || r.str("detail") == "" {
					t.Errorf("%s: body %s, want error %q", tc.name, r.Body, tc.err)
				}
				continue
			}
			if r.str("token_type") != "bearer" || r.str("access_token") == "" || r.str("refresh_token") == "" {
				t.Errorf("%s: body %s", tc.name, r.Body)
			}
			if u := e.do("GET", "/user", "", bearer(r.str("access_token"))); u.Code != 200 {
				t.Errorf("%s: token does not work on /user: %d", tc.name, u.Code)
			}
		}
	})
}

func TestOpenAPIAndDocs(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		r := e.do("GET", "/openapi.json", "")
		if r.Code != 200 {
			t.Fatal(r.Code)
		}
		var doc struct {
			OpenAPI    string
			Paths      map[string]map[string]json.RawMessage
			Components struct {
				SecuritySchemes map[string]struct {
					Type  string
					Flows struct {
						Password struct{ TokenURL string }
					}
				}
			}
		}
		if err := json.Unmarshal(r.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.OpenAPI != "3.1.0" {
			t.Errorf("openapi %q", doc.OpenAPI)
		}
		if s := doc.Components.SecuritySchemes; s["bearer"].Type != "http" || s["OAuth2PasswordBearer"].Flows.Password.TokenURL != "/token" {
			t.Errorf("security schemes %+v", s)
		}
		for path, method := range map[string]string{"/welcome": "get", "/login": "post", "/user": "get", "/refresh": "post",
			"/access-revoke": "delete", "/refresh-revoke": "delete", "/token": "post"} {
			if _, ok := doc.Paths[path][method]; !ok {
				t.Errorf("OpenAPI lacks %s %s", method, path)
			}
		}
		if !strings.Contains(string(doc.Paths["/token"]["post"]), "application/x-www-form-urlencoded") {
			t.Error("/token is not described as a form")
		}
		for _, tc := range []struct{ path, ctype, contains string }{
			{"/docs", "text/html", "/docs/warehouse-init.js"},
			{"/docs/", "text/html", "swagger-ui-bundle.js"},
			{"/docs/warehouse-init.js", "javascript", `url: "/openapi.json"`},
			{"/docs/swagger-ui-bundle.js", "javascript", "SwaggerUIBundle"},
			{"/docs/swagger-ui.css", "text/css", ".swagger-ui"},
			{"/docs/oauth2-redirect.html", "text/html", "oauth2"},
		} {
			r := e.do("GET", tc.path, "")
			if r.Code != 200 || !strings.Contains(r.Header().Get("Content-Type"), tc.ctype) || !strings.Contains(r.Body.String(), tc.contains) {
				t.Errorf("%s: %d %q", tc.path, r.Code, r.Header().Get("Content-Type"))
			}
			if strings.Contains(r.Body.String(), "petstore.swagger.io") || strings.Contains(r.Body.String(), "cdn.jsdelivr") || strings.Contains(r.Body.String(), "unpkg.com") {
				t.Errorf("%s loads something from the internet", tc.path)
			}
		}
		if r := e.do("GET", "/docs/nope.js", ""); r.Code != 404 {
			t.Errorf("missing asset: %d", r.Code)
		}
	})
}

func TestHealth(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		for _, p := range []string{"/healthz", "/readyz"} {
			if r := e.do("GET", p, ""); r.Code != 200 || r.str("status") != "ok" {
				t.Errorf("%s: %d %s", p, r.Code, r.Body)
			}
		}
	})
}

// TestDatabaseDown: with the database gone, what needs it answers 503 with
// Retry-After, and verifying tokens (memory only) keeps working.
func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		access, refresh := e.login("joevu", "glinteco")
		if err := e.db.Close(); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			method, path, body, auth string
			status                   int
		}{
			{"POST", "/login", `{"username":"joevu","password":"glinteco"}`, "", 503},
			{"GET", "/readyz", "", "", 503},
			{"POST", "/refresh", "", refresh, 503},
			{"DELETE", "/access-revoke", "", access, 503},
			{"GET", "/user", "", access, 200},
			{"GET", "/welcome", "", "", 200},
		}
		for _, tc := range cases {
			var h []string
			if tc.auth != "" {
				h = append(h, bearer(tc.auth))
			}
			r := e.do(tc.method, tc.path, tc.body, h...)
			if r.Code != tc.status {
				t.Errorf("%s %s: %d, want %d: %s", tc.method, tc.path, r.Code, tc.status, r.Body)
				continue
			}
			if tc.status == 503 && (r.Header().Get("Retry-After") == "" || r.str("code") != warehouse.EUNAVAILABLE) {
				t.Errorf("%s %s: 503 without Retry-After or code: %s", tc.method, tc.path, r.Body)
			}
		}
	})
}

// TestTwoInstancesShareState: two servers on one database file, as two
// processes would be. A revocation or a user change made through one is
// enforced by the other once it has synced.
func TestTwoInstancesShareState(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		a := newEnv(t, engine)
		b := &env{t: t, url: a.url, hasher: a.hasher, clock: a.clock}
		b.open()
		access, _ := a.login("joevu", "glinteco")
		if r := b.do("GET", "/user", "", bearer(access)); r.Code != 200 {
			t.Fatalf("token from A on B: %d %s", r.Code, r.Body)
		}
		if r := b.do("DELETE", "/access-revoke", "", bearer(access)); r.Code != 200 {
			t.Fatalf("revoke on B: %d", r.Code)
		}
		if err := a.state.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if r := a.do("GET", "/user", "", bearer(access)); r.Code != 401 || r.str("detail") != "Token has been revoked" {
			t.Fatalf("revoked on B, used on A: %d %s", r.Code, r.Body)
		}

		vera, _ := a.login("vera", "viewer-pass")
		off := false
		if _, err := b.db.UpdateUser(context.Background(), "vera", warehouse.UserUpdate{Active: &off}, "test"); err != nil {
			t.Fatal(err)
		}
		if err := a.state.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if r := a.do("GET", "/user", "", bearer(vera)); r.Code != 401 || r.str("code") != "session_ended" {
			t.Fatalf("disabled on B, used on A: %d %s", r.Code, r.Body)
		}
		if r := a.do("POST", "/login", `{"username":"vera","password":"viewer-pass"}`); r.Code != http.StatusUnauthorized {
			t.Fatalf("disabled user logs in: %d", r.Code)
		}
	})
}

// TestRehashOnLogin: a hash made with other parameters is upgraded at the
// next successful login.
func TestRehashOnLogin(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		ctx := context.Background()
		before, err := e.db.UserByName(ctx, "vera")
		if err != nil {
			t.Fatal(err)
		}
		old := strings.Replace(before.PasswordHash, "m=64,", "m=128,", 1)
		if old == before.PasswordHash {
			t.Fatalf("unexpected hash format %q", before.PasswordHash)
		}
		// A hash with m=128 of the same password.
		h, err := newHasherWithMemory(128).Hash(ctx, "viewer-pass")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.UpdateUser(ctx, "vera", warehouse.UserUpdate{PasswordHash: &h}, "test"); err != nil {
			t.Fatal(err)
		}
		e.login("vera", "viewer-pass")
		after, err := e.db.UserByName(ctx, "vera")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(after.PasswordHash, "m=64,") {
			t.Errorf("hash not upgraded: %q", after.PasswordHash)
		}
	})
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		if r := e.do("GET", "/welcome", "", "X-Request-ID: abc-123"); r.Header().Get("X-Request-ID") != "abc-123" {
			t.Errorf("request id not echoed: %q", r.Header().Get("X-Request-ID"))
		}
		if r := e.do("GET", "/welcome", "", "X-Request-ID: <script>"); r.Header().Get("X-Request-ID") == "<script>" || r.Header().Get("X-Request-ID") == "" {
			t.Errorf("bad request id: %q", r.Header().Get("X-Request-ID"))
		}
	})
}
