package httpapi_test

import (
	"context"
	"testing"

	"github.com/warehouse-api/warehouse"
	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestUnlockAccount: an admin ends a login lockout with
// POST /api/v1/users/{username}/unlock, audited; a password reset by an
// admin ends it too. Enabling does not (it is not a statement about who
// knows the password).
func TestUnlockAccount(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, func(c *httpapi.Config) { c.LoginThrottle = httpapi.LoginThrottle{MaxFailures: 3} })
		admin, _ := e.login("joevu", "glinteco")
		lock := func(user string) {
			t.Helper()
			for range 3 {
				e.do("POST", "/login", `{"username":"`+user+`","password":"wrong-guess"}`).mustCode(t, 401)
			}
			e.do("POST", "/login", `{"username":"`+user+`","password":"whatever"}`).mustCode(t, 429)
		}
		lock("vera")
		if r := e.do("POST", "/login", `{"username":"vera","password":"viewer-pass"}`); r.Code != 429 {
			t.Fatalf("locked out user with the right password: %d", r.Code)
		}
		steps := []struct {
			name, path, token string
			want              int
			code              string
		}{
			{"unknown user", "/api/v1/users/nobody/unlock", admin, 404, "not_found"},
			{"no token", "/api/v1/users/vera/unlock", "", 401, ""},
			{"unlock", "/api/v1/users/vera/unlock", admin, 204, ""},
			{"unlock twice", "/api/v1/users/vera/unlock", admin, 204, ""},
		}
		for _, s := range steps {
			var hdr []string
			if s.token != "" {
				hdr = append(hdr, bearer(s.token))
			}
			r := e.do("POST", s.path, "", hdr...)
			if r.Code != s.want || (s.code != "" && r.str("code") != s.code) {
				t.Errorf("%s: %d %s", s.name, r.Code, r.Body)
			}
		}
		e.do("POST", "/login", `{"username":"vera","password":"viewer-pass"}`).mustCode(t, 200)
		var n int
		if err := e.dbQueryRow(`SELECT count(*) FROM audit_events WHERE entity = 'user' AND entity_id = 'vera' AND action = 'unlock' AND actor = 'joevu'`, &n); err != nil || n != 1 {
			t.Errorf("unlock audit events: %d %v (the second unlock found nothing to unlock)", n, err)
		}

		// A viewer cannot unlock.
		veraTok, _ := e.login("vera", "viewer-pass")
		if r := e.do("POST", "/api/v1/users/vera/unlock", "", bearer(veraTok)); r.Code != 403 {
			t.Errorf("viewer unlocks: %d %s", r.Code, r.Body)
		}

		// Enabling a disabled, locked-out user leaves the lockout.
		lock("gone")
		r := e.do("GET", "/api/v1/users/gone", "", bearer(admin)).mustCode(t, 200)
		e.do("PATCH", "/api/v1/users/gone", `{"active":true}`, bearer(admin), "If-Match: "+r.Header().Get("ETag")).mustCode(t, 200)
		e.do("POST", "/login", `{"username":"gone","password":"gone-pass"}`).mustCode(t, 429)

		// A password reset by an admin ends the lockout.
		r = e.do("GET", "/api/v1/users/gone", "", bearer(admin)).mustCode(t, 200)
		e.do("PATCH", "/api/v1/users/gone", `{"password":"reset-by-admin"}`, bearer(admin), "If-Match: "+r.Header().Get("ETag")).mustCode(t, 200)
		e.do("POST", "/login", `{"username":"gone","password":"reset-by-admin"}`).mustCode(t, 200)

		// So does one through the store, as `warehouse users set-password` does.
		lock("vera")
		h, err := e.hasher.Hash(context.Background(), "reset-by-cli")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.UpdateUser(context.Background(), "vera", warehouse.UserUpdate{PasswordHash: &h}, "cli"); err != nil {
			t.Fatal(err)
		}
		e.do("POST", "/login", `{"username":"vera","password":"reset-by-cli"}`).mustCode(t, 200)
	})
}
