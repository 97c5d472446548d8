package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestCORS: without --cors-origins no answer carries an Access-Control-*
// header and a preflight is answered as it always was; with an allowlist,
// an allowlisted origin's preflight gets 204 with the methods and headers,
// its requests get its origin and credentials, and every other origin
// gets nothing; every answer then varies by Origin.
func TestCORS(t *testing.T) {
	t.Parallel()
	const app = "https://app.example.com"
	off := newEnv(t, pgtest.SQLite)
	on := newEnv(t, pgtest.SQLite, func(c *httpapi.Config) {
		c.CORSOrigins = []string{app, "http://localhost:5173"}
	})
	access, _ := on.login("joevu", "glinteco")
	preflight := func(origin, method string) []string {
		return []string{"Origin: " + origin, "Access-Control-Request-Method: " + method, "Access-Control-Request-Headers: authorization, content-type"}
	}
	for _, tc := range []struct {
		name    string
		e       *env
		method  string
		path    string
		headers []string
		status  int
		allowed bool // the answer grants the origin
	}{
		{"off: preflight", off, "OPTIONS", "/api/v1/movements", preflight(app, "POST"), http.StatusMethodNotAllowed, false},
		{"off: GET from an origin", off, "GET", "/welcome", []string{"Origin: " + app}, http.StatusOK, false},
		{"preflight POST", on, "OPTIONS", "/api/v1/movements", preflight(app, "POST"), http.StatusNoContent, true},
		{"preflight PATCH", on, "OPTIONS", "/api/v1/items/x", preflight(app, "PATCH"), http.StatusNoContent, true},
		{"preflight DELETE, other allowed origin", on, "OPTIONS", "/api/v1/items/x", preflight("http://localhost:5173", "DELETE"), http.StatusNoContent, true},
		{"preflight of a method we lack", on, "OPTIONS", "/welcome", preflight(app, "TRACE"), http.StatusMethodNotAllowed, false},
		{"preflight from another origin", on, "OPTIONS", "/api/v1/movements", preflight("https://evil.example", "POST"), http.StatusMethodNotAllowed, false},
		{"preflight from a lookalike origin", on, "OPTIONS", "/api/v1/movements", preflight(app+".evil.example", "POST"), http.StatusMethodNotAllowed, false},
		{"preflight from the origin on another port", on, "OPTIONS", "/api/v1/movements", preflight(app+":8443", "POST"), http.StatusMethodNotAllowed, false},
		{"preflight from null", on, "OPTIONS", "/api/v1/movements", preflight("null", "POST"), http.StatusMethodNotAllowed, false},
		{"GET from the origin", on, "GET", "/user", []string{"Origin: " + app, bearer(access)}, http.StatusOK, true},
		{"GET from another origin", on, "GET", "/user", []string{"Origin: https://evil.example", bearer(access)}, http.StatusOK, false},
		{"GET with no origin", on, "GET", "/welcome", nil, http.StatusOK, false},
		{"a refusal to the origin", on, "GET", "/user", []string{"Origin: " + app}, http.StatusUnauthorized, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.e.do(tc.method, tc.path, "", tc.headers...)
			if r.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Code, tc.status, r.Body)
			}
			h := r.Header()
			var acs []string
			for k := range h {
				if strings.HasPrefix(k, "Access-Control-") {
					acs = append(acs, k)
				}
			}
			if !tc.allowed {
				if len(acs) > 0 {
					t.Fatalf("headers %v granted to a request not allowed", acs)
				}
			} else {
				origin := ""
				for _, x := range tc.headers {
					if v, ok := strings.CutPrefix(x, "Origin: "); ok {
						origin = v
					}
				}
				if h.Get("Access-Control-Allow-Origin") != origin || h.Get("Access-Control-Allow-Credentials") != "true" {
					t.Fatalf("origin %q credentials %q, want %q and true", h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"), origin)
				}
				if tc.method == "OPTIONS" {
					for _, want := range []string{"Authorization", "Content-Type", "Idempotency-Key", "If-Match", "X-CSRF-Token"} {
						if !strings.Contains(h.Get("Access-Control-Allow-Headers"), want) {
							t.Errorf("Access-Control-Allow-Headers %q lacks %s", h.Get("Access-Control-Allow-Headers"), want)
						}
					}
					if !strings.Contains(h.Get("Access-Control-Allow-Methods"), strings.TrimPrefix(tc.headers[1], "Access-Control-Request-Method: ")) {
						t.Errorf("Access-Control-Allow-Methods %q", h.Get("Access-Control-Allow-Methods"))
					}
				}
			}
			vary := strings.Join(h.Values("Vary"), ",")
			if tc.e == on && !strings.Contains(vary, "Origin") {
				t.Errorf("Vary %q lacks Origin", vary)
			}
			if tc.e == off && strings.Contains(vary, "Origin") {
				t.Errorf("Vary %q without CORS", vary)
			}
		})
	}
}

// TestCORSOriginsParsed: --cors-origins takes exact origins as browsers
// send them, and refuses wildcards and anything with a path.
func TestCORSOriginsParsed(t *testing.T) {
	got, err := httpapi.ParseCORSOrigins(" https://App.Example.com:443, http://localhost:5173 ,http://[::1]:80")
	if err != nil || strings.Join(got, " ") != "https://app.example.com http://localhost:5173 http://[::1]" {
		t.Fatalf("%q %v", got, err)
	}
	for _, bad := range []string{"*", "null", "app.example.com", "https://a.example/x", "https://*.example", "ftp://a.example", "https://u@a.example", "https://a.example?x"} {
		if _, err := httpapi.ParseCORSOrigins(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
