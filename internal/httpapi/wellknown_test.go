package httpapi_test

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// request is one hand-made request to the real router: peer and Host as a
// client or a proxy would send them.
type request struct {
	method, path, body, ctype string
	host, peer                string
	tls                       bool
	headers                   map[string]string
}

func (e *env) send(rq request) *httptest.ResponseRecorder {
	e.t.Helper()
	if rq.method == "" {
		rq.method = "GET"
	}
	req := httptest.NewRequest(rq.method, rq.path, strings.NewReader(rq.body))
	if rq.ctype != "" {
		req.Header.Set("Content-Type", rq.ctype)
	}
	if rq.host != "" {
		req.Host = rq.host
	}
	if rq.peer != "" {
		req.RemoteAddr = rq.peer
	}
	if rq.tls {
		req.TLS = &tls.ConnectionState{}
	}
	for k, v := range rq.headers {
		req.Header.Set(k, v)
	}
	return serve(e.t, e.srv, req)
}

func trustedProxies(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	p, err := httpapi.ParseTrustedProxies(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDiscoveryOrigin: without --public-url the documents name the URL the
// request came to (it answered "http:" before: Go moves Host out of the
// header map), X-Forwarded-* count only from --trusted-proxies, and a
// document built from the request is not for shared caches.
func TestDiscoveryOrigin(t *testing.T) {
	t.Parallel()
	const proxy = "10.1.2.3:5555"
	spoof := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "X-Forwarded-For": "203.0.113.66"}
	tests := []struct {
		name       string
		publicURL  string
		issuer     string
		trusted    string
		rq         request
		wantBase   string
		wantIssuer string // "" = wantBase
		wantPublic bool
	}{
		{name: "plain request", rq: request{host: "wh.local:8000", peer: "192.0.2.1:1234"}, wantBase: "http://wh.local:8000"},
		{name: "TLS request", rq: request{host: "wh.example", peer: "192.0.2.1:1234", tls: true}, wantBase: "https://wh.example"},
		{name: "IPv6 host", rq: request{host: "[::1]:8000", peer: "[::1]:40000"}, wantBase: "http://[::1]:8000"},
		{name: "spoofed headers, no trusted proxies", rq: request{host: "wh.local", peer: proxy, headers: spoof}, wantBase: "http://wh.local"},
		{name: "spoofed headers from a peer not trusted", trusted: "10.9.0.0/16", rq: request{host: "wh.local", peer: proxy, headers: spoof}, wantBase: "http://wh.local"},
		{name: "trusted proxy", trusted: "10.0.0.0/8", rq: request{host: "backend:8000", peer: proxy, headers: spoof}, wantBase: "https://evil.example"},
		{name: "trusted proxy as a bare address", trusted: "10.1.2.3", rq: request{host: "backend:8000", peer: proxy,
			headers: map[string]string{"X-Forwarded-Proto": "HTTPS", "X-Forwarded-Host": "wh.example:8443"}}, wantBase: "https://wh.example:8443"},
		{name: "trusted proxy, a host carrying a path", trusted: "10.0.0.0/8", rq: request{host: "backend:8000", peer: proxy,
			headers: map[string]string{"X-Forwarded-Proto": "ftp", "X-Forwarded-Host": "evil.example/x"}}, wantBase: "http://backend:8000"},
		{name: "public URL wins", publicURL: "https://api.example/", trusted: "10.0.0.0/8", rq: request{host: "backend", peer: proxy, headers: spoof},
			wantBase: "https://api.example", wantPublic: true},
		{name: "issuer configured", issuer: "https://id.example", rq: request{host: "wh.local", peer: "192.0.2.1:1"},
			wantBase: "http://wh.local", wantIssuer: "https://id.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, pgtest.SQLite, func(c *httpapi.Config) {
				c.PublicURL, c.Issuer, c.TrustedProxies = tt.publicURL, tt.issuer, trustedProxies(t, tt.trusted)
			})
			wantIssuer := tt.wantIssuer
			if wantIssuer == "" {
				wantIssuer = tt.wantBase
			}
			for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
				rq := tt.rq
				rq.path = path
				w := e.send(rq)
				if w.Code != http.StatusOK {
					t.Fatalf("%s: %d %s", path, w.Code, w.Body)
				}
				var doc map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
					t.Fatal(err)
				}
				if doc["issuer"] != wantIssuer || doc["token_endpoint"] != tt.wantBase+"/token" ||
					doc["jwks_uri"] != tt.wantBase+"/.well-known/jwks.json" || doc["revocation_endpoint"] != tt.wantBase+"/revoke" {
					t.Errorf("%s: %s", path, w.Body)
				}
				cc, vary := w.Header().Get("Cache-Control"), w.Header().Get("Vary")
				if tt.wantPublic {
					if !strings.HasPrefix(cc, "public") || vary != "" {
						t.Errorf("%s: Cache-Control %q Vary %q, want public", path, cc, vary)
					}
				} else if !strings.HasPrefix(cc, "private") || vary != "Host, X-Forwarded-Host, X-Forwarded-Proto" {
					t.Errorf("%s: Cache-Control %q Vary %q, want private with Vary", path, cc, vary)
				}
			}
		})
	}
}

// TestTrustedProxiesParse: CIDRs and bare addresses, and a clear error.
func TestTrustedProxiesParse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want, err string
	}{
		{in: "", want: "[]"},
		{in: "10.0.0.0/8, 192.168.1.7 ,::1", want: "[10.0.0.0/8 192.168.1.7/32 ::1/128]"},
		{in: "10.0.0.1/8", want: "[10.0.0.0/8]"},
		{in: "10.0.0.0/8,localhost", err: `trusted proxy "localhost" is neither a CIDR`},
	} {
		got, err := httpapi.ParseTrustedProxies(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		s := "["
		for i, p := range got {
			if i > 0 {
				s += " "
			}
			s += p.String()
		}
		if s += "]"; err != nil || s != tt.want {
			t.Errorf("%q: %s %v, want %s", tt.in, s, err, tt.want)
		}
	}
}

// TestClientIPBehindProxies: the per-IP login limit and the session's
// recorded address use the same client address as discovery: from a
// trusted proxy the X-Forwarded-For client, otherwise the TCP peer, whatever
// X-Forwarded-For says.
func TestClientIPBehindProxies(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, func(c *httpapi.Config) {
			c.LoginRatePerIP, c.LoginBurstPerIP = 0.01, 1
			c.TrustedProxies = trustedProxies(t, "10.0.0.0/8")
		})
		login := func(peer, xff string) *httptest.ResponseRecorder {
			return e.send(request{method: "POST", path: "/login", ctype: "application/json", peer: peer,
				body: `{"username":"joevu","password":"glinteco"}`, headers: map[string]string{"X-Forwarded-For": xff}})
		}
		steps := []struct {
			name, peer, xff string
			want            int
			wantIP          string
		}{
			{"direct client", "198.51.100.7:1", "", 200, "198.51.100.7"},
			{"same client spoofing another address", "198.51.100.7:2", "203.0.113.1", 429, ""},
			{"client behind the proxy", "10.0.0.5:1", "203.0.113.1", 200, "203.0.113.1"},
			{"another client behind the proxy", "10.0.0.5:2", "203.0.113.2, 10.0.0.9", 200, "203.0.113.2"},
			{"first client again via the proxy", "10.0.0.6:3", "203.0.113.1", 429, ""},
			{"a client prepending a spoofed hop", "10.0.0.5:4", "1.2.3.4, 203.0.113.2", 429, ""},
			{"garbage in X-Forwarded-For stops at the proxy", "10.0.0.7:1", "not-an-ip", 200, "10.0.0.7"},
		}
		for _, st := range steps {
			w := login(st.peer, st.xff)
			if w.Code != st.want {
				t.Fatalf("%s: %d %s", st.name, w.Code, w.Body)
			}
			if st.wantIP == "" {
				continue
			}
			var pair struct {
				Access string `json:"access_token"`
			}
			_ = json.Unmarshal(w.Body.Bytes(), &pair)
			r := e.do("GET", "/sessions", "", bearer(pair.Access))
			var list []struct {
				IP      string `json:"ip"`
				Current bool   `json:"current"`
			}
			if err := json.Unmarshal(r.Body.Bytes(), &list); err != nil {
				t.Fatalf("%s: sessions %d %s", st.name, r.Code, r.Body)
			}
			for _, s := range list {
				if s.Current && s.IP != st.wantIP {
					t.Errorf("%s: session ip %q, want %q", st.name, s.IP, st.wantIP)
				}
			}
		}
	})
}

// TestAuthServerMetadata: the RFC 8414 document has every REQUIRED field,
// advertises nothing that is not served (no authorization endpoint, so no
// response type; no implicit "token"), and every endpoint it names works.
func TestAuthServerMetadata(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
			w := e.send(request{path: path, host: "wh.local"})
			var doc map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != 200 {
				t.Fatalf("%s: %d %s", path, w.Code, w.Body)
			}
			required := []string{"issuer", "token_endpoint", "response_types_supported", "jwks_uri", "grant_types_supported",
				"token_endpoint_auth_methods_supported", "revocation_endpoint", "revocation_endpoint_auth_methods_supported"}
			if strings.Contains(path, "openid") {
				// OpenID Connect Discovery 1.0 section 3: REQUIRED.
				required = append(required, "subject_types_supported", "id_token_signing_alg_values_supported")
			}
			for _, f := range required {
				if _, ok := doc[f]; !ok {
					t.Errorf("%s: %s missing", path, f)
				}
			}
			if _, ok := doc["authorization_endpoint"]; ok {
				t.Errorf("%s: authorization_endpoint advertised but not served", path)
			}
			if rt, _ := doc["response_types_supported"].([]any); len(rt) != 0 {
				t.Errorf("%s: response_types_supported %v without an authorization endpoint", path, rt)
			}
			if !strings.Contains(path, "openid") {
				if _, ok := doc["id_token_signing_alg_values_supported"]; ok {
					t.Errorf("%s: ID token algorithms while no ID token is issued", path)
				}
			}
			for f, want := range map[string]string{"grant_types_supported": "[password refresh_token]",
				"token_endpoint_auth_methods_supported": "[none]", "revocation_endpoint_auth_methods_supported": "[none]"} {
				if got := jsonList(doc[f]); got != want {
					t.Errorf("%s: %s = %s, want %s", path, f, got, want)
				}
			}
			// Each endpoint named is served, as described.
			endpoint := func(f string) string {
				u, err := url.Parse(doc[f].(string))
				if err != nil || u.Host != "wh.local" {
					t.Fatalf("%s: %s = %v", path, f, doc[f])
				}
				return u.Path
			}
			if w := e.send(request{path: endpoint("jwks_uri")}); w.Code != 200 {
				t.Errorf("jwks: %d", w.Code)
			}
			tok := e.send(request{method: "POST", path: endpoint("token_endpoint"), ctype: "application/x-www-form-urlencoded",
				body: "grant_type=password&username=joevu&password=glinteco"})
			var pair map[string]any
			if err := json.Unmarshal(tok.Body.Bytes(), &pair); err != nil || tok.Code != 200 {
				t.Fatalf("token endpoint: %d %s", tok.Code, tok.Body)
			}
			rev := e.send(request{method: "POST", path: endpoint("revocation_endpoint"), ctype: "application/x-www-form-urlencoded",
				body: "token=" + pair["access_token"].(string)})
			if rev.Code != 200 {
				t.Fatalf("revocation endpoint: %d %s", rev.Code, rev.Body)
			}
		}
	})
}

func jsonList(v any) string {
	list, _ := v.([]any)
	s := "["
	for i, x := range list {
		if i > 0 {
			s += " "
		}
		b, _ := json.Marshal(x)
		s += strings.Trim(string(b), `"`)
	}
	return s + "]"
}

// TestRevokeRFC7009: POST /revoke revokes access and refresh tokens as
// DELETE /access-revoke and /refresh-revoke do, answers 200 for tokens it
// cannot use (RFC 7009 section 2.2) and RFC 6749 section 5.2 errors for
// bad requests.
func TestRevokeRFC7009(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		const form = "application/x-www-form-urlencoded"
		access, refresh := e.login("joevu", "glinteco")
		access2, refresh2 := e.login("joevu", "glinteco")
		access3, _ := e.login("joevu", "glinteco")
		forged := access[:len(access)-4] + "AAAA"
		tests := []struct {
			name, ctype, body string
			want              int
			wantErr           string
			// refused: this token no longer works where it is used.
			refused, refusedAt string
			stillWorks         string
		}{
			{"access token", form, "token=" + access + "&token_type_hint=access_token", 200, "", access, "/user", access2},
			{"already revoked", form, "token=" + access, 200, "", access, "/user", access2},
			{"refresh token", form, "token=" + refresh + "&token_type_hint=refresh_token", 200, "", refresh, "/refresh", access2},
			{"wrong hint: a refresh token named an access token", form, "token=" + refresh2 + "&token_type_hint=access_token", 200, "", refresh2, "/refresh", access2},
			{"wrong hint: an access token named a refresh token", form, "token=" + access2 + "&token_type_hint=refresh_token", 200, "", access2, "/user", access3},
			{"unknown token (bad signature)", form, "token=" + forged, 200, "", "", "", access3},
			{"malformed token", form, "token=not.a.jwt", 200, "", "", "", access3},
			{"garbage token", form, "token=%FF%FE", 200, "", "", "", access3},
			{"unsupported hint", form, "token=" + access3 + "&token_type_hint=id_token", 400, "unsupported_token_type", "", "", access3},
			{"missing token", form, "token_type_hint=access_token", 400, "invalid_request", "", "", access3},
			{"empty token", form, "token=", 400, "invalid_request", "", "", access3},
			{"empty body", form, "", 400, "invalid_request", "", "", access3},
			{"JSON body", "application/json", `{"token":"` + access3 + `"}`, 400, "invalid_request", "", "", access3},
			{"not a form", form, "token=%zz", 400, "invalid_request", "", "", access3},
		}
		for _, tt := range tests {
			w := e.send(request{method: "POST", path: "/revoke", ctype: tt.ctype, body: tt.body})
			if w.Code != tt.want {
				t.Fatalf("%s: %d %s", tt.name, w.Code, w.Body)
			}
			if tt.want == 200 {
				if w.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("%s: Cache-Control %q", tt.name, w.Header().Get("Cache-Control"))
				}
			} else {
				var oe struct {
					Err  string `json:"error"`
					Desc string `json:"error_description"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &oe); err != nil || oe.Err != tt.wantErr || oe.Desc == "" ||
					w.Header().Get("Content-Type") != "application/json" {
					t.Errorf("%s: %s %s, want error %s", tt.name, w.Header().Get("Content-Type"), w.Body, tt.wantErr)
				}
			}
			if tt.refused != "" {
				method := "GET"
				if tt.refusedAt == "/refresh" {
					method = "POST"
				}
				if r := e.do(method, tt.refusedAt, "", bearer(tt.refused)); r.Code != 401 || r.str("detail") != "Token has been revoked" {
					t.Errorf("%s: %s %s after revoke: %d %s", tt.name, method, tt.refusedAt, r.Code, r.Body)
				}
			}
			if r := e.do("GET", "/user", "", bearer(tt.stillWorks)); r.Code != 200 {
				t.Errorf("%s: an unrelated token stopped working: %d %s", tt.name, r.Code, r.Body)
			}
		}
		// The revocation survives a restart, as /access-revoke's does.
		e.restart()
		if r := e.do("GET", "/user", "", bearer(access)); r.Code != 401 {
			t.Errorf("after restart: %d %s", r.Code, r.Body)
		}
		_ = io.Discard
	})
}
