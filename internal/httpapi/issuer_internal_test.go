package httpapi

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
)

// originIs must agree with origin().baseURL() (its shortcut skips the
// Host validation and the proxy walk), and decide the common case without
// allocating: it runs on every GET /user whose token has iss.
func TestOriginIsAgreesWithOrigin(t *testing.T) {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8000}
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name    string
		host    string
		peer    string
		tls     bool
		headers map[string]string
		trusted bool
	}{
		{name: "plain", host: "wh.local:8000", peer: "192.0.2.1:1"},
		{name: "TLS", host: "wh.example", peer: "192.0.2.1:1", tls: true},
		{name: "IPv6", host: "[::1]:8000", peer: "[::1]:2"},
		{name: "no Host", host: "", peer: "192.0.2.1:1"},
		{name: "Host with a path", host: "evil.example/x", peer: "192.0.2.1:1"},
		{name: "forwarded, not trusted", host: "backend", peer: "10.1.2.3:1", headers: map[string]string{"X-Forwarded-Host": "wh.example", "X-Forwarded-Proto": "https"}},
		{name: "forwarded, trusted", host: "backend", peer: "10.1.2.3:1", trusted: true, headers: map[string]string{"X-Forwarded-Host": "wh.example", "X-Forwarded-Proto": "https"}},
		{name: "trusted, not forwarded", host: "backend:8000", peer: "10.1.2.3:1", trusted: true},
		{name: "trusted configured, direct client", host: "wh.local", peer: "192.0.2.9:1", trusted: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{}
			if tc.trusted {
				s.cfg.TrustedProxies = proxies
			}
			r := httptest.NewRequest("GET", "/user", nil)
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, local))
			r.Host, r.RemoteAddr = tc.host, tc.peer
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			want := s.origin(r).baseURL()
			for _, base := range []string{want, "http://" + tc.host, "https://" + tc.host, "http://other.example", want + "x", "http:/" + want[len("http:"):]} {
				if got := s.originIs(r, base); got != (base == want) {
					t.Errorf("originIs(%q) = %v; origin is %q", base, got, want)
				}
			}
			if n := testing.AllocsPerRun(100, func() { s.originIs(r, want) }); n != 0 && !tc.trusted && plainHost(tc.host) {
				t.Errorf("originIs allocates %v times on a direct request with a plain Host", n)
			}
		})
	}
}

func BenchmarkIssuerOK(b *testing.B) {
	s := &Server{}
	r := httptest.NewRequest("GET", "/user", nil)
	b.ReportAllocs()
	for b.Loop() {
		if !s.issuerOK(r, "http://example.com") {
			b.Fatal("refused")
		}
	}
}

// plainHost is validHost's shortcut: it may only accept what url.Parse
// accepts as a bare host.
func TestPlainHostIsValid(t *testing.T) {
	parsed := func(h string) bool {
		u, err := url.Parse("http://" + h)
		return err == nil && u.Host == h && u.User == nil && u.Path == ""
	}
	for _, h := range []string{"a", "wh.local:8000", "A_B-c.d:65536", "1.2.3.4:0", "x:", ":80", "a:80:90", "a b", "a%41", "[::1]:80", "a:8o", "-.-"} {
		if plainHost(h) && !parsed(h) {
			t.Errorf("plainHost(%q) but url.Parse refuses it", h)
		}
	}
	for _, h := range []string{"wh.local:8000", "localhost", "127.0.0.1:8000"} {
		if !plainHost(h) {
			t.Errorf("plainHost(%q) = false", h)
		}
	}
}
