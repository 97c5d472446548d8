package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// Every answer, whatever its route or status, carries nosniff and a
// request id; the HTML docs page also gets a CSP and no framing.
func TestResponseHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgtest.SQLite)
	access, _ := e.login("joevu", "glinteco")
	tests := []struct {
		name, method, path string
		headers            []string
		status             int
		html               bool
	}{
		{name: "welcome", method: "GET", path: "/welcome", status: http.StatusOK},
		{name: "user", method: "GET", path: "/user", headers: []string{bearer(access)}, status: http.StatusOK},
		{name: "user without token", method: "GET", path: "/user", status: http.StatusUnauthorized},
		{name: "huma route", method: "GET", path: "/api/v1/items", headers: []string{bearer(access)}, status: http.StatusOK},
		{name: "openapi", method: "GET", path: "/openapi.json", status: http.StatusOK},
		{name: "unknown path", method: "GET", path: "/nope", status: http.StatusNotFound},
		{name: "wrong method", method: "PUT", path: "/welcome", status: http.StatusMethodNotAllowed},
		{name: "docs", method: "GET", path: "/docs", status: http.StatusOK, html: true},
		{name: "docs slash", method: "GET", path: "/docs/", status: http.StatusOK, html: true},
		{name: "docs asset", method: "GET", path: "/docs/swagger-ui.css", status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, "", tt.headers...)
			if r.Code != tt.status {
				t.Fatalf("%s %s: status %d, want %d", tt.method, tt.path, r.Code, tt.status)
			}
			h := r.Header()
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if id := h.Get("X-Request-Id"); len(id) != 24 {
				t.Errorf("X-Request-Id = %q, want a generated 24-character id", id)
			}
			csp := h.Get("Content-Security-Policy")
			if tt.html {
				if csp == "" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" {
					t.Errorf("docs page headers: CSP %q, X-Frame-Options %q, Referrer-Policy %q", csp, h.Get("X-Frame-Options"), h.Get("Referrer-Policy"))
				}
			} else if csp != "" {
				t.Errorf("Content-Security-Policy on a non-HTML answer: %q", csp)
			}
		})
	}
}
