package httpapi_test

import (
	"context"
	"github.com/warehouse-api/warehouse/internal/pgtest"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/httpapi"
)

// TestRefreshReuseAfterGrace: a retired refresh token presented after the
// grace interval is theft: the whole session ends, access tokens included.
func TestRefreshReuseAfterGrace(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		access, refresh := e.login("joevu", "glinteco")
		otherAccess, _ := e.login("joevu", "glinteco") // another session
		r := e.do("POST", "/refresh", "", bearer(refresh))
		if r.Code != 200 {
			t.Fatal(r.Code, r.Body)
		}
		access2, refresh2 := r.str("access_token"), r.str("refresh_token")
		e.clock.advance(11 * time.Second)
		if r := e.do("POST", "/refresh", "", bearer(refresh)); r.Code != 401 || r.str("code") != "refresh_token_reused" {
			t.Fatalf("reuse after grace: %d %s", r.Code, r.Body)
		}
		for name, tok := range map[string]string{"first access": access, "rotated access": access2} {
			if r := e.do("GET", "/user", "", bearer(tok)); r.Code != 401 || r.str("detail") != "Token has been revoked" {
				t.Errorf("%s token after reuse: %d %s", name, r.Code, r.Body)
			}
		}
		if r := e.do("POST", "/refresh", "", bearer(refresh2)); r.Code != 401 {
			t.Errorf("rotated refresh token after reuse: %d %s", r.Code, r.Body)
		}
		if r := e.do("GET", "/user", "", bearer(otherAccess)); r.Code != 200 {
			t.Errorf("another session was ended too: %d", r.Code)
		}
		var n int
		if err := e.dbQueryRow(`SELECT count(*) FROM audit_events WHERE entity = 'session' AND action = 'refresh_token_reuse'`, &n); err != nil || n != 1 {
			t.Errorf("audit events: %d %v", n, err)
		}
	})
}

// TestConcurrentRefreshWithinGrace: two tabs refreshing with the same token
// at once both succeed, with the same new pair.
func TestConcurrentRefreshWithinGrace(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		_, refresh := e.login("joevu", "glinteco")
		const tabs = 8
		var wg sync.WaitGroup
		got := make([]resp, tabs)
		for i := range tabs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = e.do("POST", "/refresh", "", bearer(refresh))
			}()
		}
		wg.Wait()
		for i, r := range got {
			if r.Code != 200 {
				t.Fatalf("tab %d: %d %s", i, r.Code, r.Body)
			}
			if r.str("refresh_token") != got[0].str("refresh_token") || r.str("access_token") != got[0].str("access_token") {
				t.Fatalf("tab %d got another pair", i)
			}
		}
		if r := e.do("GET", "/user", "", bearer(got[0].str("access_token"))); r.Code != 200 {
			t.Fatalf("the shared pair does not work: %d", r.Code)
		}
		// The grace covers only the latest rotation: after the next one, the
		// first token is reuse at once, even inside the interval.
		if r := e.do("POST", "/refresh", "", bearer(got[0].str("refresh_token"))); r.Code != 200 {
			t.Fatal(r.Code, r.Body)
		}
		if r := e.do("POST", "/refresh", "", bearer(refresh)); r.Code != 401 || r.str("code") != "refresh_token_reused" {
			t.Fatalf("older retired token: %d %s", r.Code, r.Body)
		}
	})
}

func TestNoGrace(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, func(c *httpapi.Config) { c.RefreshReuseInterval = 0 })
		_, refresh := e.login("joevu", "glinteco")
		if r := e.do("POST", "/refresh", "", bearer(refresh)); r.Code != 200 {
			t.Fatal(r.Code)
		}
		if r := e.do("POST", "/refresh", "", bearer(refresh)); r.Code != 401 || r.str("code") != "refresh_token_reused" {
			t.Fatalf("reuse without grace: %d %s", r.Code, r.Body)
		}
	})
}

func TestSessionLimits(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, func(c *httpapi.Config) {
			c.SessionInactivity = time.Hour
			c.SessionLifetime = 3 * time.Hour
		})
		_, refresh := e.login("joevu", "glinteco")
		e.clock.advance(50 * time.Minute)
		r := e.do("POST", "/refresh", "", bearer(refresh))
		if r.Code != 200 {
			t.Fatalf("active session: %d %s", r.Code, r.Body)
		}
		refresh = r.str("refresh_token")
		e.clock.advance(61 * time.Minute)
		if r := e.do("POST", "/refresh", "", bearer(refresh)); r.Code != 401 || r.str("code") != "session_expired" {
			t.Fatalf("idle session: %d %s", r.Code, r.Body)
		}
		// Refreshing often does not outlive the absolute lifetime.
		_, refresh = e.login("joevu", "glinteco")
		for range 4 {
			e.clock.advance(50 * time.Minute)
			r := e.do("POST", "/refresh", "", bearer(refresh))
			if r.Code != 200 {
				if r.str("code") != "session_expired" {
					t.Fatalf("unexpected: %d %s", r.Code, r.Body)
				}
				return
			}
			refresh = r.str("refresh_token")
		}
		t.Fatal("session outlived its lifetime")
	})
}

func TestLogoutScopes(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		cases := []struct {
			scope      string
			survivors  []bool // sessions 0 (caller), 1, 2 still usable?
			statusCode int
		}{
			{"", []bool{false, true, true}, 204},
			{"local", []bool{false, true, true}, 204},
			{"others", []bool{true, false, false}, 204},
			{"global", []bool{false, false, false}, 204},
			{"everything", []bool{true, true, true}, 422},
		}
		for _, tc := range cases {
			t.Run("scope="+tc.scope, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, engine)
				var access, refresh [3]string
				for i := range 3 {
					access[i], refresh[i] = e.login("joevu", "glinteco")
				}
				vera, _ := e.login("vera", "viewer-pass")
				path := "/logout"
				if tc.scope != "" {
					path += "?scope=" + tc.scope
				}
				r := e.do("POST", path, "", bearer(access[0]))
				if r.Code != tc.statusCode {
					t.Fatalf("logout: %d %s", r.Code, r.Body)
				}
				for i := range 3 {
					ua := e.do("GET", "/user", "", bearer(access[i]))
					ur := e.do("POST", "/refresh", "", bearer(refresh[i]))
					if got := ua.Code == 200; got != tc.survivors[i] {
						t.Errorf("session %d access token usable = %v (%d)", i, got, ua.Code)
					}
					if got := ur.Code == 200; got != tc.survivors[i] {
						t.Errorf("session %d refresh token usable = %v (%d)", i, got, ur.Code)
					}
				}
				if r := e.do("GET", "/user", "", bearer(vera)); r.Code != 200 {
					t.Errorf("another user's session ended: %d", r.Code)
				}
				if tc.statusCode == 204 {
					if r := e.do("POST", path, "", bearer(access[0])); r.Code != 204 {
						t.Errorf("second logout: %d %s", r.Code, r.Body)
					}
				}
			})
		}
	})
}

func TestSessionsList(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		a1, _ := e.login("joevu", "glinteco")
		a2, _ := e.login("joevu", "glinteco")
		vera, _ := e.login("vera", "viewer-pass")
		r := e.do("GET", "/sessions", "", bearer(a1), "User-Agent: curl/8.0")
		var list []map[string]any
		if err := jsonUnmarshal(r.Body.Bytes(), &list); err != nil || r.Code != 200 || len(list) != 2 {
			t.Fatalf("sessions: %d %s", r.Code, r.Body)
		}
		current := 0
		var other string
		for _, s := range list {
			if s["current"] == true {
				current++
			} else {
				other, _ = s["id"].(string)
			}
		}
		if current != 1 || other == "" {
			t.Fatalf("current flags wrong: %s", r.Body)
		}
		if r := e.do("DELETE", "/sessions/"+other, "", bearer(vera)); r.Code != 404 {
			t.Errorf("vera ended joevu's session: %d", r.Code)
		}
		if r := e.do("DELETE", "/sessions/"+other, "", bearer(a1)); r.Code != 204 {
			t.Fatalf("end session: %d %s", r.Code, r.Body)
		}
		if r := e.do("GET", "/user", "", bearer(a2)); r.Code != 401 {
			t.Errorf("ended session's token still works: %d", r.Code)
		}
		if r := e.do("DELETE", "/sessions/"+other, "", bearer(a1)); r.Code != 204 {
			t.Errorf("ending twice: %d", r.Code)
		}
	})
}

// TestFreshTokens: a password login gives a fresh token, a refresh does not;
// changing the password needs a fresh one and ends every session.
func TestFreshTokens(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		access, refresh := e.login("vera", "viewer-pass")
		other, _ := e.login("vera", "viewer-pass")
		r := e.do("POST", "/refresh", "", bearer(refresh))
		if r.Code != 200 {
			t.Fatal(r.Code)
		}
		stale := r.str("access_token")
		body := `{"current_password":"viewer-pass","new_password":"a-new-password"}`
		cases := []struct {
			name, token, body string
			status            int
			code              string
		}{
			{"refreshed token", stale, body, 401, "fresh_token_required"},
			{"wrong current password", access, `{"current_password":"nope","new_password":"a-new-password"}`, 403, "wrong_password"},
			{"too short", access, `{"current_password":"viewer-pass","new_password":"short"}`, 422, "validation_failed"},
			{"fresh token", access, body, 200, ""},
		}
		for _, tc := range cases {
			r := e.do("POST", "/user/password", tc.body, bearer(tc.token))
			if r.Code != tc.status || (tc.code != "" && r.str("code") != tc.code) {
				t.Fatalf("%s: %d %s", tc.name, r.Code, r.Body)
			}
			if tc.status == 200 {
				if r.str("access_token") == "" {
					t.Fatalf("no new tokens: %s", r.Body)
				}
				if u := e.do("GET", "/user", "", bearer(r.str("access_token"))); u.Code != 200 {
					t.Errorf("new token: %d", u.Code)
				}
			}
		}
		if r := e.do("GET", "/user", "", bearer(other)); r.Code != 401 {
			t.Errorf("other session survived the password change: %d", r.Code)
		}
		if r := e.do("GET", "/user", "", bearer(access)); r.Code != 401 {
			t.Errorf("old session survived the password change: %d", r.Code)
		}
		e.login("vera", "a-new-password")
	})
}

// TestUserChangesEndSessions: disabling a user or changing roles ends the
// user's sessions at once.
func TestUserChangesEndSessions(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		ctx := context.Background()
		access, _ := e.login("vera", "viewer-pass")
		if _, err := e.db.UpdateUser(ctx, "vera", warehouse.UserUpdate{Roles: []string{"clerk"}}, "admin"); err != nil {
			t.Fatal(err)
		}
		if err := e.state.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if r := e.do("GET", "/user", "", bearer(access)); r.Code != 401 {
			t.Fatalf("token with old roles: %d %s", r.Code, r.Body)
		}
		access, _ = e.login("vera", "viewer-pass")
		if r := e.do("GET", "/user", "", bearer(access)); r.Code != 200 || !strings.Contains(r.Body.String(), "clerk") {
			t.Fatalf("new login: %d %s", r.Code, r.Body)
		}
	})
}

// cookieJar keeps the cookies a response set, as a browser would.
type cookieJar map[string]*http.Cookie

func (j cookieJar) take(w *httptest.ResponseRecorder) {
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(j, c.Name)
			continue
		}
		j[c.Name] = c
	}
}

func (j cookieJar) header(names ...string) string {
	var parts []string
	for _, n := range names {
		if c, ok := j[n]; ok {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	return "Cookie: " + strings.Join(parts, "; ")
}

func TestCookieMode(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, func(c *httpapi.Config) { c.CookieSecure = true })
		jar := cookieJar{}
		r := e.do("POST", "/login?cookies=true", `{"username":"joevu","password":"glinteco"}`)
		if r.Code != 200 || r.str("access_token") != "" || r.str("refresh_token") != "" || r.str("token_type") != "cookie" {
			t.Fatalf("cookie login: %d %s", r.Code, r.Body)
		}
		jar.take(r.ResponseRecorder)
		for name, httpOnly := range map[string]bool{"access_token_cookie": true, "refresh_token_cookie": true, "csrf_access_token": false, "csrf_refresh_token": false} {
			c, ok := jar[name]
			if !ok {
				t.Fatalf("cookie %s not set", name)
			}
			if c.HttpOnly != httpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie %s: HttpOnly %v Secure %v SameSite %v", name, c.HttpOnly, c.Secure, c.SameSite)
			}
		}
		accessCookie := jar.header("access_token_cookie")
		csrf := "X-CSRF-Token: " + jar["csrf_access_token"].Value
		cases := []struct {
			name, method, path string
			headers            []string
			status             int
			detail             string
		}{
			{"GET needs no CSRF", "GET", "/user", []string{accessCookie}, 200, ""},
			{"cookie token in the header", "GET", "/user", []string{bearer(jar["access_token_cookie"].Value)}, 401, ""},
			{"DELETE without CSRF header", "DELETE", "/access-revoke", []string{accessCookie}, 401, "Missing CSRF Token"},
			{"DELETE with wrong CSRF header", "DELETE", "/access-revoke", []string{accessCookie, "X-CSRF-Token: forged"}, 401, "CSRF double submit tokens do not match"},
			{"refresh CSRF for access cookie", "DELETE", "/access-revoke", []string{accessCookie, "X-CSRF-Token: " + jar["csrf_refresh_token"].Value}, 401, "CSRF double submit tokens do not match"},
			{"refresh without CSRF", "POST", "/refresh", []string{jar.header("refresh_token_cookie")}, 401, "Missing CSRF Token"},
		}
		for _, tc := range cases {
			r := e.do(tc.method, tc.path, "", tc.headers...)
			if r.Code != tc.status || (tc.detail != "" && r.str("detail") != tc.detail) {
				t.Errorf("%s: %d %s", tc.name, r.Code, r.Body)
			}
		}
		_ = csrf

		// Refresh from the cookie, with the refresh CSRF value: new cookies.
		oldAccess := jar["access_token_cookie"].Value
		r = e.do("POST", "/refresh", "", jar.header("refresh_token_cookie"), "X-CSRF-Token: "+jar["csrf_refresh_token"].Value)
		if r.Code != 200 || r.str("access_token") != "" {
			t.Fatalf("cookie refresh: %d %s", r.Code, r.Body)
		}
		jar.take(r.ResponseRecorder)
		if jar["access_token_cookie"].Value == oldAccess {
			t.Fatal("refresh did not set a new access cookie")
		}
		if r := e.do("GET", "/user", "", jar.header("access_token_cookie")); r.Code != 200 {
			t.Fatalf("new access cookie: %d", r.Code)
		}

		// Logout with CSRF unsets every cookie and ends the session.
		before := jar.header("access_token_cookie")
		r = e.do("POST", "/logout", "", before, "X-CSRF-Token: "+jar["csrf_access_token"].Value)
		if r.Code != 204 {
			t.Fatalf("logout: %d %s", r.Code, r.Body)
		}
		jar.take(r.ResponseRecorder)
		if len(jar) != 0 {
			t.Errorf("cookies left after logout: %v", jar)
		}
		if r := e.do("GET", "/user", "", before); r.Code != 401 {
			t.Errorf("access cookie after logout: %d", r.Code)
		}
	})
}
