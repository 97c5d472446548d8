package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/warehouse-api/warehouse/auth"
	"github.com/warehouse-api/warehouse/internal/httpapi"
	"github.com/warehouse-api/warehouse/internal/pgtest"
)

// TestLoginThrottleSharedByInstances: failed logins for one username count
// on every instance of one database; the lockout answers 429 with
// Retry-After on all of them, spares other users, ends by itself, and a
// successful login resets the count.
func TestLoginThrottleSharedByInstances(t *testing.T) {
	t.Parallel()
	pgtest.ForEach(t, func(t *testing.T, engine string) {
		limits := func(c *httpapi.Config) { c.LoginThrottle = httpapi.LoginThrottle{MaxFailures: 3, Lockout: time.Minute} }
		a := newEnv(t, engine, limits)
		b := &env{t: t, url: a.url, hasher: a.hasher, clock: a.clock, configure: limits}
		b.open()
		wrong := `{"username":"joevu","password":"wrong"}`
		right := `{"username":"joevu","password":"glinteco"}`
		for i, e := range []*env{a, b, a} {
			if r := e.do("POST", "/login", wrong); r.Code != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d %s", i+1, r.Code, r.Body)
			}
		}
		for name, e := range map[string]*env{"A": a, "B": b} {
			r := e.do("POST", "/login", right)
			if r.Code != http.StatusTooManyRequests || r.Header().Get("Retry-After") == "" || r.str("code") != "too_many_login_attempts" {
				t.Fatalf("instance %s, right password while locked out: %d %q %s", name, r.Code, r.Header().Get("Retry-After"), r.Body)
			}
		}
		if r := b.do("POST", "/token", "grant_type=password&username=joevu&password=glinteco", "Content-Type: application/x-www-form-urlencoded"); r.Code != http.StatusTooManyRequests {
			t.Fatalf("/token while locked out: %d %s", r.Code, r.Body)
		}
		if r := b.do("POST", "/login", `{"username":"vera","password":"viewer-pass"}`); r.Code != 200 {
			t.Fatalf("another user during the lockout: %d %s", r.Code, r.Body)
		}
		a.clock.advance(61 * time.Second)
		if r := b.do("POST", "/login", right); r.Code != 200 {
			t.Fatalf("after the lockout: %d %s", r.Code, r.Body)
		}
		// Two failures, a success, two failures: never three in a row.
		for i, body := range []string{wrong, wrong, right, wrong, wrong, right} {
			want := http.StatusUnauthorized
			if body == right {
				want = 200
			}
			if r := a.do("POST", "/login", body); r.Code != want {
				t.Fatalf("step %d: %d, want %d: %s", i, r.Code, want, r.Body)
			}
		}
	})
}

// TestLoginHashUnavailable: when a password hash cannot be computed (a
// hashing worker died), logins answer 503, for known and unknown users
// alike (so an outage tells nothing about which users exist), and never
// count as failed attempts: the account is not locked out by it.
func TestLoginHashUnavailable(t *testing.T) {
	t.Parallel()
	limits := func(c *httpapi.Config) { c.LoginThrottle = httpapi.LoginThrottle{MaxFailures: 2, Lockout: time.Minute} }
	e := newEnv(t, pgtest.SQLite, limits)
	access, _ := e.login("joevu", "glinteco") // fresh: may change the password
	working := e.hasher
	e.hasher = auth.NewHasher(auth.TestParams(), 0, auth.WithKeyFunc(func(context.Context, []byte, []byte, auth.Params) ([]byte, error) {
		return nil, errors.New("worker died")
	}))
	e.restart()
	for range 4 {
		for _, user := range []string{"joevu", "nobody"} {
			r := e.do("POST", "/login", `{"username":"`+user+`","password":"wrong-or-right"}`)
			if r.Code != http.StatusServiceUnavailable || r.Header().Get("Retry-After") == "" {
				t.Fatalf("login %s with hashing down: %d %s, want 503 with Retry-After", user, r.Code, r.Body)
			}
		}
		r := e.do("POST", "/user/password", `{"current_password":"glinteco","new_password":"another-long-password"}`, bearer(access))
		if r.Code != http.StatusServiceUnavailable {
			t.Fatalf("password change with hashing down: %d %s, want 503 (not a wrong password)", r.Code, r.Body)
		}
	}
	e.hasher = working
	e.restart()
	if r := e.do("POST", "/login", `{"username":"joevu","password":"glinteco"}`); r.Code != http.StatusOK {
		t.Fatalf("login after hashing recovered: %d %s (counted as failures?)", r.Code, r.Body)
	}
}
