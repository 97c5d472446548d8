package httpapi_test

import (
	"net/http"
	"testing"
	"time"

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
