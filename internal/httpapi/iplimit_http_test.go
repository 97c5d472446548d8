package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/httpapi"
)

// TestLoginRateLimitPerIP: past the burst, password logins from one
// address answer 429 with Retry-After, on /login and /token alike; other
// addresses are not affected.
func TestLoginRateLimitPerIP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", func(c *httpapi.Config) { c.LoginRatePerIP, c.LoginBurstPerIP = 0.01, 3 })
	send := func(path, body, ctype, addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.RemoteAddr = addr
		return serve(t, e.srv, req)
	}
	login := func(addr string) *httptest.ResponseRecorder {
		return send("/login", `{"username":"joevu","password":"glinteco"}`, "application/json", addr)
	}
	for i := range 3 {
		if w := login("198.51.100.7:4000"); w.Code != http.StatusOK {
			t.Fatalf("login %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	w := login("198.51.100.7:4001")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "too_many_requests") {
		t.Fatalf("4th login: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	w = send("/token", "grant_type=password&username=joevu&password=glinteco", "application/x-www-form-urlencoded", "198.51.100.7:4002")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("/token from the same address: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if w := login("203.0.113.9:5000"); w.Code != http.StatusOK {
		t.Fatalf("another address: %d %s", w.Code, w.Body)
	}
}
