package httpapi_test

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestTokenAnswersNotStored: every answer that carries a token, in its
// body or in a cookie, says Cache-Control: no-store (RFC 6749 section
// 5.1, OWASP ASVS V7): login, refresh, /token's grants, a password change
// and the cookie mode's login, refresh and logout.
func TestTokenAnswersNotStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t, pgtest.SQLite)
	check := func(name string, w *httptest.ResponseRecorder, status int) {
		t.Helper()
		if w.Code != status {
			t.Fatalf("%s: %d, want %d: %s", name, w.Code, status, w.Body)
		}
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", name, got)
		}
	}
	r := e.do("POST", "/login", `{"username":"joevu","password":"glinteco"}`)
	check("POST /login", r.ResponseRecorder, 200)
	fresh := r.str("access_token") // a password change wants a fresh token
	r = e.do("POST", "/refresh", "", bearer(r.str("refresh_token")))
	check("POST /refresh", r.ResponseRecorder, 200)
	r = e.do("POST", "/user/password", `{"current_password":"glinteco","new_password":"a-new-password"}`, bearer(fresh))
	check("POST /user/password", r.ResponseRecorder, 200)

	tok := e.form(url.Values{"grant_type": {"password"}, "username": {"vera"}, "password": {"viewer-pass"}}, "application/x-www-form-urlencoded")
	check("POST /token (password)", tok.ResponseRecorder, 200)
	tok = e.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}}, "application/x-www-form-urlencoded")
	check("POST /token (refresh_token)", tok.ResponseRecorder, 200)

	jar := cookieJar{}
	r = e.do("POST", "/login?cookies=true", `{"username":"vera","password":"viewer-pass"}`)
	check("POST /login?cookies=true", r.ResponseRecorder, 200)
	jar.take(r.ResponseRecorder)
	r = e.do("POST", "/refresh", "", jar.header("refresh_token_cookie"), "X-CSRF-Token: "+jar["csrf_refresh_token"].Value)
	check("POST /refresh (cookies)", r.ResponseRecorder, 200)
	jar.take(r.ResponseRecorder)
	r = e.do("POST", "/logout", "", jar.header("access_token_cookie"), "X-CSRF-Token: "+jar["csrf_access_token"].Value)
	check("POST /logout (cookies)", r.ResponseRecorder, 204)
}
