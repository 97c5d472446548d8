package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestIssuerFromRequest: access tokens always carry iss, the issuer that
// discovery publishes: --issuer, else --public-url, else the URL the login
// or refresh came to. With no issuer configured, a token is accepted only
// at the origin it was minted at (a token from http://a is refused at
// http://b); with --public-url or --issuer it is accepted whatever Host a
// request names. Refresh tokens carry no iss, so a session can refresh at
// another origin and gets tokens for that one.
func TestIssuerFromRequest(t *testing.T) {
	t.Parallel()
	const proxy = "10.1.2.3:5555"
	hostA := request{host: "a.example:8000", peer: "192.0.2.1:1234"}
	hostB := request{host: "b.example:8000", peer: "192.0.2.1:1234"}
	viaProxy := request{host: "backend:8000", peer: proxy,
		headers: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "wh.example"}}
	tests := []struct {
		name    string
		cfg     func(*httpapi.Config)
		mint    request // where the user logs in
		wantIss string
		accept  []request // where the access token is then accepted
		refuse  []request // and where it is refused as from another issuer
		// A refresh at refreshAt mints an access token with refreshIss.
		refreshAt  request
		refreshIss string
	}{
		{name: "no issuer configured", mint: hostA, wantIss: "http://a.example:8000",
			accept:    []request{hostA, {host: "A.Example:8000", peer: "198.51.100.9:1"}},
			refuse:    []request{hostB, {host: "a.example:8000", peer: "192.0.2.1:1234", tls: true}, {host: "a.example", peer: "192.0.2.1:1234"}},
			refreshAt: hostB, refreshIss: "http://b.example:8000"},
		{name: "TLS", mint: request{host: "a.example", peer: "192.0.2.1:1", tls: true}, wantIss: "https://a.example",
			accept:    []request{{host: "a.example", peer: "192.0.2.1:2", tls: true}},
			refuse:    []request{{host: "a.example", peer: "192.0.2.1:2"}},
			refreshAt: hostA, refreshIss: "http://a.example:8000"},
		{name: "public URL", cfg: func(c *httpapi.Config) { c.PublicURL = "https://api.example/" }, mint: hostA, wantIss: "https://api.example",
			accept: []request{hostA, hostB}, refreshAt: hostB, refreshIss: "https://api.example"},
		{name: "issuer", cfg: func(c *httpapi.Config) { c.Issuer, c.PublicURL = "https://id.example", "https://api.example" }, mint: hostA,
			wantIss: "https://id.example", accept: []request{hostA, hostB}, refreshAt: hostB, refreshIss: "https://id.example"},
		{name: "behind a trusted proxy", cfg: func(c *httpapi.Config) { c.TrustedProxies = trustedProxies(t, "10.0.0.0/8") },
			mint: viaProxy, wantIss: "https://wh.example",
			accept: []request{viaProxy},
			// The backend's own address, and a client that is not the proxy
			// claiming the proxy's headers.
			refuse:    []request{{host: "backend:8000", peer: proxy}, {host: "backend:8000", peer: "192.0.2.1:1", headers: viaProxy.headers}},
			refreshAt: request{host: "backend:8000", peer: proxy}, refreshIss: "http://backend:8000"},
	}
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var cfg []func(*httpapi.Config)
				if tt.cfg != nil {
					cfg = append(cfg, tt.cfg)
				}
				e := newEnv(t, engine, cfg...)
				rq := tt.mint
				rq.method, rq.path, rq.ctype = "POST", "/login", "application/json"
				rq.body = `{"username":"joevu","password":"glinteco"}`
				access, refresh := tokenPair(t, e.send(rq))
				checkIss(t, "login access token", access, tt.wantIss)
				checkIss(t, "refresh token", refresh, "")

				for _, at := range tt.accept {
					for _, path := range userPaths(at) {
						path.headers = withAuth(path.headers, access)
						if w := e.send(path); w.Code != http.StatusOK {
							t.Errorf("GET /user at %s (TLS %v, peer %s): %d %s", path.host, path.tls, path.peer, w.Code, w.Body)
						}
					}
				}
				for _, at := range tt.refuse {
					for _, path := range userPaths(at) {
						path.headers = withAuth(path.headers, access)
						w := e.send(path)
						var p struct{ Code, Detail string }
						_ = json.Unmarshal(w.Body.Bytes(), &p)
						if w.Code != http.StatusUnauthorized || p.Code != "invalid_issuer" || p.Detail != "Invalid issuer" ||
							w.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
							t.Errorf("GET /user at %s (TLS %v, peer %s): %d %s, want 401 invalid_issuer", path.host, path.tls, path.peer, w.Code, w.Body)
						}
					}
				}

				// The refresh token has no iss: a refresh elsewhere works, and
				// mints for the issuer of where it was done.
				rq = tt.refreshAt
				rq.method, rq.path, rq.headers = "POST", "/refresh", withAuth(tt.refreshAt.headers, refresh)
				next, _ := tokenPair(t, e.send(rq))
				checkIss(t, "refreshed access token", next, tt.refreshIss)
				for _, path := range userPaths(tt.refreshAt) {
					path.headers = withAuth(path.headers, next)
					if w := e.send(path); w.Code != http.StatusOK {
						t.Errorf("refreshed token at %s: %d %s", path.host, w.Code, w.Body)
					}
				}
			})
		}
	})
}

// TestTokenWithoutIss: without --issuer, a token without iss (the
// tutorial's, or ours from before iss was set by default) is still
// accepted wherever it is presented, and a token endpoint login also
// mints for the request's origin.
func TestTokenWithoutIss(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgtest.SQLite)
	legacy := craft(e.secret, "HS256", `{"alg":"HS256","typ":"JWT"}`, claimsJSON(t, nil))
	for _, host := range []string{"a.example", "b.example"} {
		w := e.send(request{path: "/user", host: host, headers: map[string]string{"Authorization": "Bearer " + legacy}})
		if w.Code != http.StatusOK {
			t.Errorf("token without iss at %s: %d %s", host, w.Code, w.Body)
		}
	}
	w := e.send(request{method: "POST", path: "/token", host: "c.example:9000", ctype: "application/x-www-form-urlencoded",
		body: "grant_type=password&username=joevu&password=glinteco"})
	access, _ := tokenPair(t, w)
	checkIss(t, "POST /token access token", access, "http://c.example:9000")
}

// userPaths are GET /user at rq through the fast path and through Huma's
// (an Accept the fast path leaves to Huma), with the token rq carries.
func userPaths(rq request) []request {
	fast, slow := rq, rq
	fast.method, fast.path = "GET", "/user"
	slow.method, slow.path = "GET", "/user"
	slow.headers = map[string]string{"Accept": "application/json, */*"}
	for k, v := range rq.headers {
		slow.headers[k] = v
	}
	return []request{fast, slow}
}

func withAuth(h map[string]string, tok string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	out["Authorization"] = "Bearer " + tok
	return out
}

// tokenPair reads a token response.
func tokenPair(t *testing.T, w *httptest.ResponseRecorder) (access, refresh string) {
	t.Helper()
	var body struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Access == "" {
		t.Fatalf("token response: %d %s", w.Code, w.Body)
	}
	return body.Access, body.Refresh
}

// checkIss checks a token's iss (want "": none).
func checkIss(t *testing.T, what, tok, want string) {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal([]byte(decodeSegment(t, tok, 1)), &c); err != nil {
		t.Fatal(err)
	}
	iss, has := c["iss"]
	if want == "" && has || want != "" && iss != want {
		t.Errorf("%s: iss %v, want %q", what, iss, want)
	}
}
